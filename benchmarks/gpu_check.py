"""The GPU check: the CUDA path of the package and of every chapter, step times, memory and one retraining.

    python benchmarks/gpu_check.py [--budget 450] [--out benchmarks/results/gpu.json]   # make gpu-check
    python benchmarks/gpu_check.py --parts steps inference chapters --chapters ifr/train --merge   # redo some

On a CUDA machine it runs, in this order, writing the JSON after every part so that a run stopped by a time limit
keeps what it measured:

1. ``steps`` — one training step (:meth:`mrilab.train.Trainer.train_step`: loss, backward, clipping, Adam) of every
   method's ``demo`` and ``full`` model at its profile's image size and batch size, in float32 and under autocast
   (bfloat16; float16 with the gradient scaler): median milliseconds, peak memory, parameters; and the time the
   trainer takes to read and mask one demo batch from the dataset (the host's share of a step);
2. ``inference`` — milliseconds per 256 × 256 slice (batch of one, no gradients) of the same models, float32 and
   bfloat16;
3. ``training`` — the first model of the ISTA-Net+ series (Cartesian 10 %, trained from scratch) trained to its
   committed ``demo`` schedule on the GPU, its test PSNR beside that of the CPU-trained committed weights (both
   evaluated here, on the GPU) and the committed table's value (evaluated on the CPU), with a paired comparison;
4. ``chapters`` — every chapter executed in ``demo`` from the committed weights (papermill), its status and seconds.

The step times also go to ``mrilab/records/gpu_steps.json``, from which the training chapters say how long the
``full`` profile takes on that GPU (:func:`mrilab.recipes.gpu_training_estimate`).

Each part stops before the ``--budget`` (seconds) runs out and records what it skipped. ``--parts`` and
``--chapters`` run a subset; with ``--merge`` the other parts and chapters of the existing ``--out`` file are kept,
and ``measured`` says when each part (and chapter) was measured. On a machine without CUDA
the CUDA-only parts (autocast timings, the ``full`` models, the retraining and the chapters, which ``make book``
already runs on the CPU) are skipped and the JSON says so; the float32 demo timings still run, which is how the
script is tested without a GPU. Float32 on CUDA means what PyTorch does by default: convolutions may use TF32
(``torch.backends.cudnn.allow_tf32``), matrix products do not; the JSON records both flags.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import build_model, random_batch, recipe_settings  # noqa: E402

from mrilab.data import SliceDataset  # noqa: E402
from mrilab.evaluation import evaluate  # noqa: E402
from mrilab.recipes import METHODS, ista_net, load_committed  # noqa: E402
from mrilab.recipes.common import GPU_STEPS, committed  # noqa: E402
from mrilab.results import find_row, load_all  # noqa: E402
from mrilab.runtime import machine_info  # noqa: E402
from mrilab.stats import paired, summarize  # noqa: E402
from mrilab.train import TrainConfig, Trainer, parameter_count  # noqa: E402

#: Image size of each profile's dataset (:data:`mrilab.data.DATASET_PROFILES`).
SIZES = {"demo": 128, "full": 256}
PRECISIONS = ("float32", "bfloat16", "float16")
SLICE = 256
PARTS = ("steps", "data", "inference", "training", "chapters")


def timed(fn: callable, device: torch.device, *, repeats: int, warmup: int = 3) -> dict:
    """Median and quartiles of ``repeats`` wall times (ms) of ``fn`` after ``warmup`` calls, synchronised on CUDA."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        tic = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - tic) * 1e3)
    p25, median, p75 = statistics.quantiles(times, n=4, method="inclusive")
    return {"median_ms": round(median, 3), "p25_ms": round(p25, 3), "p75_ms": round(p75, 3), "repeats": repeats}


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None


def step_timings(device: torch.device, profiles: tuple[str, ...], precisions: tuple[str, ...], out: Path) -> list:
    """Part 1: a training step of every method's model in every profile and precision."""
    rows = []
    for profile in profiles:
        for name, module in METHODS.items():
            settings = recipe_settings(module, profile)
            batch_size = settings["train"]["batch_size"]
            batch = random_batch(module, SIZES[profile], batch_size, device)
            for precision in precisions:
                row = {"method": name, "profile": profile, "precision": precision, "size": SIZES[profile],
                       "batch_size": batch_size}
                try:
                    torch.manual_seed(0)
                    model = build_model(module, profile)
                    row["parameters"] = parameter_count(model)
                    config = TrainConfig(batch_size=batch_size, precision=precision, device=str(device))
                    trainer = Trainer(model, [batch], out / "unused", config)
                    reset_peak(device)
                    row |= timed(lambda trainer=trainer, batch=batch: trainer.train_step(batch, 1e-5), device,
                                 repeats=20 if profile == "demo" else 10)
                    row["peak_mib"] = peak_mib(device)
                    del trainer, model
                except Exception as error:  # noqa: BLE001 (one failing combination must not hide the others)
                    row["error"] = f"{type(error).__name__}: {error}"
                rows.append(row)
                print("step", row, flush=True)
    return rows


