"""Every trained network's margin over TV, trained on the narrow and on the broad distribution, in three places.

    python transfer/transfer.py --profile demo      # about 5 minutes on 2 cores, from the committed weights

For ISTA-Net+ (its 10, 20 and 30 % models), CGPD-CSNet (the multi-ratio model at 10, 20 and 30 %) and IFR-Net (its
Cartesian 25 % model), each trained on the narrow (mrilab.recipes.common.NARROW) and on the broad distribution (BROAD;
one of the two is the recipes' TRAINING_DATA, the other their twins'), the paired PSNR difference to TV (mean, 95 % CI
over blocks, Wilcoxon p, verdict) on the T1w test split (in distribution), the shifted validation set and the real
scans, all with 1-D random Cartesian masks. TV's λ is the one chosen on the T1w validation split. Writes
benchmarks/results/transfer.json, from which the README's table is rendered (tools/readme_results.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mrilab import stats
from mrilab.data import SliceDataset
from mrilab.evaluation import evaluate
from mrilab.recipes.classical import tuned
from mrilab.recipes.common import BROAD, NARROW, TRAINING_DATA
from mrilab.runtime import machine_info
from mrilab.tasks import single_coil_task
from mrilab.transfer import MASK, compared_networks

#: Where the record goes (beside the speed measurements, where tools/readme_results.py reads it).
RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
#: ``{name: (split, file)}`` of the three places a margin is measured.
PLACES = {"in distribution": ("test", "T1w"), "shifted": ("val", "shifted"), "real": ("real", "real")}
#: The training distributions compared: ``{label: contrast of the recipes' training files}``.
TRAININGS = {"narrow": NARROW, "broad": BROAD}


def measure(profile: str, trainings: dict[str, str] | None = None, places: dict[str, tuple[str, str]] | None = None
            ) -> dict:
    """Return the record: per network, ratio, place and training distribution, the paired margin over TV.

    ``trainings`` (default :data:`TRAININGS`) and ``places`` (default :data:`PLACES`) choose what is compared where.
    """
    trainings, places = trainings or TRAININGS, places or PLACES
    trained = {label: compared_networks(profile, contrast) for label, contrast in trainings.items()}
    entries = []
    for network, ratio in next(iter(trained.values())):
        lam, tv = tuned("tv", profile, single_coil_task(MASK), ratio)
        entry = {"network": network, "ratio": ratio, "tv_lambda_relative": lam, "places": {}}
        for place, (split, file) in places.items():
            dataset = SliceDataset(profile, split, file, mask=MASK, ratios=(ratio,))
            tv_rows = evaluate(tv, dataset, device="cpu")
            entry["places"][place] = {"tv_psnr": stats.summarize(tv_rows, metrics=("psnr",))["psnr_mean"]}
            for trained_on, models in trained.items():
                rows = evaluate(models[network, ratio], dataset, device="cpu")
                c = stats.paired(rows, tv_rows)
                entry["places"][place][trained_on] = {
                    "psnr": stats.summarize(rows, metrics=("psnr",))["psnr_mean"], "margin": c.mean,
                    "ci_low": c.ci_low, "ci_high": c.ci_high, "p_value": c.p_value, "n_blocks": c.n_blocks,
                    "verdict": {True: "beats TV", False: "loses to TV", None: "not resolved"}[c.better()]}
        entries.append(entry)
    return {"profile": profile, "mask": MASK, "training_data": {**trainings, "chosen": TRAINING_DATA},
            "places": {k: f"{split} split, {file}.h5" for k, (split, file) in places.items()}, "entries": entries,
            "machine": machine_info(), "written": time.strftime("%Y-%m-%d")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["smoke", "demo"])
    args = parser.parse_args(argv)
    record = measure(args.profile)
    path = RESULTS / ("transfer.json" if args.profile == "demo" else f"transfer_{args.profile}.json")
    path.write_text(json.dumps(record, indent=1) + "\n")
    for e in record["entries"]:
        print(f"{e['network']:22s} {round(100 * e['ratio']):3d} %: " + "; ".join(
            f"{place} {v['narrow']['margin']:+.2f} → {v['broad']['margin']:+.2f}" for place, v in e["places"].items()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
