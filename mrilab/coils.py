"""Coil sensitivities, their estimation, root-sum-of-squares combination and SVD coil compression.

Simulated sensitivities come from a fixed birdcage (:func:`birdcage_maps`) or from a coil array whose geometry is
drawn at random for every slice (:func:`random_coil_maps`, :class:`CoilGeometry`); :func:`estimate_sensitivities`
estimates them from measured data, and :func:`coil_compress` compresses the coils (PC-RNN, Section III-E).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_shape2d, check_tensor


@dataclass(frozen=True)
class CoilGeometry:
    """The distributions of a coil array's geometry, drawn anew for every multi-coil slice (:func:`random_coil_maps`).

    Lengths are in units of half the field of view: the image spans ``[-1, 1]`` along both axes, and the head lies
    inside the unit circle. The ``C`` coils sit on a ring around the head; for each slice

    * the ring's radius is ``R ~ U(radius[0], radius[1])``;
    * its centre ``(x0, y0)`` is offset from the centre of the field of view by ``x0, y0 ~ U(-offset, offset)``
      (each independently: the head is not centred in the coil);
    * the ring is turned by ``φ ~ U(-rotation_deg, rotation_deg)`` degrees (180: any orientation, so no coil index
      is tied to one side of the head);
    * coil ``c`` is moved along the ring by ``δ_c ~ U(-angle_jitter, angle_jitter)`` times the spacing ``2π / C``
      of neighbouring coils (below one half, neighbours never swap places);
    * and its distance from the ring's centre is scaled by ``ρ_c ~ U(1 - distance_jitter, 1 + distance_jitter)``.

    Coil ``c`` therefore sits at angle ``θ_c = 2π c / C + φ + 2π δ_c / C`` and position
    ``(x0 + R ρ_c cos θ_c, y0 + R ρ_c sin θ_c)``. The bounds must keep every coil outside the unit circle:
    ``radius[0] (1 - distance_jitter) - √2 offset > 1``. The fixed birdcage of :func:`birdcage_maps` is the special
    case ``radius=(1.5, 1.5)`` with every other width 0 (:data:`BIRDCAGE`).
    """

    radius: tuple[float, float] = (1.35, 1.8)
    offset: float = 0.1
    rotation_deg: float = 180.0
    angle_jitter: float = 0.2
    distance_jitter: float = 0.1

    def __post_init__(self) -> None:
        low, high = self.radius
        if not 0 < low <= high:
            raise ValueError(f"radius must be a pair (low, high) with 0 < low <= high, got {self.radius!r}")
        for name in ("offset", "rotation_deg", "angle_jitter", "distance_jitter"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if self.angle_jitter >= 0.5:
            raise ValueError(f"angle_jitter must be below 0.5 (neighbouring coils would swap), got {self.angle_jitter}")
        if self.distance_jitter >= 1:
            raise ValueError(f"distance_jitter must be below 1, got {self.distance_jitter}")
        closest = low * (1 - self.distance_jitter) - math.sqrt(2) * self.offset
        if closest <= 1:
            raise ValueError("radius, offset and distance_jitter must keep every coil outside the unit circle (the "
                             f"head): radius[0] * (1 - distance_jitter) - sqrt(2) * offset = {closest:.3f} <= 1")


#: The fixed geometry of :func:`birdcage_maps`: evenly spaced coils on a centred ring of radius 1.5.
BIRDCAGE = CoilGeometry(radius=(1.5, 1.5), offset=0.0, rotation_deg=0.0, angle_jitter=0.0, distance_jitter=0.0)


def birdcage_maps(n_coils: int, shape: Sequence[int], *, radius: float = 1.5,
                  dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Simulate the sensitivities of ``n_coils`` coils evenly placed on a circle around the field of view.

    Each coil's magnitude falls off as ``1 / distance`` from the coil and its phase turns with the angle around it
    (the classic birdcage model). The maps are normalised so that ``sum_c |S_c|^2 = 1`` everywhere, which makes
    the root-sum-of-squares of the coil images equal to the magnitude of the object. Returns ``(C, H, W)``.
    """
    n_coils = _check_coils(n_coils)
    angles = np.array([2 * math.pi * c / n_coils for c in range(n_coils)])
    return _ring_maps(np.stack([radius * np.cos(angles), radius * np.sin(angles), angles], axis=1), shape, dtype)


