"""The MRI forward model: centred orthonormal FFT, the operator A = M F S and data consistency.

Conventions (see the Foundations chapter "The MRI forward model"):

* k-space ``y`` is complex ``(B, C, H, W)`` with ``C`` coils (1 for single-coil data);
* with coil sensitivities ``S`` (``(C, H, W)`` or ``(B, C, H, W)``), images ``x`` are complex ``(B, 1, H, W)`` and
  ``A = M F S`` maps one image to the ``C`` coils' k-space (SENSE);
* without them, ``A = M F`` acts coil by coil: images ``x`` are the complex coil images ``(B, C, H, W)`` for any
  ``C``, and coil ``c``'s k-space is ``M F x_c`` (``C = 1`` is single-coil data);
* ``F`` is the centred, orthonormal 2-D DFT over the last two dimensions, so ``F^H = F^{-1}`` and Parseval holds;
* ``M`` is a boolean sampling mask ``(H, W)`` shared by the batch, or ``(B, 1, H, W)`` one per sample.
"""

from __future__ import annotations

import torch

from ._checks import check_tensor

_DIMS = (-2, -1)


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2-D FFT over the last two dimensions: ``k = F x``."""
    check_tensor("x", x, complex_=True, finite=False)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., H, W), got shape {tuple(x.shape)}")
    shifted = torch.fft.ifftshift(x, dim=_DIMS)
    return torch.fft.fftshift(torch.fft.fft2(shifted, dim=_DIMS, norm="ortho"), dim=_DIMS)


def ifft2c(k: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal inverse 2-D FFT over the last two dimensions: ``x = F^H k``."""
    check_tensor("k", k, complex_=True, finite=False)
    if k.ndim < 2:
        raise ValueError(f"k must have at least 2 dimensions (..., H, W), got shape {tuple(k.shape)}")
    shifted = torch.fft.ifftshift(k, dim=_DIMS)
    return torch.fft.fftshift(torch.fft.ifft2(shifted, dim=_DIMS, norm="ortho"), dim=_DIMS)


