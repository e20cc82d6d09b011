import math

import numpy as np
import pytest
import pywt
import torch

from mrilab.classical import (
    WaveletTransform,
    fista,
    gradient,
    gradient_adjoint,
    ista,
    power_iteration,
    soft_threshold,
    total_variation,
    tv_prox,
    tv_reconstruction,
    zero_filled,
)
from mrilab.coils import birdcage_maps
from mrilab.masks import cartesian_mask, random2d_mask
from mrilab.metrics import nmse
from mrilab.ops import MRIOperator

from .adjoint import assert_adjoint


def phantom(n: int, dtype=torch.complex128) -> torch.Tensor:
    """A few ellipses with a smooth phase, ``(1, 1, n, n)``."""
    coords = torch.linspace(-1, 1, n, dtype=torch.float64)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    image = torch.zeros(n, n, dtype=torch.float64)
    for value, cy, cx, ry, rx in [(1.0, 0, 0, 0.8, 0.6), (-0.5, 0.1, 0, 0.6, 0.45), (0.4, -0.3, 0.2, 0.15, 0.2),
                                  (0.3, 0.35, -0.15, 0.12, 0.1)]:
        image += value * ((((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= 1)
    return torch.polar(image, 0.5 * xx + 0.3 * yy).to(dtype)[None, None]


def measured(n: int = 32, ratio: float = 0.3, dtype=torch.complex128):
    x = phantom(n, dtype)
    op = MRIOperator(cartesian_mask((n, n), ratio, seed=3))
    return x, op, op(x)


# -- soft-thresholding --------------------------------------------------------------------------------------------
def test_soft_threshold_matches_brute_force_prox_for_reals():
    grid = torch.linspace(-4, 4, 80001, dtype=torch.float64)
    for value in (-3.0, -0.7, -0.2, 0.0, 0.4, 1.5, 2.9):
        for lam in (0.0, 0.5, 1.0):
            brute = grid[torch.argmin(0.5 * (grid - value) ** 2 + lam * grid.abs())]
            got = soft_threshold(torch.tensor([value], dtype=torch.float64), lam)
            assert abs(float(got) - float(brute)) <= 1e-4


def test_complex_soft_threshold_is_the_prox_of_the_modulus():
    x = torch.randn(200, dtype=torch.complex128) * 2
    lam = 1.0
    z = soft_threshold(x, lam)
    nonzero = z != 0
    assert torch.allclose((x - z)[nonzero], lam * z[nonzero] / z[nonzero].abs())  # 0 ∈ z − x + λ ∂|z|
    assert bool((x[~nonzero].abs() <= lam).all())
    assert torch.allclose(torch.angle(z[nonzero]), torch.angle(x[nonzero]))
    grid = torch.linspace(-3, 3, 1201, dtype=torch.float64)
    candidates = torch.complex(grid[:, None], grid[None, :])
    point = torch.tensor(1.2 - 0.9j, dtype=torch.complex128)
    cost = 0.5 * (candidates - point).abs() ** 2 + lam * candidates.abs()
    brute = candidates.flatten()[torch.argmin(cost)]
    assert abs(complex(soft_threshold(point, lam)) - complex(brute)) <= 1e-2


def test_soft_threshold_broadcasts_tensor_thresholds_and_rejects_bad_ones():
    x = torch.full((2, 1, 2, 2), 3.0)
    out = soft_threshold(x, torch.tensor([1.0, 2.0]).reshape(2, 1, 1, 1))
    assert torch.equal(out[:, 0, 0, 0], torch.tensor([2.0, 1.0]))
    with pytest.raises(ValueError, match="lam"):
        soft_threshold(x, -1.0)
    with pytest.raises(TypeError, match="lam"):
        soft_threshold(x, torch.tensor(1j))


# -- wavelets --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("wavelet", ["haar", "db4"])
def test_wavelet_matrix_is_orthonormal(wavelet):
    psi = WaveletTransform((16, 16), wavelet, levels=2)
    basis = torch.eye(256, dtype=torch.float64).reshape(256, 16, 16)
    matrix = psi(basis).reshape(256, 256).T  # column j = Ψ e_j
    assert torch.allclose(matrix.T @ matrix, torch.eye(256, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(matrix @ matrix.T, torch.eye(256, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(psi.adjoint(basis).reshape(256, 256).T, matrix.T, atol=1e-12)
    assert_adjoint(psi, psi.adjoint, (2, 16, 16), (2, 16, 16), dtype=torch.float64)


@pytest.mark.parametrize("wavelet", ["haar", "db4", "sym8"])
def test_wavelet_perfect_reconstruction_energy_and_pywavelets_agreement(wavelet):
    psi = WaveletTransform((64, 32), wavelet)
    x = torch.randn(3, 1, 64, 32, dtype=torch.complex128)
    c = psi(x)
    assert torch.allclose(psi.inverse(c), x, atol=1e-12)
    assert torch.allclose(c.norm(), x.norm())
    reference, _ = pywt.coeffs_to_array(
        pywt.wavedec2(x[1, 0].numpy(), wavelet, mode="periodization", level=psi.levels)
    )
    assert np.allclose(c[1, 0].numpy(), reference)


def test_wavelet_detail_mask_and_argument_errors():
    psi = WaveletTransform((32, 32), "haar", levels=3)
    assert int((~psi.detail_mask()).sum()) == 16
    with pytest.raises(ValueError, match="orthogonal"):
        WaveletTransform((32, 32), "bior2.2")
    with pytest.raises(ValueError, match="divisible"):
        WaveletTransform((24, 32), "haar", levels=4)
    with pytest.raises(ValueError, match="x must have shape"):
        psi(torch.zeros(1, 1, 16, 16))


def test_wavelet_prox_is_eq_prox_wavelet_on_the_detail_coefficients():
    """With a full mask (A = F, L = 1) one ISTA step from A^H y is exactly the prox at the image:
    Ψ^H soft_detail(Ψ v, λ), and it minimises ½‖x − v‖² + λ‖detail(Ψx)‖₁ (no perturbation does better)."""
    n, lam = 32, 0.05
    v = phantom(n)
    op = MRIOperator(torch.ones(n, n, dtype=torch.bool))
    x, _ = ista(op, op(v), lam, iterations=1, step=1.0)
    psi = WaveletTransform((n, n), "haar")
    detail = psi.detail_mask()
    c = psi(v)
    assert torch.allclose(x, psi.adjoint(torch.where(detail, soft_threshold(c, lam), c)), atol=1e-12)

    def objective(z):
        return 0.5 * (z - v).abs().pow(2).sum() + lam * (psi(z).abs() * detail).sum()

    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        noise = torch.randn(1, 1, n, n, dtype=torch.complex128, generator=generator)
        assert objective(x + 1e-3 * noise) >= objective(x)


def test_gradient_of_the_data_term_is_eq_gradient():
    """∇f(x) = A^H(Ax − y) for f = ½‖Ax − y‖² (autograd gives the conjugate Wirtinger gradient, the same thing)."""
    _, op, y = measured()
    x = phantom(32).mul(0.5).requires_grad_(True)
    (0.5 * (op(x) - y).abs().pow(2).sum()).backward()
    assert torch.allclose(x.grad, op.adjoint(op(x.detach()) - y), atol=1e-12)


# -- Lipschitz constant ----------------------------------------------------------------------------------------------
def test_power_iteration_single_coil_is_one():
    op = MRIOperator(cartesian_mask((32, 32), 0.25, seed=0))
    assert power_iteration(op, (32, 32)) == pytest.approx(1.0, abs=1e-5)


def test_power_iteration_matches_largest_eigenvalue_multicoil():
    n = 12
    sens = birdcage_maps(4, (n, n), dtype=torch.complex128) * torch.linspace(0.5, 1.0, n, dtype=torch.float64)
    op = MRIOperator(random2d_mask((n, n), 0.4, seed=1), sens)
    basis = torch.eye(n * n, dtype=torch.complex128).reshape(n * n, 1, n, n)
    normal = op.normal(basis).reshape(n * n, n * n).T
    exact = float(torch.linalg.eigvalsh(normal).max())
    estimate = power_iteration(op, (n, n), dtype=torch.complex128, iterations=1000, tol=1e-12)
    assert estimate == pytest.approx(exact, rel=1e-4)
    assert estimate <= exact * (1 + 1e-9)


# -- ISTA / FISTA ----------------------------------------------------------------------------------------------------
def test_ista_objective_is_monotone_and_improves_on_zero_filling():
    x, op, y = measured(ratio=0.4)
    recon, history = ista(op, y, iterations=60)
    objective = history.objective[:, 0]
    assert objective.shape == (61,)
    assert bool((objective[1:] <= objective[:-1] * (1 + 1e-12)).all())
    assert float(nmse(recon, x)) < float(nmse(zero_filled(y, op.mask), x))


def test_fista_converges_faster_than_ista_within_beck_teboulle_bounds():
    x, op, y = measured()
    iterations = 100
    _, ista_history = ista(op, y, 0.01, iterations=iterations)
    _, fista_history = fista(op, y, 0.01, iterations=iterations)
    x_star, star_history = fista(op, y, 0.01, iterations=500)
    f_star = float(star_history.objective[-1, 0])
    ista_gap = ista_history.objective[:, 0] - f_star
    fista_gap = fista_history.objective[:, 0] - f_star
    assert fista_gap[-1] < ista_gap[-1]
    distance = float((op.adjoint(y) - x_star).norm() ** 2)  # L = 1
    k = torch.arange(1, iterations + 1, dtype=torch.float64)
    slack = 1e-9
    assert bool((ista_gap[1:] <= distance / (2 * k) + slack).all())  # Theorem 3.1, O(1/k)
    assert bool((fista_gap[1:] <= 2 * distance / (k + 1) ** 2 + slack).all())  # Theorem 4.4, O(1/k²)
    ista_decay = float(ista_gap[20] / ista_gap[100])  # 5 for an exact O(1/k) rate
    fista_decay = float(fista_gap[20] / fista_gap[100])  # 25 for an exact O(1/k²) rate
    assert fista_decay > 25 and fista_decay > 5 * ista_decay


def test_default_lambda_is_scale_invariant_and_batched():
    x, op, y = measured()
    batch = torch.cat([y, 3 * y])
    recon, history = fista(op, batch, iterations=20, keep_iterates=True)
    assert recon.shape == (2, 1, 32, 32)
    assert torch.allclose(recon[1], 3 * recon[0], atol=1e-10)
    assert len(history.iterates) == 21 and history.objective.shape == (21, 2)


def test_fista_multicoil_improves_on_zero_filling():
    n = 32
    x = phantom(n, torch.complex64)
    sens = birdcage_maps(4, (n, n))
    op = MRIOperator(random2d_mask((n, n), 0.3, seed=2), sens)
    y = op(x)
    recon, _ = fista(op, y, iterations=50)
    assert recon.dtype == torch.complex64
    assert float(nmse(recon, x)) < 0.5 * float(nmse(zero_filled(y, op.mask, sens=sens), x))


def test_solver_argument_errors():
    _, op, y = measured()
    with pytest.raises(TypeError, match="op must be"):
        ista(op.mask, y)
    with pytest.raises(ValueError, match="lam"):
        fista(op, y, -0.1)
    with pytest.raises(ValueError, match="iterations"):
        fista(op, y, iterations=-1)
    with pytest.raises(ValueError, match="y must have shape"):
        ista(op, y[..., :16])
    with pytest.raises(ValueError, match="step"):
        ista(op, y, step=0.0)


# -- total variation --------------------------------------------------------------------------------------------------
def test_gradient_adjoint_is_the_adjoint():
    assert_adjoint(gradient, gradient_adjoint, (2, 1, 9, 11), (2, 2, 9, 11))
    assert float(total_variation(torch.ones(1, 1, 5, 5))) == 0.0


def test_tv_prox_lowers_the_denoising_objective():
    clean = phantom(32)
    noisy = clean + 0.1 * torch.randn_like(clean)
    lam = 0.1
    denoised, dual = tv_prox(noisy, lam, iterations=100)
    assert dual.shape == (1, 2, 32, 32)

    def cost(z):
        return 0.5 * float((z - noisy).abs().pow(2).sum()) + lam * float(total_variation(z))

    assert cost(denoised) < cost(noisy) and cost(denoised) < cost(clean)
    assert float((denoised - clean).norm()) < float((noisy - clean).norm())


def test_tv_reconstruction_beats_zero_filling():
    x, op, y = measured(n=64, ratio=0.3)
    recon, history = tv_reconstruction(op, y, iterations=40)
    assert history.objective.shape == (41, 1)
    assert math.isfinite(float(history.objective[-1, 0]))
    assert float(nmse(recon, x)) < 0.5 * float(nmse(zero_filled(y, op.mask), x))
