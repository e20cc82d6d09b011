"""Batches of the book's sample dicts (``kspace``, ``mask``, ``target``, ``ratio``, ``index``, ...)."""

from __future__ import annotations

import torch


def collate(samples: list[dict]) -> dict:
    """Batch sample dicts: tensors are stacked along a new first dimension, numbers (``"index"``) become a tensor."""
    if not samples:
        raise ValueError("samples must be a non-empty list of sample dicts")
    keys = samples[0].keys()
    for sample in samples[1:]:
        if sample.keys() != keys:
            raise ValueError(f"samples must all have the same keys, got {sorted(keys)} and {sorted(sample.keys())}")
    return {key: torch.stack([s[key] for s in samples]) if isinstance(samples[0][key], torch.Tensor)
            else torch.tensor([s[key] for s in samples]) for key in keys}


def to_device(batch: dict, device: torch.device | str) -> dict:
    """Return ``batch`` with every tensor moved to ``device`` (other values unchanged)."""
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def as_batch(sample: dict, device: torch.device | str = "cpu") -> dict:
    """Return one sample as a batch of one on ``device``, ready for :func:`mrilab.train.reconstruct`."""
    return to_device(collate([sample]), device)