def complex_to_channels(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(B, C, H, W)`` to real ``(B, 2C, H, W)``: real parts first, then imaginary parts.

    For a one-channel image this is a view of ``x``'s memory, whose interleaved real and imaginary parts are the
    *channels-last* layout that CPU convolutions run fastest on; for ``C > 1`` it is a copy.
    """
    check_tensor("x", x, ndim=4, complex_=True, finite=False)
    batch, channels, height, width = x.shape
    return torch.view_as_real(x).permute(0, 4, 1, 2, 3).reshape(batch, 2 * channels, height, width)


def channels_to_complex(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`complex_to_channels`: real ``(B, 2C, H, W)`` to complex ``(B, C, H, W)``.

    A channels-last ``(B, 2, H, W)`` tensor (what a convolution returns for a channels-last input) is turned back
    without a copy. Half-precision input (a convolution's output under autocast) becomes complex64, see
    :func:`full_precision`.
    """
    check_tensor("x", x, ndim=4, complex_=False, finite=False)
    x = full_precision(x)
    batch, channels, height, width = x.shape
    if channels % 2:
        raise ValueError(f"x must have an even number of channels (real, imaginary), got {channels}")
    pairs = x.reshape(batch, 2, channels // 2, height, width).permute(0, 2, 3, 4, 1)
    return torch.view_as_complex(pairs.contiguous())


def complex_to_batch(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(B, C, H, W)`` to real ``(2B, C, H, W)``: the real parts, then the imaginary parts.

    For networks that treat the real and imaginary parts as separate images with the same weights (IFR-Net).
    """
    check_tensor("x", x, ndim=4, complex_=True, finite=False)
    return torch.cat([x.real, x.imag])


def batch_to_complex(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`complex_to_batch`: real ``(2B, C, H, W)`` to complex ``(B, C, H, W)``."""
    check_tensor("x", x, ndim=4, complex_=False, finite=False)
    if x.shape[0] % 2:
        raise ValueError(f"x must hold an even number of images (real parts, then imaginary parts), got {x.shape[0]}")
    real, imag = full_precision(x).chunk(2)
    return torch.complex(real, imag)


def full_precision(x: torch.Tensor) -> torch.Tensor:
    """Return a bfloat16 or float16 ``x`` as float32, any other ``x`` unchanged.

    Under autocast the convolutions return half precision. The images made of their outputs are complex64, because
    complex bfloat16 does not exist and complex float16 ("ComplexHalf") has few operators and loses the FFTs'
    accuracy; statistics that cancel (IFR's feature descriptor) are computed in float32 too.
    """
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


class MRIOperator:
    """Forward operator ``A = M F S`` of Cartesian MRI and its adjoint: with coil maps, or coil by coil without.

    Parameters
    ----------
    mask:
        Boolean sampling mask, ``(H, W)`` for the whole batch or ``(B, 1, H, W)`` per sample. True = sampled.
    sens:
        Optional complex coil sensitivities ``(C, H, W)`` or ``(B, C, H, W)``: ``A`` maps an image ``(B, 1, H, W)``
        to the k-space ``(B, C, H, W)`` of the ``C`` coils. ``None``: ``A = M F`` applied to every coil on its own,
        coil images ``(B, C, H, W)`` to k-space ``(B, C, H, W)`` for any ``C`` (``C = 1``: single-coil data).

    Every method takes a keyword ``mask`` that replaces the operator's mask for that call only (for models whose
    mask changes between stages); it is checked like the constructor's and must have the same ``H, W``.

    Every call checks shapes and dtypes only, never values, so that it never waits for the GPU; values (NaN,
    infinity) are checked once where data enter a model (:class:`mrilab.models.base.ReconstructionModel`). A
    tensor ``rho`` of :meth:`soft_dc` (a learned parameter) is the caller's to keep positive.
    """

    def __init__(self, mask: torch.Tensor, sens: torch.Tensor | None = None) -> None:
        _check_mask(mask)
        self.mask = mask
        self.shape = tuple(mask.shape[-2:])
        if sens is not None:
            check_tensor("sens", sens, ndim=(3, 4), complex_=True)
            if tuple(sens.shape[-2:]) != self.shape:
                raise ValueError(
                    f"sens must have spatial size {self.shape} to match mask, got shape {tuple(sens.shape)}"
                )
            if sens.ndim == 3:
                sens = sens.unsqueeze(0)
        self.sens = sens

    @property
    def n_coils(self) -> int:
        """Number of coils ``C`` of the maps, or 1 without maps.

        Without maps ``A`` is one coil's ``M F``, applied coil by coil to as many coils as its input has.
        """
        return 1 if self.sens is None else self.sens.shape[1]

    # -- argument checks -------------------------------------------------------------------------------------
    def _mask(self, mask: torch.Tensor | None) -> torch.Tensor:
        """Return the mask of one call: the operator's, or ``mask`` after the constructor's checks and a size check."""
        if mask is None:
            return self.mask
        _check_mask(mask)
        if tuple(mask.shape[-2:]) != self.shape:
            raise ValueError(f"mask must have the operator's spatial size {self.shape}, got shape {tuple(mask.shape)}")
        return mask

    def _check_image(self, name: str, x: torch.Tensor, mask: torch.Tensor) -> None:
        """Check image ``x``: one image ``(B, 1, H, W)`` with maps, coil images ``(B, C, H, W)`` without."""
        check_tensor(name, x, ndim=4, complex_=True, finite=False)
        coils = 1 if self.sens is not None else x.shape[1]
        if x.shape[1] != coils or tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"{name} must have shape (B, {coils}, {self.shape[0]}, {self.shape[1]}), "
                             f"got {tuple(x.shape)}")
        self._check_batch(name, x.shape[0], mask)

    def _check_kspace(self, name: str, y: torch.Tensor, mask: torch.Tensor, *,
                      image: tuple[str, torch.Tensor] | None = None) -> None:
        """Check k-space ``y``: one k-space per coil of the maps, or, without maps, per coil image of ``image``."""
        check_tensor(name, y, ndim=4, complex_=True, finite=False)
        if self.sens is not None:
            coils, why = self.n_coils, " (one k-space per coil of sens)"
        elif image is not None:
            coils, why = image[1].shape[1], f" (one k-space per coil image of {image[0]})"
        else:
            coils, why = y.shape[1], ""
        if y.shape[1] != coils or tuple(y.shape[-2:]) != self.shape:
            raise ValueError(f"{name} must have shape (B, {coils}, {self.shape[0]}, {self.shape[1]}) "
                             f"for this operator{why}, got {tuple(y.shape)}")
        self._check_batch(name, y.shape[0], mask)

    def _check_batch(self, name: str, batch: int, mask: torch.Tensor) -> None:
        for other, tensor in (("mask", mask), ("sens", self.sens)):
            if tensor is not None and tensor.ndim == 4 and tensor.shape[0] not in (1, batch):
                raise ValueError(f"{name} has batch size {batch} but {other} has batch size {tensor.shape[0]}")

    # -- the operator ----------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``y = M F S x``: image ``(B, 1, H, W)`` to k-space ``(B, C, H, W)``; without maps ``y_c = M F x_c``."""
        mask = self._mask(mask)
        self._check_image("x", x, mask)
        coil_images = x if self.sens is None else x * self.sens
        return fft2c(coil_images) * mask

    __call__ = forward

    def adjoint(self, y: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x = S^H F^H M y = Σ_c S_c^* F^H M y_c``: k-space ``(B, C, H, W)`` to image ``(B, 1, H, W)``.

        Without maps, coil by coil: ``x_c = F^H M y_c``, coil images ``(B, C, H, W)``.
        """
        mask = self._mask(mask)
        self._check_kspace("y", y, mask)
        coil_images = ifft2c(y * mask)
        if self.sens is None:
            return coil_images
        return (coil_images * self.sens.conj()).sum(dim=1, keepdim=True)

    def normal(self, x: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``A^H A x``."""
        return self.adjoint(self.forward(x, mask=mask), mask=mask)

    def hard_dc(self, x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Hard data consistency: replace the sampled k-space of ``x`` by the measurements ``y``.

        Without maps, coil by coil: ``x_c ← F^H (M y_c + (1 - M) F x_c)``, the exact projection onto
        ``{x : A x = y}`` (``x`` and ``y`` have the same coils). With maps: the same in every coil's k-space of
        ``S_c x``, then the coils are combined by ``S^H`` and divided by ``sum_c |S_c|^2`` (which is 1 for normalised
        maps). This is the usual coil-wise replacement, not an exact projection onto ``{x : A x = y}``: the combined
        image keeps the consistent images fixed and reduces the data residual, and :meth:`soft_dc` with a small
        ``rho`` gives the exact least-squares version.
        """
        mask = self._mask(mask)
        self._check_image("x", x, mask)
        self._check_kspace("y", y, mask, image=("x", x))
        coil_images = x if self.sens is None else x * self.sens
        k = torch.where(mask, y, fft2c(coil_images))
        images = ifft2c(k)
        if self.sens is None:
            return images
        weight = (self.sens.abs() ** 2).sum(dim=1, keepdim=True).clamp_min(torch.finfo(x.real.dtype).eps)
        return (images * self.sens.conj()).sum(dim=1, keepdim=True) / weight

    def soft_dc(self, z: torch.Tensor, y: torch.Tensor, rho: float | torch.Tensor, *,
                cg_iterations: int = 20, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Proximal data consistency ``argmin_x ||A x - y||^2 + rho ||x - z||^2``.

        The minimiser solves ``(A^H A + rho I) x = A^H y + rho z``. Without maps ``A^H A = F^H M F`` acts on every
        coil on its own and is diagonal in k-space, so coil by coil ``x_c = F^H[(M y_c + rho F z_c) / (M + rho)]`` —
        IFR-Net's eq. (6) (single-coil: ``C = 1``). With maps the coils couple and conjugate gradient solves the
        system. ``rho`` is a positive number or a tensor broadcastable to ``(B, 1, 1, 1)``.
        """
        mask = self._mask(mask)
        self._check_image("z", z, mask)
        self._check_kspace("y", y, mask, image=("z", z))
        if not isinstance(rho, torch.Tensor) and not (isinstance(rho, (int, float)) and rho > 0):
            raise ValueError(f"rho must be a positive number or a tensor of positive values, got {rho!r}")
        rho = torch.as_tensor(rho, dtype=z.real.dtype, device=z.device)
        if self.sens is None:
            k = (mask * y + rho * fft2c(z)) / (mask + rho)
            return ifft2c(k)
        return self._conjugate_gradient(self.adjoint(y, mask=mask) + rho * z, rho, start=z, iterations=cg_iterations,
                                        mask=mask)

    def _conjugate_gradient(self, rhs: torch.Tensor, rho: torch.Tensor, *, start: torch.Tensor,
                            iterations: int, mask: torch.Tensor) -> torch.Tensor:
        """Solve ``(A^H A + rho I) x = rhs`` by conjugate gradient (the system is Hermitian positive definite)."""
        x = start
        r = rhs - (self.normal(x, mask=mask) + rho * x)
        p = r
        rs = _inner(r, r)
        for _ in range(iterations):
            ap = self.normal(p, mask=mask) + rho * p
            alpha = rs / _inner(p, ap).clamp_min(1e-30)
            x = x + alpha * p
            r = r - alpha * ap
            rs_new = _inner(r, r)
            if bool((rs_new.sqrt() <= 1e-7 * _inner(rhs, rhs).sqrt()).all()):
                break
            p = r + (rs_new / rs.clamp_min(1e-30)) * p
            rs = rs_new
        return x


def _check_mask(mask: torch.Tensor) -> None:
    """Check a sampling mask: boolean, ``(H, W)`` or ``(B, 1, H, W)``."""
    check_tensor("mask", mask, ndim=(2, 4), dtype=torch.bool)
    if mask.ndim == 4 and mask.shape[1] != 1:
        raise ValueError(f"mask must be (H, W) or (B, 1, H, W), got shape {tuple(mask.shape)}")


def _inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Real part of the per-sample inner product ``<a, b>``, shaped ``(B, 1, 1, 1)``."""
    return (a.conj() * b).real.sum(dim=(1, 2, 3), keepdim=True)
