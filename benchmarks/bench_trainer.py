"""Per-step overhead of mrilab.train.Trainer against a hand-written loop doing the same work.

Both train the same small unrolled network on the same batches; the difference is what the trainer's
bookkeeping (deterministic batch drawing, schedule, gradient clipping, logging, checkpoints) costs per step.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import torch
from common import write_result
from torch import nn

from mrilab.data import collate
from mrilab.masks import cartesian_mask
from mrilab.models.registry import register
from mrilab.ops import MRIOperator, channels_to_complex, complex_to_channels, fft2c
from mrilab.train import TrainConfig, Trainer


class Slices:
    def __init__(self, n=32, size=64):
        self.images = torch.randn(n, 1, size, size, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
        self.size = size

    def __len__(self):
        return len(self.images)

    def __getitem__(self, item):
        index, draw = item if isinstance(item, tuple) else (item, 0)
        mask = cartesian_mask((self.size, self.size), 0.3, seed=int(np.random.default_rng([index, draw]).integers(1e9)))
        target = self.images[index]
        return {"kspace": fft2c(target) * mask[None], "mask": mask[None], "target": target}


@register
class BenchNet(nn.Module):
    def __init__(self, stages=3, features=16):
        super().__init__()
        self.config = {"stages": stages, "features": features}
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2, features, 3, padding=1), nn.ReLU(), nn.Conv2d(features, 2, 3, padding=1))
            for _ in range(stages)
        )

    def forward(self, kspace, mask, *, ratio=None, reference=None, return_stages=False):
        op = MRIOperator(mask)
        x = op.adjoint(kspace)
        for block in self.blocks:
            x = op.hard_dc(x + channels_to_complex(block(complex_to_channels(x))), kspace)
        return x


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = Slices()
    config = TrainConfig(steps=args.steps, batch_size=4, checkpoint_every=20, log_every=10, device="cpu")

    out = tempfile.mkdtemp()
    torch.manual_seed(0)
    trainer = Trainer(BenchNet(), data, out, config)
    tic = time.perf_counter()
    trainer.fit(progress=False)
    trainer_s = (time.perf_counter() - tic) / args.steps
    shutil.rmtree(out)

    torch.manual_seed(0)
    model = BenchNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    tic = time.perf_counter()
    for step in range(args.steps):
        batch = collate([data[(int(i), step)] for i in np.random.default_rng(step).integers(len(data), size=4)])
        optimizer.zero_grad()
        loss = (model(batch["kspace"], batch["mask"]) - batch["target"]).abs().mean()
        loss.backward()
        optimizer.step()
    bare_s = (time.perf_counter() - tic) / args.steps

    result = {
        "steps": args.steps,
        "image_size": 64,
        "batch_size": 4,
        "trainer_ms_per_step": trainer_s * 1e3,
        "bare_loop_ms_per_step": bare_s * 1e3,
        "overhead_ms_per_step": (trainer_s - bare_s) * 1e3,
        "ratio": trainer_s / bare_s,
        "threads": 1,
    }
    print(result)
    write_result("trainer", result)


if __name__ == "__main__":
    main()
