"""Keep the README's results tables equal to the committed results files.

    python tools/readme_results.py           # rewrite every generated block of README.md
    python tools/readme_results.py --check   # fail if a block differs from what the results files give

A generated block sits between ``<!-- results PROFILE CHAPTER [EXPERIMENT] [task=TASK] -->`` and
``<!-- end results -->`` and holds :func:`mrilab.results.table` of the rows of ``results/PROFILE/CHAPTER.json`` (of
one task, with ``task=``; the benchmark runner's ``benchmark.json`` holds every task) (``CHAPTER`` may join
several chapters with ``+``: their rows, merged by :func:`mrilab.results.load_all`, are shown together), for PSNR
and then SSIM. A block between ``<!-- gpu -->`` and ``<!-- end gpu -->`` holds the tables of the GPU check
(``benchmarks/results/gpu.json``, written by ``benchmarks/gpu_check.py`` on a CUDA machine) with the device named.
A block between ``<!-- mutants -->`` and ``<!-- end mutants -->`` holds the mutation scores per module of
``benchmarks/results/mutants.json`` (``make mutants``, ``tools/mutants.py``), and one between ``<!-- verdicts -->``
and ``<!-- end verdicts -->`` the paired verdicts that the block-level statistics changed
(``benchmarks/results/verdict_changes.json``, ``tools/verdict_changes.py``). A block between ``<!-- transfer -->``
and ``<!-- end transfer -->`` holds every network's margin over TV, trained on the narrow and on the broad
distribution, in distribution, on the shifted validation set and on the real scans
(``benchmarks/results/transfer.json``, ``transfer/transfer.py``). A block between ``<!-- tasks -->`` and
``<!-- end tasks -->`` lists the book's tasks and the registry's methods of each (:mod:`mrilab.methods`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MRILAB_RESULTS", str(ROOT / "results"))

from mrilab.results import load_all, table  # noqa: E402

BLOCK = re.compile(r"(<!-- results (\S+) (\S+)(?: (?!task=)(\S+))?(?: task=(\S+))? -->\n)(.*?)(<!-- end results -->)",
                   re.S)
GPU_BLOCK = re.compile(r"(<!-- gpu -->\n)(.*?)(<!-- end gpu -->)", re.S)
GPU_REPORT = ROOT / "benchmarks" / "results" / "gpu.json"
MUTANTS_BLOCK = re.compile(r"(<!-- mutants -->\n)(.*?)(<!-- end mutants -->)", re.S)
MUTANTS_REPORT = ROOT / "benchmarks" / "results" / "mutants.json"
VERDICTS_BLOCK = re.compile(r"(<!-- verdicts -->\n)(.*?)(<!-- end verdicts -->)", re.S)
VERDICTS_REPORT = ROOT / "benchmarks" / "results" / "verdict_changes.json"
TRANSFER_BLOCK = re.compile(r"(<!-- transfer -->\n)(.*?)(<!-- end transfer -->)", re.S)
TRANSFER_REPORT = ROOT / "benchmarks" / "results" / "transfer.json"
TRANSFER_BEFORE = ROOT / "benchmarks" / "results" / "transfer_before.json"
ZOOMED_BLOCK = re.compile(r"(<!-- zoomed -->\n)(.*?)(<!-- end zoomed -->)", re.S)
ZOOMED_REPORT = ROOT / "mrilab" / "records" / "training_data_zoomed_demo.json"
TASKS_BLOCK = re.compile(r"(<!-- tasks -->\n)(.*?)(<!-- end tasks -->)", re.S)


def task_table() -> str:
    """The book's tasks (:data:`mrilab.tasks.TASKS`) and the registry's methods of each, in Markdown."""
    from mrilab.methods import methods_for
    from mrilab.tasks import TASKS

    lines = ["| task | contrast | coils | reference | mask | ratios | methods |", "|---" * 7 + "|"]
    for task in TASKS.values():
        coils = "1" if task.coils is None else f"{task.coils}" + (" with maps" if task.maps else ", no maps")
        if task.virtual_coils is not None:
            coils += f", compressed to {task.virtual_coils}"
        ratios = ", ".join(f"{100 * r:.3g} %" for r in task.ratios)
        names = ", ".join(m.name for m in methods_for(task))
        lines.append(f"| `{task.name}` | {task.contrast} | {coils} | {task.reference or '—'} | {task.mask} | "
                     f"{ratios} | {names} |")
    return "\n".join(lines) + "\n"


def gpu_tables(report: dict) -> str:
    """The GPU check's step, inference, retraining and chapter tables, in Markdown."""
    cuda, parts = report["cuda"], report["parts"]
    precisions = ("float32", "bfloat16", "float16")

    def cell(rows: list, method: str, profile: str, precision: str, key: str = "median_ms") -> str:
        found = [r for r in rows if (r["method"], r["profile"], r["precision"]) == (method, profile, precision)]
        if not found:
            return "–"
        return "fails" if "error" in found[0] else f"{found[0][key]:,.1f}"

    methods = list(dict.fromkeys(r["method"] for r in parts["steps"]))
    lines = [f"Measured on one **{cuda['name']}** (CUDA {cuda['cuda_version']}, torch {report['machine']['torch']}, "
             f"TF32 convolutions {'on' if cuda['cudnn_allow_tf32'] else 'off'}) by `make gpu-check`, "
             f"{report['measured']['steps'][:10]}. Medians of 10–20 steps.", "",
             "**Training step** (ms; peak GPU memory in MiB)", "",
             "| method | profile | size × batch | float32 | bfloat16 | float16 | peak float32 | peak bfloat16 |",
             "|---|---|---|---|---|---|---|---|"]
    for profile in ("demo", "full"):
        for method in methods:
            first = next(r for r in parts["steps"] if (r["method"], r["profile"]) == (method, profile))
            lines.append(f"| {method} | {profile} | {first['size']}² × {first['batch_size']} | "
                         + " | ".join(cell(parts["steps"], method, profile, p) for p in precisions) + " | "
                         + " | ".join(cell(parts["steps"], method, profile, p, "peak_mib") for p in precisions[:2])
                         + " |")
    lines += ["", "**Inference** (ms per 256 × 256 slice, batch of one)", "",
              "| method | profile | float32 | bfloat16 |", "|---|---|---|---|"]
    for profile in ("demo", "full"):
        for method in methods:
            lines.append(f"| {method} | {profile} | "
                         + " | ".join(cell(parts["inference"], method, profile, p) for p in precisions[:2]) + " |")
    training = parts.get("training")
    if isinstance(training, dict) and "error" not in training:
        lines += ["", f"**Retraining on the GPU** — ISTA-Net+, Cartesian 10 %, {training['steps']} steps (the "
                      f"committed demo schedule): {training['train_seconds']:.0f} s on the GPU against "
                      f"{training['committed_train_seconds']:.0f} s for the committed weights on "
                      f"{training['committed_machine']['cpu_count']} CPU cores. Test PSNR: GPU-trained "
                      f"{training['psnr_gpu_trained']:.2f} dB, CPU-trained {training['psnr_cpu_trained_on_gpu']:.2f}"
                      f" dB (both evaluated on the GPU; the committed table, evaluated on the CPU, says "
                      f"{training['psnr_committed_table']:.2f} dB); {training['paired']}."]
    lines += ["", "**Chapters in `demo`** from the committed weights, on the GPU", "",
              "| chapter | status | seconds |", "|---|---|---|"]
    lines += [f"| {row['chapter']} | {row['status']} | {row.get('seconds', '–')} |" for row in parts["chapters"]]
    return "\n".join(lines) + "\n"


