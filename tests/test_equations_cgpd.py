"""CGPD-CSNet against a naive reference of Fan et al.'s stage (eqs. 3–11), on tiny models with random parameters.

Stage ℓ, from ``x_0 = T^H y`` (or 0):

* D_ℓ (eq. 3/7): ``h_ℓ = x_{ℓ−1} − η_ℓ T^H(T x_{ℓ−1} − y)``;
* C_ℓ (eqs. 4–5): ``e_ℓ = I^P F_{2h}^H S_ℓ I^R (y − T h_ℓ)``: restriction (2×2 convolution, stride 2) of the
  k-space residual, the solution operator ``S_ℓ = I + conv ∘ ResBlocks ∘ conv``, the centred inverse DFT on the
  coarse ``H/2 × W/2`` grid, prolongation (2×2 transposed convolution, stride 2);
* P_ℓ (eqs. 8–9): ``x_ℓ = W_ℓ ∗ F_{ℓ,k}``, the dense block ``F_{ℓ,j} = [F_{ℓ,j−1}, ReLU(G_{ℓ,j} ∗ F_{ℓ,j−1})]`` on
  ``F_{ℓ,0} = m_ℓ = [h_ℓ, e_ℓ, β_ℓ]`` (β_ℓ a constant channel);
* CM (eq. 10): ``[η, β] = softplus(L₃ ReLU(L₂ ReLU(L₁ α)))`` of the sampling ratio α (the mask's, when none is given);
* loss (eq. 11): ``(1/(n_t mn)) Σ_i ‖x_i^{n_s} − x_i^*‖₁ + ‖x_i^{n̄_s} − x_i^*‖₁``, ``n̄_s = (n_s + 1)/2``.

The reference uses dense matrices for T and the coarse DFT and explicit sums for every convolution. Every parameter
is random (the untrained network is the identity on ``T^H y``, where nothing could be checked), and η_ℓ, β_ℓ differ
from stage to stage, so a stage reading another stage's η or β shows.
"""

import math

import pytest
import torch

from mrilab.models.cgpd_csnet import CGPDCSNet
from mrilab.ops import MRIOperator

from .test_equations_ista_net import conv2d, relu, units
from .test_equations_ops import apply, dense_operator, dft_matrix, random, random_mask

H, W = 8, 6  # not square: height and width must not be confused
TINY = {"features": 4, "depth": 2, "n_stages": 3, "n_resblocks": 1}
DEFAULTS = {"correction": True, "condition": "both", "share_correction": False, "share_prior": False,
            "init": "adjoint"}


def double(t: torch.Tensor) -> torch.Tensor:
    return t.detach().double()


