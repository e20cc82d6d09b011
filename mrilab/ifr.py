"""The building blocks of iterative feature refinement (IFR-CS and IFR-Net, Liu et al. 2020).

* :func:`dct_bases`: the orthonormal 2-D DCT-II bases of ``w × w`` patches; the eight non-constant 3×3 ones
  initialise IFR-Net's filters ``w_1`` (Section IV, "Filter initialization").
* :func:`dct_shrinkage`: the sparsity-promoting denoising step of IFR-CS, soft-thresholding in the undecimated
  3×3 DCT frame.
* :func:`feature_descriptor`: the SSIM-like descriptor ``T`` of Appendix A, eq. (13).
* :func:`feature_refinement`: the refinement step ``x_t = u + T ⊗ (x − u)`` (eq. 3, third line; eq. 11).
* :func:`piecewise_linear` and :class:`PiecewiseLinear`: the nonlinear layer ``S_PLF`` of eq. (9), one function per
  block (the paper's ``q^(n,k)``) or one per filter (the authors' released code).

Reading of eq. (13). The appendix defines ``σ_p``, ``σ_q``, ``σ_pq`` as *sums* over ``N_u`` pixels, calls ``p`` and
``q`` local patches, and writes ``μ_p = Σ p_i`` (a mean is meant: the deviations ``p_i − μ_p`` only make sense
around the mean). We compute the statistics in a sliding ``window × window`` patch around every pixel (so ``T``
is a map, as Fig. 12 shows) as SSIM does, with *means* instead of sums: a sum over the ``N_w = window²`` pixels of
a patch is ``N_w`` times the mean, so ``T_sum(V) = T_mean(V / N_w)`` and the two readings differ only in the scale
of ``V``, which IFR-CS tunes and IFR-Net learns. Images are padded by reflection. The authors' released code
(``yqx7150/IFR-Net-Code``, ``util/texture_map.m``) computes the same statistics as 5 × 5 window means, with zero
padding; its blur is a Gaussian of σ = 50 on a 51 × 51 support (``config.m``: ``sigma = 50``, ``Fold = 1``), where
ours defaults to σ = 1 pixel (``blur_sigma``, ``blur_radius``), a choice the IFR chapters explain and measure.

Complex images. ``T`` is computed on the magnitude ``|u|`` and multiplies the complex residual: a structure map
should not depend on the slowly varying phase of an MR image (computed on the real and imaginary parts separately,
a real edge where the phase makes the real part small would look flat). For a real, non-negative image this is
the paper's definition.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_tensor
from .ops import batch_to_complex, complex_to_batch, full_precision
from .prox import soft_threshold


def dct_bases(size: int = 3, *, constant: bool = False) -> torch.Tensor:
    """Return the orthonormal 2-D DCT-II bases of ``size × size`` patches, ``(n, size, size)`` float32.

    Basis ``(u, v)`` is ``c_u c_v cos(π(2i + 1)u / 2s) cos(π(2j + 1)v / 2s)`` with ``c_0 = √(1/s)`` and
    ``c_k = √(2/s)``; they are ordered by ``u + v`` then ``u``. ``constant=False`` drops the constant basis
    ``(0, 0)``, leaving the ``size² − 1`` filters IFR-Net starts from (eight for 3×3).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")
    i = torch.arange(size, dtype=torch.float64)
    one_d = torch.stack([torch.cos(math.pi * (2 * i + 1) * k / (2 * size)) for k in range(size)])
    one_d *= torch.tensor([math.sqrt(1 / size)] + [math.sqrt(2 / size)] * (size - 1), dtype=torch.float64)[:, None]
    order = sorted(((u, v) for u in range(size) for v in range(size)), key=lambda uv: (uv[0] + uv[1], uv[0]))
    if not constant:
        order = order[1:]
    return torch.stack([torch.outer(one_d[u], one_d[v]) for u, v in order]).float()


