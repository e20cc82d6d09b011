"""ISTA-Net+ against a naive reference of Zhang & Ghanem's phase, on a tiny model with random parameters.

Phase k: ``r^(k) = x^(k−1) − ρ_k A^H(A x^(k−1) − y)``, ``x^(k) = r^(k) + G(F̃(soft(F(D r^(k)), θ_k)))``, from
``x^(0) = A^H y``; loss ``mean|x^(N_p) − x*|² + γ Σ_k mean|F̃(F(D r^(k))) − D r^(k)|²``. The reference writes the
operator as a dense matrix, every convolution as an explicit sum over kernel offsets and the soft threshold as
``sign(v) max(|v| − θ, 0)``; each phase gets its own ρ_k and θ_k, so using another phase's parameter shows.
"""

import pytest
import torch

from mrilab.models import ISTANetPlus
from mrilab.models.base import TYPICAL_RMS

from .test_equations_ops import DTYPE, apply, dense_operator, random, random_mask

SIZE = 6


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *, stride: int = 1,
           padding: int = 0) -> torch.Tensor:
    """Cross-correlation as its definition: ``out[o, i, j] = Σ_{c,a,d} w[o, c, a, d] x[c, s i + a, s j + d] + b[o]``.

    Zero padding of ``padding`` pixels on every side; one matrix product per kernel offset ``(a, d)``.
    """
    x = torch.nn.functional.pad(x, (padding,) * 4) if padding else x
    height = (x.shape[-2] - weight.shape[-2]) // stride + 1
    width = (x.shape[-1] - weight.shape[-1]) // stride + 1
    out = torch.zeros(x.shape[0], weight.shape[0], height, width, dtype=x.dtype)
    for a in range(weight.shape[-2]):
        for d in range(weight.shape[-1]):
            patch = x[:, :, a : a + stride * (height - 1) + 1 : stride, d : d + stride * (width - 1) + 1 : stride]
            out += (weight[:, :, a, d].to(x.dtype) @ patch.reshape(*patch.shape[:2], -1)).reshape(out.shape)
    return out if bias is None else out + bias.to(x.dtype).view(1, -1, 1, 1)


def same(conv: torch.nn.Conv2d):
    """The reference of a size-preserving ``nn.Conv2d``: its weights, bias and padding read off the layer."""
    weight = conv.weight.detach().double()
    bias = None if conv.bias is None else conv.bias.detach().double()
    return lambda x: conv2d(x, weight, bias, padding=conv.padding[0])


def soft(v: torch.Tensor, theta: float) -> torch.Tensor:
    return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)


def relu(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v > 0, v, torch.zeros_like(v))


def reference(model: ISTANetPlus, kspace: torch.Tensor, mask: torch.Tensor, target: torch.Tensor | None = None):
    """Return the reference output, the per-phase ``(x^(k), r^(k))`` and, with ``target``, Zhang & Ghanem's loss."""
    batch = kspace.shape[0]
    matrices = dense_operator(mask, None, batch)
    masks = (mask if mask.ndim == 4 else mask[None, None]).expand(batch, 1, SIZE, SIZE)
    y = kspace * masks  # values outside the mask are not data
    scale = units(y)
    y = y / scale  # the model works in units of the data's RMS scale (the model contract)
    x = apply([a.conj().T for a in matrices], y, (1, SIZE, SIZE))  # x^(0) = A^H y
    stages, constraint = [], 0.0
    for phase in model.phases:
        rho, theta = float(phase.rho.detach()), float(phase.theta.detach())
        residual = apply(matrices, x, (1, SIZE, SIZE)) - y
        r = x - rho * apply([a.conj().T for a in matrices], residual, (1, SIZE, SIZE))
        D, G = same(phase.D), same(phase.G)
        F1, F2 = same(phase.F[0]), same(phase.F[2])
        Ft1, Ft2 = same(phase.F_tilde[0]), same(phase.F_tilde[2])
        features = D(torch.cat([r.real, r.imag], dim=1))
        sparse = F2(relu(F1(features)))
        update = G(Ft2(relu(Ft1(soft(sparse, theta)))))
        x = r + torch.complex(update[:, :1], update[:, 1:])
        symmetry = Ft2(relu(Ft1(sparse))) - features
        constraint = constraint + (symmetry**2).mean()
        stages.append((x * scale, r * scale))
    if target is None:
        return x * scale, stages
    error = x - target / scale
    discrepancy = torch.cat([error.real, error.imag], dim=1).pow(2).mean()
    return x * scale, stages, discrepancy + model.gamma * constraint


