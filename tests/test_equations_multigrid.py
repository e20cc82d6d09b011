"""The two-grid toolkit against Briggs, Henson & McCormick written out entry by entry.

Each operator is built here from its defining formula (loops over grid points), the smoother and the cycle run on
a random, diagonally dominant matrix with an unequal diagonal (so that ``D^{-1}``, the Galerkin product and the
order of the steps all show), and the error propagation matrix is assembled from its factors.
"""

import math

import numpy as np
import pytest

from mrilab.multigrid import (
    coarse_operator,
    convergence_factor,
    fourier_mode,
    grid,
    jacobi,
    jacobi_damping,
    poisson_matrix,
    prolongation,
    restriction,
    two_grid_cycle,
    two_grid_matrix,
)


def random_system(n: int, seed: int = 0):
    """A symmetric, strictly diagonally dominant ``A`` with an unequal diagonal, and random ``u``, ``f``."""
    rng = np.random.default_rng(seed)
    B = rng.uniform(-1, 1, (n, n))
    A = (B + B.T) / 2 + np.diag(np.abs(B).sum(axis=1) + rng.uniform(1, 3, n))
    return A, rng.standard_normal(n), rng.standard_normal(n)


def jacobi_by_hand(A, u, f, sweeps, omega):
    u = np.array(u, dtype=float)
    for _ in range(sweeps):
        new = u.copy()
        for i in range(len(u)):
            new[i] = u[i] + omega * (f[i] - sum(A[i, j] * u[j] for j in range(len(u)))) / A[i, i]
        u = new
    return u