def dct_shrinkage(x: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """Soft-threshold ``x`` in the undecimated 3×3 DCT frame: ``(1/9) Σ_l D_lᵀ S(D_l x)`` (IFR-CS's denoiser).

    ``D_l`` is circular convolution with the ``l``-th DCT basis of :func:`dct_bases`. The nine bases are
    orthonormal, so the frame is tight, ``Σ_l D_lᵀ D_l = 9 I``, and ``threshold = 0`` returns ``x`` exactly. The
    constant basis (the local mean) is kept; the eight others are soft-thresholded (complex coefficients shrink in
    magnitude). With the Parseval frame ``W = D/3`` this is ``Wᵀ soft(W x, threshold/3)``, the translation-invariant
    shrinkage that approximates the prox of ``(threshold/9) Σ_l ‖D_l u‖₁`` (exact for an orthonormal basis).
    ``x`` is ``(B, 1, H, W)`` real or complex.
    """
    check_tensor("x", x, ndim=4, finite=False)
    if x.shape[1] != 1:
        raise ValueError(f"x must have one channel, shape (B, 1, H, W); got {tuple(x.shape)}")
    bases = dct_bases(3, constant=True).to(x.device)[:, None]
    images = complex_to_batch(x) if x.is_complex() else x
    coefficients = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="circular"), bases.to(images.dtype))
    if x.is_complex():
        coefficients = batch_to_complex(coefficients)
    coefficients = torch.cat([coefficients[:, :1], soft_threshold(coefficients[:, 1:], threshold)], dim=1)
    if x.is_complex():
        coefficients = complex_to_batch(coefficients)
    # D_lᵀ is the circular correlation with the flipped basis, summed over l
    adjoint = bases.flip(-2, -1).transpose(0, 1).to(coefficients.dtype)
    out = F.conv2d(F.pad(coefficients, (1, 1, 1, 1), mode="circular"), adjoint) / 9
    return batch_to_complex(out) if x.is_complex() else out


def gaussian_kernel(sigma: float, radius: int | None = None) -> torch.Tensor:
    """Return the normalised 2-D Gaussian ``(2r + 1, 2r + 1)`` with standard deviation ``sigma`` (default r = ⌈2σ⌉)."""
    g = _gaussian_1d(sigma, radius)
    return torch.outer(g, g).float()  # the outer product of two normalised 1-D kernels is normalised


