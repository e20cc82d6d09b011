"""Masks, metrics and statistics against their definitions, scikit-image and SciPy.

* masks: the sampling ratio is exact (``round(ratio · W)`` lines, ``round(ratio · H · W)`` points), the centre is
  where the docstrings put it;
* metrics: PSNR, SSIM (``skimage.metrics.structural_similarity`` with its 7×7 uniform window and sample covariance,
  its SSIM map averaged over the head mask), HFEN (MATLAB's ``fspecial('log', 15, 1.5)`` written out, SciPy's
  zero-padded correlation) and NMSE, per slice, inside a mask and over the whole image;
* statistics: block means, ``scipy.stats.bootstrap`` (BCa) and ``scipy.stats.wilcoxon`` called directly, the verdict
  rules of a paired comparison.
"""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy import stats as scipy_stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mrilab import stats
from mrilab.masks import cartesian_mask, mask_from_name, radial_mask, random2d_mask, sampling_ratio
from mrilab.metrics import foreground_mask, hfen, log_kernel, nmse, psnr, scores, ssim, ssim_loss


# -- masks ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("width, ratio, center_fraction", [(20, 0.3, None), (21, 0.5, 0.1), (16, 0.25, 0.0),
                                                            (10, 0.05, None)])
@pytest.mark.parametrize("pattern", ["random", "equispaced"])
def test_cartesian_mask_samples_exactly_its_lines_and_centre(width, ratio, center_fraction, pattern):
    mask = cartesian_mask((6, width), ratio, center_fraction=center_fraction, pattern=pattern, seed=3)
    lines = mask[0]
    assert torch.equal(mask, lines.expand(6, width))
    n_lines = max(1, round(ratio * width))
    assert int(lines.sum()) == n_lines and sampling_ratio(mask) == n_lines / width
    fraction = 0.32 * ratio if center_fraction is None else center_fraction
    n_center = min(n_lines, max(1, round(fraction * width))) if fraction > 0 else 0
    start = (width - n_center + 1) // 2
    assert bool(lines[start : start + n_center].all())


