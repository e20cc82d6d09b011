"""A tiny dataset and model that follow the book's contracts, for testing the trainer in isolation."""

import numpy as np
import torch
from torch import nn

from mrilab.masks import cartesian_mask
from mrilab.models.registry import register
from mrilab.ops import MRIOperator, channels_to_complex, complex_to_channels, fft2c


class ToyDataset:
    """Smooth random complex images; ``dataset[(i, draw)]`` draws a fresh Cartesian mask."""

    def __init__(self, n=6, size=16, ratio=0.4):
        g = torch.Generator().manual_seed(0)
        images = torch.randn(n, 1, size, size, dtype=torch.complex64, generator=g)
        self.images = torch.nn.functional.avg_pool2d(torch.view_as_real(images).permute(0, 1, 4, 2, 3)[:, 0], 3, 1, 1)
        self.images = torch.complex(self.images[:, :1], self.images[:, 1:])
        self.size, self.ratio = size, ratio

    def __len__(self):
        return len(self.images)

    def __getitem__(self, item):
        index, draw = item if isinstance(item, tuple) else (item, None)
        seed = index if draw is None else int(np.random.default_rng([index, draw]).integers(2**31))
        mask = cartesian_mask((self.size, self.size), self.ratio, seed=seed)[None]
        target = self.images[index]
        return {"kspace": fft2c(target) * mask, "mask": mask, "target": target,
                "ratio": torch.tensor(float(mask.double().mean())), "index": index}


@register
class ToyNet(nn.Module):
    """Zero-filling followed by a residual CNN and hard data consistency."""

    def __init__(self, features=4):
        super().__init__()
        self.config = {"features": features}
        self.net = nn.Sequential(nn.Conv2d(2, features, 3, padding=1), nn.ReLU(), nn.Conv2d(features, 2, 3, padding=1))

    def forward(self, kspace, mask, *, ratio=None, reference=None, return_stages=False):
        op = MRIOperator(mask)
        x = op.adjoint(kspace)
        x = x + channels_to_complex(self.net(complex_to_channels(x)))
        return op.hard_dc(x, kspace)
