"""Where and how a chapter runs: its profile, device, seeds, cache folders and the machine it ran on.

Profiles of the book's chapters:

* ``smoke`` — seconds per chapter, tiny data (CI executes every chapter this way);
* ``demo`` — minutes on a CPU with the committed pretrained weights, a meaningful result (``auto``, the default,
  means ``demo`` everywhere: a GPU only runs it faster);
* ``full`` — the paper-scale experiment, hours on a GPU; only when asked for by name.

A chapter's ``parameters`` cell sets ``profile = "auto"``; the ``MRILAB_PROFILE`` environment variable overrides it.
"""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

#: The profile names (the dataset of each is :data:`mrilab.data.DATASET_PROFILES`).
PROFILES = ("smoke", "demo", "full")


def resolve_profile(profile: str = "auto") -> str:
    """Return the profile a chapter runs in: ``MRILAB_PROFILE`` if set, else ``profile``, with ``auto`` → ``demo``."""
    chosen = os.environ.get("MRILAB_PROFILE") or profile
    if chosen == "auto":
        return "demo"
    if chosen not in PROFILES:
        source = "MRILAB_PROFILE" if os.environ.get("MRILAB_PROFILE") else "profile"
        raise ValueError(f"{source} must be one of {PROFILES} or 'auto', got {chosen!r}")
    return chosen


def pick(settings: dict, profile: str) -> object:
    """Return ``settings[profile]``, with a clear error when a chapter forgot a profile."""
    if profile not in settings:
        raise KeyError(f"no settings for profile {profile!r}; available: {sorted(settings)}")
    return settings[profile]


def cache_dir(variable: str, name: str) -> Path:
    """Return ``$variable`` if set, else ``~/.cache/mrilab/<name>`` (data, runs and results live side by side)."""
    return Path(os.environ.get(variable) or Path.home() / ".cache" / "mrilab" / name)


def runs_dir(*parts: str) -> Path:
    """Return where training runs go (checkpoints, histories): ``$MRILAB_RUNS`` or ``~/.cache/mrilab/runs``."""
    return cache_dir("MRILAB_RUNS", "runs").joinpath(*parts)


def results_dir() -> Path:
    """Return where chapters write their results files: ``$MRILAB_RESULTS`` or ``~/.cache/mrilab/results``."""
    return cache_dir("MRILAB_RESULTS", "results")


def resolve_device(device: str = "auto") -> torch.device:
    """Return CUDA, then Apple's MPS, then the CPU for ``"auto"``; any other value is passed to ``torch.device``."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def machine_info() -> dict:
    """Return where a measurement was taken: platform, CPU count, torch version and threads, GPU name if any."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
