"""Run profiles of the book's chapters.

* ``smoke`` — seconds per chapter, tiny data (CI executes every chapter this way);
* ``demo`` — minutes on a CPU, still a meaningful result (the default without a GPU);
* ``full`` — the paper-scale experiment on a GPU.

A chapter's ``parameters`` cell sets ``profile = "auto"``; the ``MRILAB_PROFILE`` environment variable overrides it,
and ``auto`` means ``full`` when CUDA is available, else ``demo``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

PROFILES = ("smoke", "demo", "full")


def resolve_profile(profile: str = "auto") -> str:
    """The profile a chapter runs in: ``MRILAB_PROFILE`` if set, else ``profile`` (``auto`` resolved)."""
    chosen = os.environ.get("MRILAB_PROFILE") or profile
    if chosen == "auto":
        return "full" if torch.cuda.is_available() else "demo"
    if chosen not in PROFILES:
        source = "MRILAB_PROFILE" if os.environ.get("MRILAB_PROFILE") else "profile"
        raise ValueError(f"{source} must be one of {PROFILES} or 'auto', got {chosen!r}")
    return chosen


def pick(settings: dict, profile: str):
    """``settings[profile]`` with a clear error when a chapter forgot a profile."""
    if profile not in settings:
        raise KeyError(f"no settings for profile {profile!r}; available: {sorted(settings)}")
    return settings[profile]


def runs_dir(*parts: str) -> Path:
    """Where chapters keep training runs (checkpoints, histories): ``$MRILAB_RUNS`` or ``~/.cache/mrilab/runs``.

    A chapter run again resumes from these checkpoints, so a finished training is not repeated.
    """
    base = Path(os.environ.get("MRILAB_RUNS") or Path.home() / ".cache" / "mrilab" / "runs")
    return base.joinpath(*parts)
