"""Image-quality metrics on magnitude images, batched, following fastMRI's conventions.

Inputs are ``(H, W)``, ``(B, H, W)`` or ``(B, 1, H, W)``, real or complex (complex inputs are reduced to their
magnitude). Every function returns one value per slice, a tensor ``(B,)``. The data range is the maximum of the
*target* slice unless ``data_range`` is given (fastMRI passes the volume maximum).

* PSNR ``= 10 log10(data_range^2 / MSE)``;
* SSIM with the 7x7 uniform window, ``K1 = 0.01``, ``K2 = 0.03`` and the sample covariance, averaged over the
  windows that lie inside the image — the defaults of ``skimage.metrics.structural_similarity`` that fastMRI uses;
* HFEN ``= ||LoG * x - LoG * x_ref||_2 / ||LoG * x_ref||_2`` with a 15x15 Laplacian-of-Gaussian, sigma = 1.5
  (Ravishankar & Bresler 2011; IFR-Net's definition);
* NMSE ``= ||x - x_ref||_2^2 / ||x_ref||_2^2``.

Where a score is taken. fastMRI scores the whole field of view, where the air around the head adds easy pixels
and SSIM windows of pure noise. The book's default protocol scores inside a **foreground (head) mask** instead. The
PC-RNN paper (Chen et al. 2022, Sec. IV-B) thresholds the root-sum-of-squares of the coil sensitivities; ours cover
the whole field of view, so :func:`foreground_mask` thresholds the magnitude of the *clean* target instead, fills
holes and dilates a little. With a mask, PSNR and NMSE sum over its pixels, SSIM averages the windows whose centre
lies in it, and HFEN measures the Laplacian-of-Gaussian error over its pixels; ``mask=None`` (``full_fov=True`` in
:func:`scores`) gives fastMRI's whole-image numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ._checks import check_tensor

SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _as_batch(name: str, x: torch.Tensor) -> torch.Tensor:
    check_tensor(name, x, ndim=(2, 3, 4))
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must be (H, W), (B, H, W) or (B, 1, H, W), got shape {tuple(x.shape)}")
        x = x[:, 0]
    elif x.ndim == 2:
        x = x[None]
    x = x.abs() if x.is_complex() else x
    return x.to(torch.float64) if x.dtype == torch.float64 else x.float()


def _pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pred, target = _as_batch("pred", pred), _as_batch("target", target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return pred, target


def _as_mask(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    if mask is None:
        return None
    mask = _as_batch("mask", mask.to(torch.float32) if mask.dtype == torch.bool else mask) > 0.5
    if mask.shape != like.shape:
        raise ValueError(f"mask must have the images' shape {tuple(like.shape)}, got {tuple(mask.shape)}")
    if not mask.flatten(1).any(dim=1).all():
        raise ValueError("mask must select at least one pixel of every slice")
    return mask


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.flatten(1).mean(dim=1)
    mask = mask.to(values.dtype)
    return (values * mask).flatten(1).sum(dim=1) / mask.flatten(1).sum(dim=1)


def foreground_mask(image: torch.Tensor, *, threshold: float = 0.05, dilation: int = 2,
                    smoothing: float = 1.0) -> torch.Tensor:
    """Segment the head in every slice of ``image`` as a bool ``(B, H, W)`` mask.

    The head is where ``|image|`` (Gaussian-smoothed by ``smoothing`` pixels) is above ``threshold`` times its
    maximum: the largest connected region, holes filled, dilated by ``dilation`` pixels.

    Pass the clean target (or, for real data, the fully sampled image): the mask is part of the scoring protocol,
    so it must not depend on the reconstruction being scored.
    """
    magnitude = _as_batch("image", image).detach().cpu().double().numpy()
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 0:
        raise ValueError(f"dilation must be a non-negative integer, got {dilation!r}")
    masks = []
    for plane in magnitude:
        smooth = ndimage.gaussian_filter(plane, smoothing) if smoothing > 0 else plane
        above = smooth > threshold * smooth.max()
        labels, count = ndimage.label(above)
        if count > 1:
            above = labels == 1 + np.argmax(ndimage.sum(above, labels, range(1, count + 1)))
        filled = ndimage.binary_fill_holes(above)
        if dilation:
            filled = ndimage.binary_dilation(filled, iterations=dilation)
        masks.append(filled)
    return torch.from_numpy(np.stack(masks)).to(image.device)


def _data_range(target: torch.Tensor, data_range: float | torch.Tensor | None) -> torch.Tensor:
    if data_range is None:
        return target.flatten(1).amax(dim=1)
    return torch.as_tensor(data_range, dtype=target.dtype, device=target.device).expand(target.shape[0])


def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range: float | torch.Tensor | None = None,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per slice (MSE over ``mask`` if given)."""
    pred, target = _pair(pred, target)
    mse = _masked_mean((pred - target) ** 2, _as_mask(mask, target))
    return 10 * torch.log10(_data_range(target, data_range) ** 2 / mse)


