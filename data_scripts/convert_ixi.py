"""Convert IXI NIfTI volumes (IXI*-T1/T2/PD.nii.gz) into the book's paired multi-contrast layout.

    python data_scripts/convert_ixi.py IXI_DIR --out DIR [--size 128] [--fractions 0.8 0.1 0.1]

Writes ``DIR/singlecoil_{train,val,test}/{T1w,T2w,PDw}.h5``, subjects dealt to the splits. Read them with
``mrilab.data.SliceDataset(DIR, split, contrast, reference=...)``.
"""

from __future__ import annotations

import argparse

from mrilab.data import convert_ixi


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="folder holding the IXI .nii.gz files")
    parser.add_argument("--out", required=True, help="output directory (the dataset root)")
    parser.add_argument("--size", type=int, default=128, help="output image size (square)")
    parser.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--slice-fraction", type=float, default=0.6, help="central fraction of axial planes kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    written = convert_ixi(args.directory, args.out, size=args.size, fractions=tuple(args.fractions),
                          slice_fraction=args.slice_fraction, seed=args.seed)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
