"""The margins over TV of an older checkout's committed models, measured on this checkout's transfer test sets.

    git worktree add ../mrilab-before b71d362        # main before the real-scan issue
    make data                                          # this checkout's dataset (real and shifted files)
    PYTHONPATH=../mrilab-before MRILAB_DATA=../mrilab-before/data python transfer/transfer_before.py \\
        --data data/demo --out benchmarks/results/transfer_before.json

The older package, its committed weights and its dataset are imported from ``PYTHONPATH``; the test files are read
from ``--data`` (a built profile of this checkout). The older code knows no ``real`` split, so its split check is
widened and the real split takes the mask seed this checkout gives it. Same networks, ratios, λ rule and places as
``transfer/transfer.py``.
"""

from __future__ import annotations

import argparse
import json

import mrilab.data.build as build
import mrilab.data.datasets as datasets

build.check_split = datasets.check_split = lambda split: split
datasets.SPLITS = (*build.SPLITS, "real")

from mrilab import stats  # noqa: E402
from mrilab.data import SliceDataset  # noqa: E402
from mrilab.evaluation import evaluate  # noqa: E402
from mrilab.recipes import cgpd_csnet, ifr_net, ista_net  # noqa: E402
from mrilab.recipes.classical import CLASSICAL, LAMBDA_GRID, classical_reconstructor, tune_lambda  # noqa: E402

PLACES = {"in distribution": ("test", "T1w"), "shifted": ("val", "shifted"), "real": ("real", "real")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a built demo profile of this checkout (data/demo)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    models = {("ISTA-Net+", r): ista_net.train("demo", r, progress=False)[0] for r in (0.1, 0.2, 0.3)}
    cgpd, _ = cgpd_csnet.train("demo", "multi_ratio", ratios=cgpd_csnet.RATIOS, progress=False)
    models |= {("CGPD-CSNet", r): cgpd for r in (0.1, 0.2, 0.3)}
    models["IFR-Net (cartesian)", 0.25] = ifr_net.train("demo", 0.25, mask="cartesian", progress=False)[0]
    settings, entries = CLASSICAL["demo"], []
    for (network, ratio), model in models.items():
        tuning = SliceDataset(args.data, "val", "T1w", mask="cartesian", ratios=(ratio,),
                              max_slices=settings["tuning_slices"])
        lam, _ = tune_lambda("tv", tuning, LAMBDA_GRID["demo"]["tv"], iterations=settings["iterations"])
        tv = classical_reconstructor("tv", lam, iterations=settings["iterations"])
        entry = {"network": network, "ratio": ratio, "tv_lambda_relative": lam, "places": {}}
        for place, (split, file) in PLACES.items():
            dataset = SliceDataset(args.data, split, file, mask="cartesian", ratios=(ratio,))
            tv_rows, rows = evaluate(tv, dataset, device="cpu"), evaluate(model, dataset, device="cpu")
            c = stats.paired(rows, tv_rows)
            entry["places"][place] = {"margin": c.mean, "ci_low": c.ci_low, "ci_high": c.ci_high,
                                      "p_value": c.p_value, "n_blocks": c.n_blocks, "better": c.better()}
        entries.append(entry)
        print(json.dumps(entry), flush=True)
    with open(args.out, "w") as f:
        json.dump({"entries": entries}, f, indent=1)


if __name__ == "__main__":
    main()
