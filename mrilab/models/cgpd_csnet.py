"""CGPD-CSNet: two-grid-cycle correction and geometric prior distillation, one model for every sampling ratio.

Fan, Yang, Chen, Zhang and Dong, "An Interpretable MRI Reconstruction Network with Two-grid-cycle Correction and
Geometric Prior Distillation". Equation numbers below are the paper's.

The network unrolls a splitting of CS-MRI, eq. (2) ``min_x ½‖T x − y‖² + γ R(x)`` with ``T = P F`` (here
:class:`~mrilab.ops.MRIOperator`, ``A = M F``), into ``n_s`` stages. Stage ℓ solves the linear subproblem (P1)
``T x = y`` approximately by Steps 1–3 of a two-grid cycle and the prior subproblem (P2) by a learned, truncated
Neumann series:

* **D_ℓ, pre-relaxation** (eq. 3/7): ``h_ℓ = x_{ℓ−1} − η_ℓ T^H (T x_{ℓ−1} − y)``, one gradient step on
  ``½‖T x − y‖²`` (Step 1 with ν₀ = 1 sweep);
* **C_ℓ, coarse-grid correction** (eqs. 4–5): k-space residual ``r_ℓ^h = y − T h_ℓ``; learned restriction
  ``r_ℓ^{2h} = I_ℓ^R r_ℓ^h`` (2×2 convolution, stride 2); error-based solution operator and inverse FFT
  ``e_ℓ^{2h} = F^H S_ℓ r_ℓ^{2h}``; learned prolongation ``e_ℓ^h = I_ℓ^P e_ℓ^{2h}`` (2×2 transposed convolution,
  stride 2); ``m_ℓ = Concat(h_ℓ, e_ℓ^h, M_ℓ^{β_ℓ})`` with the noise-level map ``M_ℓ^{β_ℓ}`` filled with β_ℓ;
* **P_ℓ, geometric prior distillation** (eqs. 6, 8, 9): ``x_ℓ = (I − N)^{-1}(m_ℓ) ≈ Σ_{i=0}^{k} N^i(m_ℓ)``,
  learned as a dense block of ``k`` 3×3 convolution + ReLU layers whose features ``[m_ℓ, N¹(m_ℓ), …, N^k(m_ℓ)]``
  are fused by one 1×1 convolution ``W_ℓ``;
* **CM, condition module** (eq. 10): ``[η, β] = CM(α)``, three fully connected layers on the sampling ratio α with
  a softplus output, giving every stage's step length η_ℓ and noise level β_ℓ;
* **loss** (eq. 11): deep-supervision ℓ1 on the last stage ``n_s`` and the middle stage ``n̄_s = (n_s + 1) / 2``.

Complex images and k-space enter the convolutions through :func:`~mrilab.ops.complex_to_channels` (real and
imaginary part as two channels): the paper's data are real-valued magnitude images, ours are complex, and the
two-channel form keeps T, T^H and F^H exact while the learned layers stay real.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import MRIOperator, channels_to_complex, complex_to_channels, ifft2c
from .base import Measurements, ReconstructionModel, check_training_batch, ratio_tensor
from .registry import register

CONDITIONS = ("both", "eta", "beta", "none")
INITS = ("adjoint", "zero")


def pre_relaxation(x: torch.Tensor, y: torch.Tensor, op: MRIOperator, eta: torch.Tensor) -> torch.Tensor:
    """Pre-relaxation module D_ℓ, eq. (3)/(7): ``h_ℓ = x_{ℓ−1} − η_ℓ T^H(T x_{ℓ−1} − y)``.

    This is one gradient-descent step of length ``eta`` (η_ℓ, shape ``(B,)``) on the data fidelity
    ``H(x; y) = ½‖T x − y‖²``, whose gradient is ``T^H(T x − y)``.
    """
    return x - eta.view(-1, 1, 1, 1) * op.adjoint(op.forward(x) - y)


class ResBlock(nn.Module):
    """ResBlock of the solution operator S_ℓ (Fig. 1(e)): ``z + conv(ReLU(conv(z)))`` with 3×3 convolutions, no BN."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(features, features, 3, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return ``z + conv(ReLU(conv(z)))``."""
        return z + self.body(z)


