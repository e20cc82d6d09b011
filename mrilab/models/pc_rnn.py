"""PC-RNN: a pyramid of convolutional RNNs that learn gradient descent at three scales, multi-coil without maps.

Chen et al., "Pyramid Convolutional RNN for MRI Image Reconstruction", IEEE TMI 2022, Section III. Gradient descent
on ``½‖y − A x‖² + R(x)`` (eqs. 2–3) is a recurrence; a ConvRNN module ``G_s`` learns it (eq. 4). Module ``s``
iterates ``K`` times (eq. 12)::

    h^(k+1) = g_res(h^(k)) + g_enc(x^(k)),   h^(0) = 0
    x^(k+1) = σ(g_dec(h^(k+1))),             σ(x, y, D) = F⁻¹[D y + (1 − D) F x]      data consistency, eq. (11)

with an encoder ``g_enc`` of two 3 × 3 convolutions (strides 2, 2 in ConvRNN1-4x; 2, 1 in ConvRNN2-2x; 1, 1 in
ConvRNN3-1x), a cell ``g_res`` of two residual convolutions and a decoder ``g_dec`` of two transposed convolutions
mirroring the encoder. The three modules run coarse to fine, each starting from the previous one's output
(eqs. 6–9, ``x̂_0`` the zero-filled image), and a final CNN of four convolutions with data consistency combines
their outputs (eqs. 5, 10). Multi-coil data enter without sensitivity maps (Section III-D): the real and
imaginary parts of every coil image are the channels, data consistency acts coil by coil, and the image is the
root-sum-of-squares of the output coil images (eq. 13), so :attr:`output` is ``"magnitude"``.

Where the paper leaves a choice, we chose (there is no public code):

* **Activations.** ReLU after each encoder convolution and between the decoder's two transposed convolutions; the
  decoder's last layer is linear, so it can return negative real and imaginary parts.
* **Residual convolution.** ``ResConv(h) = h + conv(ReLU(conv(h)))``; ``g_res`` is two of them.
* **Transposed convolutions.** 3 × 3, padding 1, output padding ``stride − 1``, so each undoes its encoder
  layer's size change exactly (``H`` and ``W`` must be multiples of 4).
* **Final CNN.** Its input is the three modules' outputs stacked along the channels; ReLU between its
  convolutions, none after the last.
* **Scale.** The inputs are divided by the mean magnitude of the zero-filled image (root-sum-of-squares of the
  coil images), as the paper's preprocessing does (Section IV-B), and the output multiplied back
  (:meth:`data_scale`), which makes the model commute with a change of units.
"""

from __future__ import annotations

import torch
from torch import nn

from ..coils import rss
from ..metrics import ssim_loss
from ..ops import MRIOperator, channels_to_complex, complex_to_channels, ifft2c
from .base import Measurements, ReconstructionModel, check_training_batch
from .registry import register

#: The encoder strides of the paper's three modules, coarse to fine: ConvRNN1-4x, ConvRNN2-2x, ConvRNN3-1x.
STRIDES = {4: (2, 2), 2: (2, 1), 1: (1, 1)}


class ResConv(nn.Module):
    """One residual convolution of the cell ``g_res``: ``h + conv(ReLU(conv(h)))``."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(features, features, 3, padding=1)
        self.second = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``h + conv(ReLU(conv(h)))``."""
        return h + self.second(torch.relu(self.first(h)))


class ConvRNN(nn.Module):
    """One ConvRNN module ``G_s`` of eq. (12): encoder, residual cell, decoder and data consistency, ``K`` times.

    ``channels`` is twice the number of coils (real and imaginary parts), ``strides`` the encoder's two strides.
    """

    def __init__(self, channels: int, features: int, strides: tuple[int, int], iterations: int) -> None:
        super().__init__()
        first, second = strides
        self.iterations = iterations
        self.encoder = nn.Sequential(nn.Conv2d(channels, features, 3, stride=first, padding=1), nn.ReLU(),
                                     nn.Conv2d(features, features, 3, stride=second, padding=1), nn.ReLU())
        self.cell = nn.Sequential(ResConv(features), ResConv(features))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(features, features, 3, stride=second, padding=1, output_padding=second - 1),
            nn.ReLU(),
            nn.ConvTranspose2d(features, channels, 3, stride=first, padding=1, output_padding=first - 1))

    def forward(self, x: torch.Tensor, op: MRIOperator, y: torch.Tensor) -> list[torch.Tensor]:
        """Return the ``K`` iterates ``x^(1) … x^(K)`` (complex coil images ``(B, C, H, W)``) from ``x = x^(0)``."""
        iterates, h = [], None
        for _ in range(self.iterations):
            encoded = self.encoder(complex_to_channels(x))
            h = self.cell(torch.zeros_like(encoded) if h is None else h) + encoded
            x = op.hard_dc(channels_to_complex(self.decoder(h)), y)
            iterates.append(x)
        return iterates


