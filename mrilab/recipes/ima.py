"""IMA recipe: per mask and acceleration, with and without the reference, and the small models of the ablations.

Same interface as every recipe module (:class:`~mrilab.recipes.protocol.Recipe`); the training set-up shared with
the multi-contrast U-Net is :mod:`mrilab.recipes.multicontrast` (T2w target, PDw reference, 1-D Cartesian and
pseudo-radial masks at 4× and 8×, the 8× model warm-started from the 4× one). Plus :data:`VARIANTS` (the models of
the paper's Table 2 and Fig. 8 and the book's comparisons), :data:`EXPERIMENTS` (their seeds per profile),
:func:`ablation` (one variant, once per seed) and :func:`ablations` (the options of every ablation run).
"""

from __future__ import annotations

import sys

from torch import nn

from ..models import IMA
from ..runtime import pick
from ..train import Trainer
from . import multicontrast
from .multicontrast import MASKS, RATIOS

NAME = "IMA"
METHOD = "ima"
MODEL = IMA

#: Per-profile settings. ``"main"`` is the per-mask, per-acceleration model of the chapter's Table 1 (with the
#: reference, and in single-contrast mode as the variant ``"single"``), ``"ablation"`` the model every variant of
#: Table 2 and Fig. 8 is trained as (8× radial, as the paper's Table 2). ``full`` is the paper's model: T = 12
#: stages, 46 feature channels (1,557,601 parameters, 1,254,874 without CSCA; the paper's 1.53 M and 1.33 M), batch
#: size 1 and learning rate 1e-4 with Adam. ``demo`` has 8 channels (54,245 parameters) and trains on two CPU cores
#: in minutes per model; its training length was chosen on the validation split (:mod:`mrilab.selection`, record
#: in ``mrilab/records/``).
SETTINGS = {
    "smoke": {
        "main": {"model": {"features": 4, "stages": 4}, "train": {"steps": 4, "batch_size": 1, "lr": 1e-3},
                 "first_steps": 8},
        "ablation": {"model": {"features": 4, "stages": 4}, "train": {"steps": 2, "batch_size": 1, "lr": 1e-3}},
    },
    "demo": {
        "main": {"model": {"features": 8, "stages": 12}, "train": {"steps": 400, "batch_size": 1, "lr": 1e-3},
                 "first_steps": 1600},
        "ablation": {"model": {"features": 8, "stages": 12},
                     "train": {"steps": 600, "batch_size": 1, "lr": 1e-3}},
    },
    "full": {
        "main": {"model": {"features": 46, "stages": 12},
                 "train": {"steps": 20000, "batch_size": 1, "lr": 1e-4, "lr_min": 1e-6}, "first_steps": 40000},
        "ablation": {"model": {"features": 46, "stages": 12},
                     "train": {"steps": 20000, "batch_size": 1, "lr": 1e-4, "lr_min": 1e-6}},
    },
}  # fmt: skip

#: The model variants, by run name: single-contrast mode, the ablations of Table 2(a) (no CSCA, no DCM) and 2(b)
#: (the other two kernels), and Fig. 8's stage counts. The full model is the variant ``None``.
VARIANTS = {
    "single": {"use_reference": False},
    "no_csca": {"csca": False}, "no_dcm": {"dcm": False},
    "box5": {"kernel": "box5"}, "diamond5": {"kernel": "diamond5"},
    "t4": {"stages": 4}, "t6": {"stages": 6}, "t8": {"stages": 8},
}  # fmt: skip
#: How the chapter's tables label the variants (``None``: the full model).
LABELS = {None: "IMA", "single": "IMA without the reference", "no_csca": "w/o CSCA", "no_dcm": "w/o DCM",
          "box5": "kernel box5", "diamond5": "kernel diamond5", "t4": "T = 4", "t6": "T = 6", "t8": "T = 8"}
