import json

import pytest
import torch
import torch.nn.functional as F

from mrilab.masks import cartesian_mask
from mrilab.models import build_model
from mrilab.models.base import measurement_scale
from mrilab.models.cgpd_csnet import CGPDCSNet, CorrectionModule, GeometricPriorDistillation, pre_relaxation
from mrilab.ops import MRIOperator, fft2c

from .adjoint import assert_adjoint

SIZE = 32
TINY = {"features": 8, "depth": 2, "n_stages": 2, "n_resblocks": 1}


def phantom(batch=2, size=SIZE):
    """Ellipses with a smooth phase: a tiny complex test image (B, 1, size, size)."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    images = []
    for b in range(batch):
        img = 0.6 * (((xx / 0.8) ** 2 + (yy / 0.9) ** 2) < 1).float()
        img = img + 0.3 * ((((xx - 0.2 * b) / 0.3) ** 2 + ((yy + 0.1) / 0.2) ** 2) < 1).float()
        images.append(img * torch.exp(1j * (0.5 * xx + 0.2 * b * yy)))
    return torch.stack(images)[:, None].to(torch.complex64)


def measure(target, ratio=0.3, seed=0):
    mask = cartesian_mask(target.shape[-2:], ratio, seed=seed)
    return fft2c(target) * mask, mask


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_untrained_model_is_the_classical_iteration():
    """With x_0 = T^H y the k-space residual is zero, so the untrained network returns T^H y exactly."""
    target = phantom()
    kspace, mask = measure(target)
    model = CGPDCSNet(**TINY)
    with torch.no_grad():
        x = model(kspace, mask)
    assert torch.allclose(x, MRIOperator(mask).adjoint(kspace), atol=1e-6)


def test_gradient_reaches_every_parameter():
    """Zero-initialised output layers get gradient at once, the layers behind them after one step."""
    target = phantom()
    kspace, mask = measure(target)
    batch = {"kspace": kspace, "mask": mask, "target": target, "ratio": torch.tensor([0.3, 0.3])}
    model = CGPDCSNet(**TINY, init="zero")
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        optimiser.zero_grad()
        model.training_loss(batch).backward()
        optimiser.step()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert not missing


def test_parameter_count_at_paper_defaults():
    model = build_model("CGPDCSNet")
    assert n_params(model) == 4_494_180
    assert abs(n_params(model) / 4.4e6 - 1) < 0.10
    assert n_params(model.corrections[0]) == 75_206
    assert n_params(model.priors[0]) == 270_348
    assert round(n_params(model) / 1e6, 1) == 4.5  # 2 % above the paper's "4.4 million", not within its rounding
    # with real-valued images (one channel each for h and e, one output channel) P_l is 4,872 smaller per stage
    real_prior = n_params(GeometricPriorDistillation(3, 1, 32, 8)) - (3 + 8 * 32 + 1)
    assert n_params(model.priors[0]) - real_prior == 4_872
    assert n_params(model) - 13 * 4_872 == 4_430_844
    last = model.condition_module.net[-1]
    assert last.weight[:13].numel() + last.bias[:13].numel() == 429


def test_condition_depends_on_ratio():
    model = CGPDCSNet(**TINY)
    eta, beta = model.condition(torch.tensor([0.1, 0.5]))
    assert eta.shape == beta.shape == (2, TINY["n_stages"])
    assert bool((eta > 0).all()) and bool((beta > 0).all())
    assert not torch.allclose(eta[0], eta[1]) and not torch.allclose(beta[0], beta[1])
    eta_float, _ = model.condition(0.1)
    assert torch.allclose(eta_float[0], eta[0])


def test_ratio_defaults_to_mask_mean():
    target = phantom()
    kspace, mask = measure(target)
    model = CGPDCSNet(**TINY)
    with torch.no_grad():
        model.priors[0].fuse.weight.normal_()
        assert torch.allclose(model(kspace, mask), model(kspace, mask, ratio=mask.float().mean().item()))
        per_sample = torch.stack([mask, cartesian_mask((SIZE, SIZE), 0.5, seed=1)])[:, None]
        ratios = per_sample.flatten(1).float().mean(1)
        assert torch.allclose(model(kspace, per_sample), model(kspace, per_sample, ratio=ratios))


@pytest.mark.parametrize(
    "options",
    [
        {"correction": False, "condition": "none"},
        {"correction": False, "condition": "both"},
        {"correction": True, "condition": "none"},
        {"correction": True, "condition": "beta"},
        {"correction": True, "condition": "eta"},
        {"share_correction": True, "share_prior": True},
        {"share_prior": True},
        {"share_correction": True},
        {"init": "zero"},
    ],
)
def test_every_ablation_builds_and_runs(options):
    target = phantom()
    kspace, mask = measure(target)
    model = build_model("CGPDCSNet", {**TINY, **options})
    assert json.loads(json.dumps(model.config)) == model.config
    x, stages = model(kspace, mask, ratio=0.3, return_stages=True)
    assert x.shape == target.shape and bool(torch.isfinite(torch.view_as_real(x)).all())
    eta, beta = model.condition(torch.tensor([0.1, 0.5]))
    assert eta.shape == beta.shape == (2, TINY["n_stages"])
    if options.get("condition") in ("none", "beta"):
        assert torch.equal(eta[0], eta[1])
    if options.get("condition") in ("none", "eta"):
        assert torch.equal(beta[0], beta[1])
    if options.get("correction") is False:
        assert all(torch.equal(stage["C"], stage["D"]) for stage in stages)
    rebuilt = build_model("CGPDCSNet", model.config)
    assert n_params(rebuilt) == n_params(model)


def test_sharing_reduces_parameters():
    sizes = {
        share: n_params(CGPDCSNet(**{**TINY, "n_stages": 3}, share_correction=share[0], share_prior=share[1]))
        for share in [(False, False), (True, False), (False, True), (True, True)]
    }
    assert sizes[(True, True)] < sizes[(True, False)] < sizes[(False, False)]
    assert sizes[(True, True)] < sizes[(False, True)] < sizes[(False, False)]


def test_pre_relaxation_is_a_gradient_step_on_data_fidelity():
    target = phantom().to(torch.complex128)
    kspace, mask = measure(target)
    op = MRIOperator(mask)
    x = torch.randn_like(target, requires_grad=True)
    fidelity = 0.5 * (op.forward(x) - kspace).abs().pow(2).sum()
    (gradient,) = torch.autograd.grad(fidelity, x)
    eta = torch.tensor([0.7, 1.3], dtype=torch.float64)
    expected = x.detach() - eta.view(-1, 1, 1, 1) * gradient
    assert torch.allclose(pre_relaxation(x.detach(), kspace, op, eta), expected, atol=1e-12)


def neumann_prior(kernel, depth):
    """A GeometricPriorDistillation whose weights make it the truncated Neumann series of eq. (8) for N = conv(kernel).

    Each dense layer G_j applies N to the newest feature group only (the chain reading of eq. 9), channel by channel,
    and W sums all groups, so the output is sum_{i=0}^{depth} N^i(m). The ReLUs are the identity here because the
    kernel and the input are non-negative.
    """
    prior = GeometricPriorDistillation(in_channels=2, n_images=1, features=2, depth=depth).double()
    with torch.no_grad():
        for j, conv in enumerate(prior.layers):
            conv.weight.zero_()
            conv.bias.zero_()
            newest = 0 if j == 0 else 2 + 2 * (j - 1)
            for channel in range(2):
                conv.weight[channel, newest + channel] = kernel
        prior.fuse.weight.zero_()
        prior.fuse.bias.zero_()
        for group in range(depth + 1):
            for channel in range(2):
                prior.fuse.weight[channel, 2 * group + channel] = 1.0
    return prior


def test_prior_distillation_is_the_truncated_neumann_series():
    """Eq. (8) with the package's P_l: sum_{i<=k} N^i m -> (I - N)^{-1} m, error <= ||N||^{k+1} / (1 - ||N||) ||m||."""
    size, generator = 8, torch.Generator().manual_seed(0)
    kernel = torch.rand(3, 3, dtype=torch.float64, generator=generator)
    kernel *= 0.8 / kernel.sum()  # ||N|| <= sum of the non-negative kernel (Young) = 0.8

    def apply_n(v):  # v: (B, 1, size, size); N is the zero-padded convolution the dense layers compute
        return F.conv2d(v, kernel[None, None], padding=1)

    basis = torch.eye(size * size, dtype=torch.float64).reshape(-1, 1, size, size)
    matrix = apply_n(basis).reshape(size * size, size * size).T  # column j = N e_j
    norm_n = torch.linalg.matrix_norm(matrix, ord=2).item()
    assert norm_n <= 0.8 + 1e-12
    m = torch.rand(1, 2, size, size, dtype=torch.float64, generator=generator)  # real and imaginary part, >= 0
    exact = torch.linalg.solve(torch.eye(size * size, dtype=torch.float64) - matrix, m.reshape(2, -1).T).T
    exact = exact.reshape(1, 2, size, size)
    errors = []
    for depth in (1, 2, 4, 8, 16, 40):
        with torch.no_grad():
            out = neumann_prior(kernel, depth)(m)
        series, term = m.clone(), m.clone()
        for _ in range(depth):
            term = torch.cat([apply_n(term[:, :1]), apply_n(term[:, 1:])], dim=1)
            series = series + term
        assert torch.allclose(out, series, atol=1e-12)
        errors.append((out - exact).norm().item())
        assert errors[-1] <= norm_n ** (depth + 1) / (1 - norm_n) * m.norm().item() + 1e-12
    assert all(later < earlier for earlier, later in zip(errors, errors[1:], strict=False))
    assert errors[-1] < 1e-3 * exact.norm().item()