def gradient_descent_weights(module: ConvRNN, step: float, lam: float) -> None:
    """Set a stride-1 :class:`ConvRNN`'s weights so that one iteration is one gradient step, then σ (eq. 3).

    The step is on ``½‖Ax − y‖² + (λ/2)‖∇x‖²`` (forward differences, zero outside the image) with step size
    ``step``; on a data-consistent iterate ``Aᴴ(Ax − y) = 0``, so the step is ``x + step·λ·Δx`` with the 5-point
    Laplacian ``Δ``. The encoder splits ``x`` into ``(x⁺, x⁻)`` (ReLU passes both), each residual convolution of the
    cell returns ``h − h = 0`` on the non-negative ``h``, and the decoder returns ``(δ + step·λ·Δ) * (x⁺ − x⁻)``.
    The module needs ``features = 2 · channels``.
    """
    channels = module.decoder[-1].out_channels
    if module.encoder[0].out_channels != 2 * channels or module.encoder[0].stride != (1, 1):
        raise ValueError(f"module must have stride 1 and features = 2 * channels = {2 * channels}, got "
                         f"{module.encoder[0].out_channels} features and strides {module.encoder[0].stride}")
    dtype = module.decoder[-1].weight.dtype
    identity = torch.zeros(2 * channels, 2 * channels, 3, 3, dtype=dtype)
    identity[range(2 * channels), range(2 * channels), 1, 1] = 1
    split = torch.zeros(2 * channels, channels, 3, 3, dtype=dtype)  # x -> (x, -x)
    split[range(channels), range(channels), 1, 1] = 1
    split[range(channels, 2 * channels), range(channels), 1, 1] = -1
    kernel = step * lam * torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=dtype)
    kernel[1, 1] += 1
    merge = torch.zeros(2 * channels, channels, 3, 3, dtype=dtype)  # ConvTranspose2d: (in, out, kH, kW)
    merge[range(channels), range(channels)] = kernel
    merge[range(channels, 2 * channels), range(channels)] = -kernel
    with torch.no_grad():
        for layer, weight in ((module.encoder[0], split), (module.encoder[2], identity),
                              (module.decoder[0], identity), (module.decoder[2], merge)):
            layer.weight.copy_(weight)
            layer.bias.zero_()
        for res in module.cell:
            res.first.weight.copy_(identity)
            res.second.weight.copy_(-identity)
            res.first.bias.zero_()
            res.second.bias.zero_()


