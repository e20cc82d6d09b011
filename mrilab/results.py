"""Each experiment chapter's final metrics table, written as JSON so other chapters and the README quote it.

Schema (``mrilab-results-v1``)::

    {
      "schema": "mrilab-results-v1",
      "chapter": "ista_train",          # file stem of the chapter that wrote it
      "profile": "demo",                # smoke | demo | full
      "device": "cpu",                  # where the numbers were computed
      "machine": {...},                 # mrilab.train.machine_info()
      "rows": [
        {
          "method": "ISTA-Net+",        # display name
          "dataset": "brain-T1w-demo",  # which data and split
          "split": "test",
          "mask": "cartesian",          # mask type
          "ratio": 0.1,                 # nominal sampling ratio
          "n_slices": 24,
          "psnr_mean": ..., "psnr_std": ..., "ssim_mean": ..., "ssim_std": ..., "hfen_mean": ..., "hfen_std": ...,
          "parameters": 336978,         # trainable parameters (0 for classical methods)
          "seconds_per_slice": 0.012,   # inference time per slice
          ...                           # optional extra keys (e.g. "stages", "trained_on")
        }
      ]
    }

Standard deviations are over test slices. Files live in ``$MRILAB_RESULTS`` (default ``./results``) as
``{profile}/{chapter}.json``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

SCHEMA = "mrilab-results-v1"
REQUIRED = (
    "method", "dataset", "split", "mask", "ratio", "n_slices",
    "psnr_mean", "psnr_std", "ssim_mean", "ssim_std", "hfen_mean", "hfen_std",
    "parameters", "seconds_per_slice",
)  # fmt: skip


def results_dir() -> Path:
    return Path(os.environ.get("MRILAB_RESULTS", "results"))


def results_row(method: str, summary: dict, *, dataset: str, split: str, mask: str, ratio: float,
                parameters: int, **extra) -> dict:
    """One table row from :func:`mrilab.train.summarize` output."""
    return {
        "method": method, "dataset": dataset, "split": split, "mask": mask, "ratio": float(ratio),
        "n_slices": summary["n_slices"],
        **{f"{m}_{s}": summary[f"{m}_{s}"] for m in ("psnr", "ssim", "hfen") for s in ("mean", "std")},
        "parameters": int(parameters), "seconds_per_slice": summary["seconds_mean"], **extra,
    }  # fmt: skip


def validate_row(row: dict) -> None:
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise ValueError(f"results row for {row.get('method')!r} is missing keys {missing}")
    for key in REQUIRED[6:]:
        if not isinstance(row[key], (int, float)) or math.isnan(row[key]):
            raise ValueError(f"results row {row['method']!r}: {key} must be a number, got {row[key]!r}")


def write_results(chapter: str, rows: list[dict], *, profile: str, device: str) -> Path:
    """Validate and write a chapter's results (atomically)."""
    from .train import machine_info

    if not rows:
        raise ValueError("rows is empty: a results file needs at least one row")
    for row in rows:
        validate_row(row)
    path = results_dir() / profile / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"schema": SCHEMA, "chapter": chapter, "profile": profile, "device": device,
               "machine": machine_info(), "rows": rows}  # fmt: skip
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)
    return path


def read_results(chapter: str, profile: str) -> dict:
    path = results_dir() / profile / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"no results for chapter {chapter!r} in profile {profile!r} at {path}; run the chapter")
    payload = json.loads(path.read_text())
    if payload.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} file")
    return payload


def markdown_table(payload: dict, *, experiment: str | None = None) -> str:
    """A chapter's table as Markdown: one row per method, mean PSNR (dB) / SSIM per ratio, mean time per slice.

    ``experiment`` selects rows by their ``experiment`` key (``None``: the main table, rows without one). Methods
    keep the order in which the chapter wrote them.
    """
    rows = [row for row in payload["rows"] if row.get("experiment") == experiment]
    if not rows:
        raise ValueError(f"{payload.get('chapter')!r} has no rows with experiment={experiment!r}")
    ratios = sorted({row["ratio"] for row in rows})
    methods = list(dict.fromkeys(row["method"] for row in rows))
    cell = {(row["method"], row["ratio"]): row for row in rows}
    lines = ["| method | " + " | ".join(f"{100 * r:g} %" for r in ratios) + " | time / slice |",
             "|---" * (len(ratios) + 2) + "|"]  # fmt: skip
    for method in methods:
        found = [cell[method, r] for r in ratios if (method, r) in cell]
        values = [f"{cell[method, r]['psnr_mean']:.2f} / {cell[method, r]['ssim_mean']:.3f}" if (method, r) in cell
                  else "—" for r in ratios]  # fmt: skip
        ms = 1e3 * sum(row["seconds_per_slice"] for row in found) / len(found)
        lines.append(f"| {method} | " + " | ".join(values) + f" | {ms:.{1 if ms < 10 else 0}f} ms |")
    return "\n".join(lines) + "\n"
