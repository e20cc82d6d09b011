"""The ``full`` profile proven without a GPU: every paper-scale model takes two training steps and one evaluation.

    python benchmarks/full_check.py [--out benchmarks/results/full_check.json]      # make full-check

It builds a few slices of the ``full`` data (256 × 256, the ``full`` profile's build parameters with fewer slices:
:data:`CHECK_PROFILE`), then, for every method of :data:`mrilab.recipes.METHODS`, in a process of its own: builds
the method's ``full`` model, takes two steps of :class:`mrilab.train.Trainer` with the ``full`` recipe's batch
size on the training data of its task (:mod:`mrilab.tasks`), and evaluates the model on the check's test slices.
It reports the parameters, the seconds of each step and of the evaluation, and the process's peak resident memory
(what a machine needs to train that model on the CPU). With the recipes' batch sizes it needs more time and memory
than CI has (README); ``make test`` runs it with ``--batch-size 1``: the same models at the same image size, one
slice per step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import RESULTS, build_model, main_task, recipe_settings, timing_ratio

from mrilab.data import DATASET_PROFILES, build_dataset
from mrilab.evaluation import evaluate
from mrilab.recipes import METHODS
from mrilab.runtime import machine_info
from mrilab.stats import summarize
from mrilab.train import TrainConfig, Trainer, parameter_count

#: The ``full`` profile's image size, contrasts and synthesis with a handful of slices (a few multi-coil ones).
CHECK_PROFILE = dataclasses.replace(DATASET_PROFILES["full"], name="full-check", slices=(8, 2, 4, 2),
                                    multicoil_slices=(2, 0, 2, 0))


def check_method(name: str, batch_size: int | None = None) -> dict:
    """Two training steps and one evaluation of ``name``'s full model; runs in its own process.

    ``batch_size`` replaces the recipe's (``make test`` uses 1, which a CI machine's memory and time allow).
    """
    module = METHODS[name]
    settings = recipe_settings(module, "full")
    task = main_task(module, "full")
    ratio = timing_ratio(task)
    torch.manual_seed(0)
    model = build_model(module, "full")
    train = task.dataset(CHECK_PROFILE, "train", ratios=(ratio,), target="noisy")
    config = TrainConfig(batch_size=batch_size or settings["train"]["batch_size"], lr=settings["train"]["lr"],
                         steps=2, device="cpu")
    trainer = Trainer(model, train, tempfile.mkdtemp(), config)
    steps = []
    for step in range(2):
        tic = time.perf_counter()
        loss = trainer.train_step(trainer.batch(step), config.learning_rate(step))
        steps.append(round(time.perf_counter() - tic, 2))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{name}: loss {float(loss)} at step {step}")
    test = task.dataset(CHECK_PROFILE, "test", ratios=(ratio,))
    tic = time.perf_counter()
    rows = evaluate(trainer.model, test, device="cpu", batch_size=len(test))
    evaluation = time.perf_counter() - tic
    return {"method": name, "task": task.name, "model": settings["model"], "parameters": parameter_count(model),
            "batch_size": config.batch_size, "size": CHECK_PROFILE.size, "step_seconds": steps,
            "evaluation_seconds_per_slice": round(evaluation / len(test), 2),
            "untrained_psnr": round(summarize(rows, metrics=("psnr",))["psnr_mean"], 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=list(METHODS), help="check one method in this process (internal)")
    parser.add_argument("--out", type=Path, default=RESULTS / "full_check.json")
    parser.add_argument("--batch-size", type=int, default=None, help="instead of each full recipe's batch size")
    args = parser.parse_args()
    if args.method:
        print(json.dumps(check_method(args.method, args.batch_size)))
        return 0
    tic = time.perf_counter()
    build_dataset(CHECK_PROFILE)
    report = {"machine": machine_info(), "profile": dataclasses.asdict(CHECK_PROFILE),
              "build_seconds": round(time.perf_counter() - tic, 1), "methods": []}
    for name in METHODS:
        batch = [] if args.batch_size is None else ["--batch-size", str(args.batch_size)]
        done = subprocess.run([sys.executable, __file__, "--method", name, *batch], capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"full check of {name} failed")
        entry = json.loads(done.stdout.strip().splitlines()[-1])
        report["methods"].append(entry)
        print(f"{name:11s} {entry['parameters']:>9,} parameters, batch {entry['batch_size']} of {entry['size']}², "
              f"steps {entry['step_seconds']} s, evaluation {entry['evaluation_seconds_per_slice']} s/slice, "
              f"peak RSS {entry['peak_rss_mib']:,} MiB", flush=True)
    report["seconds"] = round(time.perf_counter() - tic, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"full check: every full model trained two steps and evaluated in {report['seconds']} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
