"""ISTA-Net+: ISTA unrolled into phases with a learned sparsifying transform, step size and threshold.

Zhang & Ghanem, "ISTA-Net: Interpretable optimization-inspired deep network for image compressive sensing",
CVPR 2018: ISTA for ``½‖Ax − y‖² + λ‖Ψx‖₁`` unrolled into ``N_p`` phases in which the sparsifying transform
becomes learned convolutions and the step size and threshold become learned scalars.

Phase ``k`` (the paper's ISTA-Net+ eqs. for ``r^(k)`` and ``x^(k)``)::

    r^(k) = x^(k−1) − ρ_k A^H(A x^(k−1) − y)                      gradient step on the data term
    x^(k) = r^(k) + G(F̃(soft(F(D(r^(k))), θ_k)))                   learned proximal step on the residual

with ``A = M F`` the single-coil MRI operator (:class:`mrilab.ops.MRIOperator`) in place of the paper's CS
matrix ``Φ``, ``x^(0) = A^H y``, ``D`` one convolution (image → ``N_f`` features), ``F`` and its "inverse" ``F̃``
two convolutions with a ReLU between, ``G`` one convolution (features → image), and the symmetry constraint
``F̃ ∘ F = I`` encouraged by the loss term ``‖F̃(F(D r^(k))) − D r^(k)‖²``.

Complex images enter the convolutions through :func:`mrilab.ops.complex_to_channels`: ``D`` sees 2 input channels
(real, imaginary) and ``G`` returns 2 channels, which :func:`mrilab.ops.channels_to_complex` turns back into the
complex residual; for one-channel images the two channels are a view of the complex tensor in the channels-last
layout, which CPU convolutions run fastest on. Convolutions have no bias (the official implementation's choice,
which keeps ``soft(·, θ)`` meaningful: zero features map to zero).

Parameters, with ``C = 2`` image channels, ``N_f`` filters of size ``k × k`` and ``N_p`` phases::

    N_p · (2 · C · N_f · k²  +  4 · N_f² · k²  +  2)      (D and G; F and F̃; ρ_k and θ_k)

which for the defaults (``N_p = 9``, ``N_f = 32``, ``k = 3``) is 342,162; the paper's single-channel CS version
(``C = 1``) has 336,978 ≈ 0.34 M.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops import MRIOperator, channels_to_complex, complex_to_channels
from ..prox import soft_threshold
from .base import Measurements, ReconstructionModel, check_training_batch
from .registry import register

IMAGE_CHANNELS = 2


class _Phase(nn.Module):
    """One ISTA-Net+ phase: step ρ_k, threshold θ_k and the transforms D, F, F̃, G of Zhang & Ghanem's Fig. 3."""

    def __init__(self, n_filters: int, kernel_size: int, step_init: float, threshold_init: float,
                 zero_update: bool) -> None:
        super().__init__()

        def conv(n_in: int, n_out: int) -> nn.Conv2d:
            layer = nn.Conv2d(n_in, n_out, kernel_size, padding=kernel_size // 2, bias=False)
            nn.init.xavier_normal_(layer.weight)
            return layer

        self.rho = nn.Parameter(torch.tensor(float(step_init)))
        self.theta = nn.Parameter(torch.tensor(float(threshold_init)))
        self.D = conv(IMAGE_CHANNELS, n_filters)
        self.F = nn.Sequential(conv(n_filters, n_filters), nn.ReLU(), conv(n_filters, n_filters))
        self.F_tilde = nn.Sequential(conv(n_filters, n_filters), nn.ReLU(), conv(n_filters, n_filters))
        self.G = conv(n_filters, IMAGE_CHANNELS)
        if zero_update:
            nn.init.zeros_(self.G.weight)

    def forward(self, x: torch.Tensor, op: MRIOperator, y: torch.Tensor,
                symmetry: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return ``x^(k)``, ``r^(k)`` and (if ``symmetry``) the residual ``F̃(F(D r^(k))) − D r^(k)``.

        With ``symmetry``, F̃ runs once on the thresholded and the raw features stacked along the batch.
        """
        r = x - self.rho * op.adjoint(op.forward(x) - y)
        features = self.D(complex_to_channels(r))
        sparse = self.F(features)
        thresholded = soft_threshold(sparse, self.theta)
        if symmetry:
            restored, inverse = self.F_tilde(torch.cat([thresholded, sparse])).chunk(2)
            residual = inverse - features
        else:
            restored, residual = self.F_tilde(thresholded), None
        return r + channels_to_complex(self.G(restored)), r, residual


@register
class ISTANetPlus(ReconstructionModel):
    """ISTA-Net+ for single-coil Cartesian MRI (Zhang & Ghanem 2018).

    Parameters
    ----------
    n_phases:
        ``N_p``, the number of unrolled ISTA iterations (paper: 9).
    n_filters:
        ``N_f``, feature channels of ``D``, ``F``, ``F̃`` and ``G`` (paper: 32).
    kernel_size:
        Convolution size (paper: 3).
    step_init, threshold_init:
        Initial ``ρ_k`` and ``θ_k`` of every phase (the official code's 0.5 and 0.01; ``θ_k`` is on the intensity
        scale of the images, which the official code keeps in [0, 1]).
    gamma:
        ``γ``, the weight of the symmetry constraint in the loss (paper: 0.01).
    init:
        ``"paper"``: every convolution Xavier-initialised, as in the official code. ``"gradient_steps"``: ``G``
        starts at zero, so the untrained network is ``N_p`` plain gradient steps on ``½‖Ax − y‖²`` and training
        only adds the learned prior's correction (faster to train on a small budget).

    Calling convention: :mod:`mrilab.models.base`. Single-coil; ``ratio``, ``reference`` and ``sens`` are not used
    (ISTA-Net+ is trained per sampling ratio and sees one contrast).
    """

    def __init__(self, n_phases: int = 9, n_filters: int = 32, kernel_size: int = 3, step_init: float = 0.5,
                 threshold_init: float = 0.01, gamma: float = 0.01, init: str = "paper") -> None:
        super().__init__()
        for name, value in (("n_phases", n_phases), ("n_filters", n_filters), ("kernel_size", kernel_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd so that images keep their size, got {kernel_size}")
        for name, value in (("step_init", step_init), ("threshold_init", threshold_init), ("gamma", gamma)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if init not in ("paper", "gradient_steps"):
            raise ValueError(f"init must be 'paper' or 'gradient_steps', got {init!r}")
        self.config = {
            "n_phases": n_phases,
            "n_filters": n_filters,
            "kernel_size": kernel_size,
            "step_init": float(step_init),
            "threshold_init": float(threshold_init),
            "gamma": float(gamma),
            "init": init,
        }
        self.gamma = float(gamma)
        self.phases = nn.ModuleList(
            _Phase(n_filters, kernel_size, step_init, threshold_init, init == "gradient_steps") for _ in range(n_phases)
        )

    @staticmethod
    def parameter_count(n_phases: int = 9, n_filters: int = 32, kernel_size: int = 3) -> int:
        """``N_p · (2 · C · N_f · k² + 4 · N_f² · k² + 2)`` with ``C = 2`` (real and imaginary channels)."""
        k2 = kernel_size**2
        return n_phases * (2 * IMAGE_CHANNELS * n_filters * k2 + 4 * n_filters**2 * k2 + 2)

    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Run the ``N_p`` phases from ``x^(0) = A^H y``.

        Stages (on request): per phase ``{"x": x^(k), "r": r^(k)}``, the phase output and its gradient step.
        """
        x, stages, _ = self._phases(data, symmetry=False, keep=return_stages)
        return x, stages

    def training_loss(self, batch: dict) -> torch.Tensor:
        """Zhang & Ghanem's loss ``L_discrepancy + γ L_constraint``.

        ``L_discrepancy`` is the mean squared error between ``x^(N_p)`` and ``batch["target"]`` over the real and
        imaginary channels; ``L_constraint = Σ_k mean ‖F̃(F(D r^(k))) − D r^(k)‖²`` (means over all elements, as in
        the official implementation), in units of the data's scale (``target / data.scale``). ``batch`` holds
        ``"kspace"``, ``"mask"`` and ``"target"`` (complex ``(B, 1, H, W)``); other keys are ignored.
        """
        target = check_training_batch(batch)
        data = self.prepare(batch["kspace"], batch["mask"])
        x, _, symmetry = self._phases(data, symmetry=True, keep=False)
        discrepancy = (complex_to_channels(x - target / data.scale) ** 2).mean()
        constraint = torch.stack([(s**2).mean() for s in symmetry]).sum()
        return discrepancy + self.gamma * constraint

    def _phases(self, data: Measurements, *, symmetry: bool,
                keep: bool) -> tuple[torch.Tensor, list[dict], list[torch.Tensor]]:
        x = data.op.adjoint(data.y)
        stages, residuals = [], []
        for phase in self.phases:
            x, r, residual = phase(x, data.op, data.y, symmetry)
            if keep:
                stages.append({"x": x, "r": r})
            if symmetry:
                residuals.append(residual)
        return x, stages, residuals
