"""Coil sensitivities, root-sum-of-squares combination and SVD coil compression."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._checks import check_shape2d, check_tensor


def birdcage_maps(n_coils: int, shape: Sequence[int], *, radius: float = 1.5,
                  dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Simulate the sensitivities of ``n_coils`` coils evenly placed on a circle around the field of view.

    Each coil's magnitude falls off as ``1 / distance`` from the coil and its phase turns with the angle around it
    (the classic birdcage model). The maps are normalised so that ``sum_c |S_c|^2 = 1`` everywhere, which makes
    the root-sum-of-squares of the coil images equal to the magnitude of the object. Returns ``(C, H, W)``.
    """
    if isinstance(n_coils, bool) or not isinstance(n_coils, int) or n_coils < 1:
        raise ValueError(f"n_coils must be a positive integer, got {n_coils!r}")
    height, width = check_shape2d("shape", shape)
    y = (torch.arange(height, dtype=torch.float64) - height / 2) / (height / 2)
    x = (torch.arange(width, dtype=torch.float64) - width / 2) / (width / 2)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    maps = []
    for c in range(n_coils):
        angle = 2 * math.pi * c / n_coils
        dy, dx = yy - radius * math.sin(angle), xx - radius * math.cos(angle)
        distance = torch.sqrt(dx**2 + dy**2)
        phase = torch.atan2(dx, -dy) - angle
        maps.append(torch.polar(1.0 / distance, phase))
    maps = torch.stack(maps)
    maps = maps / torch.sqrt((maps.abs() ** 2).sum(dim=0, keepdim=True))
    return maps.to(dtype)


def rss(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Root-sum-of-squares over the coil dimension: ``sqrt(sum_c |x_c|^2)`` (real)."""
    check_tensor("x", x, finite=False)
    return torch.sqrt((x.abs() ** 2).sum(dim=dim))


def coil_compress(kspace: torch.Tensor, n_virtual: int, *, calib: int = 24,
                  return_matrix: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """SVD coil compression (PC-RNN, section III-E).

    The central ``calib x calib`` k-space region of every coil forms ``Y_calib`` (``calib^2 x n_c``); its SVD
    ``Y_calib = U Σ V^H`` gives the compression matrix ``M_c = V[:, :n_vc]`` and the data are compressed as
    ``y_comp = y M_c`` at every k-space point. ``kspace`` is ``(C, H, W)`` or ``(B, C, H, W)``; each sample gets its
    own matrix. Returns the compressed k-space (and ``M_c``, ``(B, C, n_vc)``, if ``return_matrix``).
    """
    check_tensor("kspace", kspace, ndim=(3, 4), complex_=True)
    squeeze = kspace.ndim == 3
    k = kspace.unsqueeze(0) if squeeze else kspace
    batch, n_coils, height, width = k.shape
    if isinstance(n_virtual, bool) or not isinstance(n_virtual, int) or not 1 <= n_virtual <= n_coils:
        raise ValueError(f"n_virtual must be an integer in [1, {n_coils}] (the number of coils), got {n_virtual!r}")
    if not isinstance(calib, int) or not 1 <= calib <= min(height, width):
        raise ValueError(f"calib must be an integer in [1, {min(height, width)}], got {calib!r}")
    top, left = (height - calib + 1) // 2, (width - calib + 1) // 2
    region = k[:, :, top : top + calib, left : left + calib].reshape(batch, n_coils, -1).transpose(1, 2)
    _, _, vh = torch.linalg.svd(region, full_matrices=False)
    matrix = vh.mH[:, :, :n_virtual]  # (B, n_c, n_vc)
    compressed = torch.einsum("bchw,bcv->bvhw", k, matrix)
    if squeeze:
        compressed, matrix = compressed[0], matrix[0]
    return (compressed, matrix) if return_matrix else compressed
