"""A small two-grid toolkit for the 1-D Poisson problem, the classical model behind CGPD-CSNet.

Everything follows Briggs, Henson & McCormick, *A Multigrid Tutorial* (2nd ed., SIAM 2000), chapters 1–5, and uses
dense float64 NumPy arrays so that every operator can be printed, multiplied and inverted by hand.

The model problem is ``-u''(x) = f(x)`` on ``(0, 1)`` with ``u(0) = u(1) = 0``, discretised on ``n`` interior points
``x_j = j h``, ``h = 1 / (n + 1)``. Coarsening keeps every other point, so a fine grid of ``n = 2 n_c + 1`` points
has a coarse grid of ``n_c`` points (``n = 2^m − 1`` can be coarsened ``m − 1`` times).

* :func:`poisson_matrix` — ``A_h = h^{-2} tridiag(−1, 2, −1)`` (Briggs ch. 1);
* :func:`fourier_mode` — the eigenvectors ``w_k[j] = sin(j k π / (n + 1))`` of ``A_h`` (Briggs ch. 2);
* :func:`jacobi` — weighted Jacobi smoothing, ``u ← u + ω D^{-1}(f − A u)`` (Briggs ch. 2);
* :func:`jacobi_damping` — its per-mode factor ``1 − 2ω sin²(kπh/2)`` (Briggs ch. 2);
* :func:`restriction`, :func:`prolongation` — full weighting ``I_h^{2h}`` and linear interpolation ``I_{2h}^h``,
  with ``I_h^{2h} = ½ (I_{2h}^h)^T`` (Briggs ch. 3);
* :func:`coarse_operator` — the Galerkin product ``I_h^{2h} A_h I_{2h}^h`` or the rediscretised ``A_{2h}``
  (Briggs ch. 5);
* :func:`two_grid_cycle` — pre-smooth ν₁ sweeps, restrict the residual, solve the coarse error equation exactly,
  prolong and correct, post-smooth ν₂ sweeps (Briggs ch. 3, the "two-grid correction scheme");
* :func:`two_grid_matrix` and :func:`convergence_factor` — the cycle's error propagation matrix and its
  convergence factor per cycle, exact (spectral radius) or measured (Briggs ch. 4).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

COARSE_KINDS = ("galerkin", "rediscretised")


def _check_size(name: str, n: int | np.integer, *, odd: bool = False) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    if odd and (n < 3 or n % 2 == 0):
        raise ValueError(f"{name} must be odd and at least 3 (n = 2 n_c + 1 points coarsen to n_c), got {n}")
    return int(n)


def _check_omega(omega: float) -> float:
    if isinstance(omega, bool) or not isinstance(omega, (int, float, np.floating)) or not 0 < omega <= 1:
        raise ValueError(f"omega must be a number in (0, 1] (weighted Jacobi converges there), got {omega!r}")
    return float(omega)


def _check_sweeps(name: str, sweeps: int | np.integer) -> int:
    if isinstance(sweeps, bool) or not isinstance(sweeps, (int, np.integer)) or sweeps < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {sweeps!r}")
    return int(sweeps)


def _check_system(A: ArrayLike, u: ArrayLike, f: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    n = A.shape[0]
    u = np.asarray(u, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    for name, v in (("u", u), ("f", f)):
        if v.shape != (n,):
            raise ValueError(f"{name} must be a vector of length {n} (the size of A), got shape {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"{name} must be finite")
    if np.any(np.diag(A) == 0):
        raise ValueError("A must have a non-zero diagonal (Jacobi divides by it)")
    return A, u, f


def grid(n: int) -> np.ndarray:
    """Return the ``n`` interior points ``x_j = j / (n + 1)``, ``j = 1 … n``."""
    n = _check_size("n", n)
    return np.arange(1, n + 1) / (n + 1)


def poisson_matrix(n: int) -> np.ndarray:
    """``A_h = h^{-2} tridiag(−1, 2, −1)``: the ``n × n`` 1-D Poisson matrix, Dirichlet boundaries (Briggs ch. 1)."""
    n = _check_size("n", n)
    h = 1.0 / (n + 1)
    return (2.0 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)) / h**2


def fourier_mode(n: int, k: int) -> np.ndarray:
    """Mode ``w_k[j] = sin(j k π / (n + 1))``, ``1 ≤ k ≤ n``: an eigenvector of :func:`poisson_matrix` (Briggs ch. 2).

    Modes with ``k < (n + 1) / 2`` are *smooth* (low frequency), the others *oscillatory* (high frequency).
    """
    n = _check_size("n", n)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, n={n}], got {k!r}")
    return np.sin(np.arange(1, n + 1) * k * np.pi / (n + 1))


def jacobi(A: ArrayLike, u: ArrayLike, f: ArrayLike, sweeps: int = 1, omega: float = 2 / 3) -> np.ndarray:
    """``sweeps`` weighted-Jacobi sweeps ``u ← u + ω D^{-1}(f − A u)`` on ``A u = f`` (Briggs ch. 2).

    ``D`` is the diagonal of ``A``. ``ω = 2/3`` is the weight that damps every oscillatory mode of the Poisson
    problem by at least a factor 3 per sweep (Briggs ch. 2). Returns a new array.
    """
    A, u, f = _check_system(A, u, f)
    sweeps = _check_sweeps("sweeps", sweeps)
    omega = _check_omega(omega)
    inv_diag = 1.0 / np.diag(A)
    for _ in range(sweeps):
        u = u + omega * inv_diag * (f - A @ u)
    return u


def jacobi_damping(n: int, omega: float = 2 / 3) -> np.ndarray:
    """Factor ``λ_k = 1 − 2ω sin²(kπh/2)`` by which one Jacobi sweep multiplies mode ``k`` (Briggs ch. 2), k = 1…n.

    (The factor is signed; its magnitude is the damping of the mode's amplitude.)
    """
    n = _check_size("n", n)
    omega = _check_omega(omega)
    k = np.arange(1, n + 1)
    return 1.0 - 2.0 * omega * np.sin(k * np.pi / (2 * (n + 1))) ** 2


def restriction(n: int) -> np.ndarray:
    """Full weighting ``I_h^{2h}``, ``(n−1)/2 × n``: ``v^{2h}_j = (v_{2j−1} + 2 v_{2j} + v_{2j+1}) / 4`` (Briggs ch. 3).

    (1-based fine indices; the coarse point ``j`` sits on the fine point ``2j``.)
    """
    n = _check_size("n", n, odd=True)
    nc = (n - 1) // 2
    R = np.zeros((nc, n))
    for j in range(nc):
        R[j, 2 * j : 2 * j + 3] = (0.25, 0.5, 0.25)
    return R


def prolongation(n_coarse: int) -> np.ndarray:
    """Linear interpolation ``I_{2h}^h``, ``(2 n_c + 1) × n_c`` (Briggs ch. 3).

    Coarse values are copied to the even fine points; each odd fine point is the mean of its two coarse neighbours
    (with the Dirichlet zero beyond the ends). In 1-D, ``I_{2h}^h = 2 (I_h^{2h})^T``.
    """
    n_coarse = _check_size("n_coarse", n_coarse)
    P = np.zeros((2 * n_coarse + 1, n_coarse))
    for j in range(n_coarse):
        P[2 * j : 2 * j + 3, j] = (0.5, 1.0, 0.5)
    return P


def coarse_operator(A: ArrayLike, kind: str = "galerkin") -> np.ndarray:
    """Build the coarse-grid operator ``A_{2h}`` for a fine Poisson matrix ``A`` (Briggs ch. 5).

    ``"galerkin"``: ``I_h^{2h} A I_{2h}^h``, defined for any ``A``. ``"rediscretised"``: the Poisson matrix of the
    coarse grid, :func:`poisson_matrix` of size ``(n − 1) / 2`` (for the Poisson matrix both agree exactly).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    n = _check_size("A.shape[0]", A.shape[0], odd=True)
    if kind == "galerkin":
        R = restriction(n)
        return R @ A @ prolongation(R.shape[0])
    if kind == "rediscretised":
        return poisson_matrix((n - 1) // 2)
    raise ValueError(f"kind must be one of {COARSE_KINDS}, got {kind!r}")


def two_grid_cycle(A: ArrayLike, u: ArrayLike, f: ArrayLike, nu1: int = 1, nu2: int = 1, omega: float = 2 / 3,
                   coarse: str = "galerkin") -> np.ndarray:
    """Run one two-grid correction cycle on ``A u = f`` and return the new iterate (Briggs ch. 3).

    The cycle:

    1. pre-smooth: ``ν₁`` weighted-Jacobi sweeps;
    2. restrict the residual ``r^{2h} = I_h^{2h}(f − A u)`` and solve ``A_{2h} e^{2h} = r^{2h}`` exactly;
    3. correct: ``u ← u + I_{2h}^h e^{2h}``;
    4. post-smooth: ``ν₂`` weighted-Jacobi sweeps.
    """
    A, u, f = _check_system(A, u, f)
    nu1, nu2 = _check_sweeps("nu1", nu1), _check_sweeps("nu2", nu2)
    omega = _check_omega(omega)
    n = _check_size("A.shape[0]", A.shape[0], odd=True)
    R = restriction(n)
    P = prolongation(R.shape[0])
    A_coarse = coarse_operator(A, coarse)
    u = jacobi(A, u, f, nu1, omega)
    e_coarse = np.linalg.solve(A_coarse, R @ (f - A @ u))
    u = u + P @ e_coarse
    return jacobi(A, u, f, nu2, omega)


def two_grid_matrix(n: int, nu1: int = 1, nu2: int = 1, omega: float = 2 / 3, coarse: str = "galerkin") -> np.ndarray:
    """Return the error propagation matrix ``TG`` of :func:`two_grid_cycle` on the Poisson problem (Briggs ch. 4).

    ``TG = S^{ν₂} (I − I_{2h}^h A_{2h}^{-1} I_h^{2h} A_h) S^{ν₁}`` with ``S = I − ω D^{-1} A_h``.
    The error ``e = u* − u`` after one cycle is ``TG e``.
    """
    n = _check_size("n", n, odd=True)
    nu1, nu2 = _check_sweeps("nu1", nu1), _check_sweeps("nu2", nu2)
    omega = _check_omega(omega)
    A = poisson_matrix(n)
    R = restriction(n)
    P = prolongation(R.shape[0])
    smoother = np.eye(n) - omega * A / np.diag(A)[:, None]
    correction = np.eye(n) - P @ np.linalg.solve(coarse_operator(A, coarse), R @ A)
    return np.linalg.matrix_power(smoother, nu2) @ correction @ np.linalg.matrix_power(smoother, nu1)


def convergence_factor(n: int, nu1: int = 1, nu2: int = 1, omega: float = 2 / 3, coarse: str = "galerkin", *,
                       cycles: int | None = None, seed: int = 0) -> float:
    """Convergence factor of the two-grid cycle per cycle on the ``n``-point Poisson problem (Briggs ch. 4).

    ``cycles=None``: the asymptotic factor, the spectral radius of :func:`two_grid_matrix`.
    ``cycles=m``: measured, by running ``m`` cycles on ``A u = 0`` from a random initial guess (seeded), so the
    iterate is the error; returns the mean reduction per cycle ``(‖e_m‖ / ‖e_0‖)^{1/m}``.
    """
    n = _check_size("n", n, odd=True)
    if cycles is None:
        return float(np.max(np.abs(np.linalg.eigvals(two_grid_matrix(n, nu1, nu2, omega, coarse)))))
    cycles = _check_size("cycles", cycles)
    A = poisson_matrix(n)
    u0 = np.random.default_rng(seed).standard_normal(n)
    u = u0
    f = np.zeros(n)
    for _ in range(cycles):
        u = two_grid_cycle(A, u, f, nu1, nu2, omega, coarse)
    return float((np.linalg.norm(u) / np.linalg.norm(u0)) ** (1.0 / cycles))
