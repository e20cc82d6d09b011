"""Draw a few slices of every contrast of a built dataset side by side, and one phase image, into a PNG.

    python data_scripts/plot_dataset.py --profile demo --out /tmp/brain.png [--split test] [--slices 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mrilab.data import CONTRASTS, DATASET_PROFILES, SPLITS, build_dataset, split_directory  # noqa: E402
from mrilab.data.hdf5 import open_slice_file  # noqa: E402
from mrilab.ops import ifft2c  # noqa: E402


def plot_dataset(directory: Path, split: str, n_slices: int):
    """Figure: one row per slice, magnitude of each contrast (shared grey scale per contrast) and T1w phase."""
    images = {}
    for contrast in CONTRASTS:
        with open_slice_file(split_directory(directory, split) / f"{contrast}.h5") as f:
            count = f["kspace"].shape[0]
            picks = np.unique(np.linspace(0, count - 1, n_slices).round().astype(int))
            images[contrast] = ifft2c(torch.from_numpy(f["kspace"][picks.tolist()])).numpy()
            positions = f["slice_positions"][picks.tolist()]
    rows, cols = len(picks), len(CONTRASTS) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for r in range(rows):
        for c, contrast in enumerate(CONTRASTS):
            magnitude = np.abs(images[contrast])
            axes[r, c].imshow(magnitude[r], cmap="gray", vmin=0, vmax=np.percentile(magnitude, 99.5))
            axes[r, c].set_title(f"{contrast}, z={positions[r]}", fontsize=9)
        axes[r, -1].imshow(np.angle(images["T1w"][r]), cmap="twilight", vmin=-np.pi, vmax=np.pi)
        axes[r, -1].set_title("T1w phase", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=tuple(DATASET_PROFILES), default="demo")
    parser.add_argument("--root", default=None)
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--out", required=True, help="PNG path")
    args = parser.parse_args(argv)
    directory = build_dataset(args.profile, root=args.root)
    fig = plot_dataset(directory, args.split, args.slices)
    fig.savefig(args.out, dpi=100, bbox_inches="tight")
    print(args.out)


if __name__ == "__main__":
    main()