def units(y: torch.Tensor) -> torch.Tensor:
    """The scale ``sqrt(Σ|y|² / (H W)) / TYPICAL_RMS`` of each sample's masked k-space, ``(B, 1, 1, 1)``."""
    return (y.abs() ** 2).sum(dim=(1, 2, 3), keepdim=True).div(y.shape[-2] * y.shape[-1]).sqrt() / TYPICAL_RMS


def tiny_model(gamma: float = 0.01) -> ISTANetPlus:
    """Three phases of four 3×3 filters, in float64, with a different ρ_k and θ_k in every phase."""
    torch.manual_seed(3)
    model = ISTANetPlus(n_phases=3, n_filters=4, kernel_size=3, gamma=gamma).double()
    with torch.no_grad():
        for k, phase in enumerate(model.phases):
            phase.rho.fill_(0.35 + 0.3 * k)
            phase.theta.fill_(0.15 + 0.1 * k)
    return model


def problem(per_sample: bool, batch: int = 2):
    target = random(batch, 1, SIZE, SIZE, seed=30)
    mask = random_mask((batch, 1, SIZE, SIZE) if per_sample else (SIZE, SIZE), seed=31, fraction=0.5)
    noise = random(batch, 1, SIZE, SIZE, seed=32)  # non-zero outside the mask too: the model must mask it away
    full = dense_operator(torch.ones(SIZE, SIZE, dtype=torch.bool), None, batch)
    return apply(full, target, (1, SIZE, SIZE)) + 0.1 * noise, mask, target


@pytest.mark.parametrize("per_sample", [False, True])
def test_every_phase_is_the_gradient_step_and_the_learned_proximal_step(per_sample):
    model = tiny_model()
    kspace, mask, _ = problem(per_sample)
    with torch.no_grad():
        x, stages = model(kspace, mask, return_stages=True)
    expected, expected_stages = reference(model, kspace, mask)
    assert torch.allclose(x, expected, atol=1e-10)
    assert len(stages) == len(expected_stages) == 3
    for stage, (x_k, r_k) in zip(stages, expected_stages, strict=True):
        assert torch.allclose(stage["r"], r_k, atol=1e-10) and torch.allclose(stage["x"], x_k, atol=1e-10)


def test_the_thresholds_are_active_in_the_reference_problem():
    """The comparison above means something only if soft(·, θ_k) both zeroes and keeps features."""
    model = tiny_model()
    kspace, mask, _ = problem(False)
    phase = model.phases[0]
    with torch.no_grad():
        y = kspace * mask
        x0 = apply([a.conj().T for a in dense_operator(mask, None, 2)], y / units(y), (1, SIZE, SIZE))
        sparse = phase.F(phase.D(torch.cat([x0.real, x0.imag], dim=1)))
    zeroed = float((sparse.abs() <= phase.theta.item()).double().mean())
    assert 0.1 < zeroed < 0.9


