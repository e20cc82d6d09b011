"""Total-variation CS-MRI: ``min_x ½‖Ax − y‖² + λ TV(x)`` by FISTA with a dual (Chambolle-type) prox — FISTA-TV.

``TV`` is the isotropic total variation ``TV(x) = Σ_ij sqrt(|(∇_v x)_ij|² + |(∇_h x)_ij|²)`` with forward differences
and Neumann boundary (the difference across the last row/column is zero), for complex images (``|·|`` the modulus).

The prox ``argmin_x ½‖x − b‖² + λ TV(x)`` has no closed form. Following Beck & Teboulle (2009b), "Fast
gradient-based algorithms for constrained total variation image denoising and deblurring problems", it is computed
from the dual problem ``min_{p ∈ P} ½‖b − λ∇^H p‖²``, ``P = {p : |p_ij| ≤ 1}``, ``x = b − λ∇^H p``, by their fast
gradient projection (FGP: Chambolle's projection step with FISTA's momentum, step ``1/(8λ)`` since ``‖∇‖² ≤ 8``).
The outer loop is FISTA (:func:`~.proximal_gradient.proximal_gradient`); each outer iteration runs
``inner_iterations`` FGP steps warm-started from the previous dual variable. The inexact prox means the objective
need not decrease monotonically.

The default ``λ = DEFAULT_RELATIVE_LAMBDA · max|A^H y|`` is one value for every sampling ratio and noise level; tune
it on a validation slice when the numbers matter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_tensor
from ..ops import MRIOperator
from .proximal_gradient import History, proximal_gradient, resolve_lambda

DEFAULT_RELATIVE_LAMBDA = 3e-3


def gradient(x: torch.Tensor) -> torch.Tensor:
    """``∇x``: forward differences of images ``(B, 1, H, W)`` along H and W, stacked as ``(B, 2, H, W)``."""
    check_tensor("x", x, ndim=4, finite=False)
    if x.shape[1] != 1:
        raise ValueError(f"x must have shape (B, 1, H, W), got {tuple(x.shape)}")
    dv = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    dh = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    return torch.cat([dv, dh], dim=1)


def gradient_adjoint(p: torch.Tensor) -> torch.Tensor:
    """``∇^H p`` (= minus the discrete divergence) of fields ``(B, 2, H, W)``, returned as ``(B, 1, H, W)``."""
    check_tensor("p", p, ndim=4, finite=False)
    if p.shape[1] != 2:
        raise ValueError(f"p must have shape (B, 2, H, W), got {tuple(p.shape)}")
    qv, qh = p[:, :1, :-1, :], p[:, 1:, :, :-1]
    adj_v = F.pad(qv, (0, 0, 1, 0)) - F.pad(qv, (0, 0, 0, 1))
    adj_h = F.pad(qh, (1, 0, 0, 0)) - F.pad(qh, (0, 1, 0, 0))
    return adj_v + adj_h


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Isotropic ``TV(x)`` of images ``(B, 1, H, W)``, one value per sample ``(B,)``."""
    return _pixel_norm(gradient(x)).sum(dim=(1, 2, 3))


def tv_prox(v: torch.Tensor, lam: float | torch.Tensor, *, iterations: int = 20,
            dual: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``argmin_x ½‖x − v‖² + λ TV(x)`` by FGP (Beck & Teboulle 2009b, Algorithm FGP) on the dual.

    ``lam`` is a non-negative number or a tensor broadcastable to ``(B, 1, 1, 1)``; ``dual`` is a starting dual
    field ``(B, 2, H, W)`` (default zero). Returns the denoised image and the final dual field (to warm-start the
    next call).
    """
    check_tensor("v", v, ndim=4, finite=False)
    lam = torch.as_tensor(lam, dtype=v.real.dtype, device=v.device)
    step = 1.0 / (8 * lam.clamp_min(torch.finfo(lam.dtype).tiny))
    p = torch.zeros_like(gradient(v)) if dual is None else dual
    r, t = p, 1.0
    for _ in range(iterations):
        p_next = r + step * gradient(v - lam * gradient_adjoint(r))
        p_next = p_next / _pixel_norm(p_next).clamp_min(1.0)
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        r = p_next + ((t - 1) / t_next) * (p_next - p)
        p, t = p_next, t_next
    return v - lam * gradient_adjoint(p), p


def tv_reconstruction(op: MRIOperator, y: torch.Tensor, lam: float | torch.Tensor | None = None, *,
                      iterations: int = 100, inner_iterations: int = 10, step: float | None = None,
                      x0: torch.Tensor | None = None, keep_iterates: bool = False,
                      track_objective: bool = True) -> tuple[torch.Tensor, History]:
    """FISTA-TV reconstruction from k-space ``y`` ``(B, C, H, W)`` measured by ``op``.

    ``lam`` is ``λ`` (a number, a tensor broadcastable to ``(B, 1, 1, 1)``, or ``None`` for
    ``DEFAULT_RELATIVE_LAMBDA · max|A^H y|`` per sample). ``iterations`` outer FISTA steps of size ``step``
    (default ``1/L``), each with ``inner_iterations`` FGP steps for the prox. Returns the reconstruction and a
    :class:`~.proximal_gradient.History` of ``½‖Ax − y‖² + λ TV(x)`` (empty with ``track_objective=False``).
    """
    if not isinstance(op, MRIOperator):
        raise TypeError(f"op must be an mrilab.ops.MRIOperator, got {type(op).__name__}")
    if isinstance(inner_iterations, bool) or not isinstance(inner_iterations, int) or inner_iterations < 1:
        raise ValueError(f"inner_iterations must be a positive integer, got {inner_iterations!r}")
    lam = resolve_lambda(op, y, lam, DEFAULT_RELATIVE_LAMBDA)
    state = {"dual": None}

    def prox(v: torch.Tensor, t: float) -> torch.Tensor:
        x, state["dual"] = tv_prox(v, t * lam, iterations=inner_iterations, dual=state["dual"])
        return x

    def penalty(x: torch.Tensor) -> torch.Tensor:
        return (lam * _pixel_norm(gradient(x))).sum(dim=(1, 2, 3))

    return proximal_gradient(op, y, prox, penalty, iterations=iterations, accelerated=True, step=step, x0=x0,
                             keep_iterates=keep_iterates, track_objective=track_objective)


def _pixel_norm(p: torch.Tensor) -> torch.Tensor:
    """``|p_ij| = sqrt(|p_v|² + |p_h|²)`` of a field ``(B, 2, H, W)``, shaped ``(B, 1, H, W)``."""
    squares = p.real**2 + p.imag**2 if p.is_complex() else p**2
    return squares.sum(dim=1, keepdim=True).sqrt()
