"""IMA against the paper's equations: Theorem 1, the HQS steps (12)–(14), DCM (16)–(19), CSCA (21) and the loss (25)."""

import itertools

import pytest
import torch

from mrilab import dcm
from mrilab.masks import cartesian_mask, mask_from_name
from mrilab.models.ima import IMA, CrossSequenceAttention
from mrilab.multicontrast import g_step, theorem1_factors, x_step, ytilde_step
from mrilab.ops import MRIOperator, fft2c

# -- Theorem 1 ----------------------------------------------------------------------------------------------------


def low_rank(rows: int, columns: int, rank: int, generator: torch.Generator) -> torch.Tensor:
    left = torch.randn(rows, rank, dtype=torch.float64, generator=generator)
    return left @ torch.randn(rank, columns, dtype=torch.float64, generator=generator)


@pytest.mark.parametrize(("columns", "rank", "c"), [(6, 4, 2), (8, 8, 3), (5, 3, 1)])
def test_theorem1_factors_rebuild_x_from_y_hat_and_a_self_learned_part(columns, rank, c):
    generator = torch.Generator().manual_seed(rank)
    x = low_rank(40, columns, rank, generator)
    y_hat = x @ torch.randn(columns, c, dtype=torch.float64, generator=generator)  # (a): Ŷ = X R
    a, b, y_tilde = theorem1_factors(x, y_hat)
    assert a.shape == (c, columns) and b.shape == (rank - c, columns) and y_tilde.shape == (40, rank - c)
    assert torch.allclose(y_hat @ a + y_tilde @ b, x, atol=1e-10)  # (b)
    assert torch.linalg.matrix_rank(torch.cat([y_hat, y_tilde], dim=1)) == rank


def test_theorem1_factors_refuse_what_the_theorem_excludes():
    generator = torch.Generator().manual_seed(0)
    x = low_rank(40, 6, 3, generator)
    y_hat = x @ torch.randn(6, 2, dtype=torch.float64, generator=generator)
    noisy = y_hat + 1e-3 * torch.randn(y_hat.shape, dtype=torch.float64, generator=generator)
    with pytest.raises(ValueError, match="outside the column space"):  # Ŷ ≠ X R for every R
        theorem1_factors(x, noisy)
    with pytest.raises(ValueError, match="r > c"):
        theorem1_factors(x, x @ torch.randn(6, 3, dtype=torch.float64, generator=generator))
    with pytest.raises(ValueError, match="full column rank"):
        theorem1_factors(x, torch.cat([y_hat, y_hat[:, :1]], dim=1))


# -- the HQS steps -------------------------------------------------------------------------------------------------


def test_x_step_is_a_gradient_step_on_subproblem_8_eq_12():
    generator = torch.Generator().manual_seed(1)
    shape = (2, 1, 12, 12)
    x, g, truth = (torch.randn(shape, dtype=torch.complex128, generator=generator) for _ in range(3))
    mask = cartesian_mask((12, 12), 0.4, seed=1)
    op = MRIOperator(mask)
    y = op.forward(truth)
    mu, alpha, lam1 = 0.3, 0.7, 0.2

    def objective(image):  # (8) with R₁(X) = ½‖X‖²
        return (0.5 * (op.forward(image) - y).abs().pow(2).sum() + 0.5 * alpha * (image - g).abs().pow(2).sum()
                + lam1 * 0.5 * image.abs().pow(2).sum())

    variable = x.clone().requires_grad_(True)
    objective(variable).backward()
    step = x_step(op, x, y, g, mu=mu, alpha=alpha, lam1=lam1, prior_gradient=x)  # ∇R₁(X) = X
    assert torch.allclose(step, x - mu * variable.grad, atol=1e-12)


def test_ytilde_step_is_a_gradient_step_on_subproblem_9_eq_13():
    generator = torch.Generator().manual_seed(2)
    y, a = torch.randn(30, 3, dtype=torch.float64, generator=generator), torch.randn(3, 5, dtype=torch.float64,
                                                                                     generator=generator)
    b, g = torch.randn(2, 5, dtype=torch.float64, generator=generator), torch.randn(30, 5, dtype=torch.float64,
                                                                                    generator=generator)
    y_tilde = torch.randn(30, 2, dtype=torch.float64, generator=generator)
    beta, lam2 = 0.4, 0.3
    variable = y_tilde.clone().requires_grad_(True)
    (0.5 * (y @ a + variable @ b - g).pow(2).sum() + lam2 * variable.abs().pow(3).sum() / 3).backward()
    step = ytilde_step(y_tilde, y @ a - g + y_tilde @ b, beta=beta, lam2=lam2,
                       prior_gradient=y_tilde.abs() * y_tilde, transpose=lambda residual: residual @ b.T)
    assert torch.allclose(step, y_tilde - beta * variable.grad, atol=1e-12)