@pytest.mark.parametrize("gamma, batch", [(0.0, 2), (0.5, 3)])
def test_training_loss_is_discrepancy_plus_gamma_times_the_symmetry_constraint(gamma, batch):
    model = tiny_model(gamma)
    kspace, mask, target = problem(True, batch)
    loss = model.training_loss({"kspace": kspace, "mask": mask, "target": target, "ratio": None})
    _, _, expected = reference(model, kspace, mask, target)
    assert loss.ndim == 0 and torch.allclose(loss, expected, rtol=1e-10)
    with pytest.raises(TypeError, match="^target must be a complex tensor"):
        model.training_loss({"kspace": kspace, "mask": mask, "target": target.real})
    with pytest.raises(ValueError, match="^target must have 4 dimensions"):
        model.training_loss({"kspace": kspace, "mask": mask, "target": target[:, 0]})


def test_the_zero_update_start_is_plain_gradient_descent_with_each_phases_step():
    torch.manual_seed(0)
    model = ISTANetPlus(n_phases=3, n_filters=2, init="gradient_steps").double()
    steps = (0.2, 0.9, 0.5)
    with torch.no_grad():
        for phase, step in zip(model.phases, steps, strict=True):
            phase.rho.fill_(step)
    kspace, mask, _ = problem(True)
    matrices = dense_operator(mask, None, 2)
    adjoints = [a.conj().T for a in matrices]
    y = kspace * mask
    x = apply(adjoints, y, (1, SIZE, SIZE))
    for step in steps:
        x = x - step * apply(adjoints, apply(matrices, x, (1, SIZE, SIZE)) - y, (1, SIZE, SIZE))
    with torch.no_grad():
        assert torch.allclose(model(kspace, mask), x, atol=1e-12)
    assert x.dtype == DTYPE


def test_defaults_are_the_papers_and_any_odd_kernel_keeps_the_image_size():
    """N_p = 9 phases of N_f = 32 filters, 3×3, ρ_k = 0.5, θ_k = 0.01 (the official code's), γ = 0.01."""
    model = ISTANetPlus()
    assert len(model.phases) == 9 and model.gamma == 0.01 and model.config["init"] == "paper"
    assert all(p.rho.item() == 0.5 and p.theta.item() == pytest.approx(0.01, rel=1e-6) for p in model.phases)
    assert model.phases[0].D.weight.shape == (32, 2, 3, 3) and model.phases[0].D.bias is None
    torch.manual_seed(0)
    wide = ISTANetPlus(n_phases=1, n_filters=2, kernel_size=5).double()
    kspace, mask, _ = problem(False)
    with torch.no_grad():
        assert wide(kspace, mask).shape == (2, 1, SIZE, SIZE)
    _, stages = reference(wide, kspace, mask)
    with torch.no_grad():
        assert torch.allclose(wide(kspace, mask), stages[-1][0], atol=1e-10)


def test_a_one_phase_model_with_a_one_by_one_kernel_is_allowed():
    """The smallest settings the constructor documents as valid (positive integers, odd kernel size)."""
    model = ISTANetPlus(n_phases=1, n_filters=1, kernel_size=1, step_init=0, threshold_init=0, gamma=0)
    assert len(model.phases) == 1 and model.phases[0].D.weight.shape == (1, 2, 1, 1)
    assert model.config == {"n_phases": 1, "n_filters": 1, "kernel_size": 1, "step_init": 0.0,
                            "threshold_init": 0.0, "gamma": 0.0, "init": "paper"}
    assert sum(p.numel() for p in model.parameters()) == ISTANetPlus.parameter_count(1, 1, 1)
    for bad, message in (({"kernel_size": 4}, "kernel_size must be odd"),
                         ({"kernel_size": 0}, "kernel_size must be a positive integer"),
                         ({"n_phases": 0}, "n_phases must be a positive integer"),
                         ({"n_filters": True}, "n_filters must be a positive integer"),
                         ({"gamma": -0.1}, "gamma must be a non-negative number"),
                         ({"threshold_init": False}, "threshold_init must be a non-negative number"),
                         ({"step_init": "0.5"}, "step_init must be a non-negative number"),
                         ({"init": "xavier"}, "init must be 'paper' or 'gradient_steps'")):
        with pytest.raises(ValueError, match=f"^{message}"):
            ISTANetPlus(**bad)
