"""The evaluation protocol: foreground mask, masked metrics, statistics over positions, λ search, results v2."""

import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from mrilab import metrics, stats
from mrilab.data import SliceDataset
from mrilab.evaluation import evaluate, fully_sampled_ceiling
from mrilab.results import find_row, results_row, slice_rows, table


def disc(size=64, radius=20, hole=6):
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2).sqrt()
    image = (r < radius).float()
    image[r < hole] = 0.0  # a dark hole inside the head (like CSF) must stay in the mask
    return image, r


# -- foreground mask and masked metrics --------------------------------------------------------------------------
def test_foreground_mask_fills_the_head_and_excludes_air():
    image, r = disc()
    image[2, 2] = 1.0  # a bright speck in the air is not part of the head
    mask = metrics.foreground_mask(image)[0]
    assert mask.shape == (64, 64) and mask.dtype == torch.bool
    assert mask[r < 20].all()  # the whole head, its dark centre included
    assert not mask[r > 24].any() and not mask[2, 2]  # air beyond the small dilation stays out
    with pytest.raises(ValueError, match="threshold"):
        metrics.foreground_mask(image, threshold=1.5)


def test_masked_metrics_ignore_the_air():
    image, r = disc()
    target = image[None]
    noisy_air = target + 0.3 * (r > 30).float()[None]  # errors only outside the head
    mask = metrics.foreground_mask(target)
    assert torch.isinf(metrics.psnr(noisy_air, target, mask=mask)).all()
    assert metrics.ssim(noisy_air, target, mask=mask).item() == pytest.approx(1.0)
    assert metrics.psnr(noisy_air, target).item() < 30  # the whole field of view sees them
    scored = metrics.scores(noisy_air, target)
    assert torch.isinf(scored["psnr"]).all()
    assert metrics.scores(noisy_air, target, full_fov=True)["psnr"].item() < 30
    # inside the head, PSNR is the MSE over the mask's pixels
    error = 0.1 * (r < 10).float()[None]
    expected = 10 * math.log10(1.0 / float((error[mask] ** 2).mean()))
    assert metrics.psnr(target + error, target, mask=mask).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="mask must have the images' shape"):
        metrics.psnr(target, target, mask=torch.ones(32, 32, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one pixel"):
        metrics.psnr(target, target, mask=torch.zeros(64, 64, dtype=torch.bool))


# -- statistics over positions -----------------------------------------------------------------------------------
def test_bootstrap_ci_covers_the_mean_of_a_known_normal_sample():
    rng = np.random.default_rng(0)
    values = rng.normal(10.0, 2.0, size=200)
    low, high = stats.bootstrap_ci(values)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))  # the normal-theory interval
    assert low < values.mean() < high
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.15)
    # coverage: over repeated samples, the 95 % interval holds the true mean about 95 % of the time
    hits = sum(lo < 10.0 < hi for lo, hi in (stats.bootstrap_ci(rng.normal(10.0, 2.0, 30), seed=k)
                                             for k in range(60)))
    assert hits >= 50
    assert stats.bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="finite"):
        stats.bootstrap_ci([1.0, float("nan")])


def test_summaries_count_positions_not_slices():
    rows = [{"index": i, "position": f"axial {i % 3}", "psnr": float(i % 3) + 0.01 * i, "ssim": 0.5, "hfen": 0.1,
             "seconds": 0.1} for i in range(9)]
    summary = stats.summarize(rows)
    assert summary["n_slices"] == 9 and summary["n_blocks"] == 3
    assert list(stats.per_block(rows, "psnr")) == ["axial 0", "axial 1", "axial 2"]
    assert summary["psnr_mean"] == pytest.approx(np.mean([r["psnr"] for r in rows]))


