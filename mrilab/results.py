"""Each experiment chapter's final metrics, written as JSON so other chapters and the README read them.

Schema (``mrilab-results-v4``)::

    {
      "schema": "mrilab-results-v4",
      "chapter": "ista_train",          # file stem of the chapter that wrote it
      "profile": "demo",                # smoke | demo | full
      "device": "cpu",                  # where the numbers were computed
      "machine": {...},                 # mrilab.runtime.machine_info()
      "rows": [
        {
          "method": "ISTA-Net+",        # display name
          "profile": "demo", "device": "cpu",   # stamped on every row by write_results
          "variant": null,              # e.g. an ablation's name
          "experiment": null,           # null: the chapter's main table; else e.g. "ood", "untrained_ratio"
          "task": "singlecoil-t1w-cartesian",   # what was reconstructed (mrilab.tasks)
          "dataset": "brain-demo",      # which data
          "split": "test",              # train | val | test | ood
          "contrast": "T1w", "coils": 1, "reference": null,
          "mask": "cartesian",          # mask type
          "ratio": 0.1,                 # nominal sampling ratio
          "scoring": "foreground",      # "foreground" (head mask, clean target) or "full_fov"
          "n_slices": 24, "n_blocks": 6,
          "psnr_mean": ..., "psnr_ci_low": ..., "psnr_ci_high": ...,   # likewise ssim_*, hfen_*
          "parameters": 48970,          # trainable parameters (0 for classical methods)
          "seconds_per_slice": 0.012,   # inference time per slice
          "per_slice": {"index": [...], "position": [...], "block": [...], "psnr": [...], "ssim": [...], "hfen": [...]},
          ...                           # optional extra keys (e.g. "lambda_relative", "trained_on")
        }
      ]
    }

Means and 95 % confidence intervals are over *blocks* of adjacent planes (:mod:`mrilab.stats`); ``per_slice`` keeps
every slice's scores so that another chapter can compare against a row *paired* (:func:`slice_rows`). Files live in
:func:`mrilab.runtime.results_dir` as ``{profile}/{chapter}.json``; a row belongs to exactly one file (a chapter
reads another chapter's rows, it never copies them), and :func:`load_all` merges the files of a profile.
:func:`table` renders rows as Markdown for the chapters and the README.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import stats
from .io import atomic_write
from .runtime import machine_info, results_dir

SCHEMA = "mrilab-results-v4"
METRICS = ("psnr", "ssim", "hfen")
REQUIRED = (
    "method", "variant", "experiment", "task", "dataset", "split", "contrast", "coils", "reference", "mask", "ratio",
    "scoring", "n_slices", "n_blocks",
    *(f"{m}_{s}" for m in METRICS for s in ("mean", "ci_low", "ci_high")),
    "parameters", "seconds_per_slice", "per_slice",
)  # fmt: skip
_NUMBERS = (*(f"{m}_{s}" for m in METRICS for s in ("mean", "ci_low", "ci_high")), "parameters", "seconds_per_slice")


def results_row(method: str, rows: list[dict], *, task: str, dataset: str, split: str, mask: str, ratio: float,
                parameters: int, contrast: str = "T1w", coils: int = 1, reference: str | None = None,
                experiment: str | None = None, variant: str | None = None, scoring: str = "foreground",
                **extra: object) -> dict:
    """One table row from the per-slice ``rows`` of :func:`mrilab.evaluation.evaluate`.

    ``task`` names what the method was built for (:mod:`mrilab.tasks`); ``contrast`` is the file the slices come from
    (the task's contrast, or a transfer split's ``"real"`` or ``"shifted"``).
    """
    if not rows:
        raise ValueError(f"rows for {method!r} is empty: evaluate the method first")
    if not isinstance(task, str) or not task:
        raise ValueError(f"task must be the name of a task (mrilab.tasks), got {task!r}")
    summary = stats.summarize(rows)
    return {
        "method": method, "variant": variant, "experiment": experiment, "task": task, "dataset": dataset,
        "split": split,
        "contrast": contrast, "coils": int(coils), "reference": reference, "mask": mask, "ratio": float(ratio),
        "scoring": scoring, "n_slices": summary["n_slices"], "n_blocks": summary["n_blocks"],
        **{f"{m}_{s}": round(summary[f"{m}_{s}"], 5) for m in METRICS for s in ("mean", "ci_low", "ci_high")},
        "parameters": int(parameters), "seconds_per_slice": round(summary["seconds_mean"], 6),
        "per_slice": {"index": [r["index"] for r in rows], "position": [r["position"] for r in rows],
                      "block": [stats.unit(r) for r in rows], **{m: [round(r[m], 5) for r in rows] for m in METRICS}},
        **extra,
    }  # fmt: skip


def slice_rows(row: dict) -> list[dict]:
    """Return the per-slice rows stored in a results row, in :func:`mrilab.evaluation.evaluate`'s form (no timing)."""
    per_slice = row["per_slice"]
    keys = zip(per_slice["index"], per_slice["position"], per_slice["block"], strict=True)
    return [{"index": index, "position": position, "block": block, **{m: per_slice[m][k] for m in METRICS}}
            for k, (index, position, block) in enumerate(keys)]


