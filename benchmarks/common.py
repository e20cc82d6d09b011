"""Helpers shared by the benchmark scripts: timing and writing JSON results with the machine they came from."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from mrilab.train import machine_info

RESULTS = Path(__file__).parent / "results"


def time_call(fn, *, repeats: int = 20, warmup: int = 3) -> dict:
    """Median, min and max wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - tic) * 1e3)
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "max_ms": max(samples), "repeats": repeats}


def write_result(name: str, results) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine_info(), "results": results}, indent=1))
    print(f"wrote {path}")
    return path
