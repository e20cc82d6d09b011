"""The classical solvers against naive references of their update rules, on 8×8 problems with dense operators.

* soft-thresholding ``x · max(|x| − λ, 0) / |x|``;
* ISTA / FISTA with the wavelet prior (Beck & Teboulle 2009): ``x_k = Ψ^H soft_detail(Ψ(z − t A^H(A z − y)), tλ)`` at
  ``z = x_{k−1}`` (ISTA) or at the extrapolated ``z_k = x_k + ((t_k − 1)/t_{k+1})(x_k − x_{k−1})`` (FISTA), Ψ from
  PyWavelets, with the objective ``½‖Ax − y‖² + λ‖detail(Ψx)‖₁`` of every iterate;
* total variation: forward differences with Neumann boundary written as a dense matrix, FGP on the dual for its prox
  (Beck & Teboulle 2009b), FISTA-TV warm-starting the dual;
* IFR-CS (Liu et al. 2020, eq. 3): ``x = argmin ½‖F_p x − y‖² + ρ/2‖x − x_t‖²`` (a dense solve), ``u`` the 3×3
  DCT-frame shrinkage at ``λ/ρ`` written with explicit circular shifts, ``x_t = u + T(u) ⊗ (x − u)``, from
  ``x_t^(0) = A^H y`` (the book's start, see :func:`mrilab.classical.ifr_cs`).
"""

import math

import numpy as np
import pytest
import pywt
import torch

from mrilab import ifr
from mrilab.classical import (
    fista,
    gradient,
    gradient_adjoint,
    ifr_cs,
    ista,
    power_iteration,
    resolve_lambda,
    soft_threshold,
    total_variation,
    tv_prox,
    tv_reconstruction,
    zero_filled,
)
from mrilab.ops import MRIOperator

from .test_equations_ops import DTYPE, apply, dense_operator, random, random_mask

N = 8
SHAPE = (1, N, N)


def problem(coils: int | None = None, batch: int = 2, seed: int = 50):
    """A smooth-ish random image, a random mask per sample, optional coil maps; ``(op, y, matrices, target)``."""
    target = torch.nn.functional.avg_pool2d(random(batch, 2, N, N, seed=seed).real, 3, 1, 1)
    target = torch.complex(target[:, :1], target[:, 1:]) * 3
    mask = random_mask((batch, 1, N, N), seed=seed + 1, fraction=0.5)
    sens = None if coils is None else random(coils, N, N, seed=seed + 2)
    matrices = dense_operator(mask, sens, batch)
    y = apply(matrices, target, (coils or 1, N, N)) + 0.05 * random(batch, coils or 1, N, N, seed=seed + 3)
    return MRIOperator(mask, sens), y, matrices, target


def adjoint(matrices, v):
    return apply([a.conj().T for a in matrices], v, SHAPE)


def forward(matrices, x, coils=1):
    return apply(matrices, x, (coils, N, N))


# -- soft-thresholding ---------------------------------------------------------------------------------------------
def test_soft_threshold_is_the_shrinkage_formula():
    x = random(3, 40, seed=51)
    x[0, :5] = 0
    lam = torch.tensor([0.2, 0.8, 1.5], dtype=torch.float64).view(3, 1)
    expected = torch.zeros_like(x)
    for i in range(3):
        for j in range(40):
            magnitude = abs(complex(x[i, j]))
            if magnitude > float(lam[i]):
                expected[i, j] = x[i, j] * (magnitude - float(lam[i])) / magnitude
    assert torch.allclose(soft_threshold(x, lam), expected, atol=1e-14)
    real = x.real
    assert torch.allclose(soft_threshold(real, 0.5), torch.sign(real) * (real.abs() - 0.5).clamp(min=0), atol=1e-14)
    assert torch.equal(soft_threshold(real, 0), real)