def _gaussian_1d(sigma: float, radius: int | None = None) -> torch.Tensor:
    """Return the normalised 1-D Gaussian of :func:`gaussian_kernel`, float64 (the 2-D kernel is its outer product)."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma <= 0:
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    if radius is not None and (isinstance(radius, bool) or not isinstance(radius, int) or radius < 1):
        raise ValueError(f"radius must be a positive integer or None, got {radius!r}")
    radius = math.ceil(2 * sigma) if radius is None else radius
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()  # float64: the caller casts to the image's precision


def _local_means(images: torch.Tensor, window: int) -> torch.Tensor:
    pad = window // 2
    return F.avg_pool2d(F.pad(images, (pad, pad, pad, pad), mode="reflect"), window, stride=1)


def feature_descriptor(u: torch.Tensor, V: float | torch.Tensor, *, blur_sigma: float = 1.0,
                       blur_radius: int | None = None, window: int = 5) -> torch.Tensor:
    """Return the feature descriptor ``T(u) = 1 − |(2σ_pq + V) / (σ_p² + σ_q² + V)|`` of Appendix A, eq. (13).

    ``q`` is the patch of ``u_b``, ``u`` blurred by a Gaussian of standard deviation ``blur_sigma`` truncated at
    ``blur_radius`` pixels (default ``⌈2σ⌉``; the authors' released code uses σ = 50 on a 51 × 51 support, radius
    25, see :class:`mrilab.models.IFRNet`); ``σ_p²``, ``σ_q²`` and ``σ_pq`` are the variances and covariance of the
    ``window × window`` patches around each pixel (means over the patch; see the module docstring). ``u`` is
    ``(B, 1, H, W)`` real or complex (then ``|u|``); ``V`` a positive number or a positive tensor broadcastable to
    ``(B, 1, 1, 1)``. Returns a real ``(B, 1, H, W)`` map. By Cauchy–Schwarz
    ``|σ_pq| ≤ σ_p σ_q ≤ (σ_p² + σ_q²)/2``, so ``0 ≤ T ≤ 1``, with ``T < 1`` wherever ``σ_pq > −V/2``; ``T = 0`` on a
    flat patch (all three statistics vanish) and ``T`` is large where blurring changes the patch most, at edges and
    fine structure. Images are padded by reflection (for the blur, then for the window), so ``blur_radius`` must be
    smaller than the image's height and width.

    The statistics are differences of local means (``E[p²] − E[p]²``), which half precision would cancel away: under
    autocast the descriptor is computed in float32.
    """
    check_tensor("u", u, ndim=4, finite=False)
    if u.shape[1] != 1:
        raise ValueError(f"u must have one channel, shape (B, 1, H, W); got {tuple(u.shape)}")
    if isinstance(V, torch.Tensor):
        check_tensor("V", V, complex_=False, finite=False)
    elif isinstance(V, bool) or not isinstance(V, (int, float)) or V <= 0:
        raise ValueError(f"V must be a positive number or a tensor, got {V!r}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd integer >= 3, got {window!r}")
    kernel = _gaussian_1d(blur_sigma, blur_radius)
    if kernel.numel() // 2 >= min(u.shape[-2:]):
        raise ValueError(f"blur_radius {kernel.numel() // 2} must be smaller than the image size "
                         f"{tuple(u.shape[-2:])} (reflection padding)")
    with torch.autocast(u.device.type, enabled=False):
        return _descriptor(full_precision(u.abs() if u.is_complex() else u), V, kernel, window)


def _descriptor(p: torch.Tensor, V: float | torch.Tensor, kernel: torch.Tensor, window: int) -> torch.Tensor:
    """:func:`feature_descriptor` of a real float32 image ``p`` with the 1-D Gaussian ``kernel``, arguments checked.

    The 2-D Gaussian is the outer product of ``kernel`` with itself, applied as two 1-D convolutions (the same
    weighted sum; a 51 × 51 kernel costs 102 multiplications per pixel instead of 2,601).
    """
    kernel = kernel.to(p)
    radius = kernel.shape[-1] // 2
    padded = F.pad(p, (radius,) * 4, mode="reflect")
    q = F.conv2d(F.conv2d(padded, kernel.reshape(1, 1, -1, 1)), kernel.reshape(1, 1, 1, -1))
    # the statistics are shift-invariant: centring on the image mean avoids cancellation in E[p²] − E[p]²
    offset = p.mean(dim=(-2, -1), keepdim=True)
    p, q = p - offset, q - offset
    moments = _local_means(torch.cat([p, q, p * p, q * q, p * q], dim=1), window)
    mean_p, mean_q, pp, qq, pq = moments.unbind(dim=1)
    var_p = (pp - mean_p**2).clamp_min(0)
    var_q = (qq - mean_q**2).clamp_min(0)
    cov = pq - mean_p * mean_q
    V = V.reshape(-1, 1, 1) if isinstance(V, torch.Tensor) and V.ndim else V
    # rounding can push the fraction a few ulps above one where p ≈ q; T is zero there
    return (1 - ((2 * cov + V) / (var_p + var_q + V)).abs()).clamp_min(0).unsqueeze(1)


#: The images the descriptor of :func:`feature_refinement` can be computed from.
DESCRIPTOR_SOURCES = ("u", "x")


def feature_refinement(x: torch.Tensor, u: torch.Tensor, V: float | torch.Tensor, *, blur_sigma: float = 1.0,
                       blur_radius: int | None = None, window: int = 5,
                       descriptor_of: str = "u") -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(x_t, T)`` with ``x_t = u + T ⊗ (x − u)`` (eq. 3, third line; IFR-Net's module R, eq. 11).

    The residual ``x − u`` holds what the denoiser removed: noise, aliasing and some structure. ``T`` keeps the
    residual where the image has structure and drops it on flat regions. ``T = T(u)``, the descriptor of the denoised
    image, as Appendix A defines it (``descriptor_of="u"``); ``descriptor_of="x"`` computes it from ``x`` instead,
    as the authors' released code does (``layersfunction/Tmid.m`` calls ``texture_map(x, c)``). The other arguments
    are those of :func:`feature_descriptor`.
    """
    if descriptor_of not in DESCRIPTOR_SOURCES:
        raise ValueError(f"descriptor_of must be one of {DESCRIPTOR_SOURCES}, got {descriptor_of!r}")
    T = feature_descriptor(u if descriptor_of == "u" else x, V, blur_sigma=blur_sigma, blur_radius=blur_radius,
                           window=window)
    return u + T * (x - u), T


