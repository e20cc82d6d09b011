"""IMA: half-quadratic splitting unfolded for multi-contrast MRI, with a fully sampled reference contrast.

Zheng et al., "Breaking Information Isolation: Accelerating MRI via Inter-sequence Mapping and Progressive
Masking", AAAI 2025. The target ``X`` is modelled as a mapping of the reference embedding ``Y`` plus a self-learned
part, ``X ≈ Y A + Ỹ B`` (Theorem 1, eq. 5), and half-quadratic splitting of model (6)–(7) gives three updates per
stage ``t`` (:mod:`mrilab.multicontrast`), each with learned operators (eqs. 15–22)::

    X_temp = X − μ Aᴴ(A X − Z) − μ (α (X − G) + λ₁ C_R1(X))                          (15) = (12), learned ∇R₁
    X̂     = F⁻¹[(1 − M⁽ᵗ⁾) F X_temp + M⁽ᵗ⁾ F X]                                       (18) DCM mask M⁽ᵗ⁾
    X⁺    = F⁻¹[(1 − M⁽⁰⁾) F X̂ + M⁽⁰⁾ Z]                                              (19)
    Ỹ⁺    = Ỹ − β B_Bᵀ(CSCA(Y, G) + Ỹ) − β λ₂ C_R2(Ỹ)                                  (20)
    G⁺    = (A_θ(Y) + B_θ(Ỹ⁺) + α X⁺) / (1 + α)                                       (22) = (14)

with every operator ``C_R1, C_R2, B_Bᵀ, A_θ, B_θ`` the block [3 × 3 conv, ReLU, 3 × 3 conv] of its stage, the masks
``M⁽ᵗ⁾`` of dilation–contraction masking (:func:`mrilab.dcm.dcm_schedule`) and one cross-sequence converging
attention module (:class:`CrossSequenceAttention`, eq. 21) shared by the stages, as the paper's parameter list (24)
has it. The loss is eq. (25): ``ℓ1(X_out − X_GT) + γ ℓ1(X_out − (Y A + Ỹ B))``.

Where the paper leaves a choice (there is no public code), we chose:

* **X is the complex image** (real and imaginary parts as two channels), the variable data consistency acts on;
  the enriched embeddings are ``Y`` (``features`` channels, a block applied to the reference's magnitude) and
  ``Ỹ`` (``features`` channels).
* **The reference's magnitude.** The book's contrasts carry independent phases, so the reference's phase says
  nothing about the target's; ``Y`` is embedded from ``|reference|``.
* **Initial values.** ``X⁽⁰⁾`` is the zero-filled image, ``G⁽⁰⁾ = X⁽⁰⁾`` and ``Ỹ⁽⁰⁾`` a block applied to ``Y`` and
  ``X⁽⁰⁾`` together.
* **Eq. (18)'s trusted k-space** is that of the stage's input ``X`` (the paper writes ``K⁽ᵗ⁻¹⁾`` for it): inside the
  dilated mask a stage keeps what the previous stage reconstructed, outside it takes the new update.
* **Without DCM** every stage uses ``M⁽⁰⁾``: (18) changes nothing and (19) is hard data consistency.
* **Without CSCA** the Ỹ-update is eq. (13) with learned operators, ``Ỹ − β B_Bᵀ(A_θ(Y) − G + B_θ(Ỹ)) − β λ₂
  C_R2(Ỹ)``: the pixel-level interaction that CSCA replaces.
* **Without a reference** (``use_reference=False``, the single-contrast comparison) ``Y`` is embedded from the
  magnitude of the zero-filled target instead: the same network and parameters, only the reference's information
  removed.
* **Trade-off parameters** μ, α, λ₁, β, λ₂ of each stage are learned as logarithms (they stay positive; α > −1
  keeps eq. 14 a minimiser), all starting at 0.5 except α = 1.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional

from ..dcm import COVERAGE, KERNELS, THRESHOLD, dcm_schedule
from ..multicontrast import g_step, x_step, ytilde_step
from ..ops import channels_to_complex, complex_to_channels, fft2c
from .base import Measurements, ReconstructionModel, check_training_batch
from .registry import register


def conv_block(in_channels: int, features: int, out_channels: int) -> nn.Sequential:
    """Return the paper's operator block: [3 × 3 conv, ReLU, 3 × 3 conv]."""
    return nn.Sequential(nn.Conv2d(in_channels, features, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(features, out_channels, 3, padding=1))


class CrossSequenceAttention(nn.Module):
    """Cross-sequence converging attention (CSCA, eq. 21): self- and cross-attention of two inputs in one product.

    From each input ``i`` (1: the reference embedding ``Y``, 2: the image ``G`` as two channels) three 3 × 3
    convolutions extract a query ``Q_i``, a value ``V_i`` and a key at two scales: ``K_i'`` (3 × 3) and ``K_i''``
    (3 × 3 with dilation 2), all ``(HW, features)`` matrices, pixels as rows. The queries are concatenated along
    the pixels, ``Q_cat = [Q₁; Q₂]``, and so are the two scales of each key, ``K_i = [K_i'; K_i'']``, so that

        Q_catᵀ K_i = Q₁ᵀ K_i' + Q₂ᵀ K_i''                                                  (21)

    is a ``features × features`` map in which, for ``i = 1``, ``Y``'s queries meet ``Y``'s keys (self-attention)
    and ``G``'s queries meet ``Y``'s coarse keys (cross-attention); for ``i = 2`` the roles swap.
    The "remaining computations" the paper leaves to tradition are those of transposed (channel) attention as in
    Restormer: ``Q_cat`` and ``K_i`` normalised to unit length along the pixels, a learned temperature τ,
    ``softmax(τ Q_catᵀ K_i)`` along its last axis applied to ``V_i``, and a 1 × 1 convolution that maps the two
    results to the output channels.
    """

    def __init__(self, reference_channels: int, features: int, out_channels: int) -> None:
        super().__init__()
        inputs = (reference_channels, 2)

        def convs(dilation: int = 1) -> nn.ModuleList:
            return nn.ModuleList(nn.Conv2d(c, features, 3, padding=dilation, dilation=dilation) for c in inputs)

        self.query, self.value = convs(), convs()
        self.key_fine, self.key_coarse = convs(), convs(dilation=2)
        self.log_temperature = nn.Parameter(torch.zeros(()))
        self.project = nn.Conv2d(2 * features, out_channels, 1)

    @staticmethod
    def _pixels(x: torch.Tensor) -> torch.Tensor:
        """``(B, F, H, W)`` as ``(B, HW, F)``: pixels as rows, the paper's ``HW × C`` matrices."""
        return x.flatten(2).transpose(1, 2)

    def terms(self, y: torch.Tensor, g: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the tensors of eq. (21), queries and keys normalised as the module uses them.

        ``"q1"``, ``"q2"`` and ``"q_cat"``, and per input ``i`` ``"k{i}"`` with its halves ``"k{i}_fine"`` and
        ``"k{i}_coarse"``, and ``"v{i}"``: ``(B, HW, F)`` each, ``q_cat`` and ``k{i}`` ``(B, 2HW, F)``.
        """
        inputs = (y, complex_to_channels(g))
        queries = [self._pixels(conv(x)) for conv, x in zip(self.query, inputs, strict=True)]
        q_cat = functional.normalize(torch.cat(queries, dim=1), dim=1)
        pixels = y.shape[-2] * y.shape[-1]
        out = {"q_cat": q_cat, "q1": q_cat[:, :pixels], "q2": q_cat[:, pixels:]}
        for i, x in enumerate(inputs):
            key = torch.cat([self._pixels(self.key_fine[i](x)), self._pixels(self.key_coarse[i](x))], dim=1)
            key = functional.normalize(key, dim=1)
            out[f"k{i + 1}"], out[f"k{i + 1}_fine"], out[f"k{i + 1}_coarse"] = key, key[:, :pixels], key[:, pixels:]
            out[f"v{i + 1}"] = self._pixels(self.value[i](x))
        return out

    def attention(self, terms: dict[str, torch.Tensor], i: int) -> torch.Tensor:
        """Return ``softmax(τ Q_catᵀ K_i)`` ``(B, F, F)``, rows summing to 1."""
        logits = terms["q_cat"].transpose(1, 2) @ terms[f"k{i}"]
        return torch.softmax(self.log_temperature.exp() * logits, dim=-1)

    def forward(self, y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Return ``CSCA(Y, G)`` ``(B, out_channels, H, W)`` for ``Y`` ``(B, R, H, W)`` and complex ``G``."""
        terms = self.terms(y, g)
        batch, _, height, width = y.shape
        outputs = [(terms[f"v{i}"] @ self.attention(terms, i).transpose(1, 2)).transpose(1, 2)
                   .reshape(batch, -1, height, width) for i in (1, 2)]
        return self.project(torch.cat(outputs, dim=1))


class IMAStage(nn.Module):
    """One stage ``t``: the operators ``C_R1, C_R2, B_Bᵀ, A_θ, B_θ`` and the trade-off parameters of eqs. (15)–(22)."""

    PARAMETERS = {"mu": 0.5, "alpha": 1.0, "lam1": 0.5, "beta": 0.5, "lam2": 0.5}

    def __init__(self, features: int, csca: bool) -> None:
        super().__init__()
        self.prior_x = conv_block(2, features, 2)  # C_R1 ≈ ∇R₁
        self.prior_ytilde = conv_block(features, features, features)  # C_R2 ≈ ∇R₂
        self.transpose = conv_block(features if csca else 2, features, features)  # B_Bᵀ ≈ · Bᵀ
        self.map_reference = conv_block(features, features, 2)  # A_θ ≈ · A
        self.map_ytilde = conv_block(features, features, 2)  # B_θ ≈ · B
        self.log_parameters = nn.ParameterDict(
            {name: nn.Parameter(torch.tensor(math.log(value))) for name, value in self.PARAMETERS.items()})

    def parameter(self, name: str) -> torch.Tensor:
        """Return the trade-off parameter ``name`` (``"mu"``, ``"alpha"``, ``"lam1"``, ``"beta"``, ``"lam2"``)."""
        return self.log_parameters[name].exp()

    def mapping(self, y: torch.Tensor, y_tilde: torch.Tensor) -> torch.Tensor:
        """Return ``Y A + Ỹ B`` as the complex image ``A_θ(Y) + B_θ(Ỹ)``."""
        return channels_to_complex(self.map_reference(y) + self.map_ytilde(y_tilde))


@register
class IMA(ReconstructionModel):
    """Information-coupled MRI acceleration: unfolded HQS with a reference contrast, DCM and CSCA.

    Parameters
    ----------
    features:
        Channels of the embeddings ``Y`` and ``Ỹ`` and of every block's hidden layer.
    stages:
        Unfolded stages ``T`` (paper: 12).
    csca:
        Use cross-sequence converging attention in the Ỹ-update (eq. 20); else eq. (13) with learned operators.
    dcm:
        Use dilation–contraction masking (eqs. 16–18); else every stage uses the sampling mask.
    kernel:
        DCM's diffusion kernel, a name of :data:`mrilab.dcm.KERNELS`.
    use_reference:
        Reconstruct with the reference contrast (then it is required); ``False`` is the single-contrast mode.
    gamma:
        Weight γ of the mapping term of the loss (25) (paper: 0.5).
    threshold, covered:
        DCM's δ and the coverage ``ratio`` of eq. (17) (paper: 3 and 0.9).
    """

    accepts_reference = True
    needs_reference = True

    def __init__(self, features: int = 32, stages: int = 12, csca: bool = True, dcm: bool = True,
                 kernel: str = "box3", use_reference: bool = True, gamma: float = 0.5,
                 threshold: float = THRESHOLD, covered: float = COVERAGE) -> None:
        super().__init__()
        for name, value in (("features", features), ("stages", stages)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {tuple(KERNELS)}, got {kernel!r}")
        if not gamma >= 0:
            raise ValueError(f"gamma must be a non-negative weight of the mapping loss, got {gamma!r}")
        if not threshold > 0 or not 0 <= covered <= 1:
            raise ValueError(f"threshold must be positive and covered in [0, 1], got {threshold!r}, {covered!r}")
        self.config = {"features": features, "stages": stages, "csca": csca, "dcm": dcm, "kernel": kernel,
                       "use_reference": use_reference, "gamma": gamma, "threshold": threshold, "covered": covered}
        self.needs_reference = use_reference
        self.use_reference, self.use_dcm, self.gamma = use_reference, dcm, gamma
        self.embed_reference = conv_block(1, features, features)
        self.start = conv_block(features + 2, features, features)
        self.stages = nn.ModuleList(IMAStage(features, csca) for _ in range(stages))
        self.attention = CrossSequenceAttention(features, features, features) if csca else None

    def masks(self, mask: torch.Tensor) -> list[torch.Tensor]:
        """Return the mask ``M⁽ᵗ⁾`` of every stage: DCM's schedule, or the sampling mask ``T`` times without DCM."""
        config = self.config
        if not self.use_dcm:
            return [mask] * config["stages"]
        return dcm_schedule(mask, config["stages"], kernel=config["kernel"], threshold=config["threshold"],
                                covered=config["covered"])

    def _run(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
        """Run the stages; return ``X_out``, the last stage's mapping ``Y A + Ỹ B`` and the stage dicts."""
        op = data.op
        if data.y.shape[1] != 1:
            raise ValueError(f"kspace must be single-coil (B, 1, H, W) for IMA, got {tuple(data.y.shape)}")
        x = g = op.adjoint(data.y)  # X⁽⁰⁾ = G⁽⁰⁾: the zero-filled image
        if self.use_reference:
            if data.reference is None:
                raise ValueError("this IMA (use_reference=True) needs reference, a fully sampled complex (B, 1, H, W) "
                                 "image of the reference contrast")
            source = data.reference.abs()
        else:
            source = x.abs()
        y = self.embed_reference(source)
        y_tilde = self.start(torch.cat([y, complex_to_channels(x)], dim=1))
        stages = []
        for stage, stage_mask in zip(self.stages, self.masks(data.mask), strict=True):
            mu, alpha, beta = stage.parameter("mu"), stage.parameter("alpha"), stage.parameter("beta")
            prior = channels_to_complex(stage.prior_x(complex_to_channels(x)))
            x_temp = x_step(op, x, data.y, g, mu=mu, alpha=alpha, lam1=stage.parameter("lam1"), prior_gradient=prior)
            x_hat = op.hard_dc(x_temp, fft2c(x), mask=stage_mask)  # (18): the trusted region keeps X's k-space
            x = op.hard_dc(x_hat, data.y)  # (19): the measured k-space restored
            if self.attention is not None:
                residual = self.attention(y, g) + y_tilde  # (20)
            else:
                residual = complex_to_channels(stage.mapping(y, y_tilde) - g)  # (13): Y A − G + Ỹ B
            y_tilde = ytilde_step(y_tilde, residual, beta=beta, lam2=stage.parameter("lam2"),
                                  prior_gradient=stage.prior_ytilde(y_tilde), transpose=stage.transpose)
            mapping = stage.mapping(y, y_tilde)
            g = g_step(mapping, x, alpha=alpha)  # (22)
            if return_stages:
                stages.append({"x": x, "g": g, "mapping": mapping,
                               "mask": stage_mask.reshape(-1, 1, *stage_mask.shape[-2:]).float()})
        return x, mapping, stages

    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Return ``X⁽ᵀ⁾`` and, per stage, ``"x"`` (``X⁽ᵗ⁾``), ``"g"``, ``"mapping"`` (``Y A + Ỹ B``) and ``"mask"``."""
        x, _, stages = self._run(data, return_stages=return_stages)
        return x, stages

    def training_loss(self, batch: dict) -> torch.Tensor:
        """Return eq. (25), ``ℓ1(X_out − X_GT) + γ ℓ1(X_out − (Y A + Ỹ B))``, in units of the data's scale.

        ``ℓ1`` is the mean absolute value of the real and imaginary parts. ``batch`` holds ``"kspace"``,
        ``"mask"``, ``"target"`` (complex ``(B, 1, H, W)``) and, with ``use_reference``, ``"reference"``.
        """
        target = check_training_batch(batch, needs=("reference",) if self.use_reference else ())
        data = self.prepare(batch["kspace"], batch["mask"], reference=batch.get("reference"))
        x, mapping, _ = self._run(data, return_stages=False)
        ground_truth = target / data.scale
        return (complex_to_channels(x - ground_truth).abs().mean()
                + self.gamma * complex_to_channels(x - mapping).abs().mean())