def test_g_step_is_the_minimiser_of_subproblem_11_eq_14():
    generator = torch.Generator().manual_seed(3)
    mapping, x = (torch.randn(2, 1, 8, 8, dtype=torch.complex128, generator=generator) for _ in range(2))
    alpha = 0.6
    g = g_step(mapping, x, alpha=alpha).requires_grad_(True)
    (0.5 * (mapping - g).abs().pow(2).sum() + 0.5 * alpha * (x - g).abs().pow(2).sum()).backward()
    assert g.grad.abs().max() < 1e-12  # stationary, and (11) is strictly convex: the minimiser
    assert not torch.allclose(g_step(mapping, x, alpha=0.1), g.detach())


# -- DCM -----------------------------------------------------------------------------------------------------------


def naive_dilate(mask: torch.Tensor, initial: torch.Tensor, kernel: torch.Tensor, threshold: float) -> torch.Tensor:
    """Eq. (16) location by location, neighbours wrapping around."""
    height, width = mask.shape
    half = kernel.shape[0] // 2
    out = initial.clone()
    for i, j in itertools.product(range(height), range(width)):
        total = sum(float(kernel[u + half, v + half]) for u in range(-half, half + 1) for v in range(-half, half + 1)
                    if mask[(i + u) % height, (j + v) % width])
        out[i, j] |= total >= threshold
    return out


@pytest.mark.parametrize("kernel", sorted(dcm.KERNELS))
def test_dilate_follows_eq_16_location_by_location(kernel):
    initial = torch.rand(11, 13, generator=torch.Generator().manual_seed(4)) < 0.2
    mask = initial.clone()
    for _ in range(2):
        expected = naive_dilate(mask, initial, dcm.KERNELS[kernel], dcm.THRESHOLD)
        mask = dcm.dilate(mask, initial, kernel=kernel)
        assert torch.equal(mask, expected)


def test_schedule_levels_rise_to_half_the_stages_and_fall_back():
    assert dcm.schedule_levels(12) == [0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0]
    assert dcm.schedule_levels(5) == [0, 1, 2, 1, 0]
    assert dcm.schedule_levels(1) == [0]


@pytest.mark.parametrize(("kind", "ratio", "kernel"), itertools.product(("cartesian", "radial"), (1 / 4, 1 / 8),
                                                                         sorted(dcm.KERNELS)))
def test_dcm_masks_grow_monotonically_stop_and_return_to_the_sampling_mask(kind, ratio, kernel):
    mask = mask_from_name(kind, (64, 64), ratio)
    masks = dcm.dcm_schedule(mask, 12, kernel=kernel)
    assert len(masks) == 12 and torch.equal(masks[0], mask) and torch.equal(masks[-1], mask)
    rising, falling = masks[:6], masks[6:]
    for smaller, larger in itertools.pairwise(rising):
        assert bool((smaller <= larger).all())  # nested: M⁽ᵗ⁾ ⊆ M⁽ᵗ⁺¹⁾
    assert [m.sum() for m in falling] == [m.sum() for m in reversed(rising)]  # contraction mirrors dilation
    assert all(torch.equal(a, b) for a, b in zip(falling, reversed(rising), strict=True))
    levels = dcm.dilation_levels(mask, 8, kernel=kernel)
    stopped = [k for k, level in enumerate(levels) if dcm.coverage(level) > dcm.COVERAGE]
    if stopped:  # eq. (17): once more than 90 % is covered the mask stays
        assert all(torch.equal(levels[stopped[0]], later) for later in levels[stopped[0]:])
    assert bool((masks[5] >= mask).all()) and masks[5].sum() > mask.sum()  # every kernel spreads these masks


