"""IFR-Net: IFR-CS unrolled into stages with learned DCT-initialised filters and piecewise-linear shrinkage.

Liu et al., "IFR-Net: Iterative feature refinement network for compressed sensing MRI", IEEE TCI 2020. Stage
``n`` of ``N_s`` has three modules (eq. 5; Fig. 3)::

    X^(n): x^(n)   = F⁻¹[(y + ρ^(n) F x_t^(n−1)) / (M + ρ^(n))]                        reconstruction, eq. (6)
    Z^(n): u^(n,0) = x^(n);  for k = 1 … K:                                               denoising, K blocks
           u^(n,k) = μ₁^(n,k) u^(n,k−1) + μ₂^(n,k) x^(n) − c₂^(n,k)                        united layer, eq. (7)
           c₂^(n,k) = w₂ * S_PLF(w₁ * u^(n,k−1) + b₁; {p_i, q_i}) + b₂                    eqs. (8)–(10)
    R^(n): x_t^(n) = u^(n) + T^(n)(u^(n); V^(n)) ⊗ (x^(n) − u^(n)),  u^(n) = u^(n,K)     refinement, eq. (11)

with ``x_t^(0) = 0`` (so ``x^(1) = F⁻¹[y / (M + ρ^(1))]``). The united layer is one step of gradient descent on
``ρ/2 ‖u − x‖² + Σ_l λ_l g(D_l u)`` (eq. 4, ``μ₁ = 1 − ρ l_r``, ``μ₂ = ρ l_r``), whose regulariser gradient
``l_r λ_l D_lᵀ g'(D_l u)`` the convolutions ``w₁`` (``D_l``), ``w₂`` (``D_lᵀ``) and the learned ``S_PLF`` (``g'``)
replace.

Where the paper leaves a choice, we chose:

* **Which ``u`` the convolutions see.** Eqs. (7)–(8) as printed are circular (``c₂^(n,k)`` is computed from
  ``u^(n,k)``, which needs ``c₂^(n,k)``). Eq. (4) applies ``D_l`` to ``u^(n+1,k−1)``, so ``c₁^(n,k) = w₁ *
  u^(n,k−1)``, with ``u^(n,0) = x^(n)``.
* **Initialisation.** ``w₁``: the ``L`` non-constant DCT bases (``init="dct"``, which needs ``L ≤ w_f² − 1``) or
  Gaussian filters of the same expected norm (``init="random"``); ``b₁ = b₂ = 0``; ``w₂ = step · w₁ᵀ`` (the
  adjoint filters, ``D_lᵀ``, scaled by a step); ``S_PLF`` = soft-thresholding at ``threshold``; ``μ₂ = mu``,
  ``μ₁ = 1 − mu``; ``ρ^(n) = rho``, ``V^(n) = V``. ``ρ`` and ``V`` are learned through their logarithms, so
  they stay positive.
* **Output.** A last reconstruction module ``X^(N_s+1)`` turns ``x_t^(N_s)`` into the output (as ADMM-Net's graph
  ends). It is *soft* data consistency: at every sampled frequency it leaves the fraction
  ``ρ^(N_s+1) / (1 + ρ^(N_s+1))`` of the residual ``F x_t − y``, so the output does not reproduce the samples
  unless that ρ is small.
* **Complex images.** The real and imaginary parts go through ``Z`` as two images with the same weights (the
  paper's multi-channel extension, Section IV); ``T`` is computed on ``|u|`` (:mod:`mrilab.ifr`).

Where the authors' released code (``yqx7150/IFR-Net-Code``) departs from the paper's text, the default follows the
text and an option follows the code (the IFR chapters measure each as an ablation):

* ``descriptor_of``: ``"u"``, ``T^(n) = T(u^(n))`` (Appendix A: "a denoised image u should be inputted first"), or
  ``"x"``, ``T(x^(n))`` as ``layersfunction/Tmid.m`` computes it (``texture_map(x, c)``).
* ``blur_sigma``, ``blur_radius``: the descriptor's Gaussian blur, which the paper does not size; default σ = 1 pixel
  on a 5 × 5 support; the code's ``config.m`` and ``util/texture_map.m`` use σ = 50 on 51 × 51 (``blur_sigma=50,
  blur_radius=25``), a nearly flat window.
* ``plf_per_filter``: ``S_PLF`` has one set of ``q`` per block (eq. 9 writes ``q^(n,k)`` without a filter index) or,
  ``True``, one per filter as in ``util/initialize_IFR_NET.m`` (``linew`` holds ``N_c`` values for each of the ``L``
  filters).

Parameters, with ``D = 1`` (weights shared by the stages) or ``N_s``, ``[refine]`` = 1 with refinement and
``P = L`` with one ``S_PLF`` per filter, else 1::

    D · K · (L (w_f² + f² + 1) + 1 + P · N_c + 2)  +  (N_s + 1)  +  N_s · [refine]

which for the paper's network (``N_s = 7``, ``K = 2``, ``L = 8``, ``w_f = f = 3``, ``N_c = 101``) is 3,599, and
13,497 with one ``S_PLF`` per filter.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ifr import DESCRIPTOR_SOURCES, PiecewiseLinear, dct_bases, feature_refinement
from ..ops import MRIOperator, batch_to_complex, complex_to_batch
from .base import Measurements, ReconstructionModel, check_training_batch
from .registry import register

INITS = ("dct", "random")


class _Block(nn.Module):
    """One CNN-based block of the denoising module Z: united layer, C₁, H (S_PLF) and C₂ (eqs. 7–10)."""

    def __init__(self, n_filters: int, filter_size: int, out_size: int, n_points: int, threshold: float,
                 step: float, mu: float, init: str, plf_per_filter: bool = False) -> None:
        super().__init__()
        self.mu1 = nn.Parameter(torch.tensor(1.0 - mu))
        self.mu2 = nn.Parameter(torch.tensor(float(mu)))
        self.c1 = nn.Conv2d(1, n_filters, filter_size, padding=filter_size // 2)
        self.h = PiecewiseLinear(n_points, threshold, channels=n_filters if plf_per_filter else None)
        self.c2 = nn.Conv2d(n_filters, 1, out_size, padding=out_size // 2)
        with torch.no_grad():
            if init == "dct":
                self.c1.weight.copy_(dct_bases(filter_size)[:n_filters, None])
            else:
                self.c1.weight.normal_(0.0, 1.0 / filter_size)
            self.c1.bias.zero_()
            if out_size == filter_size:
                self.c2.weight.copy_(step * self.c1.weight.flip(-2, -1).transpose(0, 1))
            else:
                self.c2.weight.normal_(0.0, step / out_size)
            self.c2.bias.zero_()

    def forward(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return ``u^(n,k) = μ₁ u^(n,k−1) + μ₂ x^(n) − w₂ * S_PLF(w₁ * u^(n,k−1) + b₁) − b₂``."""
        return self.mu1 * u + self.mu2 * x - self.c2(self.h(self.c1(u)))