def transposed_conv2x2(e: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The stride-2, 2×2 transposed convolution: ``out[o, 2i + a, 2j + d] = Σ_c w[c, o, a, d] e[c, i, j] + b[o]``."""
    batch, _, height, width = e.shape
    out = torch.zeros(batch, weight.shape[1], 2 * height, 2 * width, dtype=e.dtype)
    for a in range(2):
        for d in range(2):
            out[:, :, a::2, d::2] = torch.einsum("co,bcij->boij", double(weight[:, :, a, d]), e)
    return out + double(bias).view(1, -1, 1, 1)


def conv(layer: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return conv2d(x, double(layer.weight), double(layer.bias), stride=layer.stride[0], padding=layer.padding[0])


def softplus(v: torch.Tensor) -> torch.Tensor:
    return torch.log1p(torch.exp(v))


def condition(model: CGPDCSNet, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """η and β ``(B, n_s)``: the three linear layers of CM by hand for the quantities the ``condition`` option gives
    to CM (Table II), softplus of the free per-stage parameters for the others."""
    options = model.test_options
    n_s = options["n_stages"]
    eta_from_cm = options["condition"] in ("both", "eta")
    beta_from_cm = options["condition"] in ("both", "beta")
    assert (model.condition_module is None) == (not eta_from_cm and not beta_from_cm)
    out = None
    if model.condition_module is not None:
        l1, l2, l3 = (model.condition_module.net[i] for i in (0, 2, 4))
        assert l3.out_features == n_s * (eta_from_cm + beta_from_cm)
        hidden = relu(alpha[:, None] @ double(l1.weight).T + double(l1.bias))
        hidden = relu(hidden @ double(l2.weight).T + double(l2.bias))
        out = softplus(hidden @ double(l3.weight).T + double(l3.bias))
    batch = alpha.shape[0]
    eta = out[:, :n_s] if eta_from_cm else softplus(double(model.eta_free)).expand(batch, n_s)
    beta = out[:, out.shape[1] - n_s :] if beta_from_cm else softplus(double(model.beta_free)).expand(batch, n_s)
    return eta, beta


def reference(model: CGPDCSNet, kspace: torch.Tensor, mask: torch.Tensor, ratio=None) -> list[dict]:
    """Every stage's ``{"D": h_ℓ, "C": h_ℓ + e_ℓ, "x": x_ℓ}`` (complex128) by the equations above.

    What the network is (stages, C on or off, shared modules, start) comes from the options the test built it with;
    only the learned weights are read off the model.
    """
    options = model.test_options
    n_s = options["n_stages"]
    corrections = model.corrections if options["correction"] else None
    assert (model.corrections is None) == (not options["correction"])
    if corrections is not None:
        assert len(corrections) == (1 if options["share_correction"] else n_s)
    assert len(model.priors) == (1 if options["share_prior"] else n_s)
    batch = kspace.shape[0]
    matrices = dense_operator(mask, None, batch)
    adjoints = [a.conj().T for a in matrices]
    shape = (1, H, W)
    masks = (mask if mask.ndim == 4 else mask[None, None]).expand(batch, 1, H, W)
    y = kspace * masks
    scale = units(y)
    y = y / scale  # the model works in units of the data's RMS scale (the model contract)
    if ratio is None:
        alpha = torch.tensor([float(masks[b].double().mean()) for b in range(batch)], dtype=torch.float64)
    else:
        alpha = torch.as_tensor(ratio, dtype=torch.float64).reshape(-1).expand(batch)
    eta, beta = condition(model, alpha)
    coarse_h, coarse_w = dft_matrix(H // 2).conj().T, dft_matrix(W // 2).conj().T  # centred inverse DFTs, coarse grid
    x = apply(adjoints, y, shape) if options["init"] == "adjoint" else torch.zeros_like(y)
    stages = []
    for stage in range(n_s):
        h = x - eta[:, stage].view(-1, 1, 1, 1) * apply(adjoints, apply(matrices, x, shape) - y, shape)
        parts = [h.real, h.imag]
        corrected = h
        if corrections is not None:
            module = corrections[0 if options["share_correction"] else stage]
            residual = y - apply(matrices, h, shape)
            restricted = conv(module.restriction, torch.cat([residual.real, residual.imag], dim=1))
            body = module.solution.body
            assert len(body) == options["n_resblocks"] + 2
            z = conv(body[0], restricted)
            for block in body[1:-1]:
                z = z + conv(block.body[2], relu(conv(block.body[0], z)))
            solved = restricted + conv(body[-1], z)
            k = torch.complex(solved[:, :1], solved[:, 1:])
            image = torch.einsum("kj,bcjl,ml->bckm", coarse_h, k, coarse_w)
            prolonged = transposed_conv2x2(torch.cat([image.real, image.imag], dim=1), module.prolongation.weight,
                                           module.prolongation.bias)
            e = torch.complex(prolonged[:, :1], prolonged[:, 1:])
            parts += [e.real, e.imag]
            corrected = h + e
        parts.append(beta[:, stage].view(-1, 1, 1, 1).expand(batch, 1, H, W))
        prior = model.priors[0 if options["share_prior"] else stage]
        assert len(prior.layers) == options["depth"]
        features = torch.cat(parts, dim=1)
        for layer in prior.layers:
            features = torch.cat([features, relu(conv(layer, features))], dim=1)
        out = conv(prior.fuse, features)
        x = torch.complex(out[:, :1], out[:, 1:])
        stages.append({"D": h, "C": corrected, "x": x})
    return [{key: value * scale for key, value in stage.items()} for stage in stages]


def random_model(seed: int = 0, **options) -> CGPDCSNet:
    torch.manual_seed(seed)
    model = CGPDCSNet(**{**TINY, **options})
    model.test_options = {**DEFAULTS, **TINY, **options}
    generator = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.4 * torch.randn(parameter.shape, generator=generator))
    return model


def problem(per_sample: bool = True):
    target = random(2, 1, H, W, seed=40)
    full = dense_operator(torch.ones(H, W, dtype=torch.bool), None, 2)
    kspace = apply(full, target, (1, H, W)) + 0.05 * random(2, 1, H, W, seed=41)
    if per_sample:
        mask = torch.stack([random_mask((1, H, W), seed=42, fraction=0.3),
                            random_mask((1, H, W), seed=43, fraction=0.6)])
    else:
        mask = random_mask((H, W), seed=44, fraction=0.45)
    return kspace.to(torch.complex64), mask, target.to(torch.complex64)


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """float32 model against the float64 reference: relative error of the whole tensor."""
    error = float((actual.to(expected.dtype) - expected).norm() / expected.norm())
    assert error < 2e-5, error


VARIANTS = {
    "paper": ({}, None),
    "zero start, ratio given": ({"init": "zero"}, torch.tensor([0.35, 0.7])),
    "no C, eta from CM": ({"correction": False, "condition": "eta"}, 0.5),
    "beta from CM, shared C and P": ({"condition": "beta", "share_correction": True, "share_prior": True}, None),
    "no CM, shared P": ({"condition": "none", "share_prior": True}, None),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_stage_is_pre_relaxation_coarse_correction_and_prior(variant):
    options, ratio = VARIANTS[variant]
    model = random_model(**options)
    kspace, mask, _ = problem()
    with torch.no_grad():
        x, stages = model(kspace, mask, ratio=ratio, return_stages=True)
    expected = reference(model, kspace.to(torch.complex128), mask, ratio)
    assert len(stages) == len(expected) == model.test_options["n_stages"]
    for stage, want in zip(stages, expected, strict=True):
        for key in ("D", "C", "x"):
            assert_close(stage[key], want[key])
    assert torch.equal(x, stages[-1]["x"])


def test_each_stage_uses_its_own_step_and_noise_level():
    """η_ℓ and β_ℓ from CM differ between stages and ratios (else a stage reading the wrong one would not show)."""
    model = random_model()
    eta, beta = model.condition(torch.tensor([0.3, 0.6]))
    assert eta.shape == beta.shape == (2, TINY["n_stages"])
    eta, beta = eta.detach(), beta.detach()
    assert float(eta[0].max() - eta[0].min()) > 0.05 and float(beta[0].max() - beta[0].min()) > 0.05
    expected_eta, expected_beta = condition(model, torch.tensor([0.3, 0.6], dtype=torch.float64))
    assert_close(eta, expected_eta)
    assert_close(beta, expected_beta)
    single_eta, single_beta = model.condition(0.3)
    assert single_eta.shape == (1, TINY["n_stages"])
    assert torch.allclose(single_eta[0], eta[0]) and torch.allclose(single_beta[0], beta[0])
    with torch.device("meta"):  # α goes to the model's device, not to the default one
        assert model.condition(0.3)[0].device == torch.device("cpu")


def test_the_noise_level_enters_the_prior_as_a_constant_channel():
    """Only β changes between two calls: the output moves, and exactly as the reference with that β moves."""
    model = random_model(condition="none")
    kspace, mask, _ = problem(False)
    with torch.no_grad():
        before = model(kspace, mask)
        model.beta_free.add_(torch.tensor([0.5, -0.3, 0.2]))
        after = model(kspace, mask)
    assert float((after - before).abs().max()) > 1e-3
    assert_close(after, reference(model, kspace.to(torch.complex128), mask)[-1]["x"])


@pytest.mark.parametrize("n_stages", [3, 4])
def test_training_loss_is_eq11_on_the_last_and_the_middle_stage(n_stages):
    model = random_model(n_stages=n_stages)
    kspace, mask, target = problem()
    ratio = torch.tensor([0.3, 0.6])
    loss = model.training_loss({"kspace": kspace, "mask": mask, "target": target, "ratio": ratio})
    stages = reference(model, kspace.to(torch.complex128), mask, ratio)
    middle = (n_stages + 1) // 2  # n̄_s, 1-based
    per_sample = sum((stages[s - 1]["x"] - target.to(torch.complex128)).real.abs().sum(dim=(1, 2, 3))
                     + (stages[s - 1]["x"] - target.to(torch.complex128)).imag.abs().sum(dim=(1, 2, 3))
                     for s in (n_stages, middle))
    scale = units(kspace.to(torch.complex128) * mask).flatten()  # the loss is in units of the data's scale
    expected = (per_sample / scale).mean() / (H * W)
    assert loss.ndim == 0 and math.isclose(loss.item(), float(expected), rel_tol=2e-5)
    batch = {"kspace": kspace, "mask": mask, "ratio": ratio}
    with pytest.raises(TypeError, match=r"^target must be a complex tensor"):
        model.training_loss({**batch, "target": target.real})
    with pytest.raises(ValueError, match=r"^target must have 4 dimensions"):
        model.training_loss({**batch, "target": target[:, 0]})


def test_pre_relaxation_with_coils_is_the_gradient_step_of_the_dense_operator():
    """D_ℓ works for any operator T: with coil maps and per-sample masks it is ``x − η T^H(T x − y)`` too."""
    from mrilab.models.cgpd_csnet import pre_relaxation

    mask, sens = random_mask((2, 1, H, W), seed=45), random(2, 3, H, W, seed=46)
    matrices = dense_operator(mask, sens, 2)
    x, y = random(2, 1, H, W, seed=47), random(2, 3, H, W, seed=48)
    eta = torch.tensor([0.3, 1.7], dtype=torch.float64)
    gradient = apply([a.conj().T for a in matrices], apply(matrices, x, (3, H, W)) - y, (1, H, W))
    expected = x - eta.view(-1, 1, 1, 1) * gradient
    assert torch.allclose(pre_relaxation(x, y, MRIOperator(mask, sens), eta), expected, atol=1e-12)


def test_constructor_arguments_are_checked_by_name():
    model = CGPDCSNet(features=1, depth=1, n_stages=1, n_resblocks=0)  # the smallest valid network
    assert len(model.corrections[0].solution.body) == 2  # S_ℓ: two convolutions, no ResBlock
    for name, bad in (("features", 0), ("depth", 2.0), ("n_stages", True)):
        with pytest.raises(ValueError, match=f"^{name} must be a positive integer"):
            CGPDCSNet(**{name: bad})
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="^n_resblocks must be a non-negative integer"):
            CGPDCSNet(n_resblocks=bad)
    for name, bad in (("condition", "beta_eta"), ("init", "ones")):
        with pytest.raises(ValueError, match=f"^{name} must be one of"):
            CGPDCSNet(**{name: bad})