# -- ISTA / FISTA with the wavelet prior ---------------------------------------------------------------------------
def wavelet_prox(v: torch.Tensor, threshold: torch.Tensor, levels: int) -> torch.Tensor:
    """``Ψ^H soft(Ψ v, threshold)`` on the detail coefficients, Ψ = PyWavelets' periodic Haar transform."""
    out = torch.zeros_like(v)
    for b in range(v.shape[0]):
        t = float(threshold.reshape(-1)[b]) if isinstance(threshold, torch.Tensor) else threshold
        parts = []
        for part in (v[b, 0].real, v[b, 0].imag):
            parts.append(pywt.wavedec2(part.numpy(), "haar", mode="periodization", level=levels))
        # the complex coefficients shrink in modulus: combine real and imaginary coefficients first
        shrunk = [parts[0][0] + 1j * parts[1][0]]
        for detail_re, detail_im in zip(parts[0][1:], parts[1][1:], strict=True):
            bands = []
            for re, im in zip(detail_re, detail_im, strict=True):
                c = re + 1j * im
                magnitude = np.abs(c)
                bands.append(np.where(magnitude > t, c * (1 - t / np.maximum(magnitude, 1e-300)), 0))
            shrunk.append(tuple(bands))
        real = pywt.waverec2([shrunk[0].real] + [tuple(b.real for b in level) for level in shrunk[1:]], "haar",
                             mode="periodization")
        imag = pywt.waverec2([shrunk[0].imag] + [tuple(b.imag for b in level) for level in shrunk[1:]], "haar",
                             mode="periodization")
        out[b, 0] = torch.from_numpy(real + 1j * imag)
    return out


def wavelet_penalty(x: torch.Tensor, lam, levels: int) -> torch.Tensor:
    values = []
    for b in range(x.shape[0]):
        re = pywt.wavedec2(x[b, 0].real.numpy(), "haar", mode="periodization", level=levels)
        im = pywt.wavedec2(x[b, 0].imag.numpy(), "haar", mode="periodization", level=levels)
        total = sum(np.abs(r + 1j * i).sum() for lr, li in zip(re[1:], im[1:], strict=True)
                    for r, i in zip(lr, li, strict=True))
        values.append(float(lam.reshape(-1)[b]) * total if isinstance(lam, torch.Tensor) else lam * total)
    return torch.tensor(values, dtype=torch.float64)


def reference_proximal_gradient(matrices, y, prox, penalty, step, iterations, accelerated, coils=1):
    x = adjoint(matrices, y)
    z, t = x, 1.0
    iterates = [x]
    objectives = []

    def objective(image):
        residual = forward(matrices, image, coils) - y
        return 0.5 * residual.abs().pow(2).sum(dim=(1, 2, 3)) + penalty(image)

    objectives.append(objective(x))
    for _ in range(iterations):
        x_next = prox(z - step * adjoint(matrices, forward(matrices, z, coils) - y), step)
        if accelerated:
            t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
            z = x_next + ((t - 1) / t_next) * (x_next - x)
            t = t_next
        else:
            z = x_next
        x = x_next
        iterates.append(x)
        objectives.append(objective(x))
    return x, iterates, torch.stack(objectives)


@pytest.mark.parametrize("solver, accelerated", [(ista, False), (fista, True)])
@pytest.mark.parametrize("coils", [None, 3])
def test_ista_and_fista_follow_beck_and_teboulle(solver, accelerated, coils):
    op, y, matrices, _ = problem(coils)
    lam, levels, iterations = 0.05, 2, 4
    # step 1/L with L the largest eigenvalue of the dense A^H A (1 for a single coil)
    step = 1 / max(float(torch.linalg.eigvalsh(a.conj().T @ a).max()) for a in matrices)
    x, history = solver(op, y, lam, levels=levels, iterations=iterations, step=step, keep_iterates=True)
    expected, iterates, objectives = reference_proximal_gradient(
        matrices, y * op.mask, lambda v, t: wavelet_prox(v, t * lam, levels),
        lambda image: wavelet_penalty(image, lam, levels), step, iterations, accelerated, coils or 1)
    assert torch.allclose(x, expected, atol=1e-10)
    assert len(history.iterates) == iterations + 1
    for got, want in zip(history.iterates, iterates, strict=True):
        assert torch.allclose(got, want, atol=1e-10)
    assert history.objective.shape == (iterations + 1, 2)
    assert torch.allclose(history.objective, objectives, rtol=1e-6)


