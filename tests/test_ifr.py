"""IFR-CS and IFR-Net: DCT bases, the DCT-frame denoiser, the feature descriptor (eq. 13), S_PLF (eq. 9), the
closed-form reconstruction step (eq. 6), the gradient form of the u-update (eq. 4), IFR-CS and every IFRNet option."""

import math

import pytest
import torch

from mrilab.classical import ifr_cs, soft_threshold
from mrilab.ifr import (
    PiecewiseLinear,
    control_points,
    dct_bases,
    dct_shrinkage,
    feature_descriptor,
    feature_refinement,
    gaussian_kernel,
    piecewise_linear,
)
from mrilab.masks import radial_mask
from mrilab.metrics import psnr
from mrilab.models import IFRNet
from mrilab.ops import MRIOperator, batch_to_complex, complex_to_batch, fft2c


def phantom(n: int) -> torch.Tensor:
    """A piecewise-constant head: a disc with two brighter squares and a dark ellipse, ``(n, n)`` complex."""
    t = torch.linspace(-1, 1, n)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    image = 0.6 * (xx**2 + yy**2 < 0.8).float()
    image += 0.3 * ((xx - 0.2).abs() < 0.15).float() * ((yy + 0.1).abs() < 0.25).float()
    image += 0.2 * ((xx + 0.35).abs() < 0.1).float() * ((yy - 0.3).abs() < 0.1).float()
    image -= 0.4 * (((xx + 0.1) / 0.3) ** 2 + ((yy + 0.4) / 0.15) ** 2 < 1).float()
    return image.to(torch.complex64)


