"""ISTA and FISTA for wavelet-sparse CS-MRI: ``min_x ½‖Ax − y‖² + λ‖Ψx‖₁`` (Beck & Teboulle 2009).

``Ψ`` is the orthonormal periodic wavelet transform of :mod:`.wavelets`; the ℓ₁ norm counts the *detail*
coefficients only (the coarsest approximation band is left unpenalised, as is usual: it holds the image's mean
intensity, which is not sparse). Because ``Ψ`` is orthonormal, the prox of ``t λ‖Ψ·‖₁`` is
``Ψ^H soft(Ψv, tλ)`` with :func:`mrilab.prox.soft_threshold` acting on the detail coefficients.

``λ`` defaults to ``DEFAULT_RELATIVE_LAMBDA · max|A^H y|`` per sample (see
:func:`~.proximal_gradient.resolve_lambda`). The default is one value for every sampling ratio and noise level; tune λ
per sampling ratio on a validation slice when the numbers matter. At low sampling ratios the aliasing of 1-D
Cartesian masks is coherent, and the wavelet prior may then do no better than zero-filling.
"""

from __future__ import annotations

import torch

from ..ops import MRIOperator
from ..prox import soft_threshold
from .proximal_gradient import History, proximal_gradient, resolve_lambda
from .wavelets import WaveletTransform

DEFAULT_RELATIVE_LAMBDA = 2e-3


def ista(op: MRIOperator, y: torch.Tensor, lam: float | torch.Tensor | None = None, *, wavelet: str = "haar",
         levels: int | None = None, iterations: int = 100, step: float | None = None, x0: torch.Tensor | None = None,
         keep_iterates: bool = False, track_objective: bool = True) -> tuple[torch.Tensor, History]:
    """ISTA with a wavelet prior: ``x_k = Ψ^H soft(Ψ(x_{k−1} − t A^H(A x_{k−1} − y)), tλ)``, ``t = 1/L``.

    Parameters
    ----------
    op, y:
        The operator ``A`` (single- or multi-coil :class:`~mrilab.ops.MRIOperator`) and measured k-space
        ``(B, C, H, W)``.
    lam:
        ``λ``: a non-negative number, a tensor broadcastable to ``(B, 1, 1, 1)``, or ``None`` for the data-relative
        default.
    wavelet, levels:
        Passed to :class:`~.wavelets.WaveletTransform`. Haar by default.
    iterations, step, x0, keep_iterates, track_objective:
        Number of iterations; step ``t`` (default ``1/L`` by power iteration); start (default ``A^H y``); whether
        the history keeps every iterate; whether it records the objective (which costs a transform per iteration).

    Returns the reconstruction ``(B, 1, H, W)`` and a :class:`~.proximal_gradient.History` of the objective.
    """
    return _wavelet_solver(op, y, lam, wavelet, levels, iterations=iterations, step=step, x0=x0,
                           keep_iterates=keep_iterates, track_objective=track_objective, accelerated=False)


def fista(op: MRIOperator, y: torch.Tensor, lam: float | torch.Tensor | None = None, *, wavelet: str = "haar",
          levels: int | None = None, iterations: int = 100, step: float | None = None, x0: torch.Tensor | None = None,
          keep_iterates: bool = False, track_objective: bool = True) -> tuple[torch.Tensor, History]:
    """FISTA with a wavelet prior: the ISTA step of :func:`ista` taken at Beck & Teboulle's extrapolated point.

    Same arguments and returns as :func:`ista`.
    """
    return _wavelet_solver(op, y, lam, wavelet, levels, iterations=iterations, step=step, x0=x0,
                           keep_iterates=keep_iterates, track_objective=track_objective, accelerated=True)


def _wavelet_solver(op: MRIOperator, y: torch.Tensor, lam: float | torch.Tensor | None, wavelet: str,
                    levels: int | None, **options: object) -> tuple[torch.Tensor, History]:
    if not isinstance(op, MRIOperator):
        raise TypeError(f"op must be an mrilab.ops.MRIOperator, got {type(op).__name__}")
    psi = WaveletTransform(op.shape, wavelet, levels)
    detail = psi.detail_mask(device=op.mask.device)
    lam = resolve_lambda(op, y, lam, DEFAULT_RELATIVE_LAMBDA)

    def prox(v: torch.Tensor, t: float) -> torch.Tensor:
        c = psi(v)
        return psi.adjoint(torch.where(detail, soft_threshold(c, t * lam), c))

    def penalty(x: torch.Tensor) -> torch.Tensor:
        return (lam * psi(x).abs() * detail).sum(dim=(1, 2, 3))

    return proximal_gradient(op, y, prox, penalty, **options)