def test_default_lambda_levels_and_steps_of_the_wavelet_solvers():
    """λ = 2·10⁻³ max|A^H y| per sample, the largest Haar level for 8×8 (3), 100 iterations, step 1/L (L = 1)."""
    op, y, matrices, _ = problem()
    zf = adjoint(matrices, y)
    lam = 2e-3 * zf.abs().flatten(1).amax(dim=1)
    _, history = ista(op, y, keep_iterates=True)
    assert len(history.iterates) == 101 and history.objective.shape == (101, 2)
    _, iterates, objectives = reference_proximal_gradient(
        matrices, y * op.mask, lambda v, t: wavelet_prox(v, t * lam, 3), lambda image: wavelet_penalty(image, lam, 3),
        1.0, 2, False)
    for got, want in zip(history.iterates[:3], iterates, strict=True):
        assert torch.allclose(got, want, atol=1e-6)  # the step 1/L from power iteration: L = 1 to ~1e-7
    assert torch.allclose(history.objective[:3], objectives, rtol=1e-6)
    _, untracked = fista(op, y, iterations=2, track_objective=False)
    assert untracked.objective.shape == (0, 2) and untracked.iterates == []


def test_resolve_lambda_and_power_iteration():
    op, y, matrices, _ = problem(3)
    peak = adjoint(matrices, y).abs().flatten(1).amax(dim=1)
    assert torch.allclose(resolve_lambda(op, y, None, 0.3), (0.3 * peak).view(2, 1, 1, 1))
    assert resolve_lambda(op, y, 2, 0.3) == 2.0 and isinstance(resolve_lambda(op, y, 2, 0.3), float)
    tensor = torch.tensor([0.1, 0.0], dtype=torch.float64).view(2, 1, 1, 1)
    assert torch.equal(resolve_lambda(op, y, tensor, 0.3), tensor)
    for bad in (-0.1, torch.tensor([0.1, -0.1]), torch.tensor([1j]), True, "0.1"):
        with pytest.raises(ValueError, match="lam"):
            resolve_lambda(op, y, bad, 0.3)
    # L = the largest eigenvalue of A^H A over the batch, approached from below
    exact = max(float(torch.linalg.eigvalsh(a.conj().T @ a).max()) for a in matrices)
    estimate = power_iteration(op, (2, 1, N, N), dtype=DTYPE, iterations=300, tol=1e-10)
    assert exact * (1 - 1e-4) < estimate <= exact * (1 + 1e-12)
    normals = [a.conj().T @ a for a in matrices]
    estimate = power_iteration(lambda v: apply(normals, v, SHAPE), (2, 1, N, N), dtype=DTYPE, iterations=300,
                               tol=1e-10)
    assert exact * (1 - 1e-4) < estimate <= exact * (1 + 1e-12)
    assert power_iteration(op, (2, 1, N, N), dtype=DTYPE, iterations=1) < exact * (1 - 1e-3)
    single = MRIOperator(op.mask[0, 0])
    assert power_iteration(single, (N, N), dtype=DTYPE) == pytest.approx(1.0, abs=1e-7)  # a projection: L = 1
    for bad_shape in ((N,), (1, N, N)):
        with pytest.raises(ValueError, match="shape"):
            power_iteration(op, bad_shape)
    with pytest.raises(TypeError, match="op must be"):
        power_iteration(3, (N, N))


def test_zero_filled_is_the_adjoint():
    op, y, matrices, _ = problem(3)
    assert torch.allclose(zero_filled(y, op.mask, sens=op.sens[0].expand(3, N, N)), adjoint(matrices, y), atol=1e-12)


# -- total variation -----------------------------------------------------------------------------------------------
def difference_matrix(n_rows: int, n_cols: int) -> torch.Tensor:
    """``∇`` on row-major ``(H, W)`` images as a dense ``(2HW, HW)`` matrix: forward differences, zero across the
    last row (vertical) and the last column (horizontal)."""
    size = n_rows * n_cols
    matrix = torch.zeros(2 * size, size, dtype=torch.float64)
    for i in range(n_rows):
        for j in range(n_cols):
            here = i * n_cols + j
            if i + 1 < n_rows:
                matrix[here, here], matrix[here, here + n_cols] = -1.0, 1.0
            if j + 1 < n_cols:
                matrix[size + here, here], matrix[size + here, here + 1] = -1.0, 1.0
    return matrix