def test_blocks_not_planes_are_the_units_of_intervals_and_paired_tests():
    # six blocks of two adjacent planes each: pooling the planes of a block leaves six units, not twelve
    rows_a = [{"index": i, "position": f"axial {i}", "block": f"block {i // 2}", "psnr": 30.0 + 0.1 * i + (i % 2)}
              for i in range(12)]
    rows_b = [dict(row, psnr=row["psnr"] - 0.5 + 0.3 * (row["index"] % 3)) for row in rows_a]
    assert stats.summarize(rows_a, metrics=("psnr",))["n_blocks"] == 6
    comparison = stats.paired(rows_a, rows_b)
    differences = np.array([a["psnr"] - b["psnr"] for a, b in zip(rows_a, rows_b, strict=True)]).reshape(6, 2)
    assert comparison.n_blocks == 6 and comparison.mean == pytest.approx(differences.mean())
    assert comparison.p_value == pytest.approx(scipy_stats.wilcoxon(differences.mean(axis=1)).pvalue)
    assert (comparison.ci_low, comparison.ci_high) == stats.bootstrap_ci(differences.mean(axis=1))


def test_paired_comparison_on_a_constructed_sample():
    rng = np.random.default_rng(1)
    base = rng.normal(30, 3, size=20)
    better = base + 0.5 + rng.normal(0, 0.2, size=20)  # a constant gain, much smaller than the spread of the slices

    def rows(values):
        return [{"index": i, "position": f"p{i}", "psnr": float(v)} for i, v in enumerate(values)]

    comparison = stats.paired(rows(better), rows(base))
    assert comparison.mean == pytest.approx(0.5, abs=0.1) and comparison.resolved and comparison.better()
    assert comparison.p_value == pytest.approx(scipy_stats.wilcoxon(better - base).pvalue)
    assert "A is better" in comparison.describe("A", "B", unit="dB")
    same = stats.paired(rows(base + rng.normal(0, 0.2, size=20)), rows(base))
    assert not same.resolved and same.better() is None and "not resolved" in same.describe("A", "B")
    hfen = stats.paired([{"index": i, "position": f"p{i}", "hfen": 0.1 + 0.01 * i} for i in range(6)],
                        [{"index": i, "position": f"p{i}", "hfen": 0.3 + 0.012 * i} for i in range(6)], "hfen")
    assert hfen.better() is True  # lower HFEN is better
    few = stats.paired(rows(better[:4]), rows(base[:4]))  # too few positions for any interval to be trusted
    assert few.n_blocks < stats.MIN_BLOCKS and not few.resolved
    with pytest.raises(ValueError, match="same slices"):
        stats.paired(rows(base), rows(base[:5]))


# -- the evaluation on the book's data -------------------------------------------------------------------------
def test_clean_target_is_stored_read_and_scored(smoke_dataset_root):
    clean = SliceDataset("smoke", "test", "T1w", ratios=(0.3,), root=smoke_dataset_root)
    noisy = SliceDataset("smoke", "test", "T1w", ratios=(0.3,), root=smoke_dataset_root, target="noisy")
    assert clean.target == "clean" and noisy.target == "noisy"
    a, b = clean[0], noisy[0]
    assert torch.equal(a["kspace"], b["kspace"]) and not torch.equal(a["target"], b["target"])
    assert torch.equal(clean.fully_sampled(0), b["target"])
    ceiling = evaluate(fully_sampled_ceiling(clean), clean, device="cpu")
    perfect = evaluate(lambda batch: batch["target"], clean, device="cpu")
    assert all(math.isinf(r["psnr"]) for r in perfect)
    assert all(30 < r["psnr"] < 60 for r in ceiling)
    assert [r["position"] for r in ceiling] == [clean.position_label(i) for i in range(len(clean))]


def test_a_magnitude_output_is_scored_like_the_magnitude_of_a_complex_one(smoke_dataset_root):
    """A model whose output is "magnitude" returns real non-negative images; they are scored as |x| of complex ones."""
    dataset = SliceDataset("smoke", "test", "T1w", ratios=(0.3,), root=smoke_dataset_root)

    def complex_output(batch):  # the target's magnitude, 10 % too bright, with a phase ramp
        return 1.1 * batch["target"] * torch.exp(1j * torch.linspace(0, 3, batch["target"].shape[-1]))

    scores = [evaluate(method, dataset, device="cpu") for method in (complex_output,
                                                                     lambda batch: complex_output(batch).abs())]
    for complex_row, magnitude_row in zip(*scores, strict=True):
        assert {k: v for k, v in complex_row.items() if k != "seconds"} == \
            {k: v for k, v in magnitude_row.items() if k != "seconds"}
    assert all(math.isfinite(row["psnr"]) for row in scores[1])


