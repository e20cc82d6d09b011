"""Does training on slices that fill the field of view carry the networks over to the real scans?

    python transfer/zoomed.py --profile demo      # 93 s on 2 cores from the committed weights

The real scans on which the networks lose to TV are details filled with tissue from edge to edge (the data chapter's
per-source table), while every synthetic training slice is a whole head in air. This measurement trains the
networks of transfer/transfer.py (ISTA-Net+ 10-30 %, CGPD-CSNet, IFR-Net Cartesian 25 %) on a mixture of the narrow
slices and as many zoomed ones (``"T1w+zoomed"``, mrilab.data.randomise.ZOOMED: the same generator, a window 1.5-3×
smaller magnified to fill the slice) and compares them with the narrow models, margin over TV, on

* the validation places, on which the choice is made: the T1w validation split (in distribution), the shifted
  validation set and the zoomed validation slices;
* the test places, reported only: the T1w test split and the real scans.

The rule is mrilab.selection.DATA_RULE, fixed before the run: the zoomed mixture is chosen if its mean
in-distribution validation PSNR (over the networks and ratios) is within IN_DISTRIBUTION_TOLERANCE_DB of the narrow
models' and its mean PSNR over the shifted and the zoomed validation slices is higher. Writes the record
mrilab/records/training_data_zoomed_{profile}.json (the data chapter shows it).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from mrilab.io import atomic_write
from mrilab.recipes.common import NARROW, ZOOMED
from mrilab.selection import DATA_RULE, RECORDS, apply_data_rule
from transfer import measure  # transfer/transfer.py, beside this script

#: The compared training distributions: ``{label: contrast}``.
TRAININGS = {"narrow": NARROW, "narrow + zoomed": ZOOMED}
#: Where the choice is made (validation slices only) and where it is reported (test slices).
CHOICE_PLACES = {"in distribution (val)": ("val", NARROW), "shifted (val)": ("val", "shifted"),
                 "zoomed (val)": ("val", "zoomed")}
REPORT_PLACES = {"in distribution (test)": ("test", NARROW), "real": ("real", "real")}


def choose(record: dict) -> dict:
    """Apply :data:`mrilab.selection.DATA_RULE` to the validation places of ``record``: the means it compared."""
    candidates = []
    for label in TRAININGS:
        def mean(places: tuple[str, ...], label: str = label) -> float:
            return round(float(np.mean([e["places"][p][label]["psnr"] for e in record["entries"] for p in places])), 4)

        candidates.append({"name": label, "val_mean": mean(("in distribution (val)",)),
                           "shifted_mean": mean(("shifted (val)", "zoomed (val)"))})
    return {"rule": DATA_RULE + " (here: over the shifted and the zoomed validation slices)",
            "candidates": candidates, "chosen": apply_data_rule(candidates)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["smoke", "demo"])
    args = parser.parse_args(argv)
    record = measure(args.profile, TRAININGS, CHOICE_PLACES | REPORT_PLACES)
    record["training_data"] = TRAININGS
    record["choice"] = choose(record)
    path = RECORDS / f"training_data_zoomed_{args.profile}.json"
    atomic_write(path, json.dumps(record, indent=1) + "\n")
    for e in record["entries"]:
        print(f"{e['network']:22s} {round(100 * e['ratio']):3d} %: " + "; ".join(
            f"{place} {v['narrow']['margin']:+.2f} → {v['narrow + zoomed']['margin']:+.2f}"
            for place, v in e["places"].items()))
    for c in record["choice"]["candidates"]:
        print(f"{c['name']:16s} validation: in distribution {c['val_mean']:.2f} dB, shifted and zoomed "
              f"{c['shifted_mean']:.2f} dB")
    print(f"chosen on validation slices: {record['choice']['chosen']}; wrote {path}")


if __name__ == "__main__":
    main()
