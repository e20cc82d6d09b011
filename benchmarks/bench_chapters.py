"""Time every chapter of the book, executed in the smoke and demo profiles, for the teachers' page and the README.

    python benchmarks/bench_chapters.py [--profiles smoke demo] [--out benchmarks/results/chapters.json]

Each chapter runs once with papermill, as ``make book`` runs it (demo evaluates the committed weights and trains
nothing). Writes the wall seconds per chapter and profile with the machine they came from, and the same numbers
as ``chapters.csv`` beside it, which the book's "For teachers" page shows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from mrilab.runtime import machine_info

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["smoke", "demo"], choices=["smoke", "demo", "full"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "chapters.json")
    args = parser.parse_args(argv)
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MRILAB_RESULTS": tmp}  # never rewrite the committed results
        for profile in args.profiles:
            subprocess.run([sys.executable, "data_scripts/make_brain_dataset.py", "--profile", profile], cwd=ROOT,
                           env=env, check=True)  # fmt: skip
            out = Path(tmp) / profile
            subprocess.run([sys.executable, "tools/book.py", "execute", "--profile", profile, "--out", str(out)],
                           cwd=ROOT, env=env, check=True)  # fmt: skip
            seconds[profile] = json.loads((out / "seconds.json").read_text())
    args.out.write_text(json.dumps({"machine": machine_info(), "seconds": seconds}, indent=1) + "\n")
    with args.out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["chapter", *(f"{profile} (s)" for profile in args.profiles)])
        for chapter in seconds[args.profiles[0]]:
            writer.writerow([chapter, *(f"{seconds[profile][chapter]:.0f}" for profile in args.profiles)])
        machine = machine_info()
        writer.writerow([f"measured on {machine['cpu_count']} CPUs ({machine['processor']}), torch {machine['torch']}"
                         + (f", {machine['gpu']}" if "gpu" in machine else ""), *([""] * len(args.profiles))])
    print(f"wrote {args.out} and {args.out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