def mutant_table(report: dict) -> str:
    """Per module, the share of the tried mutants the tests kill, before and after the equation tests."""
    runs = report["runs"]
    labels = [label for label in ("before", "after") if label in runs]

    def cell(row: dict | None) -> str:
        if row is None:
            return "–"
        tried = row["mutants"] - row["no_tests"] - row["not_checked"]
        if not tried:
            return "–"
        caught = row["killed"] + row["timeout"]
        equivalent = f", {row['equivalent']} equivalent" if row["equivalent"] else ""
        return f"{caught}/{tried} ({100 * caught / tried:.0f} %{equivalent})"

    modules = [m for m in dict.fromkeys(m for label in labels for m in runs[label]["modules"])
               if any(cell(runs[label]["modules"].get(m)) != "–" for label in labels)]
    lines = ["| module | " + " | ".join(f"{label}: killed / tried" for label in labels) + " |",
             "|---|" + "---|" * len(labels)]
    lines += [f"| `{m}` | " + " | ".join(cell(runs[label]["modules"].get(m)) for label in labels) + " |"
              for m in modules]
    lines.append("")
    for label in labels:
        run = runs[label]
        seconds = f", {run['seconds'] / 60:.0f} min" if run.get("seconds") else ""
        lines.append(f"- *{label}*: the tests of `{run['commit'][:7]}`{seconds}, {run['max_children']} worker, "
                     f"{run['machine']}, {run['date'][:10]}" + (f"; {run['note']}" if run.get("note") else "") + ".")
    return "\n".join(lines) + "\n"


