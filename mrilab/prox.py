"""Soft-thresholding, the proximal operator of ``λ‖·‖₁`` for real and complex arrays.

It sits below the modules that use it: the classical solvers (:mod:`mrilab.classical`, which re-exports it), IFR's
frame shrinkage (:mod:`mrilab.ifr`) and ISTA-Net+'s phase (:mod:`mrilab.models.ista_net`).
"""

from __future__ import annotations

import torch

from ._checks import check_tensor


def soft_threshold(x: torch.Tensor, lam: float | torch.Tensor) -> torch.Tensor:
    """``soft(x, λ) = argmin_z ½‖z − x‖² + λ‖z‖₁ = x · max(|x| − λ, 0) / |x|`` elementwise.

    For complex ``x`` the magnitude shrinks by ``λ`` and the phase is kept (``|·|`` is the complex modulus, so this is
    the prox of ``λ Σ|z_i|``); for real ``x`` it is ``sign(x) · max(|x| − λ, 0)``. ``lam`` is a non-negative number or
    a real tensor broadcastable to ``x`` (tensor thresholds are not checked for sign, so that a network can learn
    them, as θ_k in ISTA-Net does).
    """
    check_tensor("x", x, finite=False)
    if isinstance(lam, torch.Tensor):
        check_tensor("lam", lam, complex_=False, finite=False)
    elif isinstance(lam, bool) or not isinstance(lam, (int, float)) or lam < 0:
        raise ValueError(f"lam must be a non-negative number or a real tensor, got {lam!r}")
    magnitude = x.abs()
    scale = torch.relu(magnitude - lam) / magnitude.clamp_min(torch.finfo(magnitude.dtype).tiny)
    return x * scale
