"""Which paired verdicts of the results files changed when the statistics moved from planes to blocks.

Every pair of rows of a results file scored on the same slices (same split, experiment, mask, ratio, contrast,
scoring and dataset) is compared with :func:`mrilab.stats.paired` on PSNR, SSIM and HFEN, and its verdict
("A better", "B better", "not resolved") is compared in two ways::

    python tools/verdict_changes.py                  # both, written to benchmarks/results/verdict_changes.json
    python tools/verdict_changes.py --before REV     # the plane-level results of another commit

* ``statistic``: the same per-slice numbers of ``--before`` (planes as units), resampled by blocks of adjacent
  planes (:func:`mrilab.data.datasets.block_labels`, :data:`~mrilab.data.datasets.BLOCK_GAP_MM`): the effect of the
  resampling unit alone.
* ``now``: the verdicts of ``--before`` against those of the current results files (blocks, the split with guard
  planes, the retrained models): what a reader of the book sees change.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mrilab import stats  # noqa: E402
from mrilab.data.datasets import BLOCK_GAP_MM, block_labels  # noqa: E402

CHAPTERS = ("ista_train", "two_grid_train", "ifr_train")
METRICS = ("psnr", "ssim", "hfen")
#: The last commit whose results files resample planes rather than blocks.
BEFORE = "a1e43af"
OUT = ROOT / "benchmarks" / "results" / "verdict_changes.json"


def _name(row: dict) -> str:
    return row["method"] + (f" ({row['variant']})" if row.get("variant") else "")


def _slices(row: dict, metric: str, blocks: list[str] | None) -> list[dict]:
    per_slice = row["per_slice"]
    out = [{"index": i, "position": p, metric: v}
           for i, p, v in zip(per_slice["index"], per_slice["position"], per_slice[metric], strict=True)]
    labels = blocks if blocks is not None else per_slice.get("block")
    if labels is not None:
        out = [dict(r, block=b) for r, b in zip(out, labels, strict=True)]
    return out


def _blocks_of(row: dict) -> list[str]:
    positions = row["per_slice"]["position"]
    return block_labels([int(p.split()[1]) for p in positions], [p.split()[0] for p in positions], BLOCK_GAP_MM)


def verdicts(payload: dict, *, regroup: bool = False) -> dict[tuple, dict]:
    """``{(group..., metric, A, B): verdict}`` for every pair of rows of one results file on the same slices."""
    groups = defaultdict(list)
    for row in payload["rows"]:
        key = tuple(row.get(k) for k in ("split", "experiment", "mask", "ratio", "contrast", "scoring", "dataset"))
        groups[key].append(row)
    out = {}
    for key, members in groups.items():
        for a, b in itertools.combinations(members, 2):
            if a["per_slice"]["index"] != b["per_slice"]["index"]:
                continue
            blocks = _blocks_of(a) if regroup else None
            for metric in METRICS:
                result = stats.paired(_slices(a, metric, blocks), _slices(b, metric, blocks), metric)
                verdict = {True: f"{_name(a)} better", False: f"{_name(b)} better", None: "not resolved"}[
                    result.better()]
                out[(*key, metric, _name(a), _name(b))] = {
                    "verdict": verdict, "mean": round(result.mean, 4), "ci": [round(result.ci_low, 4),
                                                                             round(result.ci_high, 4)],
                    "units": result.n_blocks}
    return out


def _changes(chapter: str, old: dict, new: dict) -> list[dict]:
    rows = []
    for key in old.keys() & new.keys():
        if old[key]["verdict"] != new[key]["verdict"]:
            split, experiment, mask, ratio, contrast, scoring, dataset, metric, a, b = key
            rows.append({"chapter": chapter, "split": split, "experiment": experiment or "main", "mask": mask,
                         "ratio": ratio, "contrast": contrast, "metric": metric, "a": a, "b": b,
                         "before": old[key], "after": new[key]})
    return sorted(rows, key=lambda r: (r["experiment"], str(r["mask"]), r["ratio"] or 0, r["metric"], r["a"], r["b"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help=f"commit with the plane-level results (default {BEFORE})")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    report = {"before": args.before, "block_gap_mm": BLOCK_GAP_MM, "statistic": [], "now": [], "compared": {}}
    for chapter in CHAPTERS:
        path = f"results/demo/{chapter}.json"
        old = json.loads(subprocess.run(["git", "show", f"{args.before}:{path}"], cwd=ROOT, check=True,
                                        capture_output=True, text=True).stdout)
        new = json.loads((ROOT / path).read_text())
        planes, regrouped, now = verdicts(old), verdicts(old, regroup=True), verdicts(new)
        report["statistic"] += _changes(chapter, planes, regrouped)
        report["now"] += _changes(chapter, planes, now)
        report["compared"][chapter] = {"statistic": len(planes), "now": len(planes.keys() & now.keys())}
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    for part in ("statistic", "now"):
        total = sum(n[part] for n in report["compared"].values())
        print(f"{part}: {len(report[part])} of {total} verdicts changed")
        for r in report[part]:
            old, new = r["before"], r["after"]
            print(f"  {r['chapter']} {r['split']} {r['experiment']} {r['mask']} {r['ratio']:g} {r['metric']}: "
                  f"{r['a']} − {r['b']}: {old['mean']:+.3f} [{old['ci'][0]:+.3f}, {old['ci'][1]:+.3f}] "
                  f"({old['units']} planes) {old['verdict']} → {new['mean']:+.3f} [{new['ci'][0]:+.3f}, "
                  f"{new['ci'][1]:+.3f}] ({new['units']} blocks) {new['verdict']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
