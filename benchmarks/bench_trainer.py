"""Milliseconds per training step of every method's demo model, and what the trainer's bookkeeping adds.

A training step is what :class:`mrilab.train.Trainer` does per step: the model's own loss (the paper's) on a batch
of 4 complex 128 × 128 slices under Cartesian masks, backward, gradient clipping and an Adam step. The models are
the ``demo`` models of :data:`mrilab.recipes.METHODS`. As in ``bench_ops.py``: one thread, the allocator settings
of :func:`common.ensure_allocator_settings`, warm-up, contenders interleaved round by round, median and IQR.

The second measurement compares :meth:`Trainer.fit` with a hand-written loop doing the same steps on a toy model,
so that the difference is the trainer's own cost (deterministic batches, schedule, logging, checkpoints).

    python benchmarks/bench_trainer.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import torch
from common import ensure_allocator_settings, time_interleaved, write_result
from torch import nn

from mrilab.data import collate
from mrilab.masks import cartesian_mask
from mrilab.models.base import ReconstructionModel
from mrilab.models.registry import register
from mrilab.ops import channels_to_complex, complex_to_channels, fft2c
from mrilab.recipes import METHODS
from mrilab.train import TrainConfig, Trainer, default_loss

SIZE, BATCH = 128, 4


def demo_step(name: str, module: object) -> tuple[callable, int]:
    """One training step of ``module``'s demo model (closure) and its parameter count."""
    settings = module.SETTINGS["demo"]
    config = (settings["main"] if "main" in settings else settings)["model"]
    torch.manual_seed(0)
    model = module.MODEL(**config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(BATCH, 1, SIZE, SIZE, dtype=torch.complex64, generator=generator)
    mask = torch.stack([cartesian_mask((SIZE, SIZE), 0.3, seed=s) for s in range(BATCH)])[:, None]
    batch = {"kspace": fft2c(target) * mask, "mask": mask, "target": target, "ratio": torch.full((BATCH,), 0.3)}

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        default_loss(model, batch).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step, sum(p.numel() for p in model.parameters())


class Slices:
    """Random complex 64 × 64 slices with a fresh Cartesian mask per draw (the book's dataset contract)."""

    def __init__(self, n: int = 32, size: int = 64) -> None:
        self.images = torch.randn(n, 1, size, size, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        index, draw = item if isinstance(item, tuple) else (item, 0)
        mask = cartesian_mask((self.size, self.size), 0.3, seed=int(np.random.default_rng([index, draw]).integers(1e9)))
        target = self.images[index]
        return {"kspace": fft2c(target) * mask, "mask": mask[None], "target": target}


@register
class BenchNet(ReconstructionModel):
    """Three residual CNN blocks with hard data consistency: a model whose step costs little besides bookkeeping."""

    def __init__(self, stages: int = 3, features: int = 16) -> None:
        super().__init__()
        self.config = {"stages": stages, "features": features}
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2, features, 3, padding=1), nn.ReLU(), nn.Conv2d(features, 2, 3, padding=1))
            for _ in range(stages)
        )

    def unroll(self, data, *, return_stages):
        x = data.op.adjoint(data.y)
        for block in self.blocks:
            x = data.op.hard_dc(x + channels_to_complex(block(complex_to_channels(x))), data.y)
        return x, []


def trainer_overhead(steps: int) -> dict:
    """Per-step time of Trainer.fit against a hand-written loop over the same batches, on BenchNet."""
    data = Slices()
    config = TrainConfig(steps=steps, batch_size=4, checkpoint_every=20, log_every=10, device="cpu")
    out = tempfile.mkdtemp()
    torch.manual_seed(0)
    trainer = Trainer(BenchNet(), data, out, config)
    tic = time.perf_counter()
    trainer.fit(progress=False)
    trainer_ms = (time.perf_counter() - tic) / steps * 1e3
    shutil.rmtree(out)
    torch.manual_seed(0)
    model = BenchNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    tic = time.perf_counter()
    for step in range(steps):
        batch = collate([data[(int(i), step)] for i in np.random.default_rng(step).integers(len(data), size=4)])
        optimizer.zero_grad()
        (model(batch["kspace"], batch["mask"]) - batch["target"]).abs().mean().backward()
        optimizer.step()
    bare_ms = (time.perf_counter() - tic) / steps * 1e3
    return {"steps": steps, "image_size": 64, "batch_size": 4, "trainer_ms_per_step": trainer_ms,
            "bare_loop_ms_per_step": bare_ms, "ratio": trainer_ms / bare_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=60, help="steps of the trainer-overhead comparison")
    args = parser.parse_args()
    allocator = ensure_allocator_settings()
    torch.set_num_threads(1)
    steps, sizes = {}, {}
    for name, module in METHODS.items():
        steps[name], sizes[name] = demo_step(name, module)
    timings = time_interleaved(steps, rounds=args.rounds, warmup=3)
    models = []
    for name in steps:
        t = timings[name]
        models.append({"method": name, "parameters": sizes[name], "image_size": SIZE, "batch_size": BATCH,
                       "ms_per_step": round(t["median"], 2), "p25": round(t["p25"], 2), "p75": round(t["p75"], 2)})
        print(f"{name:12s} {sizes[name]:>8,} parameters: {t['median']:.1f} ms/step [{t['p25']:.1f}–{t['p75']:.1f}]")
    overhead = trainer_overhead(args.steps)
    print(f"Trainer.fit {overhead['trainer_ms_per_step']:.1f} ms/step, hand-written loop "
          f"{overhead['bare_loop_ms_per_step']:.1f} ms/step (ratio {overhead['ratio']:.2f})")
    write_result("trainer", {"threads": 1, "allocator": allocator, "rounds": args.rounds, "models": models,
                             "trainer_overhead": overhead})


if __name__ == "__main__":
    main()