@register
class IFRNet(ReconstructionModel):
    """IFR-Net for single-coil MRI (Liu et al. 2020), in the book's model contract.

    Parameters
    ----------
    n_stages:
        ``N_s``, unrolled IFR iterations (paper: 7 for its width and filter experiments).
    n_blocks:
        ``K``, CNN-based blocks in each denoising module (paper: 2).
    n_filters:
        ``L``, filters of ``C₁`` (paper: 8, the non-constant 3×3 DCT bases).
    filter_size, out_size:
        ``w_f`` of ``C₁`` and ``f`` of ``C₂`` (paper: 3).
    n_points:
        ``N_c``, control points of ``S_PLF`` in [−1, 1] (101, as in ADMM-Net, which IFR-Net's layers follow).
    init:
        ``"dct"`` or ``"random"`` filters ``w₁`` (Table IX).
    shared:
        One denoising module for all stages (Table X) instead of one per stage.
    refine:
        With the refinement module R (``False``: ``x_t = u``, the ablation).
    descriptor_of:
        ``"u"`` (Appendix A) or ``"x"`` (the released code's ``Tmid.m``): the image ``T^(n)`` is computed from.
    plf_per_filter:
        One ``S_PLF`` per filter (the released code) instead of one per block (eq. 9).
    rho, V, mu, threshold, step:
        Initial ``ρ^(n)``, ``V^(n)``, ``μ₂`` (``μ₁ = 1 − μ₂``), soft threshold of ``S_PLF`` and scale of
        ``w₂ = step · w₁ᵀ`` (see the module docstring).
    blur_sigma, blur_radius, window:
        Of the feature descriptor (:func:`mrilab.ifr.feature_descriptor`; ``blur_radius=None``: ``⌈2σ⌉``).

    Calling convention: :mod:`mrilab.models.base`; single-coil; ``ratio``, ``reference`` and ``sens`` are not used.
    Stages (``return_stages=True``): per stage ``{"x_in": x^(n), "u": u^(n), "x_t": x_t^(n), "x": x^(n+1)}`` and,
    with refinement, ``"T": T^(n)`` (real ``(B, 1, H, W)``). ``"x"``, the stage's output, is the reconstruction
    module applied to its refined image, so the last stage's ``"x"`` is the network's output.
    """

    def __init__(self, n_stages: int = 7, n_blocks: int = 2, n_filters: int = 8, filter_size: int = 3,
                 out_size: int = 3, n_points: int = 101, init: str = "dct", shared: bool = False, refine: bool = True,
                 rho: float = 0.25, V: float = 0.01, mu: float = 0.1, threshold: float = 0.02, step: float = 0.05,
                 blur_sigma: float = 1.0, window: int = 5, descriptor_of: str = "u", blur_radius: int | None = None,
                 plf_per_filter: bool = False) -> None:
        super().__init__()
        for name, value in (("n_stages", n_stages), ("n_blocks", n_blocks), ("n_filters", n_filters),
                            ("filter_size", filter_size), ("out_size", out_size), ("n_points", n_points)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, value in (("filter_size", filter_size), ("out_size", out_size)):
            if value % 2 == 0:
                raise ValueError(f"{name} must be odd so that images keep their size, got {value}")
        if n_points < 2:
            raise ValueError(f"n_points must be at least 2, got {n_points}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if init == "dct" and n_filters > filter_size**2 - 1:
            raise ValueError(f"n_filters must be at most filter_size² − 1 = {filter_size**2 - 1} for init='dct' "
                             f"(the non-constant DCT bases), got {n_filters}; use init='random'")
        if descriptor_of not in DESCRIPTOR_SOURCES:
            raise ValueError(f"descriptor_of must be one of {DESCRIPTOR_SOURCES}, got {descriptor_of!r}")
        if blur_radius is not None and (isinstance(blur_radius, bool) or not isinstance(blur_radius, int)
                                        or blur_radius < 1):
            raise ValueError(f"blur_radius must be a positive integer or None, got {blur_radius!r}")
        for name, value in (("shared", shared), ("refine", refine), ("plf_per_filter", plf_per_filter)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")
        for name, value in (("rho", rho), ("V", V), ("step", step), ("blur_sigma", blur_sigma)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not 0 <= mu <= 1:
            raise ValueError(f"mu must be a number in [0, 1], got {mu!r}")
        self.config = {"n_stages": n_stages, "n_blocks": n_blocks, "n_filters": n_filters, "filter_size": filter_size,
                       "out_size": out_size, "n_points": n_points, "init": init, "shared": shared, "refine": refine,
                       "rho": float(rho), "V": float(V), "mu": float(mu), "threshold": float(threshold),
                       "step": float(step), "blur_sigma": float(blur_sigma), "window": window}
        # the released code's options enter the config only where they leave their defaults: a model without them
        # keeps the config (and so resumes the checkpoints) of a model made before these options existed
        for key, value, default in (("descriptor_of", descriptor_of, "u"), ("blur_radius", blur_radius, None),
                                    ("plf_per_filter", plf_per_filter, False)):
            if value != default:
                self.config[key] = value
        self.descriptor = {"blur_sigma": float(blur_sigma), "blur_radius": blur_radius, "window": window,
                           "descriptor_of": descriptor_of}
        self.denoisers = nn.ModuleList(
            nn.ModuleList(_Block(n_filters, filter_size, out_size, n_points, threshold, step, mu, init,
                                 plf_per_filter)
                          for _ in range(n_blocks))
            for _ in range(1 if shared else n_stages)
        )
        self.log_rho = nn.Parameter(torch.full((n_stages + 1,), float(rho)).log())
        self.log_V = nn.Parameter(torch.full((n_stages,), float(V)).log()) if refine else None

    @staticmethod
    def parameter_count(n_stages: int = 7, n_blocks: int = 2, n_filters: int = 8, filter_size: int = 3,
                        out_size: int = 3, n_points: int = 101, shared: bool = False, refine: bool = True,
                        plf_per_filter: bool = False) -> int:
        """Return the closed-form parameter count of the module docstring."""
        block = n_filters * (filter_size**2 + out_size**2 + 1) + 1 + n_points * (n_filters if plf_per_filter else 1) + 2
        return (1 if shared else n_stages) * n_blocks * block + n_stages + 1 + (n_stages if refine else 0)

    @property
    def rho(self) -> torch.Tensor:
        """``ρ^(1) … ρ^(N_s+1)``."""
        return self.log_rho.exp()

    @property
    def V(self) -> torch.Tensor | None:  # noqa: N802 (the paper's name)
        """``V^(1) … V^(N_s)`` (``None`` without refinement)."""
        return None if self.log_V is None else self.log_V.exp()

    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Run ``X^(1)`` on ``x_t^(0) = 0``, then the ``N_s`` stages, each ending with the next ``X`` module."""
        rho = self.rho
        V = self.V
        op = MRIOperator(data.mask)  # single-coil: coil sensitivities, if given, are ignored
        x = op.soft_dc(torch.zeros_like(data.y), data.y, rho[0])
        stages = []
        for n in range(self.config["n_stages"]):
            x_channels = complex_to_batch(x)
            u = x_channels
            for block in self.denoisers[0 if self.config["shared"] else n]:
                u = block(u, x_channels)
            u = batch_to_complex(u)
            stage = {"x_in": x, "u": u}
            if V is not None:
                x_t, stage["T"] = feature_refinement(x, u, V[n], **self.descriptor)
            else:
                x_t = u
            x = op.soft_dc(x_t, data.y, rho[n + 1])
            if return_stages:
                stages.append({**stage, "x_t": x_t, "x": x})
        return x, stages

    def training_loss(self, batch: dict) -> torch.Tensor:
        """Return the NMSE loss of eq. (12): the batch mean of ``‖x̂ − x^gt‖₂ / ‖x^gt‖₂``.

        ``batch`` holds ``"kspace"``, ``"mask"`` and ``"target"`` (complex ``(B, 1, H, W)``); other keys are ignored.
        """
        target = check_training_batch(batch)
        x = self(batch["kspace"], batch["mask"])
        return ((x - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)).mean()
