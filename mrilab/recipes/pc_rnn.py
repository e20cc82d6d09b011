"""PC-RNN recipe: one model per acceleration on the multi-coil task, and the small models of the ablations.

Same interface as every recipe module (:class:`~mrilab.recipes.protocol.Recipe`); the training set-up shared with
the multi-coil baselines is :mod:`mrilab.recipes.multicoil` (4 virtual coils from 16, equispaced masks, 4× and
6×, the 6× model warm-started from the 4× one). Plus :data:`TABLE_VII` (the pyramid variants of the paper's
Table VII), :data:`EXPERIMENTS` (seeds and coil counts of the ablations per profile), :func:`ablation` (one variant,
once per seed; with ``virtual_coils`` the Table IV models) and :func:`ablations` (the options of every ablation run).
"""

from __future__ import annotations

import sys

from torch import nn

from ..models import PCRNN
from ..runtime import pick
from ..train import Trainer
from . import multicoil
from .multicoil import RATIOS

NAME = "PC-RNN"
METHOD = "pc_rnn"
MODEL = PCRNN

#: Per-profile settings. ``"main"`` is the per-acceleration model of the chapter's Tables I/II, ``"ablation"`` the
#: smaller, shorter-trained model every variant of Tables IV and VII is trained as (at 4× only, as the paper's
#: ablations). ``full`` is the paper's PC-RNN-S width (86 feature maps: 1.6 M parameters with 15 coils, 1,395,296 with
#: 4), with its learning rate 1e-4 and batch size 8. ``demo`` is sized to train on two CPU cores in minutes (16 feature
#: maps, K = 5 iterations per module); the training lengths of both were chosen on the validation split
#: (:mod:`mrilab.selection`, record in ``mrilab/records/``). The paper's optimiser is Adam with lookahead and a step
#: decay; the book keeps its own Adam with a cosine decay for every model, so that the baselines and PC-RNN are trained
#: alike.
SETTINGS = {
    "smoke": {
        "main": {"model": {"features": 4, "iterations": 2}, "train": {"steps": 4, "batch_size": 2, "lr": 1e-3},
                 "first_steps": 8},
        "ablation": {"model": {"features": 4, "iterations": 2}, "train": {"steps": 2, "batch_size": 2, "lr": 1e-3}},
    },
    "demo": {
        "main": {"model": {"features": 16, "iterations": 5}, "train": {"steps": 400, "batch_size": 2, "lr": 1e-3},
                 "first_steps": 2400},
        "ablation": {"model": {"features": 8, "iterations": 3},
                     "train": {"steps": 600, "batch_size": 2, "lr": 2e-3}},
    },
    "full": {
        "main": {"model": {"features": 86, "iterations": 5},
                 "train": {"steps": 20000, "batch_size": 8, "lr": 1e-4, "lr_min": 1e-6}, "first_steps": 20000},
        "ablation": {"model": {"features": 86, "iterations": 5},
                     "train": {"steps": 5000, "batch_size": 8, "lr": 1e-4, "lr_min": 1e-6}},
    },
}  # fmt: skip

#: The pyramids of the paper's Table VII, by run name: one scale, two scales, the modules in parallel (no
#: connection between them), the reversed order, one scale three times, and the full coarse-to-fine pyramid.
TABLE_VII = {
    "s4": {"scales": (4,)}, "s2": {"scales": (2,)}, "s1": {"scales": (1,)},
    "s2_1": {"scales": (2, 1)}, "s4_1": {"scales": (4, 1)}, "s4_2": {"scales": (4, 2)},
    "parallel": {"connected": False}, "s1_2_4": {"scales": (1, 2, 4)}, "s4_4_4": {"scales": (4, 4, 4)},
    "s4_2_1": {},
}  # fmt: skip
#: How the chapter's tables label the variants of :data:`TABLE_VII` (the paper's notation).
LABELS = {"s4": "4x", "s2": "2x", "s1": "1x", "s2_1": "2x → 1x", "s4_1": "4x → 1x", "s4_2": "4x → 2x",
          "parallel": "(4x, 2x, 1x) in parallel", "s1_2_4": "1x → 2x → 4x", "s4_4_4": "4x → 4x → 4x",
          "s4_2_1": "4x → 2x → 1x"}
