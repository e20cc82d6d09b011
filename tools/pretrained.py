"""Train, export and check the committed pretrained models (``mrilab/weights/<profile>/``).

    python tools/pretrained.py train --profile demo [--retrain]   # make train: every run of every method
    python tools/pretrained.py check --profile demo               # CI: weights match recipes and results

``train`` runs every run of every recipe module (:data:`mrilab.recipes.RECIPES`) and writes its weights and
manifest; with ``--retrain`` it ignores the committed weights and trains from scratch (``make train`` also points
``MRILAB_RUNS`` at an empty folder, so that no old checkpoint is resumed). ``check`` fails when a committed file
does not belong to a current run or a run has no committed file, when the committed hash differs from the current
recipe's, when a weight file does not load with ``weights_only=True`` into its model, or when re-evaluating the
model of every task and ratio of its recipe (``task_runs``) on that task's test and out-of-distribution splits does
not reproduce every committed row of it (``results/<profile>/``, :data:`CHECKED_EXPERIMENTS`) to 0.01 dB, or when a
classical baseline's committed λ no longer reproduces its recorded validation PSNR
(:func:`mrilab.recipes.classical.check_lambda_record`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MRILAB_RESULTS", str(ROOT / "results"))

from mrilab.evaluation import evaluate  # noqa: E402
from mrilab.recipes import RECIPES, committed_runs, load_committed  # noqa: E402
from mrilab.recipes.classical import check_lambda_record  # noqa: E402
from mrilab.recipes.common import committed  # noqa: E402
from mrilab.results import load_all  # noqa: E402
from mrilab.stats import summarize  # noqa: E402
from mrilab.tasks import TASKS  # noqa: E402

TOLERANCE_DB = 0.01
#: The rows a committed model must reproduce: the main tables, the out-of-distribution rows, the IFR chapters'
#: sampling patterns and the benchmark's (ablation rows belong to other models).
CHECKED_EXPERIMENTS = (None, "ood", "patterns", "benchmark")


def train(profile: str, retrain: bool) -> None:
    start = time.perf_counter()
    for recipe in RECIPES:
        for options in recipe.runs(profile):
            tic = time.perf_counter()
            recipe.train(profile, retrain=retrain, progress=False, save=True, **options)
            print(f"{recipe.NAME} {options}: {time.perf_counter() - tic:.0f} s", flush=True)
    print(f"all runs of profile {profile}: {time.perf_counter() - start:.0f} s")


def check(profile: str) -> list[str]:
    problems = []
    current = {}
    for recipe in RECIPES:
        for options in recipe.runs(profile):
            trainer = recipe.trainer(profile, **options)
            current[recipe.METHOD, trainer.run.name] = trainer
    stored = committed_runs(profile)
    for key in sorted(set(current) - set(stored)):
        problems.append(f"run {key} has no committed weights: run `make train`")
    for key in sorted(set(stored) - set(current)):
        problems.append(f"committed weights {key} belong to no current run: delete them or run `make train`")
    for key in sorted(set(stored) & set(current)):
        if committed(current[key]) is None:
            problems.append(f"committed weights {key} were trained with another recipe: run `make train`")
            continue
        try:
            load_committed(profile, *key)
        except Exception as error:  # noqa: BLE001 (report every broken file, then fail)
            problems.append(f"committed weights {key} do not load with weights_only=True: {error}")
    if problems:
        return problems
    results = load_all(profile)["rows"]
    for recipe in RECIPES:
        for name, runs in recipe.task_runs(profile).items():
            task = TASKS[name]
            for ratio, options in runs.items():
                model, _ = recipe.train(profile, progress=False, load_only=True, **options)
                for split in ("test", "ood"):
                    rows = [row for row in results if row["method"] == recipe.NAME and row["task"] == task.name
                            and row["split"] == split and row["contrast"] == task.contrast
                            and math.isclose(row["ratio"], ratio) and row["experiment"] in CHECKED_EXPERIMENTS]
                    if split == "test" and not rows:
                        problems.append(f"{recipe.NAME} {task.name} {ratio:g}: no committed test row: run the chapters")
                    if not rows:
                        continue
                    dataset = task.dataset(profile, split, ratios=(ratio,))
                    measured = summarize(evaluate(model, dataset, device="cpu"), metrics=("psnr",))["psnr_mean"]
                    for row in rows:
                        shift = measured - row["psnr_mean"]
                        status = "ok" if abs(shift) <= TOLERANCE_DB else "DIFFERS"
                        print(f"{recipe.NAME:10s} {task.name:24s} {split:4s} {100 * ratio:4.1f} % "
                              f"({row['chapter']}, {row['experiment'] or 'main'}): committed {row['psnr_mean']:.3f} "
                              f"dB, re-evaluated {measured:.3f} dB ({shift:+.4f}) {status}")
                        if not math.isfinite(shift) or abs(shift) > TOLERANCE_DB:
                            problems.append(f"{recipe.NAME} {task.name} {split} {ratio:g}: the committed weights give "
                                            f"{measured:.3f} dB, {row['chapter']} says {row['psnr_mean']:.3f} dB: "
                                            "run `make results`")
    lambda_problems = check_lambda_record(profile)
    print(f"classical λ record: {'ok' if not lambda_problems else f'{len(lambda_problems)} problems'}")
    return problems + lambda_problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("train", "check"))
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--retrain", action="store_true", help="train from scratch, ignoring committed weights")
    args = parser.parse_args()
    if args.command == "train":
        train(args.profile, args.retrain)
        return 0
    problems = check(args.profile)
    for problem in problems:
        print("FAIL:", problem)
    if not problems:
        print(f"committed {args.profile} weights: {len(committed_runs(args.profile))} runs match their recipes, "
              "load with weights_only=True and reproduce the committed results")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