def coil_positions(n_coils: int, rng: np.random.Generator, geometry: CoilGeometry = CoilGeometry()) -> np.ndarray:
    """Draw the places of ``n_coils`` coils around the head: ``(C, 3)`` rows ``(x, y, θ)`` (:class:`CoilGeometry`).

    ``(x, y)`` is a coil's position in half-FOV units (``y`` along the image rows) and ``θ`` its angle on the ring.
    ``rng`` is drawn in a fixed order whatever the widths: the radius, the offset ``(x0, y0)``, the rotation, ``C``
    angle jitters and ``C`` distance factors.
    """
    n_coils = _check_coils(n_coils)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not isinstance(geometry, CoilGeometry):
        raise TypeError(f"geometry must be a CoilGeometry, got {type(geometry).__name__}")
    radius = rng.uniform(*geometry.radius)
    x0, y0 = rng.uniform(-geometry.offset, geometry.offset, 2)
    rotation = np.radians(rng.uniform(-geometry.rotation_deg, geometry.rotation_deg))
    jitter = rng.uniform(-geometry.angle_jitter, geometry.angle_jitter, n_coils)
    distance = radius * rng.uniform(1 - geometry.distance_jitter, 1 + geometry.distance_jitter, n_coils)
    spacing = 2 * math.pi / n_coils
    angles = np.array([2 * math.pi * c / n_coils for c in range(n_coils)]) + rotation + jitter * spacing
    return np.stack([x0 + distance * np.cos(angles), y0 + distance * np.sin(angles), angles], axis=1)


def random_coil_maps(n_coils: int, shape: Sequence[int], rng: np.random.Generator,
                     geometry: CoilGeometry = CoilGeometry(), *, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Sensitivities ``(C, H, W)`` of ``n_coils`` coils placed at random around the head (:class:`CoilGeometry`).

    The coils sit where :func:`coil_positions` draws them from ``rng`` and follow the birdcage model of
    :func:`birdcage_maps` (magnitude ``1 / distance``, phase turning with the angle around the coil), normalised to
    ``sum_c |S_c|^2 = 1``; with :data:`BIRDCAGE` the maps are those of :func:`birdcage_maps`.
    """
    return _ring_maps(coil_positions(n_coils, rng, geometry), shape, dtype)


def _check_coils(n_coils: int) -> int:
    if isinstance(n_coils, bool) or not isinstance(n_coils, int) or n_coils < 1:
        raise ValueError(f"n_coils must be a positive integer, got {n_coils!r}")
    return n_coils


def _ring_maps(positions: np.ndarray, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """Normalised birdcage-model maps of coils at ``positions`` (rows ``(x, y, θ)``, half-FOV units)."""
    height, width = check_shape2d("shape", shape)
    y = (torch.arange(height, dtype=torch.float64) - height / 2) / (height / 2)
    x = (torch.arange(width, dtype=torch.float64) - width / 2) / (width / 2)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    maps = []
    for x_c, y_c, angle in positions.tolist():
        dy, dx = yy - y_c, xx - x_c
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


def calibration_window(height: int, width: int, calib: int) -> tuple[slice, slice]:
    """Rows and columns of the central ``calib × calib`` k-space block (centred on ``(H // 2, W // 2)``)."""
    if isinstance(calib, bool) or not isinstance(calib, int) or not 1 <= calib <= min(height, width):
        raise ValueError(f"calib must be an integer in [1, {min(height, width)}], got {calib!r}")
    top, left = (height - calib + 1) // 2, (width - calib + 1) // 2
    return slice(top, top + calib), slice(left, left + calib)


def estimate_sensitivities(coil_images: torch.Tensor, calib: int) -> torch.Tensor:
    """Estimate coil sensitivities from the central ``calib × calib`` k-space block: ``S_c = x_c^low / rss(x^low)``.

    ``coil_images`` are ``(C, H, W)`` or ``(B, C, H, W)`` (coils along dimension -3), e.g. the zero-filled images of
    the measured coils. Their k-space is cut to the calibration block (everything outside it set to zero) and
    transformed back to the low-resolution coil images ``x^low``; dividing by their root-sum-of-squares gives maps
    with ``sum_c |S_c|^2 = 1`` (the self-calibration of SENSE, Pruessmann et al. 1999, as in PC-RNN's fastMRI
    pipeline, Section III-E). For smooth, noise-free data the maps are the true ones times the object's phase;
    the block should lie inside the fully sampled centre of the mask (:func:`mrilab.masks.calibration_size`).
    """
    from .ops import fft2c, ifft2c

    check_tensor("coil_images", coil_images, ndim=(3, 4), complex_=True)
    rows, columns = calibration_window(*coil_images.shape[-2:], calib)
    kspace = fft2c(coil_images)
    low_kspace = torch.zeros_like(kspace)
    low_kspace[..., rows, columns] = kspace[..., rows, columns]
    low = ifft2c(low_kspace)
    return low / rss(low, dim=-3).unsqueeze(-3).clamp_min(1e-12)


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
    rows, columns = calibration_window(height, width, calib)
    region = k[:, :, rows, columns].reshape(batch, n_coils, -1).transpose(1, 2)
    _, _, vh = torch.linalg.svd(region, full_matrices=False)
    matrix = vh.mH[:, :, :n_virtual]  # (B, n_c, n_vc)
    compressed = torch.einsum("bchw,bcv->bvhw", k, matrix)
    if squeeze:
        compressed, matrix = compressed[0], matrix[0]
    return (compressed, matrix) if return_matrix else compressed
