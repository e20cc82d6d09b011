"""Helpers shared by the benchmark scripts: interleaved timing and writing JSON results with the machine they came from.

Timing contenders one after another lets anything that drifts during the run (another job on a shared machine, CPU
frequency, the allocator's state) land on one contender and not the other. :func:`time_interleaved` runs every
contender once per round, in a shuffled order, so drift is spread over all of them and per-round ratios compare
calls made moments apart.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

try:
    from mrilab.runtime import machine_info
except ImportError:  # before the move from mrilab.train to mrilab.runtime
    from mrilab.train import machine_info

RESULTS = Path(__file__).parent / "results"


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