class SolutionOperator(nn.Module):
    """Error-based solution operator S_ℓ of eq. (4), learned in place of ``(T^{2h})^{-1}`` on the coarse grid.

    Fig. 1(e): a 3×3 convolution lifting the restricted k-space residual (2 channels) to ``p`` channels,
    ``n_resblocks`` ResBlocks (four in the paper), a 3×3 convolution back to 2 channels, and a skip connection from
    input to output, so that ``S_ℓ = I + (learned part)``. We read the paper's "two 3×3 convolution layers with p
    channels" as these two convolutions around the ResBlocks; this is also the reading that reproduces the paper's
    parameter count (see :class:`CGPDCSNet`). The last convolution starts at zero, so an untrained ``S_ℓ`` is the
    identity (the coarse "solve" passes the restricted residual on).
    """

    def __init__(self, features: int, n_resblocks: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(2, features, 3, padding=1),
            *(ResBlock(features) for _ in range(n_resblocks)),
            nn.Conv2d(features, 2, 3, padding=1),
        )
        for module in self.body.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.body[-1].weight)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """Return ``S_ℓ r = r + (learned part)(r)`` for the restricted k-space residual ``r`` (2 channels)."""
        return r + self.body(r)


class CorrectionModule(nn.Module):
    """Correction module C_ℓ, eqs. (4)–(5): Steps 2–3 of the two-grid cycle, learned.

    Returns the fine-grid image correction ``e_ℓ^h = I_ℓ^P F^H S_ℓ I_ℓ^R (y − T h_ℓ)`` (complex ``(B, 1, H, W)``).
    The restriction I_ℓ^R acts on the k-space residual as two channels (real, imaginary); S_ℓ's output is read back
    as complex coarse k-space, taken to the coarse image by the centred orthonormal ``F^H`` on the ``H/2 × W/2``
    grid, and prolonged to the fine grid by I_ℓ^P.

    I_ℓ^R and I_ℓ^P start as a 2×2 average and piecewise-constant injection, ``I^P = 4 (I^R)^T``, acting on real
    and imaginary part alike. Because I_ℓ^R acts on *k-space* (as in the paper), this pair is not a coarse image
    grid: the untrained correction shows the central half of the residual image enlarged twofold. The learned
    transfer operators are what turn it into a useful coarse-grid correction.
    """

    def __init__(self, features: int, n_resblocks: int) -> None:
        super().__init__()
        self.restriction = nn.Conv2d(2, 2, 2, stride=2)
        self.solution = SolutionOperator(features, n_resblocks)
        self.prolongation = nn.ConvTranspose2d(2, 2, 2, stride=2)
        with torch.no_grad():
            for transfer, weight in ((self.restriction, 0.25), (self.prolongation, 1.0)):
                transfer.weight.zero_()
                transfer.bias.zero_()
                for channel in range(2):
                    transfer.weight[channel, channel] = weight

    def forward(self, h: torch.Tensor, y: torch.Tensor, op: MRIOperator) -> torch.Tensor:
        """Return the fine-grid image correction ``e_ℓ^h = I_ℓ^P F^H S_ℓ I_ℓ^R (y − T h_ℓ)``, eqs. (4)–(5)."""
        residual = complex_to_channels(y - op.forward(h))
        coarse_error = ifft2c(channels_to_complex(self.solution(self.restriction(residual))))
        return channels_to_complex(self.prolongation(complex_to_channels(coarse_error)))


