"""Helpers shared by the benchmark scripts: interleaved timing and writing JSON results with the machine they came from.

Timing contenders one after another lets anything that drifts during the run (another job on a shared machine, CPU
frequency, the allocator's state) land on one contender and not the other. :func:`time_interleaved` runs every
contender once per round, in a shuffled order, so drift is spread over all of them and per-round ratios compare
calls made moments apart.
"""

from __future__ import annotations

import inspect
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mrilab.runtime import machine_info
from mrilab.tasks import Task, get_task

RESULTS = Path(__file__).parent / "results"
#: glibc returns large freed blocks to the system and page-faults them back in on the next call, which makes
#: timings of large tensors bimodal; these thresholds keep the blocks in the heap (read only at process start).
ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
REEXEC_MARK = "MRILAB_BENCH_REEXEC"


def ensure_allocator_settings() -> dict:
    """Re-execute the running script with the MALLOC_* variables set unless they already are; return the values."""
    if any(name not in os.environ for name in ALLOCATOR):
        env = {**ALLOCATOR, **os.environ, REEXEC_MARK: "1"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    return {**{name: os.environ[name] for name in ALLOCATOR},
            "set_by": "re-exec of the script" if os.environ.get(REEXEC_MARK) else "environment"}


def quartiles(values) -> dict:
    """Median and interquartile range (p25, p75) of ``values``."""
    p25, median, p75 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": median, "p25": p25, "p75": p75}


def time_interleaved(contenders: dict[str, Callable], *, rounds: int = 200, warmup: int = 5, seed: int = 0) -> dict:
    """Wall time in milliseconds of each contender, measured in interleaved rounds.

    Every contender is first called ``warmup`` times. Then, in each of ``rounds`` rounds, every contender is called
    once, in an order shuffled with a fixed ``seed``. Returns ``{name: {"samples_ms": [...], "median": ..., "p25": ...,
    "p75": ...}}``; ``samples_ms[i]`` of different contenders come from the same round ``i``, so they can be paired.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    rng = random.Random(seed)
    order = list(contenders)
    samples = {name: [] for name in contenders}
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            fn = contenders[name]
            tic = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - tic) * 1e3)
    return {name: {"samples_ms": times, **quartiles(times)} for name, times in samples.items()}


def write_result(name: str, results) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine_info(), "results": results}, indent=1))
    print(f"wrote {path}")
    return path


def recipe_settings(module: object, profile: str) -> dict:
    """Return a method's main model and training settings of ``profile`` (CGPD-CSNet keeps them under ``main``)."""
    settings = module.SETTINGS[profile]
    return settings.get("main", settings)


def main_task(module: object, profile: str = "demo") -> Task:
    """Return the first task a method's recipe trains for (:func:`task_runs`): the task its timings use."""
    return get_task(next(iter(module.task_runs(profile))))


def build_model(module: object, profile: str) -> torch.nn.Module:
    """Return a method's main model of ``profile``, with the coils of its task when the model takes ``coils``."""
    config = dict(recipe_settings(module, profile)["model"])
    if "coils" in inspect.signature(module.MODEL).parameters:
        config["coils"] = main_task(module, profile).n_coils
    return module.MODEL(**config)


def timing_ratio(task: Task) -> float:
    """The sampling ratio of a timing batch: 0.3 where the task has it (the single-coil tasks), else its first."""
    return 0.3 if 0.3 in task.ratios else task.ratios[0]


def random_batch(module: object, size: int, batch_size: int, device: torch.device) -> dict:
    """A random batch shaped like the data of the method's task, with a target (timing does not read values)."""
    task = main_task(module)
    batch = task.example(size, batch=batch_size, ratio=timing_ratio(task))
    generator = torch.Generator().manual_seed(0)
    batch["target"] = torch.randn(batch_size, 1, size, size, dtype=torch.complex64, generator=generator)
    return {k: v.to(device) for k, v in batch.items()}