def test_results_rows_carry_intervals_and_per_slice_scores():
    rows = [{"index": i, "position": f"axial {i // 2}", "psnr": 30.0 + i, "ssim": 0.8, "hfen": 0.2, "nmse": 0.01,
             "seconds": 0.01} for i in range(8)]
    row = results_row("TV", rows, task="singlecoil-t1w-cartesian", dataset="brain-smoke", split="test",
                      mask="cartesian", ratio=0.2, parameters=0)
    assert row["n_blocks"] == 4 and row["psnr_ci_low"] < row["psnr_mean"] < row["psnr_ci_high"]
    assert [r["psnr"] for r in slice_rows(row)] == [r["psnr"] for r in rows]
    payload = {"chapter": "c", "rows": [row]}
    assert find_row(payload, "TV", 0.2) is row
    assert "[" in table(payload) and "20 %" in table(payload, metric="ssim")
    with pytest.raises(KeyError, match="expected one row"):
        find_row(payload, "TV", 0.3)


def test_lambda_search_widens_past_an_edge(smoke_dataset_root):
    from mrilab.recipes.classical import tune_lambda

    tuning = SliceDataset("smoke", "val", "T1w", ratios=(0.3,), max_slices=2, root=smoke_dataset_root)
    with pytest.warns(UserWarning, match="on the edge"):
        best, scores = tune_lambda("tv", tuning, (1e-6, 2e-6), iterations=5)  # far too small: the edge is hit
    assert len(scores) > 2 and min(scores) == 1e-6 and max(scores) > 2e-6
    assert scores[best] == max(scores.values())
    with pytest.raises(ValueError, match="positive relative"):
        tune_lambda("tv", tuning, (), iterations=5)


def test_paired_table_gives_a_verdict_per_key():
    rng = np.random.default_rng(2)
    base = {0.1: rng.normal(20, 2, 12), 0.2: rng.normal(25, 2, 12)}

    def rows(values):
        return [{"index": i, "position": f"p{i}", "psnr": float(v)} for i, v in enumerate(values)]

    a = {0.1: rows(base[0.1] + 1.0), 0.2: rows(base[0.2] + rng.normal(0, 0.3, 12))}
    b = {0.1: rows(base[0.1]), 0.2: rows(base[0.2])}
    lines = stats.paired_table(a, b, "Net", "TV").splitlines()
    assert lines[2].startswith("| 10 % | +1.00 |") and lines[2].endswith("Net better |")
    assert lines[3].endswith("not resolved |")
    with pytest.raises(ValueError, match="share no key"):
        stats.paired_table(a, {0.5: b[0.1]}, "Net", "TV")


def test_paired_over_seeds_needs_every_seed_to_agree():
    rng = np.random.default_rng(3)
    base = rng.normal(20, 2, 12)

    def rows(values):
        return [{"index": i, "position": f"p{i}", "psnr": float(v)} for i, v in enumerate(values)]

    steady = [rows(base + 0.3 + rng.normal(0, 0.01, 12)) for _ in range(3)]
    reference = [rows(base + rng.normal(0, 0.01, 12)) for _ in range(3)]
    c = stats.paired_over_seeds(steady, reference)
    assert c.resolved and len(c.seed_differences) == 3 and all(d > 0 for d in c.seed_differences)
    # one seed going the other way: the positions alone would call it, the seeds do not
    shaky = [rows(base + 0.6), rows(base + 0.6), rows(base - 0.3)]
    c = stats.paired_over_seeds(shaky, reference)
    assert c.ci_low > 0 and not c.resolved and c.better() is None
    single = stats.paired_over_seeds(steady, [rows(base)])  # a classical method: one run against every seed
    assert single.resolved and len(single.seed_differences) == 3
    with pytest.raises(ValueError, match="1 or 3 runs"):
        stats.paired_over_seeds(steady, reference[:2])