def test_gradient_its_adjoint_and_total_variation_are_the_difference_matrix():
    rows, cols = 5, 7
    grad = difference_matrix(rows, cols).to(DTYPE)
    x = random(2, 1, rows, cols, seed=52)
    p = random(2, 2, rows, cols, seed=53)
    assert torch.allclose(gradient(x), (x.reshape(2, -1) @ grad.T).reshape(2, 2, rows, cols), atol=1e-12)
    assert torch.allclose(gradient_adjoint(p), (p.reshape(2, -1) @ grad.conj()).reshape(2, 1, rows, cols), atol=1e-12)
    g = (x.reshape(2, -1) @ grad.T).reshape(2, 2, -1)
    expected = (g.abs() ** 2).sum(dim=1).sqrt().sum(dim=1)
    assert torch.allclose(total_variation(x), expected, atol=1e-12)
    assert torch.allclose(total_variation(x.real), (x.real.reshape(2, -1) @ grad.real.T).reshape(2, 2, -1)
                          .pow(2).sum(dim=1).sqrt().sum(dim=1), atol=1e-12)


def test_tv_operators_keep_dtype_and_device_check_shapes_and_pass_nan_through():
    x = random(1, 1, 4, 5, seed=55).to(torch.complex64)
    x[0, 0, 0, 0] = float("nan")
    assert torch.isnan(gradient(x)).any() and torch.isnan(gradient_adjoint(gradient(x))).any()
    assert torch.isnan(tv_prox(x, 0.1, iterations=1)[0]).any()
    clean = random(1, 1, 4, 5, seed=56).to(torch.complex64)
    out, dual = tv_prox(clean, 0.1, iterations=2)
    assert out.dtype == torch.complex64 and dual.dtype == torch.complex64
    with torch.device("meta"):  # λ goes to the device of v
        assert torch.equal(tv_prox(clean, 0.1, iterations=2)[0], out)
    for call, error, message in ((lambda: gradient(clean[0]), ValueError, "^x must have 4 dimensions"),
                                 (lambda: gradient(clean.expand(1, 2, 4, 5)), ValueError, r"^x must have shape \(B, 1"),
                                 (lambda: gradient_adjoint(clean), ValueError, r"^p must have shape \(B, 2"),
                                 (lambda: gradient_adjoint(clean[0]), ValueError, "^p must have 4 dimensions"),
                                 (lambda: tv_prox(clean[0], 0.1), ValueError, "^v must have 4 dimensions"),
                                 (lambda: gradient([1.0]), TypeError, "^x must be a torch.Tensor")):
        with pytest.raises(error, match=message):
            call()


def fgp(v: torch.Tensor, lam, iterations: int, dual=None):
    """Beck & Teboulle's FGP on the dual of ``min ½‖x − v‖² + λ TV(x)`` with the dense ``∇``, step ``1/(8λ)``."""
    batch = v.shape[0]
    grad = difference_matrix(N, N).to(DTYPE)
    lam = torch.as_tensor(lam, dtype=torch.float64).reshape(-1, 1).expand(batch, 1)
    vec = v.reshape(batch, -1)
    p = torch.zeros(batch, 2 * N * N, dtype=DTYPE) if dual is None else dual.reshape(batch, -1)
    r, t = p, 1.0
    for _ in range(iterations):
        step = 1 / (8 * lam)
        q = r + step * ((vec - lam * (r @ grad.conj())) @ grad.T)
        pairs = q.reshape(batch, 2, -1)
        norm = (pairs.abs() ** 2).sum(dim=1, keepdim=True).sqrt()
        p_next = (pairs / torch.maximum(norm, torch.ones_like(norm))).reshape(batch, -1)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        r = p_next + ((t - 1) / t_next) * (p_next - p)
        p, t = p_next, t_next
    return (vec - lam * (p @ grad.conj())).reshape(v.shape), p.reshape(batch, 2, N, N)


def test_tv_prox_is_fgp_on_the_dual():
    v = random(2, 1, N, N, seed=54)
    lam = torch.tensor([0.2, 0.5], dtype=torch.float64).view(2, 1, 1, 1)
    x, dual = tv_prox(v, lam, iterations=6)
    expected, expected_dual = fgp(v, lam, 6)
    assert torch.allclose(x, expected, atol=1e-12) and torch.allclose(dual, expected_dual, atol=1e-12)
    warm, _ = tv_prox(v, 0.3, iterations=3, dual=dual)
    assert torch.allclose(warm, fgp(v, 0.3, 3, expected_dual)[0], atol=1e-12)
    default, _ = tv_prox(v, 0.3)  # 20 iterations by default
    assert torch.allclose(default, fgp(v, 0.3, 20)[0], atol=1e-12)


