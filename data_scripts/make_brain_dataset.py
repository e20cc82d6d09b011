"""Build (or find in the cache) the embedded multi-contrast brain dataset of one profile.

    python data_scripts/make_brain_dataset.py --profile demo [--root DIR] [--force]

Writes ``{root}/{profile}/singlecoil_{split}/{contrast}.h5`` and ``multicoil_{split}/{contrast}_mc{C}.h5`` files in
fastMRI's layout (see :mod:`mrilab.data`); ``root`` defaults to ``$MRILAB_DATA`` or ``~/.cache/mrilab``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from mrilab.data import DATASET_PROFILES, build_dataset


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=tuple(DATASET_PROFILES), default="demo")
    parser.add_argument("--root", default=None, help="cache directory (default: $MRILAB_DATA or ~/.cache/mrilab)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching build is cached")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the build is many small FFTs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    directory = build_dataset(args.profile, root=args.root, force=args.force, progress=True)
    manifest = json.loads((directory / "manifest.json").read_text())
    print(f"{args.profile}: {directory} ({len(manifest['files'])} files, built in {manifest['seconds']} s; "
          f"this call took {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
