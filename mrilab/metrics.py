"""Image-quality metrics on magnitude images, batched, following fastMRI's conventions.

Inputs are ``(H, W)``, ``(B, H, W)`` or ``(B, 1, H, W)``, real or complex (complex inputs are reduced to their
magnitude). Every function returns one value per slice, a tensor ``(B,)``. The data range is the maximum of the
*reference* slice unless ``data_range`` is given (fastMRI passes the volume maximum).

* PSNR ``= 10 log10(data_range^2 / MSE)``;
* SSIM with the 7x7 uniform window, ``K1 = 0.01``, ``K2 = 0.03`` and the sample covariance, averaged over the
  windows that lie inside the image — the defaults of ``skimage.metrics.structural_similarity`` that fastMRI uses;
* HFEN ``= ||LoG * x - LoG * x_ref||_2 / ||LoG * x_ref||_2`` with a 15x15 Laplacian-of-Gaussian, sigma = 1.5
  (Ravishankar & Bresler 2011; IFR-Net's definition);
* NMSE ``= ||x - x_ref||_2^2 / ||x_ref||_2^2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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


def _pair(pred, target):
    pred, target = _as_batch("pred", pred), _as_batch("target", target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return pred, target


def _data_range(target: torch.Tensor, data_range) -> torch.Tensor:
    if data_range is None:
        return target.flatten(1).amax(dim=1)
    return torch.as_tensor(data_range, dtype=target.dtype, device=target.device).expand(target.shape[0])


def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range=None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per slice."""
    pred, target = _pair(pred, target)
    mse = ((pred - target) ** 2).flatten(1).mean(dim=1)
    return 10 * torch.log10(_data_range(target, data_range) ** 2 / mse)


def nmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Normalised mean squared error, per slice."""
    pred, target = _pair(pred, target)
    return ((pred - target) ** 2).flatten(1).sum(dim=1) / (target**2).flatten(1).sum(dim=1)


def ssim(pred: torch.Tensor, target: torch.Tensor, *, data_range=None) -> torch.Tensor:
    """Structural similarity per slice (differentiable; see the module docstring for the conventions)."""
    pred, target = _pair(pred, target)
    if min(pred.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"images must be at least {SSIM_WINDOW}x{SSIM_WINDOW} for SSIM, got {tuple(pred.shape[-2:])}")
    rng = _data_range(target, data_range)[:, None, None, None]
    x, y = pred[:, None], target[:, None]
    kernel = torch.full((1, 1, SSIM_WINDOW, SSIM_WINDOW), 1.0 / SSIM_WINDOW**2, dtype=x.dtype, device=x.device)
    n = SSIM_WINDOW**2
    cov_norm = n / (n - 1)

    def mean(z):
        return F.conv2d(z, kernel)

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (SSIM_K1 * rng) ** 2, (SSIM_K2 * rng) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(dim=1)


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` averaged over the batch, with the data range of each (detached) reference slice."""
    return 1.0 - ssim(pred, target, data_range=_data_range(_as_batch("target", target), None).detach()).mean()


def log_kernel(size: int = 15, sigma: float = 1.5, dtype=torch.float64) -> torch.Tensor:
    """Laplacian-of-Gaussian kernel as MATLAB's ``fspecial('log', size, sigma)`` builds it (zero sum)."""
    r = torch.arange(size, dtype=dtype) - (size - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    rr = xx**2 + yy**2
    g = torch.exp(-rr / (2 * sigma**2))
    g = g / g.sum()
    h = g * (rr - 2 * sigma**2) / sigma**4
    return h - h.mean()


def hfen(pred: torch.Tensor, target: torch.Tensor, *, size: int = 15, sigma: float = 1.5) -> torch.Tensor:
    """High-frequency error norm per slice (zero padding at the border, as MATLAB's ``imfilter``)."""
    pred, target = _pair(pred, target)
    kernel = log_kernel(size, sigma, dtype=pred.dtype).to(pred.device)[None, None]

    def log(z):
        return F.conv2d(z[:, None], kernel, padding=size // 2)

    diff = (log(pred) - log(target)).flatten(1).norm(dim=1)
    return diff / log(target).flatten(1).norm(dim=1)


def evaluate(pred: torch.Tensor, target: torch.Tensor, *, data_range=None) -> dict[str, torch.Tensor]:
    """All four metrics per slice: ``{"psnr", "ssim", "hfen", "nmse"}``."""
    return {
        "psnr": psnr(pred, target, data_range=data_range),
        "ssim": ssim(pred, target, data_range=data_range),
        "hfen": hfen(pred, target),
        "nmse": nmse(pred, target),
    }