def control_points(count: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """Return the ``N_c`` positions ``p_i`` of ``S_PLF``, uniform in ``[low, high]`` (eq. 9)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        raise ValueError(f"count must be an integer >= 2, got {count!r}")
    return torch.linspace(low, high, count)


def piecewise_linear(alpha: torch.Tensor, q: torch.Tensor, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """``S_PLF(α; {p_i, q_i})`` of eq. (9), with ``p_i`` uniform in ``[low, high]`` and ``N_c = q.shape[-1]``.

    Inside ``[p_1, p_Nc]`` it interpolates linearly between the control points, ``q_r + (α − p_r)(q_{r+1} − q_r)
    / (p_{r+1} − p_r)`` with ``r = ⌊(α − p_1)/(p_2 − p_1)⌋``; outside it continues with slope one, ``α + q_1 − p_1``
    below and ``α + q_Nc − p_Nc`` above, so the function is continuous everywhere and piecewise linear. ``q`` is
    ``(N_c,)``, one function for every element of ``alpha``, or ``(C, N_c)``, one function per channel: row ``c``
    applies to ``alpha[:, c]`` (``alpha`` is then ``(B, C, ...)``; the authors' released code learns one function
    per filter this way). Gradients reach ``q`` through the two control points around each ``α``.

    The derivatives are written out (:class:`_PiecewiseLinear`) rather than left to autograd, which would gather
    ``q_r`` and ``q_{r+1}`` twice and scatter their gradients back with two indexed accumulations: with them the
    layer costs half as much, and it is the largest cost of IFR-Net's step after the convolutions.
    """
    if q.ndim not in (1, 2) or q.shape[-1] < 2:
        raise ValueError(f"q must be a 1-D tensor of at least 2 control values, or a 2-D tensor of one such row per "
                         f"channel; got shape {tuple(q.shape)}")
    if q.ndim == 2 and (alpha.ndim < 2 or alpha.shape[1] != q.shape[0]):
        raise ValueError(f"alpha must have q.shape[0] = {q.shape[0]} channels (dimension 1) for one function per "
                         f"channel; got shape {tuple(alpha.shape)}")
    return _PiecewiseLinear.apply(alpha, q, float(low), float(high))


class _PiecewiseLinear(torch.autograd.Function):
    """``S_PLF`` with its derivatives written out.

    ``∂S/∂α = (q_{r+1} − q_r)/Δp`` inside ``[low, high]`` and 1 outside; ``∂S/∂q_r = 1 − t`` and
    ``∂S/∂q_{r+1} = t`` with ``t = (clamp(α) − p_r)/Δp``, so beyond either end all of it goes to ``q_1`` or ``q_Nc``.
    With one function per channel, ``r`` indexes the row of ``α``'s channel in the flattened ``q``.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, alpha: torch.Tensor, q: torch.Tensor, low: float,
                high: float) -> torch.Tensor:
        count = q.shape[-1]
        spacing = (high - low) / (count - 1)
        clamped = alpha.clamp(low, high)
        position = (clamped - low) / spacing
        r = position.floor().clamp_max_(count - 2).long()
        t = position - r
        if q.ndim == 2:  # row c of q for channel c: offsets into the flattened q and its differences
            channel = torch.arange(q.shape[0], device=alpha.device).reshape(1, -1, *([1] * (alpha.ndim - 2)))
            index, slope = r + channel * count, q.diff().take(r + channel * (count - 1))
        else:
            index, slope = r, q.diff().take(r)
        ctx.save_for_backward(index, t, slope, (alpha >= low) & (alpha <= high))
        ctx.spacing, ctx.shape, ctx.dtypes = spacing, q.shape, (alpha.dtype, q.dtype)
        # outside [p_1, p_Nc], α − clamp(α) continues the end values with slope one: α + q_1 − p_1 and α + q_Nc − p_Nc
        return q.take(index) + t * slope + (alpha - clamped)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx,
                 grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None]:
        index, t, slope, inside = ctx.saved_tensors
        alpha_dtype, q_dtype = ctx.dtypes
        grad_alpha = grad_q = None
        if ctx.needs_input_grad[0]:
            grad_alpha = (torch.where(inside, slope / ctx.spacing, 1.0) * grad).to(alpha_dtype)
        if ctx.needs_input_grad[1]:
            upper = (grad * t).flatten()
            index = index.flatten()
            grad_q = torch.zeros(ctx.shape.numel(), dtype=upper.dtype, device=upper.device)
            grad_q.index_add_(0, index, grad.flatten() - upper).index_add_(0, index + 1, upper)
            grad_q = grad_q.reshape(ctx.shape).to(q_dtype)
        return grad_alpha, grad_q, None, None


class PiecewiseLinear(nn.Module):
    """The nonlinear layer ``H`` of IFR-Net (eq. 9): ``S_PLF`` with trainable values ``q_i`` at fixed ``p_i``.

    ``q`` starts as soft-thresholding at ``threshold``, ``q_i = soft(p_i, threshold)``; since the
    function continues with slope one outside ``[−1, 1]``, it then equals soft-thresholding on the whole real line
    when ``threshold`` is one of the ``p_i`` (otherwise the two differ between the control points around ``±θ``).
    By default one function serves all channels of a block, as the paper's ``q^(n,k)`` has no channel index;
    ``channels=L`` learns one per channel (``q`` of shape ``(L, N_c)``), as the authors' released code does
    (``util/initialize_IFR_NET.m``: ``linew`` has one column of ``N_c`` values per filter).
    """

    def __init__(self, count: int = 101, threshold: float = 0.01, channels: int | None = None) -> None:
        super().__init__()
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 1:
            raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
            raise ValueError(f"channels must be a positive integer or None, got {channels!r}")
        q = soft_threshold(control_points(count), threshold)
        self.q = nn.Parameter(q if channels is None else q.repeat(channels, 1))

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        """Apply ``S_PLF`` elementwise (one function per channel of ``alpha`` when ``q`` has a row per channel)."""
        return piecewise_linear(alpha, self.q)
