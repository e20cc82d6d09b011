"""The training chapters' kit: what every experiment chapter does the same way.

* :func:`show_table` — a titled Markdown table of results rows (:func:`mrilab.results.table`);
* :func:`seconds_per_slice` — the wall time of one reconstruction of a ``size × size`` slice of a task;
* :func:`training_step_cost` — the wall time and the activation memory of one training step, per slice;
* :func:`seed_mean` and :func:`block_mean` — the per-slice scores averaged over seeds, the mean over blocks;
* :func:`as_batch` (one sample as a batch), :func:`loss_curves` (the losses of several runs, from their committed
  histories) and :func:`reconstruction_grid` (reconstructions with error maps scaled per figure), re-exported here.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import stats
from .data.batching import as_batch, to_device
from .models.base import reconstruct
from .plots import loss_curves, reconstruction_grid
from .results import table
from .tasks import Task, get_task

__all__ = ["as_batch", "loss_curves", "block_mean", "reconstruction_grid", "seconds_per_slice", "seed_mean",
           "show_table", "training_step_cost"]


def show_table(rows: list[dict], title: str, *, metric: str = "psnr", experiment: str | None = None,
               time: bool = True) -> None:
    """Display ``rows`` as a Markdown table under a bold ``title`` (in a notebook; printed elsewhere)."""
    from IPython.display import Markdown, display

    display(Markdown(f"**{title}**\n\n" + table(rows, metric=metric, experiment=experiment, time=time)))


@torch.no_grad()
def seconds_per_slice(model: torch.nn.Module, size: int, *, task: str | Task = "singlecoil-t1w-cartesian",
                      ratio: float | None = None, repeats: int = 2, device: torch.device | str = "cpu") -> float:
    """Return the best of ``repeats`` wall times (after one warm-up) of reconstructing one ``size × size`` slice.

    The input is a random slice shaped like ``task``'s data (:meth:`mrilab.tasks.Task.example`: its coils, maps and
    reference, its mask at ``ratio``, default the task's first); the call follows the shared contract, so every
    model is timed the same way (synchronised on CUDA).
    """
    batch = to_device(get_task(task).example(size, batch=1, ratio=ratio), device)
    model = model.to(device).eval()
    times = []
    for _ in range(repeats + 1):
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        reconstruct(model, batch)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tic)
    return min(times[1:])


def training_step_cost(trainer: object, *, repeats: int = 2) -> dict[str, float]:
    """Return the wall time (s) and the memory of the tensors saved for backward (bytes) of one step, per slice.

    ``trainer`` is a :class:`~mrilab.train.Trainer`; its loss on its first batch is differentiated ``repeats``
    times after one warm-up (the best time counts), and the gradients are discarded. The memory is the total size
    of every tensor autograd keeps for the backward pass (``torch.autograd.graph.saved_tensors_hooks``), the part
    of training memory that grows with the image and the coils; it is the same on every device.
    """
    batch = trainer.batch(0)
    size = batch["kspace"].shape[0]
    saved = []

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    times = []
    for _ in range(repeats + 1):
        saved.clear()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
            loss = trainer.loss_fn(trainer.model, batch)
        loss.backward()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tic)
    trainer.optimizer.zero_grad(set_to_none=True)
    return {"seconds": min(times[1:]) / size, "bytes": sum(saved) / size}


def seed_mean(per_seed: list[list[dict]]) -> list[dict]:
    """Average per-slice rows over seeds (one list of rows per seed, same slices): the unit of a paired comparison."""
    return [dict(row, **{k: float(np.mean([rows[i][k] for rows in per_seed])) for k in ("psnr", "ssim", "hfen",
                                                                                        "seconds")})
            for i, row in enumerate(per_seed[0])]


def block_mean(rows: list[dict], metric: str = "psnr") -> float:
    """Return the mean of ``metric`` over blocks (a table's mean), without a bootstrap."""
    return float(np.mean(list(stats.per_block(rows, metric).values())))