def test_dcm_coverage_test_is_made_per_sample():
    wide, narrow = mask_from_name("radial", (32, 32), 0.5), mask_from_name("radial", (32, 32), 0.125)
    batch = torch.stack([wide, narrow])[:, None]
    levels = dcm.dilation_levels(batch, 4, covered=0.6)
    for level, alone_wide, alone_narrow in zip(levels, dcm.dilation_levels(wide, 4, covered=0.6),
                                               dcm.dilation_levels(narrow, 4, covered=0.6), strict=True):
        assert torch.equal(level[0, 0], alone_wide) and torch.equal(level[1, 0], alone_narrow)


def test_dcm_refuses_unknown_kernels_and_bad_masks():
    mask = mask_from_name("radial", (16, 16), 0.25)
    with pytest.raises(ValueError, match="kernel must be one of"):
        dcm.dilate(mask, mask, kernel="gauss")
    with pytest.raises(TypeError, match="mask must have dtype"):
        dcm.dcm_schedule(mask.float(), 4)
    with pytest.raises(ValueError, match="stages must be a positive integer"):
        dcm.dcm_schedule(mask, 0)


# -- the network ---------------------------------------------------------------------------------------------------


def multicontrast_data(size: int = 16, batch: int = 2, seed: int = 0, ratio: float = 0.25):
    generator = torch.Generator().manual_seed(seed)
    target, reference = (torch.randn(batch, 1, size, size, dtype=torch.complex64, generator=generator)
                         for _ in range(2))
    mask = mask_from_name("radial", (size, size), ratio)
    return {"kspace": fft2c(target) * mask, "mask": mask, "target": target, "reference": reference}


def small(**options) -> IMA:
    torch.manual_seed(0)
    return IMA(**{"features": 4, "stages": 4, **options}).eval()


def test_every_stage_keeps_the_measured_k_space_eq_19_and_uses_the_dcm_masks():
    data = multicontrast_data()
    model = small()
    with torch.no_grad():
        image, stages = model(data["kspace"], data["mask"], reference=data["reference"], return_stages=True)
    assert len(stages) == 4 and torch.equal(image, stages[-1]["x"])
    for stage, expected in zip(stages, dcm.dcm_schedule(data["mask"], 4), strict=True):
        assert torch.allclose(fft2c(stage["x"]) * data["mask"], data["kspace"], atol=1e-5)
        assert torch.equal(stage["mask"][0, 0].bool(), expected)
    without = small(dcm=False)
    with torch.no_grad():
        _, stages = without(data["kspace"], data["mask"], reference=data["reference"], return_stages=True)
    assert all(torch.equal(stage["mask"][0, 0].bool(), data["mask"]) for stage in stages)


def test_dcm_keeps_the_stage_input_inside_the_dilated_mask_eq_18():
    data = multicontrast_data(ratio=0.4)
    model = small(stages=5)
    with torch.no_grad():
        _, stages = model(data["kspace"], data["mask"], reference=data["reference"], return_stages=True)
    trusted = dcm.dcm_schedule(data["mask"], 5)[2]  # stage 3's mask, dilated twice
    extra = trusted & ~data["mask"]
    assert extra.any()
    # (18) then (19): outside M⁽⁰⁾ but inside M⁽³⁾ stage 3 returns stage 2's k-space unchanged
    assert torch.allclose(fft2c(stages[2]["x"])[..., extra], fft2c(stages[1]["x"])[..., extra], atol=1e-5)
    assert not torch.allclose(fft2c(stages[2]["x"])[..., ~trusted], fft2c(stages[1]["x"])[..., ~trusted], atol=1e-3)


def test_csca_product_splits_into_self_and_cross_attention_eq_21():
    torch.manual_seed(0)
    module = CrossSequenceAttention(reference_channels=3, features=5, out_channels=4).double()
    y = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    g = torch.randn(2, 1, 6, 7, dtype=torch.complex128)
    terms = module.terms(y, g)
    for i in (1, 2):
        whole = terms["q_cat"].transpose(1, 2) @ terms[f"k{i}"]
        parts = (terms["q1"].transpose(1, 2) @ terms[f"k{i}_fine"]
                 + terms["q2"].transpose(1, 2) @ terms[f"k{i}_coarse"])
        assert whole.shape == (2, 5, 5) and torch.allclose(whole, parts, atol=1e-12)
        assert torch.allclose(module.attention(terms, i).sum(dim=-1), torch.ones(2, 5, dtype=torch.float64))
    assert module(y, g).shape == (2, 4, 6, 7)
    # the two inputs interact: changing G changes the output computed from Y's keys and values
    other = module(y, g + 1.0)
    assert not torch.allclose(module(y, g), other)