def test_tv_reconstruction_is_fista_with_a_warm_started_fgp_prox():
    op, y, matrices, _ = problem()
    lam, step, outer, inner = 0.1, 0.8, 3, 4
    state = {"dual": None}
    grad = difference_matrix(N, N).to(DTYPE)

    def prox(v, t):
        x, state["dual"] = fgp(v, t * lam, inner, state["dual"])
        return x

    def penalty(image):
        g = (image.reshape(2, -1) @ grad.T).reshape(2, 2, -1)
        return lam * (g.abs() ** 2).sum(dim=1).sqrt().sum(dim=1)

    x, history = tv_reconstruction(op, y, lam, iterations=outer, inner_iterations=inner, step=step,
                                   keep_iterates=True)
    expected, iterates, objectives = reference_proximal_gradient(matrices, y * op.mask, prox, penalty, step, outer,
                                                                 True)
    assert torch.allclose(x, expected, atol=1e-10)
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(history.iterates, iterates, strict=True))
    assert torch.allclose(history.objective, objectives, rtol=1e-8)
    # the defaults: λ = 3·10⁻³ max|A^H y|, 10 inner FGP steps
    lam_default = 3e-3 * adjoint(matrices, y).abs().flatten(1).amax(dim=1)
    state["dual"] = None

    def prox_default(v, t):
        out, state["dual"] = fgp(v, t * lam_default, 10, state["dual"])
        return out

    x, _ = tv_reconstruction(op, y, iterations=2, step=step)
    expected, _, _ = reference_proximal_gradient(matrices, y, prox_default, lambda image: 0 * image.real.sum(),
                                                 step, 2, True)
    assert torch.allclose(x, expected, atol=1e-10)
    with pytest.raises(ValueError, match="inner_iterations"):
        tv_reconstruction(op, y, inner_iterations=0)


# -- IFR-CS --------------------------------------------------------------------------------------------------------
def dct3() -> list[torch.Tensor]:
    """The nine orthonormal 3×3 DCT-II bases ``c_u c_v cos(π(2i+1)u/6) cos(π(2j+1)v/6)``, the constant one first."""
    c = [math.sqrt(1 / 3), math.sqrt(2 / 3), math.sqrt(2 / 3)]
    bases = []
    for u in range(3):
        for v in range(3):
            basis = torch.empty(3, 3, dtype=torch.float64)
            for i in range(3):
                for j in range(3):
                    basis[i, j] = c[u] * c[v] * math.cos(math.pi * (2 * i + 1) * u / 6) * math.cos(
                        math.pi * (2 * j + 1) * v / 6)
            bases.append(basis)
    return bases


def dct_frame_shrinkage(x: torch.Tensor, threshold) -> torch.Tensor:
    """``(1/9) Σ_l D_lᵀ S(D_l x)``: ``D_l`` the circular 3×3 correlation with basis ``l``, ``S`` soft-thresholding
    of every non-constant response (complex responses shrink in modulus), written with explicit circular shifts."""
    threshold = torch.as_tensor(threshold, dtype=torch.float64).reshape(-1, 1, 1, 1)
    out = torch.zeros_like(x)
    for index, basis in enumerate(dct3()):
        response = sum(basis[i, j] * torch.roll(x, shifts=(1 - i, 1 - j), dims=(-2, -1))
                       for i in range(3) for j in range(3))
        if index:
            magnitude = response.abs()
            response = torch.where(magnitude > threshold, response * (1 - threshold / magnitude.clamp_min(1e-300)),
                                   torch.zeros_like(response))
        out = out + sum(basis[i, j] * torch.roll(response, shifts=(i - 1, j - 1), dims=(-2, -1))
                        for i in range(3) for j in range(3))
    return out / 9


def dense_x_step(matrices, x_t, y, rho):
    """``argmin_x ½‖A x − y‖² + ρ/2 ‖x − x_t‖²``: ``(A^H A + ρ I) x = A^H y + ρ x_t``, solved densely."""
    out = []
    for b, a in enumerate(matrices):
        system = a.conj().T @ a + rho * torch.eye(N * N, dtype=DTYPE)
        out.append(torch.linalg.solve(system, a.conj().T @ y[b].reshape(-1) + rho * x_t[b].reshape(-1)))
    return torch.stack(out).reshape(len(matrices), *SHAPE)