def validate_row(row: dict) -> None:
    """Raise ``ValueError`` when ``row`` lacks a required key or a number is not a number."""
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise ValueError(f"results row for {row.get('method')!r} is missing keys {missing}")
    for key in _NUMBERS:
        if not isinstance(row[key], (int, float)) or (math.isnan(row[key]) and "_ci_" not in key):
            raise ValueError(f"results row {row['method']!r}: {key} must be a number, got {row[key]!r}")


def write_results(chapter: str, rows: list[dict], *, profile: str, device: str) -> Path:
    """Stamp every row with ``profile`` and ``device``, validate, and write a chapter's results (atomically)."""
    if not rows:
        raise ValueError("rows is empty: a results file needs at least one row")
    rows = [{**row, "profile": profile, "device": device} for row in rows]
    for row in rows:
        validate_row(row)
    keys = [_identity(row) for row in rows]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise ValueError(f"rows must be unique per (method, variant, experiment, task, split, contrast, coils, "
                         f"reference, mask, ratio, scoring); duplicated: {sorted(duplicates, key=str)[:3]}")
    payload = {"schema": SCHEMA, "chapter": chapter, "profile": profile, "device": device,
               "machine": machine_info(), "rows": rows}
    return atomic_write(results_dir() / profile / f"{chapter}.json", json.dumps(payload, indent=1))


def read_results(chapter: str, profile: str, directory: str | Path | None = None) -> dict:
    """Return the results payload a chapter wrote for ``profile`` (from ``directory``, default :func:`results_dir`)."""
    path = Path(directory or results_dir()) / profile / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"no results for chapter {chapter!r} in profile {profile!r} at {path}; run the chapter")
    payload = json.loads(path.read_text())
    if payload.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} file")
    return payload


def load_all(profile: str, directory: str | Path | None = None) -> dict:
    """Merge every chapter's results of ``profile`` into one payload whose rows carry their ``chapter``.

    A row identified by the same (method, variant, experiment, task, split, contrast, coils, reference, mask, ratio,
    scoring) in two files is a conflict, since no chapter may copy another's rows: it raises ``ValueError``.
    """
    folder = Path(directory or results_dir()) / profile
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no results files for profile {profile!r} in {folder}; run the chapters first")
    rows, owner = [], {}
    for path in paths:
        payload = read_results(path.stem, profile, directory or results_dir())
        for row in payload["rows"]:
            key = _identity(row)
            if key in owner:
                raise ValueError(f"row {key} is in both {owner[key]} and {path.stem}: a chapter must read another "
                                 "chapter's rows, not copy them")
            owner[key] = path.stem
            rows.append({**row, "chapter": path.stem})
    return {"schema": SCHEMA, "chapter": "+".join(p.stem for p in paths), "profile": profile, "rows": rows}


