"""D5C5 recipe: one model per acceleration on the multi-coil task, the PC-RNN chapter's baseline.

Same interface as every recipe module (:class:`~mrilab.recipes.protocol.Recipe`); the training set-up is the one
PC-RNN's recipe uses (:mod:`mrilab.recipes.multicoil`), so the two are trained alike.
"""

from __future__ import annotations

import sys

from torch import nn

from ..models import D5C5
from ..train import Trainer
from . import multicoil
from .multicoil import RATIOS

NAME = "D5C5"
METHOD = "d5c5"
MODEL = D5C5

#: Per-profile settings of the per-acceleration models. ``full`` is Schlemper et al.'s cascade (5 CNNs of 5
#: convolutions, each followed by data consistency) with the coils as channels, widened from their 64 feature maps to
#: 100 to match PC-RNN-S's size as the paper did (1,424,040 parameters with 4 virtual coils, 2 % more than PC-RNN-S's
#: 1,395,296), trained with the learning rate and batch size of PC-RNN's ``full``. ``demo`` has 18 feature maps, 57,100
#: parameters with 4 virtual coils, 1.6 % fewer than PC-RNN's 58,016. The training length was chosen on the validation
#: split like PC-RNN's (:mod:`mrilab.selection`).
SETTINGS = {
    "smoke": {"main": {"model": {"cascades": 2, "depth": 3, "features": 4},
                       "train": {"steps": 4, "batch_size": 2, "lr": 1e-3}, "first_steps": 8}},
    "demo": {"main": {"model": {"features": 18}, "train": {"steps": 400, "batch_size": 2, "lr": 1e-3},
                      "first_steps": 2400}},
    "full": {"main": {"model": {"features": 100},
                      "train": {"steps": 20000, "batch_size": 8, "lr": 1e-4, "lr_min": 1e-6}, "first_steps": 20000}},
}  # fmt: skip


def run_steps(profile: str, ratio: float, **options: object) -> int:
    """Return the training steps of one run (options of :func:`trainer`), without building its data."""
    return multicoil.run_steps(_SELF, profile, ratio, **options)


def trainer(profile: str, ratio: float, **options: object) -> Trainer:
    """Return the trainer of one D5C5 run (options of :func:`mrilab.recipes.multicoil.build_trainer`)."""
    return multicoil.build_trainer(_SELF, profile, ratio, **options)


def train(profile: str, ratio: float, *, retrain: bool = False, progress: bool = True, save: bool = False,
          load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return a trained D5C5 and its history (loaded, resumed or trained; options of :func:`trainer`)."""
    return multicoil.train(_SELF, profile, ratio, retrain=retrain, progress=progress, save=save,
                           load_only=load_only, **options)


def trained(profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
    """Return the main experiment's models: ``{ratio: D5C5 trained for that acceleration}``."""
    return {r: train(profile, r, retrain=retrain, progress=progress)[0] for r in RATIOS}


def task_runs(profile: str) -> dict[str, dict[float, dict]]:
    """Return the tasks with D5C5 models: ``{task name: {ratio: options of train()}}``."""
    return multicoil.task_runs()


def runs(profile: str) -> list[dict]:
    """Return the options of :func:`train` for every run the chapters use in ``profile``."""
    return multicoil.main_runs()


_SELF = sys.modules[__name__]
