"""Dilation–contraction masking (DCM): the stage-wise masks of IMA.

Zheng et al., "Breaking Information Isolation: Accelerating MRI via Inter-sequence Mapping and Progressive
Masking", AAAI 2025, eqs. (16)–(17). Starting from the sampling mask ``M⁽⁰⁾``, each dilation step marks a
k-space location as trusted when the trusted locations around it, weighted by a diffusion kernel ``φ``, reach a
threshold ``δ`` (eq. 16)::

    M⁽ᵏ⁺¹⁾ = 1  where  (φ ⋆ M⁽ᵏ⁾) ≥ δ  or  M⁽⁰⁾ = 1,   else 0.

Dilation stops once the trusted locations cover more than a fraction ``coverage`` of k-space or after half the
stages (eq. 17); contraction then retraces the same masks in reverse order back to ``M⁽⁰⁾``.

Where the paper leaves a choice, we chose:

* **Kernels.** Fig. 4 draws three kernels without giving their weights. :data:`KERNELS` holds three of our own,
  all with non-negative weights: ``"box3"`` (the 3 × 3 neighbourhood, the paper's default δ = 3 means three trusted
  neighbours), ``"box5"`` (the 5 × 5 neighbourhood: faster) and ``"diamond5"`` (the locations within city-block
  distance 2: as fast as ``box3`` along a Cartesian line, a different shape around a radial spoke).
* **Neighbourhoods wrap around** the edges of k-space (circular padding): the discrete Fourier transform is periodic.
* **The schedule** (:func:`dcm_schedule`). Stage ``t = 1, …, T`` uses the mask of level
  ``min(t − 1, T − t, p)``, where ``p`` is the level at which dilation stopped: the first and the last stage use
  ``M⁽⁰⁾``, the levels rise by one per stage and fall by one per stage symmetrically (``T = 12``:
  0 1 2 3 4 5 5 4 3 2 1 0 when nothing stops dilation earlier).
* **Per sample.** The coverage test of eq. (17) is made for each sample's mask on its own.

Because every kernel weight is non-negative and ``M⁽¹⁾ ⊇ M⁽⁰⁾``, the levels are nested, ``M⁽ᵏ⁾ ⊆ M⁽ᵏ⁺¹⁾``: a
location trusted at level ``k`` saw at least as many trusted neighbours at level ``k`` as when it was added.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from ._checks import check_tensor


def _kernel(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


#: The diffusion kernels φ of :func:`dilate`, by name (weights on a square grid centred on the location).
KERNELS: dict[str, torch.Tensor] = {
    "box3": torch.ones(3, 3),
    "box5": torch.ones(5, 5),
    "diamond5": _kernel([[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]),
}

#: The paper's confidence threshold δ and the coverage ``ratio`` of eq. (17) (Implementation Details).
THRESHOLD = 3.0
COVERAGE = 0.9


def _check_kernel(kernel: str) -> torch.Tensor:
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {tuple(KERNELS)}, got {kernel!r}")
    return KERNELS[kernel]


def _as_batch(mask: torch.Tensor) -> torch.Tensor:
    """Return a boolean ``(H, W)`` or ``(B, 1, H, W)`` mask as ``(B, 1, H, W)``."""
    check_tensor("mask", mask, ndim=(2, 4), dtype=torch.bool)
    if mask.ndim == 4 and mask.shape[1] != 1:
        raise ValueError(f"mask must be (H, W) or (B, 1, H, W), got shape {tuple(mask.shape)}")
    return mask.reshape(-1, 1, *mask.shape[-2:])


def dilate(mask: torch.Tensor, initial: torch.Tensor, *, kernel: str = "box3",
           threshold: float = THRESHOLD) -> torch.Tensor:
    """Return one dilation step of eq. (16): ``(φ ⋆ mask ≥ δ) ∨ initial``.

    ``mask`` and ``initial`` (``M⁽ᵏ⁾`` and ``M⁽⁰⁾``) are boolean ``(H, W)`` or ``(B, 1, H, W)`` masks of the same
    shape; ``φ ⋆ mask`` sums the kernel's weights over the trusted locations around each location (the kernel's
    centre included, the edges of k-space wrapping around). The result has the shape of ``mask``.
    """
    weights = _check_kernel(kernel)
    if not threshold > 0:
        raise ValueError(f"threshold must be positive (a count of trusted neighbours), got {threshold!r}")
    batch, first = _as_batch(mask), _as_batch(initial)
    if batch.shape != first.shape:
        raise ValueError(f"initial must have the shape of mask {tuple(mask.shape)}, got {tuple(initial.shape)}")
    pad = weights.shape[-1] // 2
    padded = functional.pad(batch.float(), (pad, pad, pad, pad), mode="circular")
    counts = functional.conv2d(padded, weights.to(batch.device)[None, None])
    # the counts are sums of small integers, exact in float32; the margin only guards a non-integer δ
    return ((counts >= threshold - 1e-4) | first).reshape(mask.shape)


def coverage(mask: torch.Tensor) -> torch.Tensor:
    """Return ``n₁ / N`` of eq. (17): the fraction of k-space each sample's mask covers, a ``(B,)`` tensor."""
    return _as_batch(mask).flatten(1).float().mean(dim=1)


