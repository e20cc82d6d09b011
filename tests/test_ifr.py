"""IFR-CS and IFR-Net: DCT bases, the DCT-frame denoiser, the feature descriptor (eq. 13), S_PLF (eq. 9), the
closed-form reconstruction step (eq. 6), the gradient form of the u-update (eq. 4), IFR-CS and every IFRNet option;
and naive references (loops, dense matrices) of every equation of an IFR-Net stage, which the model must equal."""

import math

import numpy as np
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
from mrilab.models.base import TYPICAL_RMS
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
        piecewise_linear(torch.zeros(3), torch.zeros(2, 2, 5))
    with pytest.raises(ValueError, match="q must be"):
        piecewise_linear(torch.zeros(3), torch.zeros(1))


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
    {"descriptor_of": "x", "blur_sigma": 50.0, "blur_radius": 6, "plf_per_filter": True},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_ifrnet_options_parameter_count_stages_and_gradients(options):
    torch.manual_seed(0)
    model = IFRNet(**{"n_stages": 2, **options})
    counted = sum(p.numel() for p in model.parameters())
    keys = ("n_stages", "n_blocks", "n_filters", "filter_size", "out_size", "n_points", "shared", "refine")
    per_filter = model.config.get("plf_per_filter", False)
    assert counted == IFRNet.parameter_count(**{k: model.config[k] for k in keys}, plf_per_filter=per_filter)
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


# -- naive references: the equations written out with loops and dense matrices ----------------------------------------
# Each function below is eq. (6), (7)–(10), (11), (13) or (9) of the paper computed the slow way (NumPy float64,
# explicit loops over pixels, taps and patches, a dense DFT matrix), so that the tests pin IFRNet, its blocks and
# mrilab.ifr to the equations rather than to an earlier run of the same code.
def reflect(k: int, n: int) -> int:
    """Index ``k`` of a length-``n`` axis padded by reflection (the edge sample is not repeated)."""
    while k < 0 or k >= n:
        k = -k if k < 0 else 2 * (n - 1) - k
    return k


def dense_dft(n: int) -> np.ndarray:
    """The centred orthonormal 1-D DFT as an ``n × n`` matrix (``n`` even): rows and columns indexed from −n/2."""
    k = np.arange(n) - n // 2
    return np.exp(-2j * np.pi * np.outer(k, k) / n) / np.sqrt(n)


def naive_dc(x_t: np.ndarray, y: np.ndarray, mask: np.ndarray, rho: float) -> np.ndarray:
    """Eq. (6) with dense matrices: ``x = F^H diag(1 / (M + ρ)) (y + ρ F x_t)`` on the vectorised image."""
    h, w = x_t.shape
    F_ = np.kron(dense_dft(h), dense_dft(w))  # row-major vectorisation: the 2-D DFT is the Kronecker product
    m = mask.reshape(-1).astype(float)
    return (F_.conj().T @ ((y.reshape(-1) + rho * (F_ @ x_t.reshape(-1))) / (m + rho))).reshape(h, w)


