"""IFR-CS: iterative feature refinement for CS-MRI (ref. [21] of Liu et al. 2020, written as their eq. 3).

Splitting ``½‖F_p x − y‖² + Σ_l λ_l ‖D_l x‖₁`` with an auxiliary ``u`` and penalty ``ρ/2 ‖x − u‖²`` (eq. 2) and
adding a feature-refinement step gives the iteration (eq. 3)::

    x^(n+1)   = argmin_x ½‖F_p x − y‖² + ρ/2 ‖x − x_t^(n)‖²       closed form in k-space (eq. 6)
    u^(n+1)   = argmin_u ρ/2 ‖x^(n+1) − u‖² + Σ_l λ_l ‖D_l u‖₁      sparsity-promoting denoising
    x_t^(n+1) = u^(n+1) + T(u^(n+1)) ⊗ (x^(n+1) − u^(n+1))          feature refinement

The first step is :meth:`mrilab.ops.MRIOperator.soft_dc`. For the second, ``D_l`` are the eight non-constant 3×3
DCT bases with one ``λ``; we use soft-thresholding of the filter responses at ``λ/ρ``
(:func:`mrilab.ifr.dct_shrinkage`), the closed form the sub-problem would have for an orthonormal transform; for
the tight frame ``Σ_l D_lᵀ D_l = 9 I`` it approximates the sub-problem with ``λ/9`` in place of ``λ``. The
third is :func:`mrilab.ifr.feature_refinement`; ``refine=False`` sets ``x_t = u`` (plain splitting), the comparison
the book uses to measure what the refinement step is worth.
"""

from __future__ import annotations

import torch

from .. import ifr
from ..ops import MRIOperator
from .proximal_gradient import History, resolve_lambda


def ifr_cs(op: MRIOperator, y: torch.Tensor, lam: float | torch.Tensor | None = None, *, rho: float = 1.0,
           V: float = 1e-3, iterations: int = 50, refine: bool = True, x0: torch.Tensor | None = None,
           keep_iterates: bool = False, blur_sigma: float = 1.0, window: int = 5) -> tuple[torch.Tensor, History]:
    """Run ``iterations`` IFR-CS iterations (eq. 3) and return ``(x, history)``.

    Parameters
    ----------
    op, y:
        Single-coil operator and measured k-space ``(B, 1, H, W)``.
    lam:
        ``λ`` of the DCT sparsity term; ``None`` gives ``0.01 · max|A^H y|`` (see
        :func:`~mrilab.classical.proximal_gradient.resolve_lambda`).
    rho:
        Penalty ``ρ`` of the splitting (eq. 2): the weight of the current estimate against the measured samples in
        the reconstruction step; the denoiser thresholds at ``λ/ρ``.
    V:
        The constant of the feature descriptor (eq. 13) on the images' intensity scale.
    refine:
        Apply the feature-refinement step (``False``: ``x_t = u``).
    x0:
        Start ``x_t^(0)`` (default the zero-filled image ``A^H y``).
    keep_iterates:
        Keep ``x^(0), x^(1), …`` in ``history.iterates`` (the convergence curve).
    blur_sigma, window:
        Of :func:`mrilab.ifr.feature_descriptor`.

    Returns the last reconstruction ``x^(N)``, the output of a reconstruction step: *soft* data consistency, which
    leaves the fraction ``ρ/(1 + ρ)`` of the residual at every sampled frequency, so ``x^(N)`` does not reproduce the
    samples exactly. ``history.objective`` is empty (the refinement step makes IFR-CS a fixed-point iteration, not
    the minimisation of one objective).
    """
    if not isinstance(op, MRIOperator) or op.sens is not None:
        raise TypeError(f"op must be a single-coil mrilab.ops.MRIOperator, got {type(op).__name__}")
    for name, value in (("rho", rho), ("V", V)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    lam = resolve_lambda(op, y, lam, 0.01)
    x_t = op.adjoint(y) if x0 is None else x0
    iterates = [x_t] if keep_iterates else []
    for _ in range(iterations):
        x = op.soft_dc(x_t, y, rho)
        u = ifr.dct_shrinkage(x, lam / rho)
        x_t = ifr.feature_refinement(x, u, V, blur_sigma=blur_sigma, window=window)[0] if refine else u
        if keep_iterates:
            iterates.append(x)
    return x, History(torch.empty(0, y.shape[0], dtype=torch.float64), iterates)