def test_cartesian_mask_centre_block_is_the_central_lines_only():
    """With ``center_fraction = ratio`` every sampled line is a centre line: one block around ``W // 2``."""
    for width in (8, 9, 32, 33):
        mask = cartesian_mask((4, width), 0.5, center_fraction=0.5, seed=1)[0]
        n = round(0.5 * width)
        start = (width - n + 1) // 2
        assert torch.equal(torch.nonzero(mask).flatten(), torch.arange(start, start + n))
        assert bool(mask[width // 2])


def test_equispaced_lines_are_evenly_spread():
    mask = cartesian_mask((4, 64), 0.25, center_fraction=0.0, pattern="equispaced", seed=5)[0]
    gaps = torch.diff(torch.nonzero(mask).flatten())
    assert int(mask.sum()) == 16 and int(gaps.min()) == int(gaps.max()) == 4
    same = cartesian_mask((4, 64), acceleration=4, center_fraction=0.0, pattern="equispaced", seed=5)
    assert torch.equal(same[0], mask)


@pytest.mark.parametrize("fn, seed", [(random2d_mask, 4), (radial_mask, 0)])
@pytest.mark.parametrize("shape, ratio", [((12, 16), 0.2), ((15, 15), 0.35), ((8, 8), 0.02)])
def test_2d_masks_sample_exactly_round_ratio_times_points(fn, seed, shape, ratio):
    mask = fn(shape, ratio, seed=seed)
    n = max(1, round(ratio * shape[0] * shape[1]))
    assert mask.dtype == torch.bool and mask.shape == shape and int(mask.sum()) == n
    assert sampling_ratio(mask) == n / (shape[0] * shape[1])
    assert bool(mask[shape[0] // 2, shape[1] // 2])


def test_radial_mask_hits_its_ratio_exactly_for_every_seed():
    """The union of spokes is not monotone in their count: these draws overshoot without the last-spoke rule."""
    for shape, ratio, seed in (((20, 30), 0.1, 4), ((32, 32), 0.3, 7), ((64, 64), 0.2, 3), ((128, 128), 0.2, 4),
                               ((128, 128), 0.05, 27)):
        n = round(ratio * shape[0] * shape[1])
        assert int(radial_mask(shape, ratio, seed=seed).sum()) == n, (shape, ratio, seed)


def normalised_radius(height, width):
    """Distance from the centre ``(H // 2, W // 2)`` in units of the half height / half width."""
    return np.array([[math.hypot((i - height // 2) / (height / 2), (j - width // 2) / (width / 2))
                      for j in range(width)] for i in range(height)])


def random2d_reference(shape, ratio, seed=0, center_fraction=0.02, decay=3.0):
    """The docstring's recipe: the ``round(min(center_fraction, ratio/2)·HW)`` points nearest the centre (ties in
    row-major order), then the rest drawn without replacement by NumPy's generator with ``p ∝ exp(−decay r²)``."""
    height, width = shape
    n_total = height * width
    n_samples = max(1, round(ratio * n_total))
    radius = normalised_radius(height, width).ravel()
    n_center = min(n_samples, round(min(center_fraction, ratio / 2) * n_total))
    order = sorted(range(n_total), key=lambda i: radius[i])  # Python's sort is stable
    mask = np.zeros(n_total, dtype=bool)
    mask[order[:n_center]] = True
    weights = np.array([math.exp(-decay * r * r) for r in radius]) * ~mask
    if n_samples > n_center:
        rng = np.random.default_rng(seed)
        mask[rng.choice(n_total, size=n_samples - n_center, replace=False, p=weights / weights.sum())] = True
    return torch.from_numpy(mask.reshape(height, width))


@pytest.mark.parametrize("shape, ratio, options", [((12, 16), 0.3, {}), ((10, 10), 0.1, {"center_fraction": 0.1}),
                                                   ((9, 14), 0.2, {"decay": 8.0, "seed": 3}),
                                                   ((8, 8), 2 / 64, {}), ((8, 8), 0.5, {"center_fraction": 0.0})])
def test_random2d_mask_is_the_centre_disc_plus_a_variable_density_draw(shape, ratio, options):
    assert torch.equal(random2d_mask(shape, ratio, **options), random2d_reference(shape, ratio, **options))


def cartesian_reference(width, ratio, center_fraction, pattern, seed):
    n_lines = max(1, round(ratio * width))
    n_center = min(n_lines, max(1, round(center_fraction * width))) if center_fraction > 0 else 0
    lines = np.zeros(width, dtype=bool)
    start = (width - n_center + 1) // 2
    lines[start : start + n_center] = True
    candidates = [j for j in range(width) if not lines[j]]
    n_rest = n_lines - n_center
    if n_rest > 0 and pattern == "random":
        lines[np.random.default_rng(seed).choice(candidates, size=n_rest, replace=False)] = True
    elif n_rest > 0:  # evenly spaced over the candidates, with a random offset
        offset = np.random.default_rng(seed).random()
        for k in range(n_rest):
            lines[candidates[math.floor((k + offset) * len(candidates) / n_rest)]] = True
    return torch.from_numpy(lines)


@pytest.mark.parametrize("pattern", ["random", "equispaced"])
@pytest.mark.parametrize("width, ratio, center_fraction, seed", [(20, 0.3, 0.1, 0), (33, 0.4, 0.05, 7),
                                                                 (16, 0.25, 0.0, 2)])
def test_cartesian_mask_is_the_centre_block_plus_drawn_lines(pattern, width, ratio, center_fraction, seed):
    mask = cartesian_mask((3, width), ratio, center_fraction=center_fraction, pattern=pattern, seed=seed)
    assert torch.equal(mask[0], cartesian_reference(width, ratio, center_fraction, pattern, seed))
    default = cartesian_mask((3, width), ratio)  # centre 0.32 ratio, random, seed 0
    assert torch.equal(default[0], cartesian_reference(width, ratio, 0.32 * ratio, "random", 0))


def test_random2d_centre_disc_is_the_points_nearest_the_centre():
    height, width, ratio, center_fraction = 16, 20, 0.4, 0.1
    mask = random2d_mask((height, width), ratio, center_fraction=center_fraction, seed=2)
    ky = (torch.arange(height) - height // 2) / (height / 2)
    kx = (torch.arange(width) - width // 2) / (width / 2)
    radius = (ky[:, None] ** 2 + kx[None, :] ** 2).sqrt().flatten()
    n_center = round(min(center_fraction, ratio / 2) * height * width)
    nearest = torch.argsort(radius, stable=True)[:n_center]
    assert bool(mask.flatten()[nearest].all())
    # the variable density: with a steep decay nothing is drawn far out
    steep = random2d_mask((height, width), 0.2, center_fraction=0.0, decay=40.0, seed=2)
    assert int(steep.sum()) == 64 and not bool(steep.flatten()[radius > 0.9].any())


def test_masks_by_name_and_by_acceleration():
    for kind, fn, options in (("cartesian", cartesian_mask, {}), ("equispaced", cartesian_mask,
                                                                  {"pattern": "equispaced"}),
                              ("random2d", random2d_mask, {}), ("radial", radial_mask, {})):
        assert torch.equal(mask_from_name(kind, (16, 16), 0.25, seed=9), fn((16, 16), 0.25, seed=9, **options))
        assert torch.equal(fn((16, 16), acceleration=4, seed=9, **options), fn((16, 16), 0.25, seed=9, **options))
    with pytest.raises(ValueError, match="mask kind"):
        mask_from_name("spiral", (16, 16), 0.25)
    for bad in (0.5, True, "4"):
        with pytest.raises(ValueError, match="acceleration"):
            cartesian_mask((16, 16), acceleration=bad)
    with pytest.raises(ValueError, match="center_fraction"):
        cartesian_mask((16, 16), 0.25, center_fraction=0.3)


# -- metrics -------------------------------------------------------------------------------------------------------
def images(seed=0, shape=(3, 20, 24)):
    generator = torch.Generator().manual_seed(seed)
    target = torch.nn.functional.avg_pool2d(torch.rand(shape, generator=generator, dtype=torch.float64)[:, None], 3,
                                            1, 1)[:, 0] * 2
    pred = target + 0.1 * torch.randn(shape, generator=generator, dtype=torch.float64)
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[:, 4:17, 3:15] = True
    mask[1, 5:9, 15:22] = True
    return pred, target, mask


def test_psnr_and_nmse_are_their_formulas_in_and_outside_the_mask():
    pred, target, mask = images()
    for i in range(3):
        p, t, m = pred[i].numpy(), target[i].numpy(), mask[i].numpy()
        assert float(psnr(pred, target)[i]) == pytest.approx(peak_signal_noise_ratio(t, p, data_range=t.max()),
                                                              rel=1e-12)
        mse = ((p - t)[m] ** 2).mean()
        assert float(psnr(pred, target, mask=mask)[i]) == pytest.approx(10 * math.log10(t.max() ** 2 / mse), rel=1e-12)
        assert float(psnr(pred, target, data_range=3.0, mask=mask)[i]) == pytest.approx(10 * math.log10(9 / mse),
                                                                                         rel=1e-12)
        assert float(nmse(pred, target)[i]) == pytest.approx(((p - t) ** 2).sum() / (t**2).sum(), rel=1e-12)
        assert float(nmse(pred, target, mask=mask)[i]) == pytest.approx(((p - t)[m] ** 2).sum() / (t[m] ** 2).sum(),
                                                                         rel=1e-12)
    ranges = torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64)
    expected = torch.stack([psnr(pred[i], target[i], data_range=float(ranges[i]))[0] for i in range(3)])
    assert torch.allclose(psnr(pred, target, data_range=ranges), expected)


def test_ssim_is_scikit_images_in_and_outside_the_mask():
    pred, target, mask = images(1)
    half = 3  # the 7×7 window
    for i in range(3):
        p, t, m = pred[i].numpy(), target[i].numpy(), mask[i].numpy()
        value, full = structural_similarity(t, p, data_range=t.max(), full=True)
        assert float(ssim(pred, target)[i]) == pytest.approx(value, rel=1e-10)
        inner = full[half:-half, half:-half][m[half:-half, half:-half]]
        assert float(ssim(pred, target, mask=mask)[i]) == pytest.approx(inner.mean(), rel=1e-10)
        value = structural_similarity(t, p, data_range=5.0)
        assert float(ssim(pred, target, data_range=5.0)[i]) == pytest.approx(value, rel=1e-10)
    loss = ssim_loss(pred.float(), target.float())
    assert float(loss) == pytest.approx(1 - float(ssim(pred, target).mean()), rel=1e-4)


def matlab_log(size=15, sigma=1.5):
    """``fspecial('log', size, sigma)``: ``g(r) (r² − 2σ²)/σ⁴`` with ``g`` the normalised Gaussian, minus its mean."""
    half = (size - 1) / 2
    g = np.array([[math.exp(-((x - half) ** 2 + (y - half) ** 2) / (2 * sigma**2)) for x in range(size)]
                  for y in range(size)])
    g /= g.sum()
    r2 = np.array([[(x - half) ** 2 + (y - half) ** 2 for x in range(size)] for y in range(size)])
    h = g * (r2 - 2 * sigma**2) / sigma**4
    return h - h.mean()


def test_hfen_is_the_laplacian_of_gaussian_error_over_the_mask():
    pred, target, mask = images(2)
    for size, sigma in ((15, 1.5), (9, 1.0)):
        kernel = matlab_log(size, sigma)
        assert np.allclose(log_kernel(size, sigma).numpy(), kernel, atol=1e-15)
        for i in range(3):
            lp = ndimage.correlate(pred[i].numpy(), kernel, mode="constant")
            lt = ndimage.correlate(target[i].numpy(), kernel, mode="constant")
            m = mask[i].numpy()
            got = hfen(pred, target, size=size, sigma=sigma)[i]
            assert float(got) == pytest.approx(np.sqrt(((lp - lt) ** 2).sum() / (lt**2).sum()), rel=1e-10)
            got = hfen(pred, target, size=size, sigma=sigma, mask=mask)[i]
            assert float(got) == pytest.approx(np.sqrt(((lp - lt)[m] ** 2).sum() / (lt[m] ** 2).sum()), rel=1e-10)


def test_metric_defaults_edges_and_masks():
    pred, target, mask = images(5)
    assert torch.equal(log_kernel(), log_kernel(15, 1.5)) and log_kernel().dtype == torch.float64
    assert torch.equal(hfen(pred, target), hfen(pred, target, size=15, sigma=1.5))
    small_pred, small_target = pred[:, :7, :7], target[:, :7, :7]
    value = structural_similarity(small_target[0].numpy(), small_pred[0].numpy(),
                                  data_range=float(small_target[0].max()))
    assert float(ssim(small_pred, small_target)[0]) == pytest.approx(value, rel=1e-10)  # one window exactly
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(pred[:, :6, :], target[:, :6, :])
    border = torch.zeros_like(mask)
    border[:, :3, :] = True  # only pixels within three of the border: no window centre
    with pytest.raises(ValueError, match="away from the image border"):
        ssim(pred, target, mask=border)
    assert torch.equal(psnr(pred, target, mask=mask.double() * 0.9), psnr(pred, target, mask=mask))  # > 0.5 is in
    empty = mask.clone()
    empty[2] = False
    with pytest.raises(ValueError, match="at least one pixel of every slice"):
        nmse(pred, target, mask=empty)
    with pytest.raises(ValueError, match="mask must have the images' shape"):
        nmse(pred, target, mask=mask[:, :-1])
    with pytest.raises(ValueError, match="pred and target must have the same shape"):
        psnr(pred[:, :-1], target[:, :-1, :-1])
    for options, message in (({"threshold": 0.0}, "threshold"), ({"threshold": 1.0}, "threshold"),
                             ({"dilation": -1}, "dilation"), ({"dilation": True}, "dilation")):
        with pytest.raises(ValueError, match=message):
            foreground_mask(target, **options)


def test_ssim_loss_uses_each_target_slices_range_as_a_constant():
    pred, target, _ = images(6)
    target = target.clone().requires_grad_(True)
    pred = pred.clone().requires_grad_(True)
    ssim_loss(pred, target).backward()
    ranges = target.detach().flatten(1).amax(dim=1)
    p2, t2 = pred.detach().clone().requires_grad_(True), target.detach().clone().requires_grad_(True)
    (1 - ssim(p2, t2, data_range=ranges).mean()).backward()
    assert torch.allclose(pred.grad, p2.grad) and torch.allclose(target.grad, t2.grad)
    with pytest.raises(ValueError, match="^target must have 2 or 3 or 4 dimensions"):
        ssim_loss(pred, target[:, None, None])


def test_metrics_take_magnitudes_and_every_layout():
    pred, target, mask = images(3)
    phase = torch.exp(1j * torch.rand(pred.shape, dtype=torch.float64))
    for fn in (psnr, ssim, hfen, nmse):
        expected = fn(pred.abs(), target, mask=mask)
        assert torch.allclose(fn((pred * phase)[:, None], target[:, None], mask=mask[:, None]), expected)
        assert torch.allclose(fn(pred[0], target[0], mask=mask[0]), expected[:1])
    assert psnr(pred.float(), target.float()).dtype == torch.float32
    assert psnr(pred, target).dtype == torch.float64


def test_scores_are_taken_inside_the_head_mask_of_the_target_unless_asked_otherwise():
    pred, target, mask = images(4)
    head = foreground_mask(target)
    default, whole, given = scores(pred, target), scores(pred, target, full_fov=True), scores(pred, target, mask=mask)
    for name, fn in (("psnr", psnr), ("ssim", ssim), ("hfen", hfen), ("nmse", nmse)):
        assert torch.equal(default[name], fn(pred, target, mask=head))
        assert torch.equal(whole[name], fn(pred, target))
        assert torch.equal(given[name], fn(pred, target, mask=mask))
    assert torch.equal(scores(pred, target, data_range=4.0)["psnr"], psnr(pred, target, data_range=4.0, mask=head))


def test_foreground_mask_is_the_filled_largest_region_dilated():
    """Without smoothing: the pixels above 5 % of the maximum, largest region, holes filled, then dilated by the
    cross-shaped element ``dilation`` times (every pixel within city-block distance ``dilation``)."""
    size = 24
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    ring = ((yy - 11) ** 2 + (xx - 12) ** 2 <= 36) & ((yy - 11) ** 2 + (xx - 12) ** 2 > 4)
    image = ring.double() * 2.0
    image[1, 1] = image[1, 2] = 2.0  # a speck: a second, smaller region
    image[20, 20] = 0.05  # below 5 % of the maximum
    mask = foreground_mask(image[None], smoothing=0, dilation=2)[0]
    filled = (yy - 11) ** 2 + (xx - 12) ** 2 <= 36
    distance = torch.full((size, size), 99)
    for y, x in torch.nonzero(filled).tolist():
        distance = torch.minimum(distance, (yy - y).abs() + (xx - x).abs())
    assert torch.equal(mask, distance <= 2)
    assert torch.equal(foreground_mask(image[None], smoothing=0, dilation=0)[0], filled)
    assert torch.equal(foreground_mask(image[None], smoothing=0, dilation=0, threshold=0.9)[0], filled)
    smoothed = ndimage.gaussian_filter(image.numpy(), 1.0)
    above = smoothed > 0.05 * smoothed.max()
    labels, _ = ndimage.label(above)
    largest = labels == labels[5, 12]
    expected = ndimage.binary_dilation(ndimage.binary_fill_holes(largest), iterations=2)
    assert np.array_equal(foreground_mask(image[None]).numpy()[0], expected)


# -- statistics ----------------------------------------------------------------------------------------------------
def rows_of(values, blocks, metric="psnr", **extra):
    return [{"index": i, "block": f"b{blocks[i]}", metric: float(v), **extra} for i, v in enumerate(values)]


def test_per_block_means_in_first_seen_order_with_the_fallback_units():
    rows = rows_of([1, 2, 3, 4, 6], [2, 0, 2, 0, 1])
    assert stats.per_block(rows, "psnr") == {"b2": 2.0, "b0": 3.0, "b1": 6.0}
    positions = [{"index": i, "position": f"p{i // 2}", "psnr": float(i)} for i in range(4)]
    assert stats.per_block(positions, "psnr") == {"p0": 0.5, "p1": 2.5}
    indices = [{"index": i, "psnr": float(i)} for i in range(3)]
    assert stats.per_block(indices, "psnr") == {"0": 0.0, "1": 1.0, "2": 2.0}
    with pytest.raises(ValueError, match="empty"):
        stats.per_block([], "psnr")
    with pytest.raises(KeyError, match="ssim"):
        stats.per_block(rows, "ssim")


def test_bootstrap_ci_is_scipys_bca_interval_of_the_mean():
    values = np.array([3.1, 2.4, 5.0, 4.2, 3.3, 2.9, 4.8])
    for seed in (0, 7):
        expected = scipy_stats.bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=10_000,
                                         method="BCa", random_state=np.random.default_rng(seed)).confidence_interval
        assert stats.bootstrap_ci(values, seed=seed) == pytest.approx(tuple(expected), rel=1e-12)
    narrow = scipy_stats.bootstrap((values,), np.mean, confidence_level=0.5, n_resamples=10_000, method="BCa",
                                   random_state=np.random.default_rng(0)).confidence_interval
    assert stats.bootstrap_ci(values, confidence=0.5) == pytest.approx(tuple(narrow), rel=1e-12)
    assert stats.bootstrap_ci([2.0, 2.0]) == (2.0, 2.0)
    assert all(math.isnan(v) for v in stats.bootstrap_ci([1.0, 2.0]))
    low, high = stats.bootstrap_ci([1.0, 2.0, 4.0])
    assert 1.0 <= low < high <= 4.0
    for bad in ([], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="non-empty 1-D"):
            stats.bootstrap_ci(bad)


def test_summarize_is_the_mean_over_blocks_with_its_interval():
    values = [30.0, 31.0, 29.0, 35.0, 33.0, 28.0, 30.5]
    blocks = [0, 0, 1, 2, 2, 3, 4]
    rows = [dict(row, ssim=0.1 * row["psnr"], seconds=0.01 * i) for i, row in enumerate(rows_of(values, blocks))]
    summary = stats.summarize(rows, metrics=("psnr", "ssim"))
    means = [30.5, 29.0, 34.0, 28.0, 30.5]
    assert summary["n_slices"] == 7 and summary["n_blocks"] == 5
    assert summary["psnr_mean"] == pytest.approx(np.mean(means))
    assert (summary["psnr_ci_low"], summary["psnr_ci_high"]) == stats.bootstrap_ci(means)
    assert summary["ssim_mean"] == pytest.approx(0.1 * np.mean(means))
    assert summary["seconds_mean"] == pytest.approx(0.01 * np.mean(range(7)))
    assert "seconds_mean" not in stats.summarize(rows_of(values, blocks), metrics=("psnr",))


def test_paired_is_the_block_mean_difference_its_interval_and_wilcoxon():
    a = [30.0, 31.0, 29.0, 35.0, 33.0, 28.0, 30.5, 27.0]
    b = [29.0, 30.2, 29.5, 33.0, 32.0, 27.8, 29.0, 26.0]
    blocks = [0, 0, 1, 2, 2, 3, 4, 5]
    c = stats.paired(rows_of(a, blocks), rows_of(b, blocks), seed=3)
    members = [[0, 1], [2], [3, 4], [5], [6], [7]]
    differences = np.array([np.mean([a[i] - b[i] for i in block]) for block in members])
    assert np.allclose(differences, [0.9, -0.5, 1.5, 0.2, 1.5, 1.0])
    assert c.metric == "psnr" and c.n_blocks == 6 and c.mean == pytest.approx(differences.mean())
    assert (c.ci_low, c.ci_high) == stats.bootstrap_ci(differences, seed=3)
    assert c.p_value == pytest.approx(scipy_stats.wilcoxon(differences).pvalue)
    default = stats.paired(rows_of(a, blocks), rows_of(b, blocks))  # seed 0
    assert (default.ci_low, default.ci_high) == stats.bootstrap_ci(differences, seed=0)
    assert (default.ci_low, default.ci_high) != (c.ci_low, c.ci_high)
    equal = stats.paired(rows_of(a, blocks), rows_of(a, blocks))
    assert equal.p_value == 1.0 and equal.mean == 0.0
    ones = stats.paired(rows_of([2.0, 3.0, 4.0], [0, 1, 2]), rows_of([1.0, 2.0, 3.0], [0, 1, 2]))
    assert ones.p_value == pytest.approx(scipy_stats.wilcoxon([1.0, 1.0, 1.0]).pvalue) and ones.mean == 1.0
    two = stats.paired(rows_of([2.0, 3.5], [0, 1]), rows_of([1.0, 1.0], [0, 1]))
    assert two.n_blocks == 2 and two.p_value == pytest.approx(scipy_stats.wilcoxon([1.0, 2.5]).pvalue)
    one = stats.paired(rows_of([2.0, 3.0], [0, 0]), rows_of([1.0, 1.0], [0, 0]))
    assert one.p_value == 1.0 and one.n_blocks == 1 and one.mean == 1.5
    with pytest.raises(ValueError, match="not the same dataset"):
        stats.paired(rows_of(a, blocks), rows_of(b, [0, 1, 1, 2, 2, 3, 4, 5]))


@pytest.mark.parametrize("metric, higher", [("psnr", True), ("ssim", True), ("hfen", False), ("nmse", False)])
def test_a_comparison_is_resolved_when_six_blocks_and_every_seed_agree(metric, higher):
    def comparison(low, high, n_blocks=6, seeds=()):
        return stats.PairedComparison(metric, (low + high) / 2, low, high, 0.01, n_blocks, seeds)

    assert comparison(0.1, 0.5).resolved and comparison(-0.5, -0.1).resolved
    assert not comparison(-0.1, 0.5).resolved and not comparison(0.0, 0.5).resolved
    assert not comparison(0.1, 0.5, n_blocks=5).resolved
    assert comparison(0.1, 0.5, seeds=(0.2, 0.4)).resolved and not comparison(0.1, 0.5, seeds=(0.2, -0.1)).resolved
    assert comparison(0.1, 0.5).better() is higher and comparison(-0.5, -0.1).better() is (not higher)
    assert comparison(-0.1, 0.5).better() is None
    text = comparison(0.1, 0.5).describe("A", "B", unit="dB", digits=1)
    verdict = "A is better" if higher else "B is better"
    assert text == f"A − B = +0.3 dB (95 % CI +0.1 to +0.5, Wilcoxon p = 0.01, 6 blocks): {verdict}"
    text = comparison(-0.1, 0.5).describe("A", "B")  # no unit, two digits
    assert text == "A − B = +0.20 (95 % CI -0.10 to +0.50, Wilcoxon p = 0.01, 6 blocks): not resolved"


def test_an_unknown_metric_counts_higher_as_better():
    assert stats.PairedComparison("score", 0.3, 0.1, 0.5, 0.01, 6).better() is True
    assert stats.PairedComparison("score", -0.3, -0.5, -0.1, 0.01, 6).better() is False


def test_paired_over_seeds_averages_the_runs_and_keeps_each_seeds_difference():
    blocks = [0, 0, 1, 2, 3, 4, 5]
    base = np.array([30.0, 31.0, 29.0, 35.0, 33.0, 28.0, 30.5])
    ramp = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.6, 0.0])
    runs_a = [rows_of(base + d * ramp, blocks, "ssim") for d in (0.5, 0.9, 0.4)]
    runs_b = [rows_of(base + d * np.arange(7) / 7, blocks, "ssim") for d in (0.1, 0.4, 0.0)]
    c = stats.paired_over_seeds(runs_a, runs_b, "ssim", seed=1)
    mean_a = rows_of(base + 0.6 * ramp, blocks, "ssim")
    mean_b = rows_of(base + 0.5 / 3 * np.arange(7) / 7, blocks, "ssim")
    plain = stats.paired(mean_a, mean_b, "ssim", seed=1)
    assert c.metric == "ssim"
    assert (c.mean, c.ci_low, c.ci_high, c.p_value) == pytest.approx((plain.mean, plain.ci_low, plain.ci_high,
                                                                      plain.p_value))
    default = stats.paired_over_seeds(runs_a, runs_b, "ssim")
    plain_default = stats.paired(mean_a, mean_b, "ssim")
    assert (default.ci_low, default.ci_high) == pytest.approx((plain_default.ci_low, plain_default.ci_high))
    assert (default.ci_low, default.ci_high) != pytest.approx((c.ci_low, c.ci_high))
    block_means = [np.mean(list(stats.per_block(run, "ssim").values())) for run in (*runs_a, *runs_b)]
    assert c.seed_differences == pytest.approx(tuple(block_means[k] - block_means[3 + k] for k in range(3)))
    single = stats.paired_over_seeds(runs_a, runs_b[:1], "ssim")
    assert single.seed_differences == pytest.approx(tuple(block_means[k] - block_means[3] for k in range(3)))
    assert stats.paired_over_seeds(runs_a[:1], runs_b[:1], "ssim").seed_differences == ()
    for a, b in (([], runs_b), (runs_a, [])):
        with pytest.raises(ValueError, match="at least one run"):
            stats.paired_over_seeds(a, b, "ssim")
    with pytest.raises(ValueError, match="^runs_a must hold 1 or 3 runs"):
        stats.paired_over_seeds(runs_a[:2], runs_b, "ssim")
    with pytest.raises(ValueError, match="^runs_b must hold 1 or 3 runs"):
        stats.paired_over_seeds(runs_a, runs_b[:2], "ssim")


def test_paired_table_lines():
    blocks = list(range(6))
    a = {0.25: rows_of([30, 31, 32, 33, 34, 35], blocks, "ssim"), "T2w": rows_of([1, 2, 3, 4, 5, 6], blocks, "ssim")}
    b = {0.25: rows_of([29, 30, 31, 32, 33, 34.5], blocks, "ssim"), "T2w": rows_of([1, 2, 3, 4, 5, 6], blocks, "ssim"),
         0.5: rows_of([1] * 6, blocks, "ssim")}
    lines = stats.paired_table(a, b, "Net", "TV", metric="ssim", digits=1).splitlines()
    assert lines[0] == "| SSIM: Net − TV | mean | 95 % CI | Wilcoxon p | verdict |"
    assert lines[1] == "|---|---|---|---|---|" and len(lines) == 4
    c = stats.paired(a[0.25], b[0.25], "ssim")
    assert lines[2] == (f"| 25 % | {c.mean:+.1f} | [{c.ci_low:+.1f}, {c.ci_high:+.1f}] | {c.p_value:.2g} | "
                        f"Net better |")
    assert lines[3].startswith("| T2w | +0.0 |") and lines[3].endswith("| 1 | not resolved |")