class GeometricPriorDistillation(nn.Module):
    """Geometric prior distillation module P_ℓ, eqs. (8)–(9).

    Eq. (6) asks for ``x_ℓ = (I − N)^{-1}(m_ℓ)``; for a contraction ``‖N‖ < 1`` the Neumann series (8) gives
    ``x_ℓ = Σ_{i=0}^{k} N^i(m_ℓ) + R(N^k)``, so ``x_ℓ ∈ span(m_ℓ, N(m_ℓ), …, N^k(m_ℓ))``. Eq. (9) learns this span as a
    dense block: ``F_{ℓ,0} = m_ℓ``, ``F_{ℓ,j} = Concat(F_{ℓ,j−1}, G_{ℓ,j}(F_{ℓ,j−1}))`` for ``j = 1..k`` with
    ``G_{ℓ,j}`` a 3×3 convolution + ReLU producing ``p`` channels (``A_ℓ`` for ``j = 1``, the ``B_ℓ`` for
    ``j > 1``), and ``x_ℓ = W_ℓ ∗ F_{ℓ,k}`` with ``W_ℓ = {W_{ℓ,j}}_{j=0}^{k}`` one 1×1 convolution, so that
    ``W_{ℓ,0}`` weighs the ``N⁰ = I`` term ``m_ℓ`` and ``W_{ℓ,j}`` the ``j``-th feature group ``≈ N^j(m_ℓ)``. The
    remainder ``R(N^k)`` is not a separate term: it is absorbed by the learned weights.

    Each ``G_{ℓ,j}`` sees all earlier features (the dense reading of the last line of eq. 9, and the one the paper's
    parameter count supports); the first line of eq. (9), a chain ``B^{j−1}(A(m))`` tapped after every layer, is
    the special case in which each layer ignores all but its newest input group.

    The dense layers start from Kaiming initialisation (as in the paper). ``W_ℓ`` starts with ``W_{ℓ,0}`` passing
    the image channels of ``m_ℓ`` summed, ``h_ℓ + e_ℓ^h``, and ``W_{ℓ,j≥1} = 0``: the series truncated after its
    ``N⁰ = I`` term, applied to the two-grid iterate of Step 3. Training then grows the higher-order terms.
    """

    def __init__(self, in_channels: int, n_images: int, features: int, depth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Conv2d(in_channels + j * features, features, 3, padding=1) for j in range(depth))
        self.fuse = nn.Conv2d(in_channels + depth * features, 2, 1)
        for conv in self.layers:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        with torch.no_grad():
            self.fuse.weight.zero_()
            for i in range(n_images):
                self.fuse.weight[0, 2 * i] = 1.0
                self.fuse.weight[1, 2 * i + 1] = 1.0
            self.fuse.bias.zero_()

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        """Return ``x_ℓ = W_ℓ ∗ F_{ℓ,k}`` of eq. (9) for the stacked input ``m_ℓ``, as 2 channels (real, imaginary)."""
        features = m
        for conv in self.layers:
            features = torch.cat([features, F.relu(conv(features))], dim=1)
        return self.fuse(features)


class ConditionModule(nn.Module):
    """Condition module CM, eq. (10): ``[η, β] = CM(α)``.

    Three fully connected layers on the sampling ratio α: ``1 → p → p → n_outputs`` with ReLU after the first two
    and softplus after the last, so every η_ℓ and β_ℓ is positive (D_ℓ does nothing when η_ℓ = 0). With
    ``p = 32`` and ``n_s = 13`` the η part of the last layer has ``32·13 + 13 = 429`` parameters, the figure the
    paper quotes for "the learnable step-length η_ℓ". We read the paper's "three hidden fully connected layers" as
    three linear layers in total, one per named activation; the other reading, three hidden layers of ``p``, would add
    one ``p → p`` layer.
    """

    def __init__(self, features: int, n_outputs: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(1, features),
            nn.ReLU(inplace=True),
            nn.Linear(features, features),
            nn.ReLU(inplace=True),
            nn.Linear(features, n_outputs),
        )

    def forward(self, ratio: torch.Tensor) -> torch.Tensor:
        """Return ``[η, β] = CM(α)``, eq. (10): ``(B, n_outputs)`` positive values for the ratios ``(B,)``."""
        return F.softplus(self.net(ratio.unsqueeze(-1)))