def test_the_reference_is_used_and_the_single_contrast_mode_ignores_it():
    data = multicontrast_data()
    model, single = small(), small(use_reference=False)
    with torch.no_grad():
        first = model(data["kspace"], data["mask"], reference=data["reference"])
        second = model(data["kspace"], data["mask"], reference=data["reference"].flip(-1))
        assert not torch.allclose(first, second, atol=1e-4)
        alone = single(data["kspace"], data["mask"])
        assert torch.equal(alone, single(data["kspace"], data["mask"], reference=data["reference"]))
    with pytest.raises(ValueError, match="needs reference"):
        model(data["kspace"], data["mask"])
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in single.parameters())


def test_loss_is_eq_25_and_trains():
    data = multicontrast_data()
    model = small(gamma=0.5)
    prepared = model.prepare(data["kspace"], data["mask"], reference=data["reference"])
    x, mapping, _ = model._run(prepared, return_stages=False)
    truth = data["target"] / prepared.scale
    expected = (x - truth).real.abs().mean() / 2 + (x - truth).imag.abs().mean() / 2
    expected = expected + 0.5 * ((x - mapping).real.abs().mean() + (x - mapping).imag.abs().mean()) / 2
    assert torch.allclose(model.training_loss(data), expected, atol=1e-6)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        loss = model.training_loss(data)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0]


def test_without_csca_the_model_is_smaller_by_the_attention_module():
    with_csca, without = IMA(features=6, stages=3), IMA(features=6, stages=3, csca=False)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    transposes = sum(count(stage.transpose) for stage in with_csca.stages) - sum(
        count(stage.transpose) for stage in without.stages)
    assert count(with_csca) - count(without) == count(with_csca.attention) + transposes
    assert without.attention is None


@pytest.mark.parametrize(("options", "message"), [({"features": 0}, "features"), ({"stages": 1.5}, "stages"),
                                                  ({"kernel": "gauss"}, "kernel"), ({"gamma": -1}, "gamma"),
                                                  ({"covered": 2}, "covered")])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        IMA(**options)


def test_multi_coil_kspace_is_refused():
    data = multicontrast_data()
    with pytest.raises(ValueError, match="kspace must be single-coil"):
        small()(data["kspace"].repeat(1, 2, 1, 1), data["mask"], reference=data["reference"])


def test_loss_needs_the_reference_when_the_model_uses_one():
    data = multicontrast_data()
    del data["reference"]
    with pytest.raises(KeyError, match="reference"):
        small().training_loss(data)
    assert torch.isfinite(small(use_reference=False).training_loss(data))


def test_misaligned_shifts_like_a_roll_and_rotates_counter_clockwise():
    from mrilab.multicontrast import misaligned

    image = torch.randn(2, 1, 16, 16, dtype=torch.complex64, generator=torch.Generator().manual_seed(6))
    assert torch.equal(misaligned(image), image)
    moved = misaligned(image, shift=3)
    assert torch.allclose(moved[..., 3:], torch.roll(image, 3, dims=-1)[..., 3:], atol=1e-6)
    assert moved[..., :3].abs().max() < 1e-6  # zero where the moved image does not reach
    dot = torch.zeros(1, 1, 16, 16, dtype=torch.complex64)
    dot[0, 0, 5, 5] = 1
    turned = misaligned(dot, degrees=90).abs()[0, 0]
    assert tuple(int(i) for i in (turned == turned.max()).nonzero()[0]) == (10, 5)  # up-left goes down-left
    grid = torch.arange(64.0) - 31.5
    blob = torch.exp(-(grid[:, None] ** 2 + (grid[None] - 16) ** 2) / 32).to(torch.complex64)[None, None]
    back = misaligned(misaligned(blob, degrees=3.0), degrees=-3.0)
    assert (back - blob).abs().max() < 0.02  # a smooth image survives two bilinear resamplings
    assert (misaligned(blob, degrees=3.0) - blob).abs().max() > 0.1  # 3° move the blob 16 px off centre by 0.8 px
    with pytest.raises(ValueError, match="image must have shape"):
        misaligned(image.repeat(1, 2, 1, 1), shift=1)
