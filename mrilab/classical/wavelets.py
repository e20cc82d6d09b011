"""An orthonormal 2-D discrete wavelet transform Ψ in torch: batched, real or complex, periodic boundary.

The filters of any orthogonal wavelet of PyWavelets (``"haar"``, ``"db4"``, ``"sym8"``, ...) are used; the transform
itself is written in torch so that it runs on batches on any device and is differentiable. With the periodic
boundary ("periodization") the transform is a square orthonormal matrix, ``Ψ^H Ψ = Ψ Ψ^H = I``, which is what the
prox of ``λ‖Ψx‖₁`` in ISTA/FISTA needs: ``prox(x) = Ψ^H soft(Ψx, λ)``. Its coefficients equal those of
``pywt.wavedec2(x, wavelet, mode="periodization")``.

Coefficients are stored in one array of the image's shape (Mallat's layout): after each level the block splits
into quadrants ``[[LL, LH], [HL, HH]]`` (first letter: along H, second: along W) and the next level transforms
the top-left ``LL`` quadrant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pywt
import torch

from .._checks import check_shape2d, check_tensor


class WaveletTransform:
    """Orthonormal periodic 2-D DWT ``Ψ`` of images of size ``shape = (H, W)`` with ``levels`` levels.

    ``levels=None`` takes PyWavelets' maximum useful level, ``floor(log2(min(H, W) / (L - 1)))`` for a filter of
    length ``L`` (at least 1). ``H`` and ``W`` must be divisible by ``2**levels``.
    """

    def __init__(self, shape: Sequence[int], wavelet: str = "haar", levels: int | None = None) -> None:
        self.shape = check_shape2d("shape", shape)
        try:
            filters = pywt.Wavelet(wavelet)
        except ValueError:
            raise ValueError(f"wavelet must be a name known to PyWavelets, got {wavelet!r}") from None
        if not filters.orthogonal:
            raise ValueError(f"wavelet must be orthogonal (e.g. 'haar', 'db4', 'sym8'), got {wavelet!r}")
        self.wavelet = wavelet
        self._lo_taps = tuple(float(v) for v in filters.rec_lo)
        self._hi_taps = tuple(float(v) for v in filters.rec_hi)
        length = len(self._lo_taps)
        if levels is None:
            levels = max(1, int(math.floor(math.log2(min(self.shape) / (length - 1)))))
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be a positive integer, got {levels!r}")
        if any(size % 2**levels for size in self.shape):
            raise ValueError(f"image size {self.shape} must be divisible by 2**levels = {2**levels}")
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Coefficients ``Ψx`` of images ``x`` shaped ``(..., H, W)``, in the same shape."""
        self._check("x", x)
        return self._analysis(x, self.levels)

    __call__ = forward

    def adjoint(self, c: torch.Tensor) -> torch.Tensor:
        """``Ψ^H c``, which is also the inverse transform ``Ψ^{-1} c`` since ``Ψ`` is orthonormal."""
        self._check("c", c)
        return self._synthesis(c, self.levels)

    inverse = adjoint

    def detail_mask(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Boolean ``(H, W)``: True on detail coefficients, False on the coarsest approximation band ``LL``."""
        mask = torch.ones(self.shape, dtype=torch.bool, device=device)
        mask[: self.shape[0] >> self.levels, : self.shape[1] >> self.levels] = False
        return mask

    def _check(self, name: str, x: torch.Tensor) -> None:
        check_tensor(name, x, finite=False)
        if x.ndim < 2 or tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"{name} must have shape (..., {self.shape[0]}, {self.shape[1]}), got {tuple(x.shape)}")

    def _analysis(self, x: torch.Tensor, levels: int) -> torch.Tensor:
        rows = self._analysis_1d(x)
        blocks = self._analysis_1d(rows.transpose(-1, -2)).transpose(-1, -2)
        if levels > 1:
            h, w = blocks.shape[-2] // 2, blocks.shape[-1] // 2
            top = torch.cat([self._analysis(blocks[..., :h, :w], levels - 1), blocks[..., :h, w:]], dim=-1)
            blocks = torch.cat([top, blocks[..., h:, :]], dim=-2)
        return blocks

    def _synthesis(self, c: torch.Tensor, levels: int) -> torch.Tensor:
        if levels > 1:
            h, w = c.shape[-2] // 2, c.shape[-1] // 2
            top = torch.cat([self._synthesis(c[..., :h, :w], levels - 1), c[..., :h, w:]], dim=-1)
            c = torch.cat([top, c[..., h:, :]], dim=-2)
        columns = self._synthesis_1d(c.transpose(-1, -2)).transpose(-1, -2)
        return self._synthesis_1d(columns)

    def _analysis_1d(self, x: torch.Tensor) -> torch.Tensor:
        """One level along the last axis: ``[a | d]``, ``a[k] = Σ_n h[n] x[(2k + n + s) mod N]`` and ``d`` likewise.

        Computed as a polyphase sum: for each filter tap ``n`` the signal is shifted by ``n + s`` and its even samples
        are taken.
        """
        shift = self._shift(len(self._lo_taps))
        approximation = detail = None
        for n, (lo, hi) in enumerate(zip(self._lo_taps, self._hi_taps, strict=True)):
            taps = torch.roll(x, -(n + shift), dims=-1)[..., 0::2]
            approximation = lo * taps if approximation is None else approximation + lo * taps
            detail = hi * taps if detail is None else detail + hi * taps
        return torch.cat([approximation, detail], dim=-1)

    def _synthesis_1d(self, c: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`_analysis_1d`: scatter ``a[k] h[n] + d[k] g[n]`` back to ``(2k + n + s) mod N``."""
        half = c.shape[-1] // 2
        approximation, detail = c[..., :half], c[..., half:]
        shift = self._shift(len(self._lo_taps))
        out = torch.zeros_like(c)
        for n, (lo, hi) in enumerate(zip(self._lo_taps, self._hi_taps, strict=True)):
            upsampled = torch.zeros_like(c)
            upsampled[..., 0::2] = lo * approximation + hi * detail
            out = out + torch.roll(upsampled, n + shift, dims=-1)
        return out

    @staticmethod
    def _shift(length: int) -> int:
        """Circular offset ``s`` that aligns the coefficients with PyWavelets' periodization mode."""
        return 1 - length // 2
