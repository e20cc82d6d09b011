"""What the multi-contrast recipes share (IMA and the U-Net it is compared with): one model per mask and acceleration.

The IMA paper trains a model for each mask (1-D Cartesian, 2-D radial) and acceleration (4×, 8×) on registered
T2/PD pairs of IXI: T2 is the undersampled target, PD the fully sampled reference. Every multi-contrast recipe here
does the same on the book's tasks ``multicontrast-t2w-pdw-{mask}`` (:data:`TASKS`): per mask, the 4× model is trained
from scratch for ``first_steps`` and the 8× model starts from it for ``train.steps`` (a warm-started series, as the
multi-coil recipes'). A recipe module sets ``NAME``, ``METHOD``, ``MODEL`` and ``SETTINGS`` and delegates to the
functions below.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

from ..runtime import seed_everything
from ..tasks import Task, get_task, task_name
from ..train import TrainConfig, Trainer
from . import multicoil
from .common import make_trainer
from .multicoil import acceleration, recipe

#: The book's multi-contrast tasks, by mask: T2w target, fully sampled PDw reference.
TASKS = {"cartesian": "multicontrast-t2w-pdw-cartesian", "radial": "multicontrast-t2w-pdw-radial"}
#: The masks of the per-mask models, in training order.
MASKS = tuple(TASKS)
#: The accelerations of the per-acceleration models (sampling ratios 1/4 and 1/8), in training order.
RATIOS = (1 / 4, 1 / 8)



def task(mask: str, reference: str | None = None) -> Task:
    """Return the task of ``mask``, or the same task with another reference contrast (e.g. ``"T1w"``)."""
    if mask not in TASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
    base = get_task(TASKS[mask])
    if reference is None or reference == base.reference:
        return base
    return dataclasses.replace(base, reference=reference,
                               name=task_name(base.contrast, base.mask, reference=reference))


def start_ratio(ratio: float, settings: dict) -> float | None:
    """Return the ratio whose model a run starts from, or ``None``.

    A setting with ``first_steps`` is a warm-started series over :data:`RATIOS`: its 8× run starts from the 4× model.
    """
    if "first_steps" in settings and ratio in RATIOS[1:]:
        return RATIOS[RATIOS.index(ratio) - 1]
    return None


def run_steps(module: ModuleType, profile: str, ratio: float, *, schedule: dict | None = None,
              setting: str = "main", **options: object) -> int:
    """Return the training steps of one run: ``train.steps`` when warm-started, else ``first_steps`` if set.

    ``options`` are the run's other options (of :func:`build_trainer`), which do not change its length.
    """
    settings = recipe(module, profile, schedule, setting)
    if start_ratio(ratio, settings) is not None:
        return settings["train"]["steps"]
    return settings.get("first_steps", settings["train"]["steps"])


def build_trainer(module: ModuleType, profile: str, ratio: float, *, mask: str = "radial", setting: str = "main",
                  reference: str | None = None, seed: int = 0, schedule: dict | None = None,
                  variant: str | None = None, model_overrides: dict | None = None) -> Trainer:
    """Return the not yet fitted trainer of one multi-contrast run of ``module``.

    ``mask`` picks the task (:data:`TASKS`); ``setting`` picks ``SETTINGS[profile]["main"]`` or another entry
    (IMA's ``"ablation"``, the U-Net's ``"reference"``); ``reference`` replaces the task's reference contrast;
    ``variant`` names the ``model_overrides`` (part of the run's name, e.g. an ablation of Table 2).
    """
    settings = recipe(module, profile, schedule, setting)
    run_task = task(mask, reference)
    dataset = run_task.dataset(profile, "train", ratios=(ratio,), seed=seed, target="noisy")
    seed_everything(seed)
    model_config = {**settings["model"], **(model_overrides or {})}
    model = module.MODEL(**model_config)
    steps = run_steps(module, profile, ratio, schedule=schedule, setting=setting)
    config = TrainConfig(**{**settings["train"], "steps": steps}, checkpoint_every=50, log_every=5, seed=seed)
    identity = {"recipe": settings, "model": model_config, "task": run_task.name, "ratio": ratio, "seed": seed}
    prefix = "_".join(filter(None, (setting if setting != "main" else None, variant, mask, acceleration(ratio),
                                    f"ref{run_task.reference.lower()}")))
    return make_trainer(profile, module.METHOD, prefix, identity, model, dataset, config,
                        start_from=start_ratio(ratio, settings))


#: One run of a recipe's warm-started series, loaded, resumed or trained: the multi-coil recipes' function.
train = multicoil.train


def task_runs(**options: object) -> dict[str, dict[float, dict]]:
    """Return ``{task name: {ratio: options of train()}}``: a recipe's main model of every mask and ratio."""
    return {name: {r: {"ratio": r, "mask": mask, **options} for r in RATIOS} for mask, name in TASKS.items()}