@register
class PCRNN(ReconstructionModel):
    """Pyramid ConvRNN (PC-RNN) in the book's contract; returns the root-sum-of-squares magnitude.

    Parameters
    ----------
    coils:
        Number of coils (after any coil compression) the model takes; 1 for single-coil data.
    features:
        Feature maps of the ConvRNN modules (one number for all, or one per module) and of the final CNN.
    iterations:
        ``K``, the iterations of every ConvRNN module (the paper: 5).
    scales:
        The modules' downsampling factors in the order they run (the paper: 4, 2, 1); the ablations of the
        paper's Table VII use a subset (e.g. ``(2, 1)``), one scale repeated (``(4, 4, 4)``) or the reverse order.
    connected:
        Each module starts from the previous one's output (eqs. 7–9); ``False`` starts every module from the
        zero-filled image (Table VII's "(4x, 2x, 1x)", the modules in parallel).
    final_features:
        Feature maps of the final CNN (default: those of the last module).
    beta:
        Weight of the SSIM loss in the training loss, eq. (14) (the paper: 0.5).
    """

    multi_coil = True
    output = "magnitude"
    size_multiple = 4

    def __init__(self, coils: int = 1, features: int | tuple[int, ...] = 32, iterations: int = 5,
                 scales: tuple[int, ...] = (4, 2, 1), final_features: int | None = None, beta: float = 0.5,
                 connected: bool = True) -> None:
        super().__init__()
        if isinstance(coils, bool) or not isinstance(coils, int) or coils < 1:
            raise ValueError(f"coils must be a positive integer, got {coils!r}")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        scales = tuple(scales)
        if not scales or any(s not in STRIDES for s in scales):
            raise ValueError(f"scales must be a non-empty sequence of {tuple(STRIDES)}, got {scales!r}")
        widths = (features,) * len(scales) if isinstance(features, int) else tuple(features)
        if len(widths) != len(scales) or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"features must be a positive integer or one per scale {scales}, got {features!r}")
        final_features = widths[-1] if final_features is None else final_features
        if not beta >= 0:
            raise ValueError(f"beta must be a non-negative weight of the SSIM loss, got {beta!r}")
        self.config = {"coils": coils, "features": features if isinstance(features, int) else list(widths),
                       "iterations": iterations, "scales": list(scales), "final_features": final_features,
                       "beta": beta, "connected": connected}
        self.connected = connected
        self.beta = beta
        channels = 2 * coils
        self.coils = coils
        self.pyramid = nn.ModuleList(ConvRNN(channels, w, STRIDES[s], iterations)
                                     for s, w in zip(scales, widths, strict=True))
        layers = [nn.Conv2d(channels * len(scales), final_features, 3, padding=1)]
        for _ in range(2):
            layers += [nn.ReLU(), nn.Conv2d(final_features, final_features, 3, padding=1)]
        layers += [nn.ReLU(), nn.Conv2d(final_features, channels, 3, padding=1)]
        self.final = nn.Sequential(*layers)

    def data_scale(self, y: torch.Tensor) -> torch.Tensor:
        """Return the mean magnitude of the zero-filled image (root-sum-of-squares of the coil images), per sample.

        The paper's normalisation (Section IV-B). ``y`` is masked k-space ``(B, C, H, W)``; the result is real
        ``(B, 1, 1, 1)``, the smallest positive normal number for all-zero data.
        """
        magnitude = rss(ifft2c(y), dim=1)
        return magnitude.flatten(1).mean(dim=1).reshape(-1, 1, 1, 1).clamp_min(torch.finfo(magnitude.dtype).tiny)

    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Run the modules coarse to fine, then the final CNN (eqs. 7–11); return the RSS image and the stages.

        The stages are every module's ``K`` iterates in order, coarse to fine, then the final CNN's output, each as
        its coil images (``"coils"``) and their root-sum-of-squares (``"x"``).
        """
        if data.y.shape[1] != self.coils:
            raise ValueError(f"kspace must have {self.coils} coils for this PCRNN (coils={self.coils}), "
                             f"got {data.y.shape[1]}")
        op = MRIOperator(data.mask)  # coil by coil, without maps (Section III-D)
        zero_filled = x = op.adjoint(data.y)  # x̂_0: the zero-filled coil images
        outputs, stages = [], []
        for module in self.pyramid:
            iterates = module(x if self.connected else zero_filled, op, data.y)
            x = iterates[-1]
            outputs.append(x)
            if return_stages:
                stages += [{"x": rss(image).unsqueeze(1), "coils": image} for image in iterates]
        combined = channels_to_complex(self.final(torch.cat([complex_to_channels(o) for o in outputs], dim=1)))
        final = op.hard_dc(combined, data.y)
        image = rss(final).unsqueeze(1)
        if return_stages:
            stages.append({"x": image, "coils": final})
        return image, stages

    def training_loss(self, batch: dict) -> torch.Tensor:
        """Return eq. (14), ``L_NMSE + β L_SSIM`` on the coil-combined image, in the units of the data's scale.

        ``L_NMSE = ‖x̂ − x‖² / ‖x‖²`` per slice and ``L_SSIM = 1 − SSIM(x̂, x)`` (:func:`mrilab.metrics.ssim_loss`),
        both averaged over the batch, with ``x = |target| / s`` (both are unchanged by a change of units). ``batch``
        holds ``"kspace"``, ``"mask"`` and ``"target"`` (complex ``(B, 1, H, W)``); other keys are ignored.
        """
        target = check_training_batch(batch)
        data = self.prepare(batch["kspace"], batch["mask"])
        image, _ = self.unroll(data, return_stages=False)
        reference = target.abs() / data.scale
        nmse = ((image - reference) ** 2).flatten(1).sum(1) / (reference**2).flatten(1).sum(1).clamp_min(1e-12)
        return nmse.mean() + self.beta * ssim_loss(image, reference)
