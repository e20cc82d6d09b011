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

SIZES = (31, 63, 127, 255)


def test_poisson_matrix_and_its_fourier_modes():
    n = 15
    A = poisson_matrix(n)
    h = 1 / (n + 1)
    assert A.shape == (n, n) and np.allclose(A, A.T)
    assert np.allclose(np.diag(A), 2 / h**2) and np.allclose(np.diag(A, 1), -1 / h**2)
    for k in (1, 5, 15):
        w = fourier_mode(n, k)
        eigenvalue = 4 / h**2 * np.sin(k * np.pi * h / 2) ** 2
        assert np.allclose(A @ w, eigenvalue * w)
    # -u'' = pi^2 sin(pi x) has the solution sin(pi x); second-order accurate
    x = grid(n)
    u = np.linalg.solve(A, np.pi**2 * np.sin(np.pi * x))
    assert np.abs(u - np.sin(np.pi * x)).max() < 0.01


def test_restriction_is_half_the_transposed_prolongation():
    for n in (3, 7, 31):
        R, P = restriction(n), prolongation((n - 1) // 2)
        assert R.shape == ((n - 1) // 2, n) and P.shape == (n, (n - 1) // 2)
        assert np.allclose(R, 0.5 * P.T)
        assert np.allclose(R.sum(axis=1), 1.0)  # full weighting preserves constants


def test_prolongation_interpolates_linear_functions_exactly():
    nc = 7
    coarse_x = grid(nc)
    fine = prolongation(nc) @ coarse_x  # u(x) = x is linear
    fine_x = grid(2 * nc + 1)
    # exact except at the last point, where the Dirichlet zero at x = 1 takes part
    assert np.allclose(fine[:-1], fine_x[:-1])


def test_galerkin_coarse_operator_equals_the_rediscretised_one():
    for n in (7, 63):
        A = poisson_matrix(n)
        assert np.allclose(coarse_operator(A, "galerkin"), coarse_operator(A, "rediscretised"))


@pytest.mark.parametrize("omega", [2 / 3, 0.5, 1.0])
def test_jacobi_damps_each_fourier_mode_by_the_known_factor(omega):
    n = 63
    A = poisson_matrix(n)
    h = 1 / (n + 1)
    factors = jacobi_damping(n, omega)
    for k in (1, 16, 32, 48, 63):
        w = fourier_mode(n, k)
        after = jacobi(A, w, np.zeros(n), sweeps=1, omega=omega)  # f = 0: the iterate is the error
        expected = 1 - 2 * omega * np.sin(k * np.pi * h / 2) ** 2
        assert np.allclose(after, expected * w)
        assert np.isclose(factors[k - 1], expected)


def test_weighted_jacobi_smooths_oscillatory_modes_by_a_third():
    n = 63
    factors = np.abs(jacobi_damping(n, 2 / 3))
    oscillatory = factors[(n + 1) // 2 - 1 :]  # k >= (n + 1) / 2
    assert oscillatory.max() <= 1 / 3 + 1e-12
    assert factors[0] > 0.99  # the smoothest mode is barely touched


def test_two_grid_factor_is_bounded_and_independent_of_n():
    exact = [convergence_factor(n) for n in SIZES]
    measured = [convergence_factor(n, cycles=10) for n in SIZES]
    # for nu1 = nu2 = 1 and omega = 2/3 the spectral radius is 1/9
    assert all(abs(rho - 1 / 9) < 1e-9 for rho in exact)
    assert max(measured) < 0.13
    assert max(measured) / min(measured) < 1.1
    # plain Jacobi, by contrast, gets slower as the grid is refined
    jacobi_factors = [np.abs(jacobi_damping(n)).max() for n in SIZES]
    assert all(a < b for a, b in zip(jacobi_factors, jacobi_factors[1:], strict=False))


def test_rediscretised_coarse_operator_and_more_smoothing():
    assert convergence_factor(63, coarse="rediscretised") == pytest.approx(convergence_factor(63))
    assert convergence_factor(63, 2, 2) < convergence_factor(63, 1, 1)


def test_two_grid_cycle_matches_its_error_propagation_matrix():
    n = 31
    A = poisson_matrix(n)
    rng = np.random.default_rng(1)
    exact = rng.standard_normal(n)
    f = A @ exact
    u = rng.standard_normal(n)
    new = two_grid_cycle(A, u, f, 2, 1)
    assert np.allclose(exact - new, two_grid_matrix(n, 2, 1) @ (exact - u))


def test_exact_solution_is_a_fixed_point():
    n = 63
    A = poisson_matrix(n)
    f = np.sin(3 * np.pi * grid(n)) + 1
    u = np.linalg.solve(A, f)
    assert np.allclose(two_grid_cycle(A, u, f), u, rtol=0, atol=1e-12)
    assert np.allclose(jacobi(A, u, f, sweeps=5), u, rtol=0, atol=1e-12)


def test_cycles_converge_to_the_discrete_solution():
    n = 127
    A = poisson_matrix(n)
    f = np.ones(n)
    u = np.zeros(n)
    for _ in range(12):
        u = two_grid_cycle(A, u, f)
    assert np.allclose(u, np.linalg.solve(A, f), rtol=1e-9, atol=0)


def test_zero_sweeps_leave_u_unchanged():
    A = poisson_matrix(7)
    u = np.arange(7.0)
    assert np.array_equal(jacobi(A, u, np.zeros(7), sweeps=0), u)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: poisson_matrix(0), "n must be a positive integer"),
        (lambda: poisson_matrix(3.5), "n must be a positive integer"),
        (lambda: restriction(8), "odd"),
        (lambda: restriction(1), "odd"),
        (lambda: prolongation(0), "n_coarse"),
        (lambda: fourier_mode(7, 8), "k must be an integer in"),
        (lambda: jacobi_damping(7, omega=0), "omega"),
        (lambda: jacobi(poisson_matrix(7), np.zeros(7), np.zeros(7), omega=1.5), "omega"),
        (lambda: jacobi(poisson_matrix(7), np.zeros(7), np.zeros(7), sweeps=-1), "sweeps"),
        (lambda: jacobi(poisson_matrix(7), np.zeros(6), np.zeros(7)), "u must be a vector of length 7"),
        (lambda: jacobi(poisson_matrix(7), np.zeros(7), np.zeros(8)), "f must be a vector of length 7"),
        (lambda: jacobi(np.zeros((3, 4)), np.zeros(3), np.zeros(3)), "A must be a square matrix"),
        (lambda: jacobi(np.zeros((3, 3)), np.zeros(3), np.zeros(3)), "non-zero diagonal"),
        (lambda: jacobi(poisson_matrix(3), np.array([0, np.nan, 0]), np.zeros(3)), "u must be finite"),
        (lambda: two_grid_cycle(poisson_matrix(8), np.zeros(8), np.zeros(8)), "odd"),
        (lambda: two_grid_cycle(poisson_matrix(7), np.zeros(7), np.zeros(7), nu1=-1), "nu1"),
        (lambda: coarse_operator(poisson_matrix(7), "injection"), "kind must be one of"),
        (lambda: convergence_factor(63, cycles=0), "cycles"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