def test_transfer_operators_start_adjoint_up_to_four():
    """CorrectionModule's docstring: at initialisation I^P = 4 (I^R)^T, i.e. <I^P u, v> = 4 <u, I^R v>."""
    correction = CorrectionModule(features=4, n_resblocks=1).double()
    restriction, prolongation = correction.restriction, correction.prolongation
    assert not restriction.bias.any() and not prolongation.bias.any()
    # coarse grid u (2, 2, 8, 6) and fine grid v (2, 2, 16, 12), real and imaginary part as channels
    assert_adjoint(prolongation, restriction, (2, 2, 8, 6), (2, 2, 16, 12), dtype=torch.float64, scale=4.0)
    # a ConvTranspose2d holding a Conv2d's weight is that convolution's adjoint
    assert torch.equal(prolongation.weight, 4 * restriction.weight)


def test_training_loss_is_eq11_and_adam_reduces_it():
    target = phantom()
    kspace, mask = measure(target, ratio=0.25)
    batch = {"kspace": kspace, "mask": mask, "target": target, "ratio": torch.full((2,), 0.25)}
    model = CGPDCSNet(**{**TINY, "n_stages": 3})
    loss = model.training_loss(batch)
    _, stages = model(kspace, mask, ratio=0.25, return_stages=True)
    scale = measurement_scale(kspace * mask).flatten()  # eq. (11) in units of the data's scale
    expected = sum(
        (torch.view_as_real(stages[i]["x"] - target).abs().sum(dim=(1, 2, 3, 4)) / scale / SIZE**2).mean()
        for i in (2, 1)
    )
    assert loss.ndim == 0 and torch.allclose(loss, expected)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        optimiser.zero_grad()
        loss = model.training_loss(batch)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


def test_bad_inputs_raise_clear_errors():
    target = phantom()
    kspace, mask = measure(target)
    model = CGPDCSNet(**TINY)
    with pytest.raises(ValueError, match="divisible by 2"):
        model(kspace[..., :-1], mask[:, :-1])
    for ratio in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="ratio"):
            model(kspace, mask, ratio=ratio)
    with pytest.raises(ValueError, match="ratio"):
        model(kspace, mask, ratio=torch.tensor([0.2, 0.3, 0.4]))
    with pytest.raises(TypeError, match="ratio"):
        model(kspace, mask, ratio="0.3")
    with pytest.raises(KeyError, match="target"):
        model.training_loss({"kspace": kspace, "mask": mask, "ratio": torch.full((2,), 0.3)})
    for bad in ({"condition": "eta_beta"}, {"init": "ones"}, {"n_stages": 0}, {"features": 2.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            CGPDCSNet(**bad)
