"""Shared experiment recipes: the settings and training calls that several chapters reuse.

The ISTA chapter trains one ISTA-Net+ per sampling ratio and tunes the classical baselines; the two-grid chapter
compares against exactly those models, so both call the functions here. A chapter that runs after another
resumes from that chapter's checkpoints (see :func:`mrilab.profiles.runs_dir`) instead of training again.
"""

from __future__ import annotations

import torch

from . import classical
from .data import SliceDataset
from .models import ISTANetPlus
from .ops import MRIOperator
from .profiles import pick, runs_dir
from .train import TrainConfig, Trainer, evaluate, seed_everything, summarize

#: Per-profile ISTA-Net+ model size and training schedule. ``full`` is the paper's model (9 phases, 32 filters).
ISTA_NET = {
    "smoke": {"model": {"n_phases": 3, "n_filters": 8}, "train": {"steps": 8, "batch_size": 2, "lr": 1e-3}},
    "demo": {"model": {"n_phases": 9, "n_filters": 32}, "train": {"steps": 300, "batch_size": 4, "lr": 1e-3}},
    "full": {"model": {"n_phases": 9, "n_filters": 32}, "train": {"steps": 20000, "batch_size": 8, "lr": 1e-4}},
}

#: Relative λ grids (``λ = rel · max|A^H y|``) searched on validation slices for the classical baselines
#: (``smoke`` only checks that the code runs, so it tries one value).
LAMBDA_GRID = {
    "smoke": {"fista": (2e-3,), "tv": (3e-3,)},
    "demo": {"fista": (1e-3, 3e-3, 1e-2), "tv": (1e-3, 3e-3, 1e-2)},
    "full": {"fista": (5e-4, 1e-3, 2e-3, 5e-3, 1e-2), "tv": (5e-4, 1e-3, 3e-3, 1e-2)},
}


def ista_net_run(profile: str, ratio: float, *, contrast: str = "T1w", mask: str = "cartesian", seed: int = 0):
    """The :class:`~mrilab.train.Trainer` of one per-ratio ISTA-Net+ (not yet fitted)."""
    recipe = pick(ISTA_NET, profile)
    dataset = SliceDataset(profile, "train", contrast, mask=mask, ratios=(ratio,), seed=seed)
    seed_everything(seed)
    model = ISTANetPlus(**recipe["model"])
    config = TrainConfig(**recipe["train"], checkpoint_every=50, log_every=5, seed=seed)
    out = runs_dir(profile, "ista_net", f"{contrast}_{mask}_{round(100 * ratio)}")
    return Trainer(model, dataset, out, config)


def train_ista_net(profile: str, ratio: float, *, progress: bool = True, **kwargs):
    """Train (or resume, or reload) the per-ratio ISTA-Net+ and return ``(model, history)``."""
    trainer = ista_net_run(profile, ratio, **kwargs)
    history = trainer.fit(progress=progress)
    return trainer.model.eval(), history


def classical_reconstructor(method: str, lam: float, *, iterations: int = 100):
    """``batch -> image`` for ``"zero_filled"``, ``"fista"`` (Haar wavelets) or ``"tv"`` with relative ``lam``."""

    def reconstruct(batch):
        op = MRIOperator(batch["mask"])
        y = batch["kspace"]
        if method == "zero_filled":
            return op.adjoint(y)
        if method == "fista":
            return classical.fista(op, y, lam * _peak(op, y), iterations=iterations)[0]
        if method == "tv":
            return classical.tv_reconstruction(op, y, lam * _peak(op, y), iterations=iterations)[0]
        raise ValueError(f"method must be 'zero_filled', 'fista' or 'tv', got {method!r}")

    return reconstruct


def tune_lambda(method: str, dataset, grid, *, iterations: int = 100, device: str = "cpu") -> tuple[float, dict]:
    """The relative λ from ``grid`` with the best mean PSNR on ``dataset``; returns ``(λ, {λ: PSNR})``."""
    scores = {lam: summarize(evaluate(classical_reconstructor(method, lam, iterations=iterations), dataset,
                                      device=device))["psnr_mean"] for lam in grid}  # fmt: skip
    return max(scores, key=scores.get), scores


def _peak(op: MRIOperator, y: torch.Tensor) -> torch.Tensor:
    """``max |A^H y|`` per sample, shaped ``(B, 1, 1, 1)``."""
    return op.adjoint(y).abs().flatten(1).amax(dim=1).view(-1, 1, 1, 1)