def data_timing(device: torch.device) -> dict:
    """The host's share of a demo step: :meth:`Trainer.batch` (read, mask, collate, copy) for ISTA-Net+'s recipe."""
    settings = recipe_settings(ista_net, "demo")
    dataset = SliceDataset("demo", "train", "T1w", mask=ista_net.MASK, ratios=(0.1,), target="noisy")
    config = TrainConfig(batch_size=settings["train"]["batch_size"], device=str(device))
    trainer = Trainer(ista_net.MODEL(**settings["model"]), dataset, tempfile.mkdtemp(), config)
    step = iter(range(10**6))
    return {"method": ista_net.NAME, "batch_size": config.batch_size,
            **timed(lambda: trainer.batch(next(step)), device, repeats=20)}


@torch.no_grad()
def inference_timings(device: torch.device, profiles: tuple[str, ...], precisions: tuple[str, ...]) -> list:
    """Part 2: milliseconds per 256 × 256 slice of every method's model, batch of one."""
    rows = []
    for profile in profiles:
        for name, module in METHODS.items():
            batch = random_batch(module, SLICE, 1, device)
            torch.manual_seed(0)
            model = build_model(module, profile).to(device).eval()
            for precision in precisions:
                row = {"method": name, "profile": profile, "precision": precision, "size": SLICE}
                dtype = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[precision]
                try:
                    reset_peak(device)

                    def call(model=model, batch=batch, dtype=dtype) -> None:
                        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                            model(batch["kspace"], batch["mask"], ratio=batch["ratio"])

                    row |= timed(call, device, repeats=20)
                    row["peak_mib"] = peak_mib(device)
                except Exception as error:  # noqa: BLE001
                    row["error"] = f"{type(error).__name__}: {error}"
                rows.append(row)
                print("inference", row, flush=True)
    return rows


def retraining(device: torch.device, runs: Path, profile: str = "demo") -> dict:
    """Part 3: train ISTA-Net+ (Cartesian 10 %, from scratch) to its committed schedule; compare test PSNRs."""
    ratio = ista_net.RATIOS[0]
    os.environ["MRILAB_RUNS"] = str(runs)  # a fresh folder: no checkpoint to resume
    trainer = ista_net.trainer(profile, ratio)  # its TrainConfig.device is "auto": CUDA when there is one
    if trainer.run.start_from is not None or committed(trainer) is None:
        raise RuntimeError(f"{trainer.run.name}: expected a committed model trained from scratch with this recipe")
    tic = time.perf_counter()
    trainer.fit(progress=False)
    seconds = time.perf_counter() - tic
    committed_model, manifest = load_committed(profile, ista_net.METHOD, trainer.run.name)
    test = SliceDataset(profile, "test", "T1w", mask=ista_net.MASK, ratios=(ratio,))
    gpu_rows = evaluate(trainer.model, test, device=str(device))
    cpu_rows = evaluate(committed_model, test, device=str(device))
    table = find_row(load_all(profile, ROOT / "results"), ista_net.NAME, ratio, split="test", mask=ista_net.MASK,
                     contrast="T1w")
    comparison = paired(gpu_rows, cpu_rows)
    return {
        "run": trainer.run.name, "steps": trainer.step, "train_seconds": round(seconds, 1),
        "committed_train_seconds": manifest["seconds"], "committed_machine": manifest["machine"],
        "final_loss": trainer.history["loss"][-1], "committed_final_loss": manifest["history"]["loss"][-1],
        "psnr_gpu_trained": summarize(gpu_rows, metrics=("psnr",))["psnr_mean"],
        "psnr_cpu_trained_on_gpu": summarize(cpu_rows, metrics=("psnr",))["psnr_mean"],
        "psnr_committed_table": table["psnr_mean"],
        "paired": comparison.describe("GPU-trained", "CPU-trained", unit="dB"),
    }