def naive_conv(image: np.ndarray, kernel: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """``bias + kernel * image`` as a convolution layer computes it: correlation, zero padding, same size."""
    h, w = image.shape
    r = kernel.shape[0] // 2
    out = np.full((h, w), float(bias))
    for i in range(h):
        for j in range(w):
            for a in range(kernel.shape[0]):
                for b in range(kernel.shape[1]):
                    if 0 <= i + a - r < h and 0 <= j + b - r < w:
                        out[i, j] += kernel[a, b] * image[i + a - r, j + b - r]
    return out


def naive_plf_scalar(alpha: float, q: list[float]) -> float:
    """Eq. (9) for one number: the three cases, ``p_i`` uniform in [−1, 1], ``r = ⌊(α − p_1)/(p_2 − p_1)⌋``."""
    n = len(q)
    p = [-1 + 2 * i / (n - 1) for i in range(n)]
    if alpha < p[0]:
        return alpha + q[0] - p[0]
    if alpha > p[-1]:
        return alpha + q[-1] - p[-1]
    r = min(math.floor((alpha - p[0]) / (p[1] - p[0])), n - 2)  # 0-based; α = p_Nc uses the last segment
    return q[r] + (alpha - p[r]) * (q[r + 1] - q[r]) / (p[r + 1] - p[r])


def naive_blur(image: np.ndarray, sigma: float, radius: int) -> np.ndarray:
    """The Gaussian blur ``u_b`` of eq. (13): weights ``exp(−(a² + b²)/2σ²)`` on the square, normalised; reflection."""
    h, w = image.shape
    taps = [(a, b) for a in range(-radius, radius + 1) for b in range(-radius, radius + 1)]
    weights = [math.exp(-(a * a + b * b) / (2 * sigma**2)) for a, b in taps]
    total = sum(weights)
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = sum(g * image[reflect(i + a, h), reflect(j + b, w)] for g, (a, b) in zip(weights, taps,
                                                                                                strict=True)) / total
    return out


def naive_descriptor(u: np.ndarray, V: float, sigma: float = 1.0, radius: int = 2, window: int = 5) -> np.ndarray:
    """Eq. (13) with explicit patch loops: ``T = 1 − |(2σ_pq + V)/(σ_p² + σ_q² + V)|`` at every pixel.

    ``p`` is the ``window × window`` patch of ``|u|`` around the pixel and ``q`` that of its blur (both padded by
    reflection); ``σ`` are the population (co)variances of the patch, i.e. window means (the module's reading).
    """
    p_image = np.abs(u)
    q_image = naive_blur(p_image, sigma, radius)
    h, w = p_image.shape
    half = window // 2
    T = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            cells = [(reflect(i + a, h), reflect(j + b, w)) for a in range(-half, half + 1)
                     for b in range(-half, half + 1)]
            p = [p_image[c] for c in cells]
            q = [q_image[c] for c in cells]
            mean_p, mean_q = sum(p) / len(p), sum(q) / len(q)
            var_p = sum((v - mean_p) ** 2 for v in p) / len(p)
            var_q = sum((v - mean_q) ** 2 for v in q) / len(q)
            cov = sum((a - mean_p) * (b - mean_q) for a, b in zip(p, q, strict=True)) / len(p)
            T[i, j] = 1 - abs((2 * cov + V) / (var_p + var_q + V))
    return T


def naive_refinement(x: np.ndarray, u: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Eq. (11), pixel by pixel: ``x_t = u + T ⊗ (x − u)``."""
    x_t = np.zeros_like(u)
    for i in range(u.shape[0]):
        for j in range(u.shape[1]):
            x_t[i, j] = u[i, j] + T[i, j] * (x[i, j] - u[i, j])
    return x_t


def naive_block(u: np.ndarray, x: np.ndarray, block: torch.nn.Module) -> np.ndarray:
    """Eqs. (7)–(10) for one block: ``μ₁ u + μ₂ x − (w₂ * S_PLF(w₁ * u + b₁) + b₂)``, real and imaginary parts apart.

    ``u`` is the block's input ``u^(n,k−1)`` (``u^(n,0) = x^(n)``), as eq. (4) applies ``D_l`` to the previous iterate.
    """
    w1, b1 = block.c1.weight.detach().double().numpy(), block.c1.bias.detach().double().numpy()
    w2, b2 = block.c2.weight.detach().double().numpy(), block.c2.bias.detach().double().numpy()
    q = block.h.q.detach().double().numpy()
    mu1, mu2 = float(block.mu1.detach()), float(block.mu2.detach())
    out = []
    for u_part, x_part in ((u.real, x.real), (u.imag, x.imag)):
        c2 = np.full(u.shape, float(b2[0]))
        for l in range(w1.shape[0]):
            c1 = naive_conv(u_part, w1[l, 0], b1[l])
            q_l = list(q[l] if q.ndim == 2 else q)  # one S_PLF per filter, or one for the block
            h_l = np.vectorize(lambda a, q_l=q_l: naive_plf_scalar(float(a), q_l))(c1)
            c2 += naive_conv(h_l, w2[0, l])
        out.append(mu1 * u_part + mu2 * x_part - c2)
    return out[0] + 1j * out[1]


def naive_ifrnet(model: IFRNet, y: np.ndarray, mask: np.ndarray) -> list[dict]:
    """The stages of eq. (5) for one image, from the model's parameters alone.

    ``X^(1)``: ``x^(1) = F⁻¹[y / (M + ρ^(1))]`` (``x_t^(0) = 0``, the paper's initial step, not ``A^H y``); stage
    ``n``: ``K`` blocks from ``u^(n,0) = x^(n)``, ``T^(n)`` of the descriptor's image, ``x_t^(n)`` by eq. (11), and the
    next reconstruction module with ``ρ^(n+1)``.
    """
    config = {"descriptor_of": "u", "blur_radius": None, **model.config}  # options at their defaults are left out
    rho = model.rho.detach().double().numpy()
    V = model.V.detach().double().numpy() if model.V is not None else None
    radius = config["blur_radius"] if config["blur_radius"] is not None else math.ceil(2 * config["blur_sigma"])
    x = naive_dc(np.zeros(y.shape, dtype=complex), y, mask, rho[0])
    stages = []
    for n in range(config["n_stages"]):
        u = x
        for block in model.denoisers[0 if config["shared"] else n]:
            u = naive_block(u, x, block)
        stage = {"x_in": x, "u": u}
        if V is not None:
            source = u if config["descriptor_of"] == "u" else x
            stage["T"] = naive_descriptor(source, V[n], config["blur_sigma"], radius, config["window"])
            x_t = naive_refinement(x, u, stage["T"])
        else:
            x_t = u
        x = naive_dc(x_t, y, mask, rho[n + 1])
        stages.append({**stage, "x_t": x_t, "x": x})
    return stages


def perturbed_ifrnet(seed: int = 0, **options: object) -> IFRNet:
    """A small IFRNet (float64) with every parameter moved off its initial value and a distinct ρ^(n), V^(n) per stage.

    With equal ρ (or V) in every stage, a model that used the wrong stage's would still pass.
    """
    torch.manual_seed(seed)
    model = IFRNet(**{"n_stages": 2, "n_blocks": 2, "n_points": 11, **options}).double()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith("denoisers"):
                parameter.add_(0.1 * torch.randn_like(parameter))
        model.log_rho.copy_(torch.linspace(0.2, 1.9, model.log_rho.numel(), dtype=torch.float64).log())
        if model.log_V is not None:
            model.log_V.copy_(torch.linspace(0.01, 0.04, model.log_V.numel(), dtype=torch.float64).log())
    return model


def tiny_problem(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Measured k-space ``(1, 1, n, n)`` complex128 of a random image with a smooth part, and its radial mask."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.linspace(-1, 1, n, dtype=torch.float64)
    smooth = 0.5 + 0.3 * torch.outer(t, t.flip(0))
    image = smooth + 0.2 * torch.randn(n, n, generator=generator, dtype=torch.float64)
    image = image * torch.exp(0.5j * torch.outer(t, torch.ones_like(t)))
    mask = radial_mask((n, n), 0.4)
    return mask * fft2c(image[None, None]), mask


def test_dense_dft_is_the_operators_fft():
    x = torch.randn(6, 8, dtype=torch.complex128)
    dense = np.kron(dense_dft(6), dense_dft(8)) @ x.numpy().reshape(-1)
    np.testing.assert_allclose(dense.reshape(6, 8), fft2c(x[None, None])[0, 0].numpy(), atol=1e-12)


def test_soft_dc_is_eq_6_with_dense_matrices():
    y, mask = tiny_problem()
    x_t = torch.randn(1, 1, 8, 8, dtype=torch.complex128)
    got = MRIOperator(mask).soft_dc(x_t, y, 0.7)[0, 0].numpy()
    np.testing.assert_allclose(got, naive_dc(x_t[0, 0].numpy(), y[0, 0].numpy(), mask.numpy(), 0.7), atol=1e-12)


def test_feature_descriptor_is_eq_13_with_explicit_patch_loops():
    generator = torch.Generator().manual_seed(1)
    u = torch.rand(1, 1, 9, 7, generator=generator, dtype=torch.float64) * torch.exp(
        1j * torch.rand(1, 1, 9, 7, generator=generator, dtype=torch.float64))
    for sigma, radius, window in ((1.0, None, 5), (2.5, 3, 3)):
        got = feature_descriptor(u, 3e-3, blur_sigma=sigma, blur_radius=radius, window=window)[0, 0].numpy()
        expected = naive_descriptor(u[0, 0].numpy(), 3e-3, sigma, math.ceil(2 * sigma) if radius is None else radius,
                                    window)
        np.testing.assert_allclose(got, expected, atol=1e-10)


def test_feature_refinement_is_eq_11_of_the_descriptor_of_u():
    generator = torch.Generator().manual_seed(2)
    x, u = (torch.rand(1, 1, 8, 8, generator=generator, dtype=torch.float64).to(torch.complex128) for _ in range(2))
    x_t, T = feature_refinement(x, u, 1e-2)
    expected_T = naive_descriptor(u[0, 0].numpy(), 1e-2)
    np.testing.assert_allclose(T[0, 0].numpy(), expected_T, atol=1e-10)
    np.testing.assert_allclose(x_t[0, 0].numpy(), naive_refinement(x[0, 0].numpy(), u[0, 0].numpy(), expected_T),
                               atol=1e-10)
    x_t, T = feature_refinement(x, u, 1e-2, descriptor_of="x")  # the released code's choice: T of x
    np.testing.assert_allclose(T[0, 0].numpy(), naive_descriptor(x[0, 0].numpy(), 1e-2), atol=1e-10)
    with pytest.raises(ValueError, match="descriptor_of"):
        feature_refinement(x, u, 1e-2, descriptor_of="x_t")


@pytest.mark.parametrize("rows", [None, 3])
def test_plf_is_eq_9_element_by_element(rows):
    generator = torch.Generator().manual_seed(4)
    q = torch.randn(*(() if rows is None else (rows,)), 9, generator=generator, dtype=torch.float64)
    alpha = 1.6 * torch.randn(2, rows or 3, 4, 5, generator=generator, dtype=torch.float64)
    alpha[0, 0, 0, :3] = torch.tensor([-1.0, 1.0, 0.25], dtype=torch.float64)  # the ends and a control point
    got = piecewise_linear(alpha, q)
    for index in np.ndindex(*alpha.shape):
        q_row = (q if rows is None else q[index[1]]).tolist()
        assert math.isclose(float(got[index]), naive_plf_scalar(float(alpha[index]), q_row), abs_tol=1e-12), index


def test_plf_per_channel_rejects_a_channel_mismatch():
    with pytest.raises(ValueError, match="channels"):
        piecewise_linear(torch.zeros(1, 4, 2, 2), torch.zeros(3, 5))


def test_block_is_eqs_7_to_10_on_the_previous_iterate():
    model = perturbed_ifrnet()
    block = model.denoisers[0][0]
    generator = torch.Generator().manual_seed(5)
    u, x = (torch.randn(1, 1, 8, 8, generator=generator, dtype=torch.complex128) for _ in range(2))
    with torch.no_grad():
        got = batch_to_complex(block(complex_to_batch(u), complex_to_batch(x)))[0, 0].numpy()
    np.testing.assert_allclose(got, naive_block(u[0, 0].numpy(), x[0, 0].numpy(), block), atol=1e-10)


def test_first_stage_starts_from_the_papers_initial_step_not_the_zero_filled_image():
    model = perturbed_ifrnet()
    y, mask = tiny_problem()
    with torch.no_grad():
        _, stages = model(y, mask, return_stages=True)
    rho1 = float(model.rho[0].detach())
    # x^(1) = F⁻¹[y / (M + ρ^(1))]: the sampled frequencies divided by 1 + ρ^(1), written with the dense DFT
    F_ = np.kron(dense_dft(8), dense_dft(8))
    expected = (F_.conj().T @ (y[0, 0].numpy().reshape(-1) / (mask.numpy().reshape(-1) + rho1))).reshape(8, 8)
    np.testing.assert_allclose(stages[0]["x_in"][0, 0].numpy(), expected, atol=1e-12)
    zero_filled = MRIOperator(mask).adjoint(y)[0, 0].numpy()
    assert np.abs(expected - zero_filled).max() > 0.1 * np.abs(zero_filled).max()  # the two differ: ρ^(1) matters


@pytest.mark.parametrize("options", [
    {},
    {"descriptor_of": "x"},
    {"plf_per_filter": True},
    {"blur_sigma": 5.0, "blur_radius": 3},
    {"shared": True, "n_stages": 3},
    {"refine": False},
])
def test_every_stage_equals_eqs_6_to_11_written_out(options):
    model = perturbed_ifrnet(**options)
    y, mask = tiny_problem()
    with torch.no_grad():
        x_hat, stages = model(y, mask, return_stages=True)
    masked = y * mask
    scale = float((masked.abs() ** 2).sum().div(masked.shape[-2] * masked.shape[-1]).sqrt()) / TYPICAL_RMS  # its units
    expected = naive_ifrnet(model, (masked / scale)[0, 0].numpy(), mask.numpy())
    assert len(stages) == len(expected) == model.config["n_stages"]
    for n, (got, want) in enumerate(zip(stages, expected, strict=True)):
        assert set(got) == set(want), n
        for key, value in want.items():
            value = value * scale if np.iscomplexobj(value) else value  # images come back in the data's units
            np.testing.assert_allclose(got[key][0, 0].numpy(), value, atol=1e-9, err_msg=f"stage {n + 1}, {key}")
    np.testing.assert_allclose(x_hat[0, 0].numpy(), expected[-1]["x"] * scale, atol=1e-9)


def test_output_is_soft_data_consistent_with_the_last_rho():
    # at a sampled frequency X^(N_s+1) leaves ρ/(1 + ρ) of the residual of x_t: soft, not exact, data consistency
    model = perturbed_ifrnet()
    y, mask = tiny_problem()
    with torch.no_grad():
        x_hat, stages = model(y, mask, return_stages=True)
    rho = float(model.rho[-1].detach())
    op = MRIOperator(mask)
    before, after = op.forward(stages[-1]["x_t"]) - y, op.forward(x_hat) - y
    torch.testing.assert_close(after, rho / (1 + rho) * before)
    assert float(after.abs().max()) > 0.01 * float(y.abs().max())


def test_ifrnet_config_holds_the_released_code_options_only_when_they_are_used():
    # a default model keeps the config of the models (and checkpoints) made before these options existed
    old_keys = {"n_stages", "n_blocks", "n_filters", "filter_size", "out_size", "n_points", "init", "shared", "refine",
                "rho", "V", "mu", "threshold", "step", "blur_sigma", "window"}
    assert set(IFRNet().config) == old_keys
    code = IFRNet(descriptor_of="x", blur_sigma=50.0, blur_radius=25, plf_per_filter=True)
    assert {k: code.config[k] for k in ("descriptor_of", "blur_radius", "plf_per_filter")} == {
        "descriptor_of": "x", "blur_radius": 25, "plf_per_filter": True}
    rebuilt = IFRNet(**code.config)
    assert rebuilt.config == code.config and rebuilt.descriptor == code.descriptor


def test_ifrnet_released_code_options_count_parameters():
    assert IFRNet.parameter_count(plf_per_filter=True) == 13497
    model = IFRNet(plf_per_filter=True)
    assert sum(p.numel() for p in model.parameters()) == 13497
    assert model.denoisers[0][0].h.q.shape == (8, 101)
    with pytest.raises(ValueError, match="descriptor_of"):
        IFRNet(descriptor_of="T")
    with pytest.raises(ValueError, match="blur_radius"):
        IFRNet(blur_radius=0)
    y, mask = tiny_problem()
    with pytest.raises(ValueError, match="blur_radius 25 must be smaller"):
        IFRNet(n_stages=1, blur_sigma=50.0, blur_radius=25).double()(y, mask)


def test_dct_shrinkage_checks_its_input_by_name_and_leaves_finiteness_to_the_caller():
    for bad in (torch.zeros(4, 4), torch.zeros(1, 1, 6)):  # the frame is applied to (B, 1, H, W)
        with pytest.raises(ValueError, match=r"^x must"):
            dct_shrinkage(bad, 0.1)
    x = torch.zeros(1, 1, 6, 6)
    x[0, 0, 2, 2] = float("nan")  # no finiteness scan here: the model checked its inputs once
    assert torch.isnan(dct_shrinkage(x, 0.1)).any()


def test_gaussian_kernel_has_the_requested_radius():
    for radius in (1, 4):
        kernel = gaussian_kernel(2.0, radius)
        assert kernel.shape == (2 * radius + 1, 2 * radius + 1) and float(kernel.sum()) == pytest.approx(1.0)
    assert gaussian_kernel(2.0).shape == (9, 9)  # default r = ⌈2σ⌉


def test_piecewise_linear_gives_each_input_its_own_gradient():
    """Only the inputs that require a gradient get one, and each gets its own (α's slope, q's interpolation
    weights), whichever of the two is asked for."""
    alpha = torch.tensor([-1.5, -0.2, 0.3, 1.2], dtype=torch.float64)
    q = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    a = alpha.clone().requires_grad_()
    piecewise_linear(a, q).sum().backward()
    assert a.grad.tolist() == pytest.approx([1.0, 1.5, 1.5, 1.0])  # slope 1 outside, (q2 − q1)/Δp = 1.5 inside
    w = q.clone().requires_grad_()
    piecewise_linear(alpha, w).sum().backward()
    # weights 1 − t on q_r and t on q_{r+1}: −1.5 → q1; −0.2 → (0.2, 0.8, 0); 0.3 → (0, 0.7, 0.3); 1.2 → q3
    assert w.grad.tolist() == pytest.approx([1.2, 1.5, 1.3])


def test_ifr_net_loss_is_the_mean_of_each_slices_nmse_and_checks_the_target():
    torch.manual_seed(0)
    model = IFRNet(n_stages=2, n_blocks=1, n_points=11).eval()
    target = torch.randn(2, 1, 16, 16, dtype=torch.complex64)
    target[1] *= 10.0  # slices of very different norms: a norm over the whole batch would weight them unequally
    mask = radial_mask((16, 16), 0.3, seed=0)
    batch = {"kspace": fft2c(target) * mask, "mask": mask, "target": target}
    with torch.no_grad():
        x = model(batch["kspace"], mask)
        expected = torch.stack([(x[i] - target[i]).norm() / target[i].norm() for i in range(2)]).mean()
        assert float(model.training_loss(batch)) == pytest.approx(float(expected), rel=1e-5)
        with pytest.raises(ValueError, match="^target"):
            model.training_loss({**batch, "target": target[:, 0]})
        with pytest.raises((TypeError, ValueError), match="^target"):
            model.training_loss({**batch, "target": target.real})
