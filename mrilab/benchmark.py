"""The book's benchmark: every registered method on every task it applies to, under one protocol.

    python -m mrilab.benchmark --profile {smoke,demo,full} [--task NAME ...] [--device cpu]

For each task (:data:`mrilab.tasks.TASKS`) and each of its sampling ratios, every method of the registry
(:mod:`mrilab.methods`) that applies is built — trained methods from their committed weights or finished runs, never
trained here; classical ones with λ chosen on validation slices of that task — and scored on the same test slices
with the same seeded masks: against the clean image inside the head mask, 95 % confidence intervals over blocks of
adjacent planes (:mod:`mrilab.evaluation`, :mod:`mrilab.stats`). A method sees only what its task gives it
(:meth:`mrilab.tasks.Task.inputs`): on a multi-coil task without maps only an oracle reads the true maps.

The rows (``experiment = "benchmark"``, each with its ``task``) go to ``results/<profile>/benchmark.json`` (with
``--task``, replacing only those tasks' rows of an earlier run). Where a
chapter already scored a method on the same task, split and ratio, the runner compares its row with the chapter's
and reports the difference; ``--check`` makes a difference above 0.01 dB an error.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable

from .evaluation import evaluate
from .methods import METHODS, restricted
from .results import load_all, read_results, results_row, table, write_results
from .runtime import PROFILES, machine_info, resolve_device
from .tasks import TASKS, Task, get_task

EXPERIMENT = "benchmark"
TOLERANCE_DB = 0.01


def run_task(profile: str, task: Task, *, device: str = "cpu",
             log: Callable[[str], None] = print) -> tuple[list[dict], list[str]]:
    """Evaluate every applicable method on ``task``'s test split; return the rows and the methods skipped (why)."""
    rows, skipped = [], []
    for ratio in task.ratios:
        dataset = task.dataset(profile, "test", ratios=(ratio,))
        for method in METHODS:
            if ratio not in method.ratios(profile, task):
                continue
            try:
                reconstructor = method.build(profile, task, ratio, dataset=dataset, device=device)
            except LookupError as error:  # a trained method without weights in this profile
                skipped.append(f"{method.name} on {task.name} at {ratio:g}: {error}")
                continue
            tic = time.perf_counter()
            per_slice = evaluate(restricted(task, method, reconstructor), dataset, device=device)
            row = results_row(method.name, per_slice, task=task.name, dataset=f"brain-{profile}", split="test",
                              mask=task.mask, ratio=ratio, parameters=method.parameters(reconstructor),
                              contrast=task.contrast, coils=task.n_coils, reference=task.reference,
                              experiment=EXPERIMENT, oracle=method.oracle)
            rows.append(row)
            log(f"{task.name} {100 * ratio:4.1f} % {method.name:36s} {row['psnr_mean']:6.2f} dB "
                f"({time.perf_counter() - tic:.1f} s)")
    return rows, skipped


def compare_with_chapters(profile: str, rows: list[dict]) -> list[str]:
    """Return, for every benchmark row a chapter also wrote (same method, task, split, ratio), the difference."""
    try:
        chapters = [row for row in load_all(profile)["rows"] if row["chapter"] != "benchmark"]
    except FileNotFoundError:
        return []
    lines = []
    for row in rows:
        for other in chapters:
            same = all(other.get(k) == row[k] for k in ("method", "task", "split", "contrast", "coils", "reference",
                                                        "mask", "scoring"))
            if same and other.get("experiment") is None and math.isclose(other["ratio"], row["ratio"]):
                shift = row["psnr_mean"] - other["psnr_mean"]
                lines.append(f"{row['method']} {row['task']} {100 * row['ratio']:g} %: benchmark "
                             f"{row['psnr_mean']:.3f} dB, {other['chapter']} {other['psnr_mean']:.3f} dB "
                             f"({shift:+.4f})" + ("" if abs(shift) <= TOLERANCE_DB else "  DIFFERS"))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True, choices=PROFILES)
    parser.add_argument("--task", action="append", choices=sorted(TASKS), help="a task (default: every task)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--check", action="store_true",
                        help="fail when a row differs from a chapter's row of the same setting by over 0.01 dB")
    args = parser.parse_args(argv)
    device = str(resolve_device(args.device))
    start = time.perf_counter()
    rows, skipped = [], []
    for name in args.task or TASKS:
        task_rows, task_skipped = run_task(args.profile, get_task(name), device=device)
        rows += task_rows
        skipped += task_skipped
    seconds = time.perf_counter() - start
    if args.task:  # keep the rows of the other tasks from an earlier run
        try:
            earlier = read_results("benchmark", args.profile)["rows"]
        except FileNotFoundError:
            earlier = []
        rows = [row for row in earlier if row["task"] not in args.task] + rows
    path = write_results("benchmark", rows, profile=args.profile, device=device)
    for name in dict.fromkeys(row["task"] for row in rows):
        print(f"\n{TASKS[name].title} ({name}), PSNR (dB):\n")
        print(table([row for row in rows if row["task"] == name], experiment=EXPERIMENT))
    for line in skipped:
        print("skipped:", line)
    comparison = compare_with_chapters(args.profile, rows)
    for line in comparison:
        print("chapter row:", line)
    print(f"{len(rows)} rows in {seconds:.0f} s on {device} ({machine_info()['cpu_count']} CPUs), written to {path}")
    return 1 if args.check and any(line.endswith("DIFFERS") for line in comparison) else 0


if __name__ == "__main__":
    sys.exit(main())
