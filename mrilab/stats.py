"""Statistics of per-slice scores: means with confidence intervals over blocks of planes, and paired comparisons.

Slices of one plane (several randomly varied versions of it) and slices of adjacent planes (1 mm apart) show nearly
the same anatomy: they are not independent samples of it. Every statistic here therefore first averages the slices
of each *block* (the ``"block"`` label of :func:`mrilab.evaluation.evaluate` rows: the planes of one orientation
within :data:`mrilab.data.datasets.BLOCK_GAP_MM` of each other; rows without it fall back to ``"position"``, then to
``"index"``) and then treats blocks as the independent units:

* :func:`summarize`: the mean over blocks with a 95 % bootstrap confidence interval (blocks resampled with
  replacement, BCa interval of ``scipy.stats.bootstrap``);
* :func:`paired`: two methods scored on the same slices; per block the mean difference, then its mean, bootstrap
  CI and the Wilcoxon signed-rank p-value (``scipy.stats.wilcoxon``, the test the PC-RNN and IMA papers use). A
  difference whose CI holds zero, or that rests on fewer than :data:`MIN_BLOCKS` blocks, is *not resolved*.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as scipy_stats

METRICS = ("psnr", "ssim", "hfen")
CONFIDENCE = 0.95
#: Fewer blocks than this give no trustworthy interval: a comparison on them is never called resolved.
MIN_BLOCKS = 6
RESAMPLES = 10_000
#: Direction of improvement of each metric (HFEN and NMSE are errors: lower is better).
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "hfen": False, "nmse": False}


def unit(row: dict) -> str:
    """Return the resampling unit of a per-slice row: its block, else its position, else its index."""
    return str(row.get("block", row.get("position", row.get("index"))))


def per_block(rows: list[dict], metric: str) -> dict[str, float]:
    """``{block label: mean of metric over that block's slices}`` in first-seen order (see :func:`unit`)."""
    if not rows:
        raise ValueError("rows is empty: nothing to summarise")
    if metric not in rows[0]:
        raise KeyError(f"rows have no metric {metric!r} (they have {sorted(rows[0])})")
    groups: dict[str, list[float]] = {}
    for row in rows:
        groups.setdefault(unit(row), []).append(float(row[metric]))
    return {label: float(np.mean(values)) for label, values in groups.items()}


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, confidence: float = CONFIDENCE,
                 seed: int = 0) -> tuple[float, float]:
    """BCa bootstrap confidence interval of the mean of independent ``values`` (resampled with replacement).

    With fewer than three values, or values that are all equal, there is nothing to resample: the interval is
    ``(nan, nan)`` or the single value respectively.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("values must be finite")
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    if len(values) < 3:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=scipy_stats.DegenerateDataWarning)
        result = scipy_stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=RESAMPLES,
                                       method="BCa", random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa can fail on tiny, skewed samples
        low, high = np.quantile(result.bootstrap_distribution, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def summarize(rows: list[dict], metrics: Sequence[str] = METRICS) -> dict:
    """Summarise per-slice ``rows``: the mean of each metric over blocks with its confidence interval.

    Per metric: ``{metric}_mean``, ``{metric}_ci_low``, ``{metric}_ci_high`` over blocks; also ``n_slices``,
    ``n_blocks`` and ``seconds_mean`` (mean time per slice) when rows carry ``seconds``.
    """
    out = {"n_slices": len(rows)}
    for metric in metrics:
        values = list(per_block(rows, metric).values())
        out["n_blocks"] = len(values)
        out[f"{metric}_mean"] = float(np.mean(values))
        out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = bootstrap_ci(values)
    if "seconds" in rows[0]:
        out["seconds_mean"] = float(np.mean([row["seconds"] for row in rows]))
    return out


@dataclass(frozen=True)
class PairedComparison:
    """``a − b`` of one metric on the same slices, by block."""

    metric: str
    mean: float
    ci_low: float
    ci_high: float
    p_value: float
    n_blocks: int
    seed_differences: tuple[float, ...] = ()

    @property
    def resolved(self) -> bool:
        """Whether the difference is resolved.

        Resolved means that the confidence interval of the mean difference excludes zero (on at least
        :data:`MIN_BLOCKS` blocks) and, for models trained with several seeds, every seed's difference has the
        mean's sign.
        """
        seeds_agree = all(np.sign(d) == np.sign(self.mean) for d in self.seed_differences)
        return self.n_blocks >= MIN_BLOCKS and (self.ci_low > 0 or self.ci_high < 0) and seeds_agree

    def better(self) -> bool | None:
        """Return ``True`` if *a* is better, ``False`` if *b* is, ``None`` if the difference is not resolved."""
        if not self.resolved:
            return None
        return (self.mean > 0) == HIGHER_IS_BETTER.get(self.metric, True)

    def describe(self, a: str, b: str, *, unit: str = "", digits: int = 2) -> str:
        """One sentence: the difference, its CI, the p-value and the verdict."""
        unit = f" {unit}" if unit else ""
        numbers = (f"{a} − {b} = {self.mean:+.{digits}f}{unit} (95 % CI {self.ci_low:+.{digits}f} to "
                   f"{self.ci_high:+.{digits}f}, Wilcoxon p = {self.p_value:.2g}, {self.n_blocks} blocks)")
        verdict = {True: f"{a} is better", False: f"{b} is better", None: "not resolved"}[self.better()]
        return f"{numbers}: {verdict}"


def paired(rows_a: list[dict], rows_b: list[dict], metric: str = "psnr", *, seed: int = 0) -> PairedComparison:
    """Compare two methods' per-slice ``rows`` (from the same dataset and masks) on ``metric``, by block."""
    key = "index"
    slices_a = {row[key]: row for row in rows_a}
    slices_b = {row[key]: row for row in rows_b}
    if set(slices_a) != set(slices_b):
        raise ValueError(f"rows_a and rows_b must score the same slices; they differ in {key} "
                         f"{sorted(set(slices_a) ^ set(slices_b))[:5]}")
    for index, row in slices_a.items():
        if unit(row) != unit(slices_b[index]):
            raise ValueError(f"slice {index} is in block {unit(row)!r} in rows_a but {unit(slices_b[index])!r} in "
                             f"rows_b: not the same dataset")
    differences = [{"index": i, "block": unit(row), "d": row[metric] - slices_b[i][metric]}
                   for i, row in slices_a.items()]
    values = np.array(list(per_block(differences, "d").values()))
    low, high = bootstrap_ci(values, seed=seed)
    if np.all(values == 0) or len(values) < 2:
        p_value = 1.0
    else:
        p_value = float(scipy_stats.wilcoxon(values).pvalue)
    return PairedComparison(metric, float(values.mean()), low, high, p_value, len(values))


