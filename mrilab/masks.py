"""Seeded k-space sampling masks.

Every function returns a boolean ``(H, W)`` tensor (True = sampled), identical for the same arguments on every
machine (NumPy's PCG64 generator), and hits the requested sampling ratio

* exactly to one line for Cartesian masks (``round(ratio * W)`` phase-encoding columns), and
* exactly to one sample for the 2-D masks (``round(ratio * H * W)`` points), far inside the 1 % promised.

Use :func:`sampling_ratio` to read back the ratio a mask achieves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._checks import check_ratio, check_shape2d, check_tensor


def _resolve_ratio(ratio: float | None, acceleration: float | None) -> float:
    if (ratio is None) == (acceleration is None):
        raise ValueError("give exactly one of ratio (e.g. 0.25) or acceleration (e.g. 4)")
    if acceleration is not None:
        if isinstance(acceleration, bool) or not isinstance(acceleration, (int, float)) or acceleration < 1:
            raise ValueError(f"acceleration must be a number >= 1, got {acceleration!r}")
        return 1.0 / float(acceleration)
    return check_ratio("ratio", ratio)


def cartesian_mask(
    shape: Sequence[int],
    ratio: float | None = None,
    *,
    acceleration: float | None = None,
    center_fraction: float | None = None,
    pattern: str = "random",
    seed: int = 0,
) -> torch.Tensor:
    """1-D Cartesian undersampling: fully sampled phase-encoding columns.

    ``round(ratio * W)`` columns are sampled, of which ``round(center_fraction * W)`` are the central
    (low-frequency) ones. ``center_fraction`` defaults to ``0.32 * ratio``, which gives fastMRI's 0.08 at 4x and
    0.04 at 8x. ``pattern="random"`` draws the other columns uniformly; ``"equispaced"`` spreads them evenly.
    Give either ``ratio`` or ``acceleration`` (= 1 / ratio).
    """
    height, width = check_shape2d("shape", shape)
    ratio = _resolve_ratio(ratio, acceleration)
    if pattern not in ("random", "equispaced"):
        raise ValueError(f"pattern must be 'random' or 'equispaced', got {pattern!r}")
    if center_fraction is None:
        center_fraction = 0.32 * ratio
    if not 0.0 <= center_fraction <= ratio:
        raise ValueError(f"center_fraction must be in [0, ratio={ratio}], got {center_fraction}")
    n_lines = max(1, round(ratio * width))
    n_center = min(n_lines, max(1, round(center_fraction * width))) if center_fraction > 0 else 0
    lines = np.zeros(width, dtype=bool)
    start = (width - n_center + 1) // 2
    lines[start : start + n_center] = True
    candidates = np.flatnonzero(~lines)
    n_rest = n_lines - n_center
    if n_rest > 0:
        if pattern == "random":
            chosen = np.random.default_rng(seed).choice(candidates, size=n_rest, replace=False)
        else:
            offset = np.random.default_rng(seed).random()
            positions = np.floor((np.arange(n_rest) + offset) * len(candidates) / n_rest).astype(int)
            chosen = candidates[positions]
        lines[chosen] = True
    return torch.from_numpy(np.broadcast_to(lines, (height, width)).copy())


def random2d_mask(shape: Sequence[int], ratio: float | None = None, *, acceleration: float | None = None,
                  seed: int = 0, center_fraction: float = 0.02, decay: float = 3.0) -> torch.Tensor:
    """2-D variable-density random sampling (for 3-D acquisitions with two phase-encoding directions).

    A small disc holding ``center_fraction`` of the k-space points is fully sampled; the remaining
    ``round(ratio * H * W)`` points are drawn without replacement with probability ``∝ exp(-decay * r^2)``, where
    ``r`` is the distance from the centre normalised to 1 at the edge.
    """
    height, width = check_shape2d("shape", shape)
    ratio = _resolve_ratio(ratio, acceleration)
    n_total = height * width
    n_samples = max(1, round(ratio * n_total))
    radius = _normalised_radius(height, width)
    n_center = min(n_samples, round(min(center_fraction, ratio / 2) * n_total))
    order = np.argsort(radius, axis=None, kind="stable")
    mask = np.zeros(n_total, dtype=bool)
    mask[order[:n_center]] = True
    weights = np.exp(-decay * radius.ravel() ** 2) * ~mask
    rest = n_samples - n_center
    if rest > 0:
        chosen = np.random.default_rng(seed).choice(n_total, size=rest, replace=False, p=weights / weights.sum())
        mask[chosen] = True
    return torch.from_numpy(mask.reshape(height, width))


def radial_mask(shape: Sequence[int], ratio: float | None = None, *, acceleration: float | None = None,
                seed: int = 0) -> torch.Tensor:
    """Pseudo-radial sampling: Cartesian points on straight spokes through the k-space centre.

    Spokes are equally spaced in angle with a random rotation drawn from ``seed``. The number of spokes is the
    smallest that reaches ``round(ratio * H * W)`` points; the last spoke is then shortened symmetrically from its
    outer ends so the count is exact. The union is not monotone in the spoke count: when the other spokes of that
    spacing already cover more than the count, the last spoke is left out and the outermost points of their union
    (ties in index order) are dropped instead.
    """
    height, width = check_shape2d("shape", shape)
    ratio = _resolve_ratio(ratio, acceleration)
    n_samples = max(1, round(ratio * height * width))
    rotation = np.random.default_rng(seed).random() * np.pi

    def spokes(count: int) -> list[np.ndarray]:
        return [_spoke_indices(height, width, rotation + np.pi * i / count) for i in range(count)]

    low, high = 1, 4 * max(height, width)
    while low < high:  # smallest spoke count whose union reaches n_samples
        mid = (low + high) // 2
        covered = np.unique(np.concatenate(spokes(mid)))
        if covered.size >= n_samples:
            high = mid
        else:
            low = mid + 1
    lines = spokes(low)
    mask = np.zeros(height * width, dtype=bool)
    for line in lines[:-1]:
        mask[line] = True
    last = lines[-1]  # ordered from one end through the centre to the other end
    missing = n_samples - int(mask.sum())
    new = last[~mask[last]]
    radius = _normalised_radius(height, width).ravel()
    if missing > 0:
        # keep the `missing` new points closest to the centre
        keep = new[np.argsort(radius[new], kind="stable")[:missing]]
        mask[keep] = True
    elif missing < 0:
        chosen = np.flatnonzero(mask)
        drop = chosen[np.argsort(-radius[chosen], kind="stable")[:-missing]]
        mask[drop] = False
    return torch.from_numpy(mask.reshape(height, width))


#: The mask kinds :func:`mask_from_name` knows.
MASK_KINDS = ("cartesian", "equispaced", "random2d", "radial")


def mask_from_name(kind: str, shape: Sequence[int], ratio: float, *, seed: int = 0) -> torch.Tensor:
    """Dispatch by name: ``"cartesian"``, ``"equispaced"``, ``"random2d"`` or ``"radial"``."""
    if kind == "cartesian":
        return cartesian_mask(shape, ratio, seed=seed)
    if kind == "equispaced":
        return cartesian_mask(shape, ratio, pattern="equispaced", seed=seed)
    if kind == "random2d":
        return random2d_mask(shape, ratio, seed=seed)
    if kind == "radial":
        return radial_mask(shape, ratio, seed=seed)
    raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}")


def calibration_size(mask: torch.Tensor) -> int:
    """Return the side of the largest fully sampled square at the centre of k-space of a ``(H, W)`` mask.

    The calibration region that coil compression and sensitivity estimation read (PC-RNN, Section III-E): for a
    1-D Cartesian mask the width of its fully sampled central band (capped by ``H``). Raises ``ValueError`` when
    even the centre point is not sampled.
    """
    check_tensor("mask", mask, ndim=2, dtype=torch.bool)
    height, width = mask.shape
    size = 0
    while size < min(height, width):
        top, left = height // 2 - (size + 1) // 2, width // 2 - (size + 1) // 2
        if not bool(mask[top : top + size + 1, left : left + size + 1].all()):
            break
        size += 1
    if size == 0:
        raise ValueError("mask must sample the centre of k-space (a calibration region), got an unsampled centre")
    return size


def sampling_ratio(mask: torch.Tensor) -> float:
    """Fraction of k-space a boolean mask samples."""
    check_tensor("mask", mask, dtype=torch.bool)
    return float(mask.double().mean())


def _normalised_radius(height: int, width: int) -> np.ndarray:
    """Distance of every k-space point from the centre ``(H // 2, W // 2)``, 1 at the middle of the edges."""
    ky = (np.arange(height) - height // 2) / (height / 2)
    kx = (np.arange(width) - width // 2) / (width / 2)
    return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


def _spoke_indices(height: int, width: int, angle: float) -> np.ndarray:
    """Flat indices of the grid points on one spoke through the centre, ordered along the spoke."""
    half = np.hypot(height, width) / 2
    t = np.arange(-half, half + 0.25, 0.25)
    rows = np.round(height // 2 + t * np.sin(angle)).astype(int)
    cols = np.round(width // 2 + t * np.cos(angle)).astype(int)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    flat = rows[inside] * width + cols[inside]
    _, first = np.unique(flat, return_index=True)
    return flat[np.sort(first)]