def reference_ifr_cs(matrices, y, lam, rho, V, iterations, refine, x0=None, blur_sigma=1.0, window=5):
    x_t = adjoint(matrices, y) if x0 is None else x0
    iterates = [x_t]
    for _ in range(iterations):
        x = dense_x_step(matrices, x_t, y, rho)
        u = dct_frame_shrinkage(x, lam / rho)
        if refine:
            T = ifr.feature_descriptor(u, V, blur_sigma=blur_sigma, window=window)  # T of the denoised image u
            x_t = u + T * (x - u)
        else:
            x_t = u
        iterates.append(x)
    return x, iterates


def ifr_problem():
    op, y, matrices, target = problem(seed=60)
    return op, y * op.mask, matrices, target


@pytest.mark.parametrize("refine", [True, False])
def test_ifr_cs_is_x_step_dct_shrinkage_and_refinement_from_the_zero_filled_image(refine):
    op, y, matrices, _ = ifr_problem()
    lam, rho, V = 0.4, 0.6, 0.05
    x, history = ifr_cs(op, y, lam, rho=rho, V=V, iterations=3, refine=refine, keep_iterates=True)
    expected, iterates = reference_ifr_cs(matrices, y, lam, rho, V, 3, refine)
    assert torch.allclose(x, expected, atol=1e-9)
    assert len(history.iterates) == 4
    for got, want in zip(history.iterates, iterates, strict=True):
        assert torch.allclose(got, want, atol=1e-9)
    assert history.objective.shape == (0, 2)


def test_ifr_cs_refinement_descriptor_and_shrinkage_all_matter_here():
    """The problem above tells the variants apart: T(u) ≠ T(x), T ∉ {0, 1}, the shrinkage changes x."""
    op, y, matrices, _ = ifr_problem()
    x = dense_x_step(matrices, adjoint(matrices, y), y, 0.6)
    u = dct_frame_shrinkage(x, 0.4 / 0.6)
    assert float((u - x).norm()) > 0.1 * float(x.norm())
    T_u, T_x = ifr.feature_descriptor(u, 0.05), ifr.feature_descriptor(x, 0.05)
    assert float((T_u - T_x).abs().max()) > 0.05 and 0.05 < float(T_u.mean()) < 0.95
    refined, _ = reference_ifr_cs(matrices, y, 0.4, 0.6, 0.05, 2, True)
    plain, _ = reference_ifr_cs(matrices, y, 0.4, 0.6, 0.05, 2, False)
    assert float((refined - plain).norm()) > 1e-2 * float(plain.norm())


def test_ifr_cs_defaults_and_start():
    """λ = 0.01 max|A^H y| per sample, ρ = 1, V = 10⁻³, 50 iterations, blur σ = 1, 5×5 window; ``x0`` replaces
    the zero-filled start ``x_t^(0) = A^H y``."""
    op, y, matrices, _ = ifr_problem()
    lam = 0.01 * adjoint(matrices, y).abs().flatten(1).amax(dim=1)
    x, history = ifr_cs(op, y, keep_iterates=True)
    assert len(history.iterates) == 51
    expected, iterates = reference_ifr_cs(matrices, y, lam, 1.0, 1e-3, 2, True)
    assert all(torch.allclose(a, b, atol=1e-9) for a, b in zip(history.iterates[:3], iterates, strict=True))
    start = random(2, 1, N, N, seed=61)
    x, _ = ifr_cs(op, y, 0.3, rho=0.5, V=0.02, iterations=2, x0=start, blur_sigma=0.7, window=3)
    expected, _ = reference_ifr_cs(matrices, y, 0.3, 0.5, 0.02, 2, True, x0=start, blur_sigma=0.7, window=3)
    assert torch.allclose(x, expected, atol=1e-9)
    _, plain = ifr_cs(op, y, 0.3, iterations=1)
    assert plain.iterates == [] and plain.objective.shape == (0, 2) and plain.objective.dtype == torch.float64
    for name, bad in (("rho", -1.0), ("rho", 0), ("rho", "1"), ("V", True), ("V", 0.0), ("V", -1e-3)):
        with pytest.raises(ValueError, match=f"^{name} must be a positive number, got"):
            ifr_cs(op, y, **{name: bad})
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="^iterations must be a positive integer"):
            ifr_cs(op, y, iterations=bad)
    with pytest.raises(TypeError, match="single-coil"):
        ifr_cs(MRIOperator(op.mask, random(2, 1, N, N, seed=62)), y)