def dilation_levels(mask: torch.Tensor, levels: int, *, kernel: str = "box3", threshold: float = THRESHOLD,
                    covered: float = COVERAGE) -> list[torch.Tensor]:
    """Return the masks ``M⁽⁰⁾, …, M⁽ˡᵉᵛᵉˡˢ⁾`` of the dilation phase, with eq. (17)'s coverage test per sample.

    A sample whose mask covers more than ``covered`` of k-space keeps it at every later level. The masks have the
    shape and dtype of ``mask`` (boolean ``(H, W)`` or ``(B, 1, H, W)``).
    """
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 0:
        raise ValueError(f"levels must be a non-negative integer, got {levels!r}")
    if not 0 <= covered <= 1:
        raise ValueError(f"covered must be a fraction in [0, 1], got {covered!r}")
    _as_batch(mask)
    sequence = [mask]
    for _ in range(levels):
        current = sequence[-1]
        grown = dilate(current, mask, kernel=kernel, threshold=threshold)
        done = (coverage(current) > covered).reshape(-1, 1, 1, 1)
        sequence.append(torch.where(done, _as_batch(current), _as_batch(grown)).reshape(mask.shape))
    return sequence


def schedule_levels(stages: int) -> list[int]:
    """Return the dilation level of each stage ``t = 1, …, T``: ``min(t − 1, T − t)`` (before eq. 17's coverage test).

    ``T = 12``: ``[0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0]``: dilation over the first half of the stages (eq. 17's
    ``t > T/2`` ends it), the mirror image over the second half, ``M⁽⁰⁾`` at both ends.
    """
    if isinstance(stages, bool) or not isinstance(stages, int) or stages < 1:
        raise ValueError(f"stages must be a positive integer, got {stages!r}")
    return [min(t - 1, stages - t) for t in range(1, stages + 1)]


def dcm_schedule(mask: torch.Tensor, stages: int, *, kernel: str = "box3", threshold: float = THRESHOLD,
                 covered: float = COVERAGE) -> list[torch.Tensor]:
    """Return the mask ``M⁽ᵗ⁾`` of every stage ``t = 1, …, T`` of IMA: dilation, then the symmetric contraction.

    Stage ``t`` uses level :func:`schedule_levels` ``[t − 1]`` of :func:`dilation_levels`, whose coverage test
    (eq. 17) may hold a sample's mask at a lower level. The list has ``stages`` masks, each of the shape of ``mask``;
    the first and the last are ``mask`` itself.
    """
    levels = schedule_levels(stages)
    sequence = dilation_levels(mask, max(levels), kernel=kernel, threshold=threshold, covered=covered)
    return [sequence[level] for level in levels]