def verdict_list(report: dict) -> str:
    """The verdicts that changed, for the resampling unit alone and for the book as it now stands."""
    lines = []
    for part, title in (("statistic", "Same numbers, blocks instead of planes"),
                        ("now", "The book now (blocks, guard planes, retrained models) against before")):
        total = sum(n[part] for n in report["compared"].values())
        lines += [f"**{title}**: {len(report[part])} of {total} paired verdicts changed.", ""]
        if part == "now" and report[part]:
            lines += ["<details><summary>the list</summary>", ""]
        for r in report[part]:
            old, new = r["before"], r["after"]
            lines.append(f"- {r['chapter']}, {r['experiment']}, {r['mask']} {100 * r['ratio']:g} %, "
                         f"{r['metric'].upper()}, {r['a']} − {r['b']}: {old['mean']:+.3f} [{old['ci'][0]:+.3f}, "
                         f"{old['ci'][1]:+.3f}] *{old['verdict']}* → {new['mean']:+.3f} [{new['ci'][0]:+.3f}, "
                         f"{new['ci'][1]:+.3f}] *{new['verdict']}*")
        lines += ["", "</details>", ""] if part == "now" and report[part] else [""]
    return "\n".join(lines)


def transfer_table(report: dict) -> str:
    """Per network and ratio, the margin over TV before, trained narrow and trained broad, in each place (with CIs).

    *Before* is :data:`TRANSFER_BEFORE` (the models committed before the broad data and the scale normalisation,
    ``transfer/transfer_before.py``), where it has the network and ratio.
    """
    before = {(e["network"].split(" (")[0], e["ratio"]): e["places"]
              for e in json.loads(TRANSFER_BEFORE.read_text())["entries"]} if TRANSFER_BEFORE.exists() else {}
    places = list(report["places"])
    columns = ("before", "narrow", "broad")
    lines = ["| network | ratio | " + " | ".join(f"{place}: {c}" for place in places for c in columns) + " |",
             "|---|---|" + "---|" * (len(places) * len(columns))]
    for entry in report["entries"]:
        old = before.get((entry["network"].split(" (")[0], entry["ratio"]), {})
        cells = []
        for place in places:
            found = {"before": old.get(place), **{c: entry["places"][place][c] for c in columns[1:]}}
            for column in columns:
                m = found[column]
                cells.append("–" if m is None else f"{m['margin']:+.2f} [{m['ci_low']:+.2f}, {m['ci_high']:+.2f}]")
        lines.append(f"| {entry['network']} | {100 * entry['ratio']:g} % | " + " | ".join(cells) + " |")
    machine = report["machine"]
    return (f"Paired PSNR difference to TV (dB, 95 % CI over blocks; an interval that holds zero is not resolved), "
            f"1-D random Cartesian masks; in distribution = T1w test split, shifted = the shifted validation set, "
            f"real = the real-scan test set. `transfer/transfer.py`, {report['written']}, {machine['cpu_count']} "
            f"CPU cores, torch {machine['torch']}; *before* from `transfer/transfer_before.py`. The recipes train on "
            f"the {'narrow' if report['training_data']['chosen'] == report['training_data']['narrow'] else 'broad'} "
            f"distribution; the other column is their twins.\n\n"
            + "\n".join(lines) + "\n")