@register
class CGPDCSNet(ReconstructionModel):
    """CGPD-CSNet, the unrolled correction–distillation network of Fig. 1 (single-coil, Cartesian or not).

    Parameters
    ----------
    features:
        ``p``, channels of S_ℓ and of every dense layer of P_ℓ, and neurons of CM (paper: 32).
    depth:
        ``k``, the number of Neumann terms ``N¹ … N^k`` in eq. (8), i.e. dense layers in P_ℓ, Table I's
        "geometric distillation depth" (paper: 8).
    n_stages:
        ``n_s``, the number of stages (paper: 13).
    n_resblocks:
        ResBlocks in the solution operator S_ℓ (paper: 4).
    correction:
        Use the correction module C_ℓ (Table II, "C_ℓ" column). Without it ``m_ℓ = Concat(h_ℓ, M_ℓ^{β_ℓ})``.
    condition:
        Which of η_ℓ, β_ℓ the condition module CM computes from the ratio (Table II, "CM" columns): ``"both"``,
        ``"eta"``, ``"beta"`` or ``"none"``. A quantity not from CM is a free learned scalar per stage (softplus of a
        parameter initialised to 0, i.e. ln 2, about what an untrained CM outputs), the same for every ratio.
    share_correction, share_prior:
        One C_ℓ (resp. P_ℓ) for all stages instead of one per stage (Table III). η_ℓ, β_ℓ stay per stage.
    init:
        The first stage's input ``x_0``: ``"adjoint"`` for ``T^H y`` (the paper's default) or ``"zero"`` (Table VI).
        With ``"adjoint"``, ``T x_0 = y`` exactly (single coil, ``T T^H = P P^T``), so D_1 returns ``x_0`` and C_1 sees
        a zero residual: its output does not depend on the data and is one image built from its biases (only the
        restriction's weights get no gradient). With
        ``"zero"``, ``h_1 = η_1 T^H y`` and every module of stage 1 is active.

    With the defaults the model has 4,494,180 parameters: per stage 75,206 in C_ℓ (I^R 18, S_ℓ 75,170, I^P 18) and
    270,348 in P_ℓ (dense layers 269,824, W_ℓ 524), times 13, plus 1,978 in CM. The paper reports "4.4 million";
    ours is 2 % above it. Most of the difference is our complex images: with one channel each for h_ℓ and e_ℓ^h
    and a one-channel output of W_ℓ (the paper's real-valued images), P_ℓ has 4,872 parameters fewer per stage and
    the network 4,430,844, 0.7 % above the paper's figure.

    Initialisation: 3×3 convolutions are Kaiming-initialised as in the paper, except that the last layer of each
    learned correction starts at zero (S_ℓ's output convolution and the ``N^j`` weights ``W_{ℓ,j≥1}`` of P_ℓ) and
    I_ℓ^R, I_ℓ^P start as a 2×2 average and injection. The untrained network is therefore the plain
    unrolled iteration "gradient step (3), two-grid correction with S_ℓ = I, x_ℓ = h_ℓ + e_ℓ^h" on (P1); with
    ``x_0 = T^H y`` it returns ``T^H y`` exactly (the k-space residual of ``T^H y`` is zero). Training departs from
    this classical starting point, so short CPU runs begin at the zero-filled reconstruction rather than at noise.

    Calling convention: :mod:`mrilab.models.base`. Single-coil, ``H`` and ``W`` even (the restriction halves the
    grid); ``ratio`` feeds CM (``None``: the mask's sampling ratio, per sample); ``reference`` and ``sens`` are not
    used. Stages (on request) hold per stage ℓ the complex images ``"D"``, the pre-relaxation output h_ℓ (eq. 7),
    ``"C"``, the coarse-grid-corrected iterate ``h_ℓ + e_ℓ^h`` (Step 3; equal to ``"D"`` without C_ℓ), and ``"x"``,
    the stage output x_ℓ of P_ℓ (eq. 9) — the images of Fig. 3.
    """

    size_multiple = 2

    def __init__(
        self,
        features: int = 32,
        depth: int = 8,
        n_stages: int = 13,
        n_resblocks: int = 4,
        correction: bool = True,
        condition: str = "both",
        share_correction: bool = False,
        share_prior: bool = False,
        init: str = "adjoint",
    ) -> None:
        super().__init__()
        for name, value in (("features", features), ("depth", depth), ("n_stages", n_stages)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(n_resblocks, bool) or not isinstance(n_resblocks, int) or n_resblocks < 0:
            raise ValueError(f"n_resblocks must be a non-negative integer, got {n_resblocks!r}")
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.config = {
            "features": features,
            "depth": depth,
            "n_stages": n_stages,
            "n_resblocks": n_resblocks,
            "correction": bool(correction),
            "condition": condition,
            "share_correction": bool(share_correction),
            "share_prior": bool(share_prior),
            "init": init,
        }
        self.n_stages = n_stages
        self.init = init
        self.share_correction = bool(share_correction)
        self.share_prior = bool(share_prior)

        n_correction = 1 if share_correction else n_stages
        self.corrections = (
            nn.ModuleList(CorrectionModule(features, n_resblocks) for _ in range(n_correction)) if correction else None
        )
        n_images = 2 if correction else 1
        n_prior = 1 if share_prior else n_stages
        self.priors = nn.ModuleList(
            GeometricPriorDistillation(2 * n_images + 1, n_images, features, depth) for _ in range(n_prior)
        )

        self.eta_from_cm = condition in ("both", "eta")
        self.beta_from_cm = condition in ("both", "beta")
        n_outputs = n_stages * (self.eta_from_cm + self.beta_from_cm)
        self.condition_module = ConditionModule(features, n_outputs) if n_outputs else None
        self.eta_free = None if self.eta_from_cm else nn.Parameter(torch.zeros(n_stages))
        self.beta_free = None if self.beta_from_cm else nn.Parameter(torch.zeros(n_stages))

    # -- condition module ------------------------------------------------------------------------------------
    def condition(self, ratio: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Step lengths η_ℓ (eq. 3) and noise levels β_ℓ (eq. 5) for sampling ratio(s) α: eq. (10).

        ``ratio`` is a number or a tensor ``(B,)`` in (0, 1]; returns ``(eta, beta)``, each ``(B, n_s)``.
        """
        device = next(self.parameters()).device
        return self._condition(ratio_tensor(ratio, ratio.numel() if isinstance(ratio, torch.Tensor) else 1, device))

    def _condition(self, ratio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = ratio.shape[0]
        out = self.condition_module(ratio) if self.condition_module is not None else None
        if self.eta_from_cm:
            eta = out[:, : self.n_stages]
        else:
            eta = F.softplus(self.eta_free).expand(batch, -1)
        if self.beta_from_cm:
            beta = out[:, -self.n_stages :]
        else:
            beta = F.softplus(self.beta_free).expand(batch, -1)
        return eta, beta

    # -- the unrolled network --------------------------------------------------------------------------------
    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Run the ``n_s`` stages D_ℓ, C_ℓ, P_ℓ from ``x_0`` (``T^H y`` or zero), with η, β from CM."""
        y, op = data.y, data.op
        eta, beta = self._condition(data.sampling_ratio())
        height, width = y.shape[-2:]
        x = op.adjoint(y) if self.init == "adjoint" else torch.zeros_like(y)
        stages = []
        for stage in range(self.n_stages):
            h = pre_relaxation(x, y, op, eta[:, stage])
            parts = [complex_to_channels(h)]
            corrected = h
            if self.corrections is not None:
                e = self.corrections[0 if self.share_correction else stage](h, y, op)
                parts.append(complex_to_channels(e))
                corrected = h + e
            parts.append(beta[:, stage].view(-1, 1, 1, 1).expand(-1, 1, height, width).to(h.real.dtype))
            x = channels_to_complex(self.priors[0 if self.share_prior else stage](torch.cat(parts, dim=1)))
            if return_stages:
                stages.append({"D": h, "C": corrected, "x": x})
        return x, stages

    def training_loss(self, batch: dict) -> torch.Tensor:
        """Deep-supervision ℓ1 loss, eq. (11), averaged over the batch.

        ``L = (1/(mn)) (‖x_{n_s} − x*‖₁ + ‖x_{n̄_s} − x*‖₁)`` with ``n̄_s = ⌊(n_s + 1)/2⌋`` (the middle stage; the
        paper writes ``(n_s + 1)/2`` for odd ``n_s``). For complex images ‖·‖₁ sums ``|Re| + |Im|``, the ℓ1 norm of
        the two-channel image the network computes; images are in units of the data's scale (``target /
        data.scale``, :func:`~mrilab.models.base.measurement_scale`). ``batch`` holds ``"kspace"``, ``"mask"``,
        ``"target"`` (complex ``(B, 1, H, W)``) and ``"ratio"`` (``(B,)``).
        """
        target = check_training_batch(batch, needs=("ratio",))
        data = self.prepare(batch["kspace"], batch["mask"], ratio=batch["ratio"])
        _, stages = self.unroll(data, return_stages=True)
        target = target / data.scale
        middle = (self.n_stages + 1) // 2
        pixels = target.shape[-2] * target.shape[-1]
        loss = 0.0
        for x in (stages[-1]["x"], stages[middle - 1]["x"]):
            loss = loss + complex_to_channels(x - target).abs().sum(dim=(1, 2, 3)) / pixels
        return loss.mean()
