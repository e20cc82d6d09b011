"""Transforms of a dataset's samples, in the manner of fastMRI's: callables ``sample -> sample``.

``SliceDataset(..., transform=...)`` runs one on every sample (a sequence runs in order, as :class:`Compose`). The
transforms here prepare multi-coil samples as PC-RNN does (Chen et al., "Pyramid Convolutional RNN for MRI Image
Reconstruction", IEEE TMI 2022):

* :class:`CoilCompress`: SVD coil compression to a fixed number of virtual coils (Section III-E);
* :class:`EstimateSensitivities`: coil sensitivities estimated from the calibration region, for methods that need
  maps where the data bring none;
* :class:`Normalise`: divide by the mean magnitude of the zero-filled image, and undo it on the reconstruction
  (Section IV-B).

A transform returns a new dictionary and leaves the sample it was given as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..coils import coil_compress, estimate_sensitivities, rss
from ..ops import ifft2c

Transform = Callable[[dict], dict]


class Compose:
    """Apply ``transforms`` one after another: ``Compose([a, b])(sample) == b(a(sample))``."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        transforms = list(transforms)
        for k, transform in enumerate(transforms):
            if not callable(transform):
                raise TypeError(f"transforms[{k}] must be a callable sample -> sample, got {type(transform).__name__}")
        self.transforms = transforms

    def __call__(self, sample: dict) -> dict:
        """Return ``sample`` passed through every transform in order."""
        for transform in self.transforms:
            sample = transform(sample)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


def as_transform(transform: Transform | Sequence[Transform] | None) -> Transform | None:
    """Return ``transform`` as one callable: ``None`` stays ``None``, a sequence becomes a :class:`Compose`."""
    if transform is None or callable(transform):
        return transform
    if isinstance(transform, Sequence) and not isinstance(transform, (str, bytes)):
        return Compose(transform)
    raise TypeError(f"transform must be None, a callable sample -> sample or a sequence of them, "
                    f"got {type(transform).__name__}")


def _check_calib(calib: int) -> int:
    if isinstance(calib, bool) or not isinstance(calib, int) or calib < 1:
        raise ValueError(f"calib must be a positive integer (the side of the calibration region), got {calib!r}")
    return calib


def _multicoil_kspace(sample: dict, transform: str) -> torch.Tensor:
    kspace = sample.get("kspace")
    if not isinstance(kspace, torch.Tensor) or kspace.ndim != 3:
        shape = tuple(kspace.shape) if isinstance(kspace, torch.Tensor) else type(kspace).__name__
        raise ValueError(f"{transform} needs sample['kspace'] of shape (coils, H, W), got {shape}")
    return kspace


class CoilCompress:
    """Compress a sample's coils to ``n_virtual`` virtual coils by SVD (PC-RNN, Section III-E).

    The central ``calib × calib`` region of the sample's measured k-space gives the compression matrix ``M_c``
    (:func:`mrilab.coils.coil_compress`: the first ``n_virtual`` right-singular vectors of the calibration data),
    and the k-space becomes ``y_comp = y M_c`` at every point: the mask is unchanged, since the compression mixes
    coils, not k-space points. Sensitivities, where the sample has them, become ``S_comp = S M_c`` at every pixel,
    so that noise-free data still obey ``y_comp = M F (S_comp x)``; the compressed maps are no longer normalised
    (``sum_v |S_comp,v|^2 <= 1``, the share of each pixel's coil vector the virtual coils keep). The region should
    lie inside the mask's fully sampled centre (unsampled points in it are zeros and add nothing).
    """

    def __init__(self, n_virtual: int, calib: int = 24) -> None:
        if isinstance(n_virtual, bool) or not isinstance(n_virtual, int) or n_virtual < 1:
            raise ValueError(f"n_virtual must be a positive integer (the number of virtual coils), got {n_virtual!r}")
        self.n_virtual, self.calib = n_virtual, _check_calib(calib)

    def __call__(self, sample: dict) -> dict:
        """Return ``sample`` with its k-space (and sensitivities) compressed to ``n_virtual`` virtual coils."""
        kspace = _multicoil_kspace(sample, "CoilCompress")
        compressed, matrix = coil_compress(kspace, self.n_virtual, calib=self.calib, return_matrix=True)
        out = {**sample, "kspace": compressed}
        if sample.get("sens") is not None:
            out["sens"] = torch.einsum("chw,cv->vhw", sample["sens"].to(matrix.dtype), matrix)
        return out

    def __repr__(self) -> str:
        return f"CoilCompress(n_virtual={self.n_virtual}, calib={self.calib})"