#: The ablations per profile: the variants trained once per seed of ``seeds`` (Table 2(a) and the model they are
#: compared with), those trained once, and the reference contrasts of the "what a reference is worth" runs.
EXPERIMENTS = {
    "smoke": {"seeds": (0,), "repeated": (None, "no_csca", "no_dcm"), "once": ("box5", "t4"), "references": ("T1w",)},
    "demo": {"seeds": (0, 1), "repeated": (None, "no_csca", "no_dcm"),
             "once": ("box5", "diamond5", "t4", "t6", "t8"), "references": ("T1w",)},
    "full": {"seeds": (0, 1, 2), "repeated": (None, "no_csca", "no_dcm"),
             "once": ("box5", "diamond5", "t4", "t6", "t8"), "references": ("T1w",)},
}  # fmt: skip
#: The mask and acceleration of every ablation (the paper's Table 2: 8× radial).
ABLATION_MASK, ABLATION_RATIO = "radial", RATIOS[1]


def run_steps(profile: str, ratio: float, **options: object) -> int:
    """Return the training steps of one run (options of :func:`trainer`), without building its data."""
    return multicontrast.run_steps(_SELF, profile, ratio, **options)


def trainer(profile: str, ratio: float, *, variant: str | None = None, **options: object) -> Trainer:
    """Return the trainer of one IMA run (options of :func:`mrilab.recipes.multicontrast.build_trainer`).

    ``variant`` (a key of :data:`VARIANTS`) builds that model.
    """
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
    return multicontrast.build_trainer(_SELF, profile, ratio, variant=variant,
                                       model_overrides=VARIANTS.get(variant), **options)


def train(profile: str, ratio: float, *, retrain: bool = False, progress: bool = True, save: bool = False,
          load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return a trained IMA and its history (loaded, resumed or trained; options of :func:`trainer`)."""
    return multicontrast.train(_SELF, profile, ratio, retrain=retrain, progress=progress, save=save,
                               load_only=load_only, **options)


def trained(profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
    """Return the main experiment's radial models: ``{ratio: IMA trained for that acceleration}``."""
    return {r: train(profile, r, mask="radial", retrain=retrain, progress=progress)[0] for r in RATIOS}


def ablation(profile: str, variant: str | None = None, *, reference: str | None = None, retrain: bool = False,
             progress: bool = False) -> list[nn.Module]:
    """Return one ablation-size model (8× radial), trained once per seed it has in :data:`EXPERIMENTS`."""
    experiments = pick(EXPERIMENTS, profile)
    seeds = experiments["seeds"] if variant in experiments["repeated"] and reference is None else (0,)
    return [train(profile, ABLATION_RATIO, mask=ABLATION_MASK, setting="ablation", variant=variant,
                  reference=reference, seed=seed, retrain=retrain, progress=progress)[0] for seed in seeds]


def ablations(profile: str) -> list[dict]:
    """Return the options of :func:`train` of every ablation run."""
    experiments = pick(EXPERIMENTS, profile)
    options = [{"variant": v, "seed": s} for v in experiments["repeated"] for s in experiments["seeds"]]
    options += [{"variant": v, "seed": 0} for v in experiments["once"]]
    options += [{"variant": None, "reference": r, "seed": 0} for r in experiments["references"]]
    return [{"ratio": ABLATION_RATIO, "mask": ABLATION_MASK, "setting": "ablation", **option} for option in options]


def task_runs(profile: str) -> dict[str, dict[float, dict]]:
    """Return the tasks with IMA models: ``{task name: {ratio: options of train()}}`` (with the reference)."""
    return multicontrast.task_runs()


def runs(profile: str) -> list[dict]:
    """Return the options of :func:`train` for every run the chapters use in ``profile``."""
    main = [{"ratio": r, "mask": m, "variant": v} for v in (None, "single") for m in MASKS for r in RATIOS]
    return main + ablations(profile)


_SELF = sys.modules[__name__]
