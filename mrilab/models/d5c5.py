"""D5C5: a cascade of five CNNs of five convolutions, each followed by data consistency, in the book's contract.

Schlemper et al., "A deep cascade of convolutional neural networks for dynamic MR image reconstruction", IEEE TMI
2018 (its 2-D form, "D_C C_D" with ``n_d = 5`` convolutions per CNN and ``n_c = 5`` cascades). Cascade ``i``::

    x_i = DC(x_{i−1} + CNN_i(x_{i−1}), y),   x_0 = F⁻¹ D y (zero filled)

with ``CNN_i`` = ``n_d − 1`` 3 × 3 convolutions of ``features`` maps with ReLU, then a 3 × 3 convolution back to the
image's channels (a residual, so the identity is where training starts from) and ``DC`` the noiseless data
consistency ``F⁻¹[D y + (1 − D) F x]`` (the paper's λ → ∞). Multi-coil data are handled as the PC-RNN paper did
for its comparison (Section IV): the real and imaginary parts of all coil images are the channels, data
consistency acts coil by coil, and the image is their root-sum-of-squares, so :attr:`output` is ``"magnitude"``
and ``coils`` is fixed per model.
"""

from __future__ import annotations

import torch
from torch import nn

from ..coils import rss
from ..ops import MRIOperator, channels_to_complex, complex_to_channels
from .base import Measurements, ReconstructionModel, check_training_batch
from .registry import register


@register
class D5C5(ReconstructionModel):
    """Deep cascade of ``cascades`` CNNs with ``depth`` convolutions each, data consistency after every CNN."""

    multi_coil = True
    output = "magnitude"

    def __init__(self, coils: int = 1, cascades: int = 5, depth: int = 5, features: int = 64) -> None:
        super().__init__()
        for name, value, least in (("coils", coils, 1), ("cascades", cascades, 1), ("depth", depth, 2),
                                   ("features", features, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        self.config = {"coils": coils, "cascades": cascades, "depth": depth, "features": features}
        self.coils = coils
        channels = 2 * coils

        def cnn() -> nn.Sequential:
            layers, width = [], channels
            for _ in range(depth - 1):
                layers += [nn.Conv2d(width, features, 3, padding=1), nn.ReLU()]
                width = features
            return nn.Sequential(*layers, nn.Conv2d(features, channels, 3, padding=1))

        self.cascade = nn.ModuleList(cnn() for _ in range(cascades))

    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Run the cascade from the zero-filled coil images; return the RSS image and one stage per cascade."""
        if data.y.shape[1] != self.coils:
            raise ValueError(f"kspace must have {self.coils} coils for this D5C5 (coils={self.coils}), "
                             f"got {data.y.shape[1]}")
        op = MRIOperator(data.mask)  # coil by coil, without maps
        x = op.adjoint(data.y)
        stages = []
        for cnn in self.cascade:
            x = op.hard_dc(x + channels_to_complex(cnn(complex_to_channels(x))), data.y)
            if return_stages:
                stages.append({"x": rss(x).unsqueeze(1), "coils": x})
        return rss(x).unsqueeze(1), stages

    def training_loss(self, batch: dict) -> torch.Tensor:
        """Return the mean squared error between the output and ``|target|`` in data units (Schlemper et al.'s ℓ2).

        ``batch`` holds ``"kspace"``, ``"mask"`` and ``"target"`` (complex ``(B, 1, H, W)``).
        """
        target = check_training_batch(batch)
        data = self.prepare(batch["kspace"], batch["mask"])
        image, _ = self.unroll(data, return_stages=False)
        return ((image - target.abs() / data.scale) ** 2).mean()
