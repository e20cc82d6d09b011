"""Zero-filled reconstruction ``x₀ = A^H y``: the starting point of every iterative method in the book."""

from __future__ import annotations

import torch

from ..ops import MRIOperator


def zero_filled(kspace: torch.Tensor, mask: torch.Tensor, *, sens: torch.Tensor | None = None) -> torch.Tensor:
    """``A^H y`` of undersampled ``kspace`` ``(B, C, H, W)``.

    Unsampled k-space is treated as zero. With coil sensitivities ``sens`` the coil images are combined by ``S^H``
    into ``(B, 1, H, W)``; without, the result is the coil images ``(B, C, H, W)`` (``C = 1``: single-coil data).
    """
    return MRIOperator(mask, sens).adjoint(kspace)
