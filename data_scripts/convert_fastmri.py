"""Convert fastMRI .h5 volumes of one contrast into the book's layout.

    python data_scripts/convert_fastmri.py FILE.h5 [FILE.h5 ...] --out DIR --split train [--coils 8] [--contrast T2w]

Writes ``DIR/singlecoil_{split}/{contrast}.h5`` (coil-combined image, re-transformed) and, for multi-coil input,
``DIR/multicoil_{split}/{contrast}_mc{C}.h5`` with per-slice sensitivity maps. Read them with
``mrilab.data.SliceDataset(DIR, split, contrast)``.
"""

from __future__ import annotations

import argparse

from mrilab.data import SPLITS, convert_fastmri


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="fastMRI .h5 volumes of one contrast")
    parser.add_argument("--out", required=True, help="output directory (the dataset root)")
    parser.add_argument("--split", choices=SPLITS, required=True)
    parser.add_argument("--contrast", default=None, help="contrast name (default: from the 'acquisition' attribute)")
    parser.add_argument("--coils", type=int, default=None, help="compress multi-coil data to this many virtual coils")
    args = parser.parse_args(argv)
    for path in convert_fastmri(args.files, args.out, args.split, contrast=args.contrast, coils=args.coils):
        print(path)


if __name__ == "__main__":
    main()
