"""Time the build of the embedded brain dataset per profile (from scratch, then the cached call).

    python benchmarks/bench_dataset.py [--full] [--threads 1] [--out benchmarks/results/dataset_build.json]

Each profile is built into a fresh temporary root, so nothing cached is reused; the second call measures the cache
hit. The first build of a process also pays for reading the MNI152 maps from nilearn ("load_seconds").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from mrilab.data import DATASET_PROFILES, SPLITS, build_dataset
from mrilab.data.brain import load_tissue_volumes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also build the full (256×256) profile")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "dataset_build.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    load_tissue_volumes()
    results = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
                           "torch_threads": torch.get_num_threads()},
               "load_seconds": round(time.perf_counter() - start, 3), "profiles": {}}
    for name in ["smoke", "demo"] + (["full"] if args.full else []):
        profile = DATASET_PROFILES[name]
        with tempfile.TemporaryDirectory() as root:
            tic = time.perf_counter()
            directory = build_dataset(name, root=root)
            build_seconds = time.perf_counter() - tic
            tic = time.perf_counter()
            build_dataset(name, root=root)
            cached_seconds = time.perf_counter() - tic
            size = sum(p.stat().st_size for p in directory.rglob("*.h5"))
        results["profiles"][name] = {
            "image_size": profile.size,
            "slices": dict(zip(SPLITS, profile.slices, strict=True)),
            "multicoil_slices": dict(zip(SPLITS, profile.multicoil_slices, strict=True)),
            "coils": list(profile.coils),
            "build_seconds": round(build_seconds, 2),
            "cached_seconds": round(cached_seconds, 4),
            "megabytes": round(size / 2**20, 1),
        }
        print(name, results["profiles"][name])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