def restriction_by_hand(n):
    R = np.zeros(((n - 1) // 2, n))
    for j in range(1, (n - 1) // 2 + 1):  # coarse point j sits on fine point 2j (1-based)
        R[j - 1, 2 * j - 2], R[j - 1, 2 * j - 1], R[j - 1, 2 * j] = 0.25, 0.5, 0.25
    return R


def prolongation_by_hand(nc):
    P = np.zeros((2 * nc + 1, nc))
    for j in range(1, nc + 1):
        P[2 * j - 1, j - 1] = 1.0  # copied to the even fine point 2j
        P[2 * j - 2, j - 1] += 0.5  # and half to each odd neighbour
        P[2 * j, j - 1] += 0.5
    return P


@pytest.mark.parametrize("n", [1, 4, 7])
def test_grid_poisson_matrix_and_fourier_modes_are_their_formulas(n):
    h = 1 / (n + 1)
    assert np.allclose(grid(n), [j * h for j in range(1, n + 1)], rtol=0, atol=1e-15)
    A = poisson_matrix(n)
    for i in range(n):
        for j in range(n):
            expected = 2 / h**2 if i == j else (-1 / h**2 if abs(i - j) == 1 else 0.0)
            assert A[i, j] == pytest.approx(expected, rel=1e-15)
    for k in range(1, n + 1):
        w = fourier_mode(n, k)
        assert np.allclose(w, [math.sin(j * k * math.pi / (n + 1)) for j in range(1, n + 1)], rtol=0, atol=1e-15)
        assert np.allclose(A @ w, 4 / h**2 * math.sin(k * math.pi * h / 2) ** 2 * w)


@pytest.mark.parametrize("omega", [2 / 3, 0.45, 1.0])
@pytest.mark.parametrize("sweeps", [0, 1, 3])
def test_jacobi_is_the_weighted_componentwise_update(omega, sweeps):
    A, u, f = random_system(6, seed=sweeps)
    assert np.allclose(jacobi(A, u, f, sweeps, omega), jacobi_by_hand(A, u, f, sweeps, omega), rtol=1e-13)
    assert np.allclose(jacobi(A, u, f, sweeps), jacobi_by_hand(A, u, f, sweeps, 2 / 3), rtol=1e-13)
    assert np.allclose(jacobi(A, u, f), jacobi_by_hand(A, u, f, 1, 2 / 3), rtol=1e-13)  # one sweep, ω = 2/3


@pytest.mark.parametrize("n, omega", [(5, 2 / 3), (8, 0.3), (3, 1.0)])
def test_jacobi_damping_is_its_formula(n, omega):
    expected = [1 - 2 * omega * math.sin(k * math.pi / (2 * (n + 1))) ** 2 for k in range(1, n + 1)]
    assert np.allclose(jacobi_damping(n, omega), expected, rtol=0, atol=1e-15)
    assert np.allclose(jacobi_damping(n), [1 - 4 / 3 * math.sin(k * math.pi / (2 * (n + 1))) ** 2
                                           for k in range(1, n + 1)], rtol=0, atol=1e-15)


@pytest.mark.parametrize("n", [3, 5, 9])
def test_transfer_operators_and_the_galerkin_product(n):
    nc = (n - 1) // 2
    assert np.array_equal(restriction(n), restriction_by_hand(n))
    assert np.array_equal(prolongation(nc), prolongation_by_hand(nc))
    A, _, _ = random_system(n)
    galerkin = restriction_by_hand(n) @ A @ prolongation_by_hand(nc)
    assert np.allclose(coarse_operator(A), galerkin, rtol=1e-14)
    assert np.allclose(coarse_operator(A, "galerkin"), galerkin, rtol=1e-14)
    assert np.array_equal(coarse_operator(A, "rediscretised"), poisson_matrix(nc))


def cycle_by_hand(A, u, f, nu1, nu2, omega, coarse):
    n = len(u)
    R, P = restriction_by_hand(n), prolongation_by_hand((n - 1) // 2)
    A_coarse = R @ A @ P if coarse == "galerkin" else poisson_matrix((n - 1) // 2)
    u = jacobi_by_hand(A, u, f, nu1, omega)
    u = u + P @ np.linalg.solve(A_coarse, R @ (f - A @ u))
    return jacobi_by_hand(A, u, f, nu2, omega)


@pytest.mark.parametrize("nu1, nu2, omega, coarse", [(2, 1, 0.6, "galerkin"), (0, 2, 0.8, "rediscretised"),
                                                     (1, 0, 1.0, "galerkin")])
def test_two_grid_cycle_is_smooth_restrict_solve_prolong_smooth(nu1, nu2, omega, coarse):
    A, u, f = random_system(7, seed=nu1 + 3 * nu2)  # not Poisson: the two coarse operators differ
    expected = cycle_by_hand(A, u, f, nu1, nu2, omega, coarse)
    assert np.allclose(two_grid_cycle(A, u, f, nu1, nu2, omega, coarse), expected, rtol=1e-12)
    assert np.allclose(two_grid_cycle(A, u, f), cycle_by_hand(A, u, f, 1, 1, 2 / 3, "galerkin"), rtol=1e-12)


@pytest.mark.parametrize("n, nu1, nu2, omega, coarse", [(7, 2, 1, 0.6, "galerkin"), (9, 0, 3, 0.9, "rediscretised"),
                                                        (5, 1, 1, 2 / 3, "galerkin")])
def test_two_grid_matrix_is_its_factors_and_propagates_the_error(n, nu1, nu2, omega, coarse):
    A = poisson_matrix(n)
    R, P = restriction_by_hand(n), prolongation_by_hand((n - 1) // 2)
    S = np.eye(n) - omega * np.diag(1 / np.diag(A)) @ A
    A_coarse = R @ A @ P if coarse == "galerkin" else poisson_matrix((n - 1) // 2)
    expected = (np.linalg.matrix_power(S, nu2) @ (np.eye(n) - P @ np.linalg.inv(A_coarse) @ R @ A)
                @ np.linalg.matrix_power(S, nu1))
    TG = two_grid_matrix(n, nu1, nu2, omega, coarse)
    assert np.allclose(TG, expected, rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(n)
    exact, u = rng.standard_normal(n), rng.standard_normal(n)
    new = two_grid_cycle(A, u, A @ exact, nu1, nu2, omega, coarse)
    assert np.allclose(exact - new, TG @ (exact - u), rtol=1e-9, atol=1e-12)
    rho = max(abs(np.linalg.eigvals(expected)))
    assert convergence_factor(n, nu1, nu2, omega, coarse) == pytest.approx(rho, rel=1e-10)
    assert np.allclose(two_grid_matrix(n), np.linalg.matrix_power(np.eye(n) - 2 / 3 * np.diag(1 / np.diag(A)) @ A, 1)
                       @ (np.eye(n) - P @ np.linalg.inv(R @ A @ P) @ R @ A)
                       @ (np.eye(n) - 2 / 3 * np.diag(1 / np.diag(A)) @ A), atol=1e-12)


@pytest.mark.parametrize("cycles, seed", [(1, 0), (3, 5)])
def test_measured_convergence_factor_is_the_mean_reduction_per_cycle(cycles, seed):
    n, nu1, nu2, omega = 15, 1, 2, 0.7
    A = poisson_matrix(n)
    u0 = np.random.default_rng(seed).standard_normal(n)
    u = u0
    for _ in range(cycles):
        u = cycle_by_hand(A, u, np.zeros(n), nu1, nu2, omega, "galerkin")
    expected = (np.linalg.norm(u) / np.linalg.norm(u0)) ** (1 / cycles)
    assert convergence_factor(n, nu1, nu2, omega, cycles=cycles, seed=seed) == pytest.approx(expected, rel=1e-10)
    default = np.random.default_rng(0).standard_normal(n)
    once = cycle_by_hand(A, default, np.zeros(n), 1, 1, 2 / 3, "galerkin")
    assert convergence_factor(n, cycles=1) == pytest.approx(np.linalg.norm(once) / np.linalg.norm(default), rel=1e-10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: grid(0), "^n must be a positive integer"),
        (lambda: grid(True), "^n must be a positive integer"),
        (lambda: poisson_matrix(2.0), "^n must be a positive integer"),
        (lambda: fourier_mode(0, 1), "^n must be a positive integer"),
        (lambda: fourier_mode(7, 0), "^k must be an integer in"),
        (lambda: fourier_mode(7, True), "^k must be an integer in"),
        (lambda: fourier_mode(7, 2.0), "^k must be an integer in"),
        (lambda: jacobi_damping(0), "^n must be a positive integer"),
        (lambda: jacobi_damping(7, omega=True), "^omega must be a number in"),
        (lambda: jacobi_damping(7, omega=1.01), "^omega must be a number in"),
        (lambda: jacobi(poisson_matrix(3), np.zeros(3), np.zeros(3), sweeps=True), "^sweeps must be a non-negative"),
        (lambda: jacobi(poisson_matrix(3), np.zeros(3), np.zeros(3), sweeps=1.0), "^sweeps must be a non-negative"),
        (lambda: jacobi(np.zeros(3), np.zeros(3), np.zeros(3)), "^A must be a square matrix"),
        (lambda: jacobi(poisson_matrix(3), np.zeros(3), np.array([0, np.inf, 0])), "^f must be finite"),
        (lambda: restriction(8), "^n must be odd"),
        (lambda: prolongation(0), "^n_coarse must be a positive integer"),
        (lambda: two_grid_cycle(poisson_matrix(7), np.zeros(7), np.zeros(7), nu1=-1), "^nu1 must be a non-negative"),
        (lambda: two_grid_cycle(poisson_matrix(7), np.zeros(7), np.zeros(7), nu2=-1), "^nu2 must be a non-negative"),
        (lambda: two_grid_cycle(poisson_matrix(7), np.zeros(7), np.zeros(7), omega=0), "^omega must be a number"),
        (lambda: two_grid_cycle(poisson_matrix(7), np.zeros(7), np.zeros(7), coarse="x"), "^kind must be one of"),
        (lambda: two_grid_cycle(poisson_matrix(8), np.zeros(8), np.zeros(8)), r"^A\.shape\[0\] must be odd"),
        (lambda: coarse_operator(np.zeros((3, 4))), "^A must be a square matrix"),
        (lambda: coarse_operator(np.zeros(3)), "^A must be a square matrix"),
        (lambda: coarse_operator(poisson_matrix(4)), r"^A\.shape\[0\] must be odd"),
        (lambda: two_grid_matrix(8), "^n must be odd"),
        (lambda: two_grid_matrix(7, nu1=-1), "^nu1 must be a non-negative"),
        (lambda: two_grid_matrix(7, nu2=-1), "^nu2 must be a non-negative"),
        (lambda: two_grid_matrix(7, omega=2.0), "^omega must be a number"),
        (lambda: convergence_factor(8), "^n must be odd"),
        (lambda: convergence_factor(7, cycles=True), "^cycles must be a positive integer"),
    ],
)
def test_every_argument_is_checked_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_smallest_valid_arguments_are_accepted():
    assert grid(1).tolist() == [0.5] and poisson_matrix(1).tolist() == [[8.0]]
    assert fourier_mode(1, 1) == pytest.approx([1.0])
    assert restriction(3).tolist() == [[0.25, 0.5, 0.25]] and prolongation(1).tolist() == [[0.5], [1.0], [0.5]]
    assert np.allclose(jacobi(np.array([[2.0]]), np.array([0.0]), np.array([1.0]), omega=1.0), [0.5])
    assert np.isfinite(convergence_factor(3, 0, 0, 1.0))
    assert np.allclose(fourier_mode(np.int64(5), np.int64(2)), fourier_mode(5, 2))
    integers = jacobi([[2, 0], [0, 4]], [1, 2], [0, 0], sweeps=0)  # lists of integers become float arrays
    assert integers.dtype == np.float64 and integers.tolist() == [1.0, 2.0]


def test_single_precision_input_is_computed_in_double_precision():
    """``A``, ``u`` and ``f`` become float64 before any arithmetic: float32 input gives bitwise the float64 result
    of the same (exactly converted) values, not a float32 computation."""
    A, u, f = random_system(7, seed=3)
    A32, u32, f32 = (v.astype(np.float32) for v in (A, u, f))
    A64, u64, f64 = (v.astype(np.float64) for v in (A32, u32, f32))
    for coarse in ("galerkin", "rediscretised"):
        assert np.array_equal(two_grid_cycle(A32, u32, f32, 2, 1, 0.8, coarse),
                              two_grid_cycle(A64, u64, f64, 2, 1, 0.8, coarse))
    assert np.array_equal(coarse_operator(A32), coarse_operator(A64))
    assert coarse_operator(A32).dtype == np.float64
