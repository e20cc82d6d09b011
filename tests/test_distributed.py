"""Data-parallel training under torchrun (Gloo, two CPU processes) against one process, and resuming a killed run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mrilab.distributed import World, shard
from mrilab.train import TrainConfig, Trainer, load_checkpoint

from .toys import ToyDataset, ToyNet

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
COMMAND = ["-m", "mrilab.train_cli", "ista_net", "--profile", "smoke", "--runs", "0", "--log-every", "1"]


def test_shards_are_equal_disjoint_and_cover_the_batch():
    parts = [shard(6, World(rank, 3)) for rank in range(3)]
    assert [list(p) for p in parts] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        shard(5, World(0, 2))


def test_each_process_gets_its_share_of_the_global_batch(tmp_path):
    trainer = Trainer(ToyNet(), ToyDataset(), tmp_path, TrainConfig(batch_size=4, device="cpu"))
    assert trainer.shard == range(4)  # one process: the whole batch
    whole = trainer.batch(7)
    trainer.shard = shard(4, World(rank=1, size=2))  # what the second of two processes computes
    second = trainer.batch(7)
    assert torch.equal(second["kspace"], whole["kspace"][2:]) and torch.equal(second["mask"], whole["mask"][2:])


def launch(root, runs, processes, *extra, wait=True):
    env = {**os.environ, "MRILAB_DATA": str(root), "MRILAB_RUNS": str(runs), "TQDM_DISABLE": "1"}
    prefix = [sys.executable] if processes == 1 else [TORCHRUN, f"--nproc_per_node={processes}"]
    command = [*prefix, *COMMAND, *extra]
    if not wait:
        return subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def run_folder(runs):
    (folder,) = (runs / "smoke" / "ista_net").iterdir()
    return folder


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed")
def test_two_processes_reproduce_one_process(smoke_dataset_root, tmp_path):
    # The smoke run: 8 steps of a global batch of 2. Two processes compute one sample each; their losses and
    # gradients are averaged, which equals the one-process mean up to the order of float32 sums (relative 1e-7 on
    # the first step). Adam divides each gradient by its running RMS, so such differences grow with the steps
    # (measured: 1.4e-7 after these 8 steps, 3e-4 after 50, 4e-3 after 200); rtol 1e-5 leaves a wide margin over
    # 8 steps, while any wrong share of the batch moves the first loss by percent.
    launch(smoke_dataset_root, tmp_path / "one", 1)
    launch(smoke_dataset_root, tmp_path / "two", 2)
    one, two = run_folder(tmp_path / "one"), run_folder(tmp_path / "two")
    assert one.name == two.name
    losses = [json.loads((folder / "history.json").read_text())["loss"] for folder in (one, two)]
    assert len(losses[0]) == len(losses[1]) == 8
    torch.testing.assert_close(torch.tensor(losses[1]), torch.tensor(losses[0]), rtol=1e-5, atol=0)
    weights = [load_checkpoint(folder / "checkpoint.pt")["state_dict"] for folder in (one, two)]
    for name in weights[0]:
        torch.testing.assert_close(weights[1][name], weights[0][name], rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed")
def test_a_killed_two_process_run_resumes_to_the_same_result(smoke_dataset_root, tmp_path):
    longer = ("--steps", "200", "--checkpoint-every", "5")
    launch(smoke_dataset_root, tmp_path / "straight", 2, *longer)
    killed = launch(smoke_dataset_root, tmp_path / "killed", 2, *longer, wait=False)
    checkpoint, step, deadline = None, 0, time.monotonic() + 120
    while step < 20 and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
        folders = list((tmp_path / "killed" / "smoke" / "ista_net").glob("*/checkpoint.pt"))
        if folders:
            checkpoint = folders[0]
            step = load_checkpoint(checkpoint)["step"]
    os.killpg(killed.pid, signal.SIGKILL)  # torchrun and both training processes
    killed.wait()
    assert checkpoint is not None and 20 <= load_checkpoint(checkpoint)["step"] < 200, "not killed mid-run"
    launch(smoke_dataset_root, tmp_path / "killed", 2, *longer)
    straight, resumed = (load_checkpoint(run_folder(tmp_path / name) / "checkpoint.pt")
                         for name in ("straight", "killed"))
    assert resumed["step"] == straight["step"] == 200
    assert resumed["history"]["loss"] == straight["history"]["loss"]
    for name, value in straight["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], value), name