def step_image(n: int = 32) -> torch.Tensor:
    image = torch.zeros(1, 1, n, n)
    image[..., n // 2:] = 1.0
    return image


# -- DCT bases and the IFR-CS denoiser ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", [3, 5])
def test_dct_bases_are_orthonormal_and_the_first_is_constant(size):
    full = dct_bases(size, constant=True).reshape(size**2, -1).double()
    assert torch.allclose(full @ full.T, torch.eye(size**2, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(full[0], torch.full((size**2,), 1 / size, dtype=torch.float64), atol=1e-6)
    detail = dct_bases(size)
    assert detail.shape == (size**2 - 1, size, size)
    assert torch.allclose(detail.sum(dim=(1, 2)), torch.zeros(size**2 - 1), atol=1e-6)  # no DC response


def test_dct_bases_rejects_a_bad_size():
    with pytest.raises(ValueError, match="size"):
        dct_bases(1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_dct_shrinkage_at_zero_threshold_is_the_identity_tight_frame(dtype):
    x = torch.randn(2, 1, 16, 12, dtype=dtype)
    assert torch.allclose(dct_shrinkage(x, 0.0), x, atol=1e-5)


def test_dct_shrinkage_removes_noise_and_keeps_the_local_mean():
    torch.manual_seed(0)
    clean = phantom(32).real[None, None].float()
    noisy = clean + 0.05 * torch.randn_like(clean)
    assert ((dct_shrinkage(noisy, 0.1) - clean).norm() < (noisy - clean).norm())
    constant = torch.full((1, 1, 8, 8), 0.7)
    assert torch.allclose(dct_shrinkage(constant, 10.0), constant, atol=1e-6)


# -- the feature descriptor --------------------------------------------------------------------------------------
def test_feature_descriptor_lies_in_zero_one_and_vanishes_on_flat_regions():
    torch.manual_seed(0)
    u = torch.rand(3, 1, 32, 32)
    T = feature_descriptor(u, 1e-3)
    assert T.shape == u.shape and float(T.min()) >= 0 and float(T.max()) <= 1
    assert float(feature_descriptor(torch.full((1, 1, 16, 16), 0.3), 1e-3).abs().max()) == 0.0


def test_feature_descriptor_is_large_at_edges_and_shrinks_with_V():
    u = step_image()
    T = feature_descriptor(u, 1e-3)
    edge, far = T[0, 0, :, 15:17].mean(), T[0, 0, :, 2:6].mean()
    assert float(edge) > 0.05 and float(far) < 1e-6
    line = torch.zeros(1, 1, 32, 32)
    line[..., 16] = 1.0  # a one-pixel line: blurring destroys more of it than of an edge
    assert float(feature_descriptor(line, 1e-3)[0, 0, :, 16].mean()) > float(edge)
    assert float(feature_descriptor(u, 1e-1).sum()) < float(T.sum())


def test_feature_descriptor_stays_float32_under_autocast():
    torch.manual_seed(0)
    u = torch.rand(2, 1, 24, 24, dtype=torch.complex64)
    expected = feature_descriptor(u.to(torch.complex128), 1e-2).float()  # autocast leaves float64 alone
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = feature_descriptor(u, 1e-2)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_feature_descriptor_of_a_complex_image_uses_its_magnitude():
    torch.manual_seed(0)
    magnitude = torch.rand(1, 1, 24, 24)
    phase = torch.linspace(0, 3, 24).reshape(1, 1, 1, 24)
    assert torch.allclose(feature_descriptor(magnitude * torch.exp(1j * phase), 1e-2),
                          feature_descriptor(magnitude, 1e-2), atol=1e-5)


def test_feature_descriptor_sum_reading_equals_mean_reading_with_scaled_V():
    # σ as sums over the N_w = window² pixels of a patch is N_w × the mean: T_sum(V) = T_mean(V / N_w)
    torch.manual_seed(0)
    u = torch.rand(1, 1, 20, 20).double()
    window = 5
    T_mean = feature_descriptor(u, 1e-3 / window**2, window=window)
    p = u[0, 0, 6:11, 6:11]
    kernel = gaussian_kernel(1.0).double()
    padded = torch.nn.functional.pad(u, (2, 2, 2, 2), mode="reflect")
    q = torch.nn.functional.conv2d(padded, kernel[None, None])[0, 0, 6:11, 6:11]
    sp2, sq2 = ((p - p.mean()) ** 2).sum(), ((q - q.mean()) ** 2).sum()
    spq = ((p - p.mean()) * (q - q.mean())).sum()
    T_sum = 1 - abs((2 * spq + 1e-3) / (sp2 + sq2 + 1e-3))
    assert math.isclose(float(T_mean[0, 0, 8, 8]), float(T_sum), rel_tol=1e-6)


@pytest.mark.parametrize("kwargs, match", [({"V": 0.0}, "V must be"), ({"V": 1e-2, "window": 4}, "window")])
def test_feature_descriptor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        feature_descriptor(torch.rand(1, 1, 16, 16), **kwargs)


def test_feature_refinement_adds_back_the_residual_where_T_says():
    x, u = torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)
    x_t, T = feature_refinement(x, u, 1e-2)
    assert torch.allclose(x_t, u + T * (x - u))


# -- S_PLF ---------------------------------------------------------------------------------------------------------
def test_plf_initialised_from_soft_thresholding_equals_it_on_the_grid_and_beyond():
    layer = PiecewiseLinear(101, threshold=0.1)
    alpha = torch.cat([control_points(101), torch.linspace(-3, 3, 257)])
    assert torch.allclose(layer(alpha), soft_threshold(alpha, 0.1), atol=1e-6)


def test_plf_is_continuous_with_slope_one_outside():
    torch.manual_seed(0)
    q = torch.randn(11)
    p = control_points(11)
    eps = 1e-6
    for point in torch.cat([p, torch.tensor([-1.0, 1.0])]):
        left = piecewise_linear(torch.tensor([float(point) - eps]).double(), q.double())
        right = piecewise_linear(torch.tensor([float(point) + eps]).double(), q.double())
        assert abs(float(left - right)) < 1e-4
    assert torch.allclose(piecewise_linear(torch.tensor([-2.0, 3.0]), q), torch.stack([q[0] - 1, q[-1] + 2]))


def test_plf_gradient_with_respect_to_q_is_the_interpolation_weights():
    q = torch.zeros(5, dtype=torch.float64, requires_grad=True)  # p = −1, −0.5, 0, 0.5, 1
    piecewise_linear(torch.tensor([0.2], dtype=torch.float64), q).sum().backward()
    assert torch.allclose(q.grad, torch.tensor([0, 0, 0.6, 0.4, 0], dtype=torch.float64))
    q.grad = None
    piecewise_linear(torch.tensor([-4.0, 2.0], dtype=torch.float64), q).sum().backward()
    assert torch.allclose(q.grad, torch.tensor([1, 0, 0, 0, 1], dtype=torch.float64))
    alpha = torch.tensor([-1.7, -0.33, 0.12, 0.9, 1.4], dtype=torch.float64, requires_grad=True)
    q2 = torch.randn(7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, v: piecewise_linear(a, v), (alpha, q2))


def naive_plf(alpha, q):
    """Eq. (9) term by term, differentiated by autograd: the segment's two control values, interpolated."""
    p = torch.linspace(-1.0, 1.0, q.shape[0], dtype=q.dtype)  # the p_i of control_points, in q's precision
    clamped = alpha.clamp(-1.0, 1.0)
    r = ((clamped + 1) / (p[1] - p[0])).detach().floor().long().clamp_max(q.shape[0] - 2)
    inside = q[r] + (clamped - p[r]) * (q[r + 1] - q[r]) / (p[r + 1] - p[r])
    return inside + (alpha - clamped)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_plf_and_its_gradients_equal_autograd_through_the_naive_formula(dtype):
    generator = torch.Generator().manual_seed(3)
    alpha = (1.5 * torch.randn(4, 3, 9, 9, generator=generator, dtype=dtype)).requires_grad_()
    q = torch.randn(21, generator=generator, dtype=dtype).requires_grad_()
    weights = torch.randn(alpha.shape, generator=generator, dtype=dtype)
    ours = piecewise_linear(alpha, q)
    naive = naive_plf(alpha, q)
    torch.testing.assert_close(ours, naive)
    grads = [torch.autograd.grad((f * weights).sum(), (alpha, q)) for f in (ours, naive)]
    for got, expected in zip(*grads, strict=True):
        torch.testing.assert_close(got, expected)


def test_plf_rejects_a_bad_q():
    with pytest.raises(ValueError, match="q must be"):
        piecewise_linear(torch.zeros(3), torch.zeros(2, 5))


# -- eq. (6) and eq. (4) -------------------------------------------------------------------------------------------
def test_reconstruction_step_is_the_minimiser_of_its_subproblem():
    torch.manual_seed(0)
    n, rho = 16, 0.3
    mask = radial_mask((n, n), 0.3)
    op = MRIOperator(mask)
    y = mask * fft2c(torch.randn(1, 1, n, n, dtype=torch.complex128))
    z = torch.randn(1, 1, n, n, dtype=torch.complex128)
    x = op.soft_dc(z, y, rho).clone().requires_grad_(True)
    objective = 0.5 * (op.forward(x) - y).abs().pow(2).sum() + rho / 2 * (x - z).abs().pow(2).sum()
    (gradient,) = torch.autograd.grad(objective, x)
    assert float(gradient.abs().max()) < 1e-10


def test_u_update_is_a_gradient_step_with_mu1_mu2():
    # eq. (4): u_new = (1 − ρ l_r) u + ρ l_r x − l_r ∇R(u) is one gradient step on ρ/2 ‖x − u‖² + R(u)
    torch.manual_seed(0)
    rho, lr, lam = 0.7, 0.2, 0.05
    x, u = torch.randn(1, 1, 12, 12, dtype=torch.float64), torch.randn(1, 1, 12, 12, dtype=torch.float64)
    filters = dct_bases(3).double()[:, None]

    def R(v):  # a smooth sparsity penalty: Huber of the DCT responses
        c = torch.nn.functional.conv2d(v, filters, padding=1)
        return lam * torch.where(c.abs() < 0.1, c**2 / 0.2, c.abs() - 0.05).sum()

    v = u.clone().requires_grad_(True)
    (grad_R,) = torch.autograd.grad(R(v), v)
    mu1, mu2 = 1 - rho * lr, rho * lr
    update = mu1 * u + mu2 * x - lr * grad_R
    v = u.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(rho / 2 * (x - v).pow(2).sum() + R(v), v)
    assert torch.allclose(update, u - lr * grad)


# -- IFR-CS --------------------------------------------------------------------------------------------------------
def phantom_problem(n: int = 32, ratio: float = 0.3) -> tuple[MRIOperator, torch.Tensor, torch.Tensor]:
    target = phantom(n)[None, None].to(torch.complex64)
    mask = radial_mask((n, n), ratio)
    return MRIOperator(mask), mask * fft2c(target), target


def test_ifr_cs_improves_on_zero_filling_and_settles():
    op, y, target = phantom_problem()
    x, history = ifr_cs(op, y, 0.005, rho=0.5, V=0.01, iterations=40, keep_iterates=True)
    assert float(psnr(x, target)) > float(psnr(op.adjoint(y), target)) + 1
    iterates = history.iterates
    changes = [float((b - a).norm() / b.norm()) for a, b in zip(iterates[1:], iterates[2:], strict=False)]
    assert changes[-1] < changes[0]
    assert len(history.iterates) == 41


def test_ifr_cs_without_refinement_is_plain_splitting():
    op, y, _ = phantom_problem()
    x, _ = ifr_cs(op, y, 0.005, rho=0.5, iterations=3, refine=False)
    expected = op.adjoint(y)
    for _ in range(3):
        z = op.soft_dc(expected, y, 0.5)
        expected = dct_shrinkage(z, 0.005 / 0.5)
    assert torch.allclose(x, z, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [({"rho": 0}, "rho"), ({"V": -1.0}, "V"), ({"iterations": 0}, "iterations")])
def test_ifr_cs_rejects_bad_arguments(kwargs, match):
    op, y, _ = phantom_problem(16)
    with pytest.raises(ValueError, match=match):
        ifr_cs(op, y, **kwargs)


# -- IFRNet options --------------------------------------------------------------------------------------------------
OPTIONS = [
    {},
    {"n_stages": 3, "n_blocks": 3},
    {"n_filters": 16, "init": "random"},
    {"shared": True},
    {"refine": False},
    {"out_size": 5, "n_points": 21},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_ifrnet_options_parameter_count_stages_and_gradients(options):
    torch.manual_seed(0)
    model = IFRNet(**{"n_stages": 2, **options})
    counted = sum(p.numel() for p in model.parameters())
    keys = ("n_stages", "n_blocks", "n_filters", "filter_size", "out_size", "n_points", "shared", "refine")
    assert counted == IFRNet.parameter_count(**{k: model.config[k] for k in keys})
    op, y, target = phantom_problem(16)
    x, stages = model(y, op.mask.reshape(16, 16), return_stages=True)
    assert len(stages) == model.config["n_stages"]
    expected = {"x_in", "u", "x_t", "x"} | ({"T"} if model.config["refine"] else set())
    assert all(set(stage) == expected for stage in stages)
    loss = model.training_loss({"kspace": y, "mask": op.mask.reshape(16, 16), "target": target})
    assert math.isclose(float(loss.detach()), float((x.detach() - target).norm() / target.norm()), rel_tol=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_ifrnet_paper_defaults_have_3599_parameters():
    model = IFRNet()
    assert sum(p.numel() for p in model.parameters()) == 3599 == IFRNet.parameter_count()


def test_ifrnet_dct_init_sets_the_eight_bases_and_adjoint_second_layer():
    model = IFRNet(n_stages=1, step=0.05)
    block = model.denoisers[0][0]
    assert torch.allclose(block.c1.weight[:, 0], dct_bases(3))
    assert torch.allclose(block.c2.weight[0], 0.05 * dct_bases(3).flip(-2, -1))
    torch.manual_seed(0)
    random = IFRNet(n_stages=1, init="random").denoisers[0][0].c1.weight
    assert not torch.allclose(random[:, 0], dct_bases(3))


def test_ifrnet_shared_weights_use_one_denoiser():
    model = IFRNet(n_stages=4, shared=True)
    assert len(model.denoisers) == 1
    assert len(IFRNet(n_stages=4).denoisers) == 4


def test_ifrnet_keeps_rho_and_V_positive():
    model = IFRNet(n_stages=2)
    with torch.no_grad():
        model.log_rho.sub_(50)
        model.log_V.sub_(50)
    assert bool((model.rho > 0).all()) and bool((model.V > 0).all())


@pytest.mark.parametrize("kwargs, match", [
    ({"n_filters": 16}, "init='random'"), ({"init": "gabor"}, "init must be"), ({"shared": 1}, "shared"),
    ({"filter_size": 4}, "odd"), ({"rho": 0}, "rho"), ({"mu": 2}, "mu"), ({"n_points": 1}, "n_points"),
])
def test_ifrnet_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IFRNet(**kwargs)


def test_real_imaginary_batch_round_trip_and_errors():
    z = torch.randn(3, 1, 4, 5, dtype=torch.complex64)
    assert torch.equal(batch_to_complex(complex_to_batch(z)), z)
    with pytest.raises(ValueError, match="even number of images"):
        batch_to_complex(torch.zeros(3, 1, 4, 4))
    with pytest.raises(TypeError):
        complex_to_batch(torch.zeros(2, 1, 4, 4))