def _identity(row: dict) -> tuple:
    return tuple(row.get(k) for k in ("method", "variant", "experiment", "task", "split", "contrast", "coils",
                                      "reference", "mask", "ratio", "scoring"))


def find_row(payload: dict, method: str, ratio: float, **match: object) -> dict:
    """Return the one row of ``payload`` for ``method`` at ``ratio`` whose other keys equal ``match``.

    ``experiment`` defaults to ``None``, the main table.
    """
    match = {"experiment": None, **match}
    found = [row for row in payload["rows"] if row["method"] == method and math.isclose(row["ratio"], ratio)
             and all(row.get(k) == v for k, v in match.items())]
    if len(found) != 1:
        raise KeyError(f"{payload.get('chapter')!r}: expected one row for {method!r} at ratio {ratio} with {match}, "
                       f"found {len(found)}")
    return found[0]


def table(payload: dict | list[dict], *, metric: str = "psnr", experiment: str | None = None,
          time: bool = True) -> str:
    """Render results rows (a payload or a list of rows) as one Markdown table.

    One line per method, per ratio the mean of ``metric`` with its 95 % CI over positions below it (a ``<br>`` in the
    cell, so that five ratios and the time fit a page; the CI's own space is a no-break one, so it never splits), and
    the mean time per slice.

    ``experiment`` selects rows by their ``experiment`` key (``None``: the main table). Methods keep the order in
    which the chapter wrote them, except that a ceiling row comes last; a method with several variants gets one line
    per variant. Two rows that would fill the same cell (the same method and ratio, but another task, split,
    contrast, coil count or reference) raise ``ValueError``: select the rows of one setting first.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    source = payload if isinstance(payload, list) else payload["rows"]
    rows = [row for row in source if row.get("experiment") == experiment]
    if not rows:
        raise ValueError(f"no rows with experiment={experiment!r} to tabulate")
    digits = 2 if metric == "psnr" else 3
    ratios = sorted({row["ratio"] for row in rows})

    def name(row: dict) -> str:
        return row["method"] if row.get("variant") is None else f"{row['method']} ({row['variant']})"

    methods = sorted(dict.fromkeys(name(row) for row in rows), key=lambda m: "(ceiling)" in m)  # ceiling last
    cell = {}
    for row in rows:
        other = cell.setdefault((name(row), row["ratio"]), row)
        if other is not row:
            differ = [k for k in ("task", "split", "contrast", "coils", "reference", "mask", "scoring")
                      if other.get(k) != row.get(k)]
            raise ValueError(f"two rows of {name(row)!r} at {row['ratio']:g} would share a cell of the table "
                             f"(they differ in {differ or 'nothing'}): tabulate one setting at a time")
    lines = ["| method | " + " | ".join(f"{100 * r:.3g} %" for r in ratios) + (" | time / slice |" if time else " |"),
             "|---" * (len(ratios) + 1 + time) + "|"]  # fmt: skip
    for method in methods:
        found = [cell[method, r] for r in ratios if (method, r) in cell]
        values = []
        for r in ratios:
            if (method, r) not in cell:
                values.append("—")
                continue
            row = cell[method, r]
            interval = (f"<br>[{row[f'{metric}_ci_low']:.{digits}f},\u00a0{row[f'{metric}_ci_high']:.{digits}f}]"
                        if math.isfinite(row[f"{metric}_ci_low"]) else "")
            values.append(f"{row[f'{metric}_mean']:.{digits}f}{interval}")
        line = f"| {method} | " + " | ".join(values) + " |"
        if time:
            ms = 1e3 * sum(row["seconds_per_slice"] for row in found) / len(found)
            line += f" {ms:.{1 if ms < 10 else 0}f} ms |"
        lines.append(line)
    return "\n".join(lines) + "\n"