def nmse(pred: torch.Tensor, target: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised mean squared error, per slice (over ``mask`` if given)."""
    pred, target = _pair(pred, target)
    mask = _as_mask(mask, target)
    return _masked_mean((pred - target) ** 2, mask) / _masked_mean(target**2, mask)


def ssim(pred: torch.Tensor, target: torch.Tensor, *, data_range: float | torch.Tensor | None = None,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """Structural similarity per slice (differentiable; see the module docstring for the conventions).

    With ``mask``, the mean is over the windows whose centre pixel lies in the mask.
    """
    pred, target = _pair(pred, target)
    mask = _as_mask(mask, target)
    if min(pred.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"images must be at least {SSIM_WINDOW}x{SSIM_WINDOW} for SSIM, got {tuple(pred.shape[-2:])}")
    rng = _data_range(target, data_range)[:, None, None, None]
    x, y = pred[:, None], target[:, None]
    kernel = torch.full((1, 1, SSIM_WINDOW, SSIM_WINDOW), 1.0 / SSIM_WINDOW**2, dtype=x.dtype, device=x.device)
    n = SSIM_WINDOW**2
    cov_norm = n / (n - 1)

    def mean(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, kernel)

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (SSIM_K1 * rng) ** 2, (SSIM_K2 * rng) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    if mask is None:
        return s.flatten(1).mean(dim=1)
    half = SSIM_WINDOW // 2
    centres = mask[:, half : mask.shape[1] - half, half : mask.shape[2] - half]
    if not centres.flatten(1).any(dim=1).all():
        raise ValueError("mask must hold at least one pixel away from the image border for SSIM")
    return _masked_mean(s[:, 0], centres)


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` averaged over the batch, with the data range of each (detached) target slice."""
    return 1.0 - ssim(pred, target, data_range=_data_range(_as_batch("target", target), None).detach()).mean()


def log_kernel(size: int = 15, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Laplacian-of-Gaussian kernel as MATLAB's ``fspecial('log', size, sigma)`` builds it (zero sum)."""
    r = torch.arange(size, dtype=dtype) - (size - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    rr = xx**2 + yy**2
    g = torch.exp(-rr / (2 * sigma**2))
    g = g / g.sum()
    h = g * (rr - 2 * sigma**2) / sigma**4
    return h - h.mean()


def hfen(pred: torch.Tensor, target: torch.Tensor, *, size: int = 15, sigma: float = 1.5,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """High-frequency error norm per slice.

    Zero padding at the border, as MATLAB's ``imfilter``; norms over ``mask`` if given.
    """
    pred, target = _pair(pred, target)
    mask = _as_mask(mask, target)
    kernel = log_kernel(size, sigma, dtype=pred.dtype).to(pred.device)[None, None]

    def log(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z[:, None], kernel, padding=size // 2)[:, 0]

    return (_masked_mean((log(pred) - log(target)) ** 2, mask) / _masked_mean(log(target) ** 2, mask)).sqrt()


def scores(pred: torch.Tensor, target: torch.Tensor, *, data_range: float | torch.Tensor | None = None,
           mask: torch.Tensor | None = None, full_fov: bool = False) -> dict[str, torch.Tensor]:
    """All four scores of a batch of images against its targets, per slice: ``{"psnr", "ssim", "hfen", "nmse"}``.

    By default inside ``mask``, or, when it is ``None``, inside :func:`foreground_mask` of ``target``;
    ``full_fov=True`` scores the whole image (fastMRI's convention). :func:`mrilab.evaluation.evaluate` runs a
    method on a dataset and scores every batch with this.
    """
    if full_fov:
        mask = None
    elif mask is None:
        mask = foreground_mask(target)
    return {
        "psnr": psnr(pred, target, data_range=data_range, mask=mask),
        "ssim": ssim(pred, target, data_range=data_range, mask=mask),
        "hfen": hfen(pred, target, mask=mask),
        "nmse": nmse(pred, target, mask=mask),
    }
