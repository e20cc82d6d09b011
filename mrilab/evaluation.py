"""Per-slice evaluation of a reconstruction method under the book's protocol.

Every method — a trained model or a classical solver — is run on a dataset's fixed, seeded evaluation masks and
scored slice by slice against the dataset's ``target`` (the noise-free image for the book's data), inside the head
mask of :func:`mrilab.metrics.foreground_mask` unless ``full_fov=True``. The rows carry each slice's position and
block labels, so that :mod:`mrilab.stats` can average over blocks of adjacent planes and compare methods pairwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from . import metrics
from .data.batching import collate, to_device
from .models.base import reconstruct
from .runtime import resolve_device


@torch.no_grad()
def evaluate(reconstructor: Callable[[dict], torch.Tensor] | nn.Module, dataset: torch.utils.data.Dataset, *,
             batch_size: int = 8, device: str = "auto", full_fov: bool = False) -> list[dict]:
    """Per-slice metrics of a reconstruction method on ``dataset`` (its fixed evaluation masks).

    ``reconstructor`` is a model (called with :func:`mrilab.models.base.reconstruct`) or any function
    ``batch -> image`` (a classical solver); the image ``(B, 1, H, W)`` is complex or real non-negative (a model whose
    ``output`` is ``"magnitude"``), and is scored by its magnitude ``|x|`` against the target's, so both kinds are
    scored alike. Returns one row per slice: ``index``, ``position`` (slices with the same label share their plane),
    ``block`` (the dataset's block of adjacent planes, the unit of the statistics; the position where the dataset has
    no blocks), ``psnr``, ``ssim``, ``hfen``, ``nmse`` and ``seconds`` (wall time of the batch divided by its size,
    synchronised on CUDA).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    dev = resolve_device(device)
    if isinstance(reconstructor, nn.Module):
        model = reconstructor.to(dev).eval()

        def reconstructor(batch: dict) -> torch.Tensor:
            return reconstruct(model, batch)

    label = getattr(dataset, "position_label", str)
    block = getattr(dataset, "block_label", label)
    rows = []
    for start in range(0, len(dataset), batch_size):
        indices = range(start, min(start + batch_size, len(dataset)))
        batch = to_device(collate([dataset[i] for i in indices]), dev)
        _synchronize(dev)
        tic = time.perf_counter()
        output = reconstructor(batch)
        _synchronize(dev)
        seconds = (time.perf_counter() - tic) / len(indices)
        scores = metrics.scores(output.abs(), batch["target"].abs(), full_fov=full_fov)
        for j, index in enumerate(indices):
            rows.append({"index": index, "position": label(index), "block": block(index),
                         **{k: float(v[j]) for k, v in scores.items()},
                         "seconds": seconds})
    return rows


def fully_sampled_ceiling(dataset: torch.utils.data.Dataset) -> Callable[[dict], torch.Tensor]:
    """``batch -> the noisy fully sampled images`` of ``dataset`` (a :class:`~mrilab.data.SliceDataset`).

    Scored against the clean target, this is the *ceiling* of a results table: what the measurements allow without
    any denoising, where the clean image scored against itself would only give infinite PSNR.
    """
    if not hasattr(dataset, "fully_sampled"):
        raise TypeError(f"dataset must provide fully_sampled(index) (a SliceDataset), got {type(dataset).__name__}")

    def reconstructor(batch: dict) -> torch.Tensor:
        images = [dataset.fully_sampled(int(i)) for i in batch["index"]]
        return torch.stack(images).to(batch["kspace"].device)

    return reconstructor


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