#: The ablations' seeds, their variants of Table VII and the virtual-coil counts of Table IV, per profile.
#: ``"repeated"``: variants trained with more seeds, to resolve a difference the ablation's seeds leave open (in
#: ``demo``, the full pyramid against the best single scale of the two-seed table, 1×).
EXPERIMENTS = {
    "smoke": {"seeds": (0,), "variants": ("s4", "s4_2_1"), "virtual_coils": (4, 8),
              "repeated": {"variants": (), "seeds": ()}},
    "demo": {"seeds": (0, 1), "variants": tuple(TABLE_VII), "virtual_coils": (4, 8),
             "repeated": {"variants": ("s4_2_1", "s1"), "seeds": (2, 3)}},
    "full": {"seeds": (0, 1, 2), "variants": tuple(TABLE_VII), "virtual_coils": (4, 8),
             "repeated": {"variants": (), "seeds": ()}},
}  # fmt: skip
#: The acceleration of every ablation (the paper's Table VII and Table IV are at 4×).
ABLATION_RATIO = RATIOS[0]


def run_steps(profile: str, ratio: float, **options: object) -> int:
    """Return the training steps of one run (options of :func:`trainer`), without building its data."""
    return multicoil.run_steps(_SELF, profile, ratio, **options)


def trainer(profile: str, ratio: float, *, variant: str | None = None, **options: object) -> Trainer:
    """Return the trainer of one PC-RNN run (options of :func:`mrilab.recipes.multicoil.build_trainer`).

    ``variant`` (a key of :data:`TABLE_VII`) builds that pyramid.
    """
    if variant is not None and variant not in TABLE_VII:
        raise ValueError(f"variant must be one of {tuple(TABLE_VII)}, got {variant!r}")
    overrides = {k: list(v) if isinstance(v, tuple) else v for k, v in TABLE_VII.get(variant, {}).items()}
    return multicoil.build_trainer(_SELF, profile, ratio, variant=variant, model_overrides=overrides, **options)


def train(profile: str, ratio: float, *, retrain: bool = False, progress: bool = True, save: bool = False,
          load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return a trained PC-RNN and its history (loaded, resumed or trained; options of :func:`trainer`)."""
    return multicoil.train(_SELF, profile, ratio, retrain=retrain, progress=progress, save=save,
                           load_only=load_only, **options)


def trained(profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
    """Return the main experiment's models: ``{ratio: PC-RNN trained for that acceleration}``."""
    return {r: train(profile, r, retrain=retrain, progress=progress)[0] for r in RATIOS}


def ablation(profile: str, variant: str, *, virtual_coils: int | None = None, seeds: tuple[int, ...] | None = None,
             retrain: bool = False, progress: bool = False) -> list[nn.Module]:
    """Return one ablation-size variant of :data:`TABLE_VII` at 4×, trained once per seed (default: the profile's)."""
    seeds = pick(EXPERIMENTS, profile)["seeds"] if seeds is None else seeds
    return [train(profile, ABLATION_RATIO, setting="ablation", variant=variant, virtual_coils=virtual_coils,
                  seed=seed, retrain=retrain, progress=progress)[0] for seed in seeds]


def ablations(profile: str) -> list[dict]:
    """Return the options of :func:`train` of every ablation run: Table VII's variants, Table IV's coils, repeats."""
    experiments = pick(EXPERIMENTS, profile)
    variants = [{"variant": v} for v in experiments["variants"]]
    variants += [{"variant": "s4_2_1", "virtual_coils": n} for n in experiments["virtual_coils"]
                 if n != multicoil.task().virtual_coils]
    repeated = experiments["repeated"]
    return [{"ratio": ABLATION_RATIO, "setting": "ablation", "seed": seed, **options}
            for options in variants for seed in experiments["seeds"]] + [
        {"ratio": ABLATION_RATIO, "setting": "ablation", "seed": seed, "variant": v}
        for v in repeated["variants"] for seed in repeated["seeds"]]


def task_runs(profile: str) -> dict[str, dict[float, dict]]:
    """Return the tasks with PC-RNN models: ``{task name: {ratio: options of train()}}``."""
    return multicoil.task_runs()


def runs(profile: str) -> list[dict]:
    """Return the options of :func:`train` for every run the chapters use in ``profile``."""
    return multicoil.main_runs() + ablations(profile)


_SELF = sys.modules[__name__]
