"""The classical baselines every chapter reports: zero filling, FISTA with a Haar wavelet prior and FISTA-TV.

Their λ is chosen per sampling ratio on validation slices (:func:`tune_lambda`), and every chapter uses the same
grids, iterations and tuning slices (:data:`LAMBDA_GRID`, :data:`CLASSICAL`), so a baseline's numbers do not depend
on which chapter computed them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch

from .. import classical
from ..classical.proximal_gradient import resolve_lambda
from ..data import SliceDataset
from ..evaluation import evaluate
from ..ops import MRIOperator
from ..runtime import pick
from ..stats import summarize

#: Relative λ grids (``λ = rel · max|A^H y|``) searched on validation slices for the classical baselines
#: (``smoke`` only checks that the code runs, so it tries one value).
LAMBDA_GRID = {
    "smoke": {"fista": (2e-3,), "tv": (3e-3,)},
    "demo": {"fista": (1e-3, 3e-3, 1e-2), "tv": (1e-3, 3e-3, 1e-2)},
    "full": {"fista": (5e-4, 1e-3, 2e-3, 5e-3, 1e-2), "tv": (5e-4, 1e-3, 3e-3, 1e-2)},
}


#: Iterations of the classical solvers and validation slices for tuning their λ, per profile. Every chapter that
#: reports FISTA-wavelet or TV uses these, so their numbers do not depend on which chapter computed them.
CLASSICAL = {
    "smoke": {"iterations": 20, "tuning_slices": 2},
    "demo": {"iterations": 50, "tuning_slices": 12},
    "full": {"iterations": 200, "tuning_slices": 48},
}

#: How many times :func:`tune_lambda` extends its grid past an edge where the best λ lies.
MAX_GRID_EXTENSIONS = 4

#: The classical baselines: display name → method of :func:`classical_reconstructor`.
CLASSICAL_METHODS = {"Zero-filling": "zero_filled", "FISTA-wavelet": "fista", "TV": "tv"}


def classical_reconstructor(method: str, lam: float, *,
                            iterations: int = 100) -> Callable[[dict], torch.Tensor]:
    """Return ``batch -> image`` for ``"zero_filled"``, ``"fista"`` (Haar wavelets) or ``"tv"`` at relative λ."""

    def reconstruct(batch: dict) -> torch.Tensor:
        op = MRIOperator(batch["mask"])
        y = batch["kspace"]
        if method == "zero_filled":
            return op.adjoint(y)
        if method == "fista":
            return classical.fista(op, y, resolve_lambda(op, y, None, lam), iterations=iterations,
                                   track_objective=False)[0]
        if method == "tv":
            return classical.tv_reconstruction(op, y, resolve_lambda(op, y, None, lam), iterations=iterations,
                                               inner_iterations=5,
                                               track_objective=False)[0]
        raise ValueError(f"method must be 'zero_filled', 'fista' or 'tv', got {method!r}")

    return reconstruct


def tune_lambda(method: str, dataset: torch.utils.data.Dataset, grid: Sequence[float], *, iterations: int = 100,
                device: str = "cpu", label: str = "") -> tuple[float, dict]:
    """Return the relative λ with the best mean PSNR on ``dataset``, and ``{λ: PSNR}`` of every λ tried.

    The search starts on ``grid`` (increasing); when the best λ lies on an edge of what was tried, it warns and
    extends the grid past that edge by the grid's own outer ratio, up to :data:`MAX_GRID_EXTENSIONS` times, so the
    chosen λ is an interior optimum (or the warning says it is not). ``label`` (e.g. the ratio) starts each warning.
    """
    grid = sorted(float(g) for g in grid)
    if not grid or any(g <= 0 for g in grid):
        raise ValueError(f"grid must hold positive relative λ values, got {grid!r}")

    def score(lam: float) -> float:
        reconstruct = classical_reconstructor(method, lam, iterations=iterations)
        return summarize(evaluate(reconstruct, dataset, device=device), metrics=("psnr",))["psnr_mean"]

    scores = {lam: score(lam) for lam in grid}
    for _ in range(MAX_GRID_EXTENSIONS if len(grid) > 1 else 0):
        tried = sorted(scores)
        best = max(scores, key=scores.get)
        if tried[0] < best < tried[-1]:
            break
        step = tried[1] / tried[0] if best == tried[0] else tried[-1] / tried[-2]
        new = best / step if best == tried[0] else best * step
        warnings.warn(f"{label}tune_lambda({method!r}): best λ {best:g} lies on the edge of {tried}; "
                      f"trying {new:g}", stacklevel=2)
        scores[new] = score(new)
    else:
        best = max(scores, key=scores.get)
        tried = sorted(scores)
        if len(tried) > 1 and best in (tried[0], tried[-1]):
            warnings.warn(f"{label}tune_lambda({method!r}): best λ {best:g} is still on the edge of {tried}",
                          stacklevel=2)
    return max(scores, key=scores.get), dict(sorted(scores.items()))


def classical_baselines(profile: str, test_sets: dict, *, contrast: str = "T1w", mask: str = "cartesian",
                        device: str = "cpu") -> tuple[dict, dict]:
    """Tune λ of FISTA-wavelet and TV per ratio on validation slices, then evaluate every classical baseline.

    ``test_sets`` maps each ratio to its test dataset. λ is chosen by :func:`tune_lambda`, starting from
    ``LAMBDA_GRID[profile]``, on the first ``CLASSICAL[profile]["tuning_slices"]`` validation slices at that ratio
    (validation masks, never the test set's); every solver runs ``CLASSICAL[profile]["iterations"]`` iterations.
    Returns ``(lambdas, rows)``: ``lambdas[method, ratio]`` the relative λ (``method`` ``"fista"`` or ``"tv"``) and
    ``rows[name, ratio]`` the per-slice rows of :func:`~mrilab.evaluation.evaluate` for every name in
    :data:`CLASSICAL_METHODS`.
    """
    settings = pick(CLASSICAL, profile)
    lambdas, rows = {}, {}
    for ratio, test_set in test_sets.items():
        tuning = SliceDataset(profile, "val", contrast, mask=mask, ratios=(ratio,),
                              max_slices=settings["tuning_slices"])
        for name, method in CLASSICAL_METHODS.items():
            lam = 0.0
            if method != "zero_filled":
                lam, _ = tune_lambda(method, tuning, pick(LAMBDA_GRID, profile)[method],
                                     iterations=settings["iterations"], device=device, label=f"ratio {ratio:g}: ")
                lambdas[method, ratio] = lam
            reconstruct = classical_reconstructor(method, lam, iterations=settings["iterations"])
            rows[name, ratio] = evaluate(reconstruct, test_set, device=device)
    return lambdas, rows
