"""U-Net on the zero-filled image: fastMRI's baseline, in the book's contract.

Zbontar et al., "fastMRI: An open dataset and benchmarks for accelerated MRI", 2018, Section 6.2; Ronneberger et al.
2015. The input is the magnitude of the zero-filled image (the root-sum-of-squares of the coil images for multi-coil
data, no maps needed), the output a magnitude image of the same size. The network is the fastMRI baseline's: per
level two 3 × 3 convolutions, each followed by instance normalisation, LeakyReLU (slope 0.2) and dropout; 2 × 2
average pooling down, a 2 × 2 transposed convolution (with instance normalisation and LeakyReLU) up, skip
connections by concatenation, and a 1 × 1 convolution at the end, whose absolute value is the output (the
book's contract asks a magnitude to be non-negative; fastMRI leaves the sign free). ``channels`` doubles at every
level down. With ``reference_input=True`` the fully sampled reference contrast's magnitude is a second input
channel (the IMA chapter's multi-contrast U-Net).
"""

from __future__ import annotations

import torch
from torch import nn

from ..coils import rss
from ..ops import MRIOperator
from .base import Measurements, ReconstructionModel, check_training_batch
from .registry import register


def _conv_block(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    layers = []
    for channels in (in_channels, out_channels):
        layers += [nn.Conv2d(channels, out_channels, 3, padding=1, bias=False), nn.InstanceNorm2d(out_channels),
                   nn.LeakyReLU(0.2), nn.Dropout2d(dropout)]
    return nn.Sequential(*layers)


def _up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False),
                         nn.InstanceNorm2d(out_channels), nn.LeakyReLU(0.2))


@register
class UNet(ReconstructionModel):
    """fastMRI's U-Net baseline on the zero-filled magnitude.

    Parameters
    ----------
    channels:
        Feature maps of the first level (fastMRI: 32; doubled at each level down).
    levels:
        Pooling levels (fastMRI: 4); ``H`` and ``W`` must be multiples of ``2**levels``.
    dropout:
        Dropout probability after every convolution (fastMRI: 0).
    reference_input:
        Take the reference contrast's magnitude as a second input channel (then a reference is required).
    """

    multi_coil = True
    accepts_reference = True
    output = "magnitude"

    def __init__(self, channels: int = 32, levels: int = 4, dropout: float = 0.0,
                 reference_input: bool = False) -> None:
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive integer, got {channels!r}")
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be a positive integer, got {levels!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.config = {"channels": channels, "levels": levels, "dropout": dropout,
                       "reference_input": reference_input}
        self.reference_input = reference_input
        self.size_multiple = 2**levels
        inputs = 2 if reference_input else 1
        widths = [channels * 2**level for level in range(levels + 1)]
        self.down = nn.ModuleList(
            [_conv_block(inputs, widths[0], dropout)]
            + [_conv_block(widths[level], widths[level + 1], dropout) for level in range(levels - 1)])
        self.bottom = _conv_block(widths[levels - 1], widths[levels], dropout)
        self.up = nn.ModuleList(_up_block(widths[level + 1], widths[level]) for level in reversed(range(levels)))
        self.merge = nn.ModuleList(_conv_block(2 * widths[level], widths[level], dropout)
                                   for level in reversed(range(levels)))
        self.out = nn.Conv2d(widths[0], 1, 1)

    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Return the U-Net's magnitude image of the zero-filled magnitude (and its input as a stage).

        The input is the root-sum-of-squares of the zero-filled coil images, whether or not the batch carries
        sensitivity maps (a SENSE adjoint would hand the network another image than the one it was trained on).
        """
        zero_filled = rss(MRIOperator(data.mask).adjoint(data.y)).unsqueeze(1)  # coil by coil: maps are not used
        inputs = [zero_filled]
        if self.reference_input:
            if data.reference is None:
                raise ValueError("this UNet (reference_input=True) needs reference, a fully sampled (B, 1, H, W) image "
                                 "of the reference contrast")
            inputs.append(data.reference.abs())
        x, skips = torch.cat(inputs, dim=1), []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = nn.functional.avg_pool2d(x, 2)
        x = self.bottom(x)
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        image = self.out(x).abs()  # a magnitude is non-negative (the contract); |·| keeps the gradient everywhere
        stages = [{"x": zero_filled}, {"x": image}] if return_stages else []
        return image, stages

    def training_loss(self, batch: dict) -> torch.Tensor:
        """Return fastMRI's U-Net loss: the mean ℓ1 distance between the output and ``|target|``, in data units.

        ``batch`` holds ``"kspace"``, ``"mask"``, ``"target"`` (complex ``(B, 1, H, W)``) and, for
        ``reference_input=True``, ``"reference"``.
        """
        target = check_training_batch(batch, needs=("reference",) if self.reference_input else ())
        data = self.prepare(batch["kspace"], batch["mask"], reference=batch.get("reference"))
        image, _ = self.unroll(data, return_stages=False)
        return (image - target.abs() / data.scale).abs().mean()