class EstimateSensitivities:
    """Set ``sample["sens"]`` to maps estimated from the calibration region of the sample's measured k-space.

    :func:`mrilab.coils.estimate_sensitivities` of the zero-filled coil images, from the central ``calib × calib``
    k-space block: ``S_c = x_c^low / rss(x^low)``, so ``sum_c |S_c|^2 = 1``. Any ``sens`` the sample had (the
    true maps of synthetic data) is replaced.
    """

    def __init__(self, calib: int = 24) -> None:
        self.calib = _check_calib(calib)

    def __call__(self, sample: dict) -> dict:
        """Return ``sample`` with ``"sens"`` estimated from its own k-space."""
        kspace = _multicoil_kspace(sample, "EstimateSensitivities")
        return {**sample, "sens": estimate_sensitivities(ifft2c(kspace), self.calib)}

    def __repr__(self) -> str:
        return f"EstimateSensitivities(calib={self.calib})"


class Normalise:
    """Divide a sample by the mean magnitude of its zero-filled image, as PC-RNN does (Section IV-B).

    The factor is ``mean_p |x_zf(p)|``, with ``x_zf = F^H y`` of the measured k-space (single-coil) or the
    root-sum-of-squares of the zero-filled coil images (multi-coil). The k-space, the target and the reference are
    divided by it (the mask, ratio and sensitivities are left alone), and it is kept as ``sample["norm"]`` (a
    float32 0-d tensor; ``(B,)`` after collation). :meth:`undo` multiplies a reconstruction by it again, back to the
    scale of the data for evaluation.
    """

    #: The entries that carry the image scale and are divided by the factor.
    SCALED = ("kspace", "target", "reference")

    def __call__(self, sample: dict) -> dict:
        """Return ``sample`` divided by the mean magnitude of its zero-filled image, with the factor as ``"norm"``."""
        if "norm" in sample:
            raise ValueError("Normalise: the sample already has a 'norm' (it was normalised before)")
        kspace = sample["kspace"]
        images = ifft2c(kspace)
        magnitude = images[0].abs() if kspace.shape[0] == 1 else rss(images, dim=0)
        norm = magnitude.mean()
        if not norm > 0:
            raise ValueError(f"Normalise: the zero-filled image has mean magnitude {float(norm)}; nothing to scale by")
        out = {**sample, "norm": norm.to(torch.float32)}
        for key in self.SCALED:
            if key in sample:
                out[key] = sample[key] / norm
        return out

    @staticmethod
    def undo(image: torch.Tensor, norm: torch.Tensor | float) -> torch.Tensor:
        """Return ``image`` (``(1, H, W)`` or ``(B, 1, H, W)``) multiplied back by ``norm`` (0-d, or ``(B,)``)."""
        norm = torch.as_tensor(norm, device=image.device)
        if norm.ndim == 1:
            if image.ndim != 4 or image.shape[0] != norm.shape[0]:
                raise ValueError(f"norm of shape {tuple(norm.shape)} needs an image (B, 1, H, W) with "
                                 f"B = {norm.shape[0]}, got {tuple(image.shape)}")
            norm = norm.view(-1, 1, 1, 1)
        elif norm.ndim != 0:
            raise ValueError(f"norm must be a number or a 0-d or (B,) tensor, got shape {tuple(norm.shape)}")
        return image * norm

    def __repr__(self) -> str:
        return "Normalise()"