def chapters(deadline: float, out: Path, profile: str = "demo", only: list[str] | None = None) -> list:
    """Part 4: every chapter (or those named in ``only``) in ``profile`` from the committed weights.

    Each chapter runs in its own papermill run.
    """
    from book import chapters as book_chapters

    rows = []
    env = {**os.environ, "MRILAB_RESULTS": str(out / "results")}
    for chapter in book_chapters():
        name = chapter.removeprefix("notebooks/")
        if only and name not in only:
            continue
        left = deadline - time.monotonic()
        if left < 20:
            rows.append({"chapter": name, "status": "skipped: the time budget ran out"})
            continue
        tic = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, str(ROOT / "tools" / "book.py"), "execute", "--profile", profile,
                                   "--out", str(out / "executed"), name], env=env, capture_output=True, text=True,
                                  timeout=left)
            lines = [line for line in done.stdout.splitlines() if line.startswith(chapter)]
            status = lines[-1].removeprefix(chapter + ": ").rsplit(" (", 1)[0] if lines else (
                f"FAILED: exit {done.returncode}: {done.stderr.strip()[-400:]}")
        except subprocess.TimeoutExpired:
            status = "stopped: the time budget ran out"
        rows.append({"chapter": name, "status": status, "seconds": round(time.perf_counter() - tic, 1)})
        print("chapter", rows[-1], flush=True)
    return rows


def step_record(report: dict) -> dict:
    """The package's record of the GPU step times (``mrilab/records/gpu_steps.json``), read by the chapters."""
    steps = {}
    for row in report["parts"]["steps"]:
        if "median_ms" in row:
            steps.setdefault(row["method"], {}).setdefault(row["profile"], {})[row["precision"]] = row["median_ms"]
    return {"device": report["cuda"]["name"], "measured": report["measured"]["steps"],
            "torch": report["machine"]["torch"], "source": "benchmarks/results/gpu.json (make gpu-check)",
            "steps_ms": steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=450, help="seconds for the whole check")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu.json")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="which parts to run")
    parser.add_argument("--chapters", nargs="+", default=None, help="only these chapters, e.g. ifr/train")
    parser.add_argument("--merge", action="store_true", help="keep what --out holds of the parts not run now")
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    report = {"parts": {}, "measured": {}}
    if args.merge and args.out.exists():
        report = json.loads(args.out.read_text())
    report |= {"machine": machine_info(), "device": str(device)}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if cuda:
        report["cuda"] = {"name": torch.cuda.get_device_name(0), "capability": list(torch.cuda.get_device_capability()),
                          "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
                          "cuda_version": torch.version.cuda, "cudnn_version": torch.backends.cudnn.version(),
                          "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                          "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                          "cudnn_benchmark": torch.backends.cudnn.benchmark}

    def write() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")

    skipped = "skipped: needs CUDA"
    parts = {
        "steps": lambda: step_timings(device, ("demo", "full") if cuda else ("demo",),
                                      PRECISIONS if cuda else ("float32",), work),
        "data": lambda: data_timing(device),
        "inference": lambda: inference_timings(device, ("demo", "full") if cuda else ("demo",),
                                               PRECISIONS[:2] if cuda else ("float32",)),
        "training": (lambda: retraining(device, work / "runs")) if cuda else None,
        "chapters": (lambda: chapters(deadline, work, only=args.chapters)) if cuda else None,
    }
    for name, run in parts.items():
        if name not in args.parts:
            continue
        tic = time.perf_counter()
        if run is None:  # a merge keeps what a CUDA machine measured
            if not (args.merge and name in report["parts"]):
                report["parts"][name] = skipped
        elif time.monotonic() > deadline:
            report["parts"][name] = "skipped: the time budget ran out"
        else:
            try:
                result = run()
                if name == "chapters" and args.chapters and isinstance(report["parts"].get(name), list):
                    kept = [row for row in report["parts"][name] if row["chapter"] not in args.chapters]
                    order = [row["chapter"] for row in report["parts"][name]]
                    result = sorted(kept + result, key=lambda row: order.index(row["chapter"])
                                    if row["chapter"] in order else len(order))
                    report["measured"][name] = {**report["measured"].get(name, {}),
                                                **dict.fromkeys(args.chapters, now)}
                else:
                    report["measured"][name] = now
                report["parts"][name] = result
            except Exception:  # noqa: BLE001 (record the failure, go on with the next part)
                report["parts"][name] = {"error": traceback.format_exc(limit=-4)}
        report.setdefault("seconds", {})[name] = round(time.perf_counter() - tic, 1)
        write()
        print(f"part {name}: {report['seconds'][name]} s", flush=True)
    print(f"wrote {args.out}")
    if cuda and isinstance(report["parts"].get("steps"), list):
        GPU_STEPS.write_text(json.dumps(step_record(report), indent=1) + "\n")
        print(f"wrote {GPU_STEPS}")
    failed = [name for name, value in report["parts"].items() if isinstance(value, dict) and "error" in value]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