def paired_over_seeds(runs_a: list[list[dict]], runs_b: list[list[dict]], metric: str = "psnr", *,
                      seed: int = 0) -> PairedComparison:
    """Compare two trained variants, each given as one list of per-slice rows per training seed.

    Blocks carry the confidence interval, as in :func:`paired`, on each slice's score averaged over the seeds;
    the seeds carry the training's randomness, which that average hides: ``seed_differences`` holds the
    difference of the block means for every seed (a variant with one run, such as a classical method, is
    compared with every seed of the other), and the comparison is resolved only if they all share its sign.
    """
    if not runs_a or not runs_b:
        raise ValueError("runs_a and runs_b must each hold the rows of at least one run")
    n_seeds = max(len(runs_a), len(runs_b))
    for name, runs in (("runs_a", runs_a), ("runs_b", runs_b)):
        if len(runs) not in (1, n_seeds):
            raise ValueError(f"{name} must hold 1 or {n_seeds} runs, got {len(runs)}")

    def mean_over_runs(runs: list[list[dict]]) -> list[dict]:
        return [dict(row, **{metric: float(np.mean([run[i][metric] for run in runs]))})
                for i, row in enumerate(runs[0])]

    comparison = paired(mean_over_runs(runs_a), mean_over_runs(runs_b), metric, seed=seed)
    if n_seeds == 1:
        return comparison
    differences = []
    for k in range(n_seeds):
        a, b = runs_a[k % len(runs_a)], runs_b[k % len(runs_b)]
        differences.append(float(np.mean(list(per_block(a, metric).values()))
                                 - np.mean(list(per_block(b, metric).values()))))
    return replace(comparison, seed_differences=tuple(differences))


def paired_table(rows_a: dict, rows_b: dict, a: str, b: str, *, metric: str = "psnr", digits: int = 2) -> str:
    """Tabulate :func:`paired` comparisons ``a − b`` in Markdown.

    One line per key (e.g. the sampling ratio) that both ``rows_a`` and ``rows_b`` (``{key: per-slice rows}``) hold:
    mean difference, 95 % CI, Wilcoxon p and verdict.
    """
    keys = [key for key in rows_a if key in rows_b]
    if not keys:
        raise ValueError(f"rows_a and rows_b share no key: {sorted(rows_a, key=str)} vs {sorted(rows_b, key=str)}")
    lines = [f"| {metric.upper()}: {a} − {b} | mean | 95 % CI | Wilcoxon p | verdict |", "|---|---|---|---|---|"]
    for key in keys:
        c = paired(rows_a[key], rows_b[key], metric)
        label = f"{100 * key:g} %" if isinstance(key, float) else str(key)
        verdict = {True: f"{a} better", False: f"{b} better", None: "not resolved"}[c.better()]
        lines.append(f"| {label} | {c.mean:+.{digits}f} | [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}] | "
                     f"{c.p_value:.2g} | {verdict} |")
    return "\n".join(lines) + "\n"
