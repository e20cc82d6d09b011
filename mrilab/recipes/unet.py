"""U-Net recipe: the baseline of the multi-coil and of the multi-contrast tasks.

One model per acceleration on the multi-coil task (the PC-RNN chapter's baseline), and one per mask and acceleration
on the multi-contrast tasks with the reference as a second input channel (the IMA chapter's).

Same interface as every recipe module (:class:`~mrilab.recipes.protocol.Recipe`); the training set-ups are the ones
PC-RNN's and IMA's recipes use (:mod:`mrilab.recipes.multicoil`, :mod:`mrilab.recipes.multicontrast`), so each is
trained alike with the model it is compared with. A run with a ``mask`` option is a multi-contrast run.
"""

from __future__ import annotations

import sys
from types import ModuleType

from torch import nn

from ..models import UNet
from ..train import Trainer
from . import multicoil, multicontrast
from .multicoil import RATIOS

NAME = "U-Net"
METHOD = "u_net"
MODEL = UNet

#: Per-profile settings of the per-acceleration models. ``full`` is fastMRI's baseline narrowed to PC-RNN-S's size, as
#: the paper did (14 channels and 4 levels: 1,484,645 parameters, 6 % more than PC-RNN-S's 1,395,296 with 4 virtual
#: coils; fastMRI's 32 channels have 7.8 M), with its ℓ1 loss and the learning rate and batch size of PC-RNN's ``full``.
#: ``demo`` has 6 channels and 3 levels, 67,669 parameters with 4 virtual coils, the U-Net closest to PC-RNN's 58,016 (5
#: channels: 47,001). The training length was chosen on the validation split like PC-RNN's (:mod:`mrilab.selection`).
#: ``"reference"`` is the multi-contrast U-Net (target and reference magnitudes as two input channels), with the
#: channels of ``"main"`` and the batch size, learning rate and training length of IMA's ``"main"``.
SETTINGS = {
    "smoke": {"main": {"model": {"channels": 4, "levels": 2}, "train": {"steps": 4, "batch_size": 2, "lr": 1e-3},
                       "first_steps": 8},
              "reference": {"model": {"channels": 4, "levels": 2, "reference_input": True},
                            "train": {"steps": 4, "batch_size": 1, "lr": 1e-3}, "first_steps": 8}},
    "demo": {"main": {"model": {"channels": 6, "levels": 3}, "train": {"steps": 400, "batch_size": 2, "lr": 1e-3},
                      "first_steps": 2400},
             "reference": {"model": {"channels": 6, "levels": 3, "reference_input": True},
                           "train": {"steps": 400, "batch_size": 1, "lr": 1e-3}, "first_steps": 1600}},
    "full": {"main": {"model": {"channels": 14, "levels": 4},
                      "train": {"steps": 20000, "batch_size": 8, "lr": 1e-4, "lr_min": 1e-6}, "first_steps": 20000},
             "reference": {"model": {"channels": 14, "levels": 4, "reference_input": True},
                           "train": {"steps": 20000, "batch_size": 1, "lr": 1e-4, "lr_min": 1e-6},
                           "first_steps": 40000}},
}  # fmt: skip


def _series(options: dict) -> ModuleType:
    """Return the set-up of a run: :mod:`~mrilab.recipes.multicontrast` with a ``mask``, else the multi-coil one."""
    return multicontrast if options.get("mask") is not None else multicoil


def _options(options: dict) -> dict:
    """Return a multi-contrast run's options with its setting (``"reference"``); others unchanged."""
    return {"setting": "reference", **options} if options.get("mask") is not None else options


def run_steps(profile: str, ratio: float, **options: object) -> int:
    """Return the training steps of one run (options of :func:`trainer`), without building its data."""
    return _series(options).run_steps(_SELF, profile, ratio, **_options(options))


def trainer(profile: str, ratio: float, **options: object) -> Trainer:
    """Return the trainer of one U-Net run.

    Its options are those of :func:`mrilab.recipes.multicoil.build_trainer`, or with ``mask`` those of
    :func:`mrilab.recipes.multicontrast.build_trainer`.
    """
    return _series(options).build_trainer(_SELF, profile, ratio, **_options(options))


def train(profile: str, ratio: float, *, retrain: bool = False, progress: bool = True, save: bool = False,
          load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return a trained U-Net and its history (loaded, resumed or trained; options of :func:`trainer`)."""
    return _series(options).train(_SELF, profile, ratio, retrain=retrain, progress=progress, save=save,
                                  load_only=load_only, **options)


def trained(profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
    """Return the main experiment's models: ``{ratio: U-Net trained for that acceleration}``."""
    return {r: train(profile, r, retrain=retrain, progress=progress)[0] for r in RATIOS}


def task_runs(profile: str) -> dict[str, dict[float, dict]]:
    """Return the tasks with U-Net models: ``{task name: {ratio: options of train()}}``."""
    return multicoil.task_runs() | multicontrast.task_runs()


def runs(profile: str) -> list[dict]:
    """Return the options of :func:`train` for every run the chapters use in ``profile``."""
    return multicoil.main_runs() + [{"ratio": r, "mask": m} for m in multicontrast.MASKS
                                    for r in multicontrast.RATIOS]


_SELF = sys.modules[__name__]