def zoomed_table(record: dict) -> str:
    """Per network and ratio, the margin over TV trained narrow and narrow + zoomed in each place, and the choice."""
    places, labels = list(record["places"]), list(record["training_data"])
    lines = ["| network | ratio | " + " | ".join(f"{place}: {label}" for place in places for label in labels) + " |",
             "|---|---|" + "---|" * (len(places) * len(labels))]
    for entry in record["entries"]:
        cells = [f"{m['margin']:+.2f} [{m['ci_low']:+.2f}, {m['ci_high']:+.2f}]"
                 for place in places for m in (entry["places"][place][label] for label in labels)]
        lines.append(f"| {entry['network']} | {100 * entry['ratio']:g} % | " + " | ".join(cells) + " |")
    choice, machine = record["choice"], record["machine"]
    means = "; ".join(f"{c['name']} {c['val_mean']:.2f} / {c['shifted_mean']:.2f} dB" for c in choice["candidates"])
    return (f"Paired PSNR difference to TV (dB, 95 % CI over blocks), 1-D random Cartesian masks. "
            f"`transfer/zoomed.py`, {record['written']}, {machine['cpu_count']} CPU cores, torch {machine['torch']}; "
            f"record `mrilab/records/training_data_zoomed_demo.json`. Chosen on the validation places: "
            f"**{choice['chosen']}** (mean PSNR, T1w validation / shifted and zoomed validation: {means}).\n\n"
            + "\n".join(lines) + "\n")


def render(text: str) -> str:
    def block(match: re.Match) -> str:
        profile, chapters, experiment, task = match.group(2), match.group(3).split("+"), match.group(4), match.group(5)
        rows = [row for row in load_all(profile)["rows"] if row["chapter"] in chapters
                and (task is None or row["task"] == task)]
        tables = [f"**{label}**\n\n" + table(rows, metric=metric, experiment=experiment, time=metric == "psnr")
                  for metric, label in (("psnr", "PSNR (dB)"), ("ssim", "SSIM"))]
        return match.group(1) + "\n".join(tables) + match.group(7)

    text = BLOCK.sub(block, text)
    text = TASKS_BLOCK.sub(lambda match: match.group(1) + task_table() + match.group(3), text)
    if GPU_BLOCK.search(text):
        tables = gpu_tables(json.loads(GPU_REPORT.read_text()))
        text = GPU_BLOCK.sub(lambda match: match.group(1) + tables + match.group(3), text)
    for pattern, path, make in ((MUTANTS_BLOCK, MUTANTS_REPORT, mutant_table),
                                (VERDICTS_BLOCK, VERDICTS_REPORT, verdict_list),
                                (TRANSFER_BLOCK, TRANSFER_REPORT, transfer_table),
                                (ZOOMED_BLOCK, ZOOMED_REPORT, zoomed_table)):
        if pattern.search(text):
            generated = make(json.loads(path.read_text()))
            text = pattern.sub(lambda match, generated=generated: match.group(1) + generated + match.group(3), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check, do not write")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args()
    text = args.readme.read_text()
    blocks = len(BLOCK.findall(text))
    new = render(text)
    if args.check:
        if new != text:
            print(f"{args.readme.name}: results tables differ from results/ — run `python tools/readme_results.py`")
            return 1
        print(f"{args.readme.name}: {blocks} results tables are current")
        return 0
    args.readme.write_text(new)
    print(f"{args.readme.name}: rewrote {blocks} results tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
