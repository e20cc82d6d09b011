"""What the multi-coil recipes share (PC-RNN and the baselines it is compared with): one model per acceleration.

The PC-RNN paper trains "separated models for 4X and 6X acceleration" (Section IV-B) on equispaced Cartesian masks
of the brain data, with the coils as the networks' channels and no sensitivity maps. Every multi-coil recipe here
does the same on the task :data:`TASK` (the 16-coil T1w files compressed to 4 virtual coils): the 4× model is trained
from scratch for ``first_steps`` and the 6× model starts from it for ``train.steps`` (a warm-started series, as
ISTA-Net+'s in the demo profile). The same settings also train each network for the single-coil task
:data:`SINGLE_COIL_TASK` (the paper's Table I; ``single_coil=True``, runs named ``<acceleration>_sc``). A recipe
module sets ``NAME``, ``METHOD``, ``MODEL`` and ``SETTINGS`` and delegates to the functions below.
"""

from __future__ import annotations

import dataclasses
import inspect
from types import ModuleType

from torch import nn

from ..runtime import pick, seed_everything
from ..tasks import Task, get_task, task_name
from ..train import TrainConfig, Trainer
from .common import fit_warm_started, make_trainer

#: The task every multi-coil model is trained for: 16 coils compressed to 4 virtual coils, equispaced, no maps.
TASK = "multicoil-t1w-equispaced-vc4"
#: The single-coil task the same networks are also trained for (the paper's Table I): one coil, equispaced masks.
SINGLE_COIL_TASK = "singlecoil-t1w-equispaced"
#: The accelerations of the per-acceleration models (sampling ratios 1/4 and 1/6), in training order.
RATIOS = (1 / 4, 1 / 6)


def task(virtual_coils: int | None = None, *, single_coil: bool = False) -> Task:
    """Return :data:`TASK`, or it compressed to ``virtual_coils`` (Table IV), or :data:`SINGLE_COIL_TASK`."""
    if single_coil:
        if virtual_coils is not None:
            raise ValueError(f"a single-coil task has no virtual coils, got virtual_coils={virtual_coils!r}")
        return get_task(SINGLE_COIL_TASK)
    base = get_task(TASK)
    if virtual_coils is None or virtual_coils == base.virtual_coils:
        return base
    return dataclasses.replace(base, virtual_coils=virtual_coils,
                               name=task_name(base.contrast, base.mask, coils=base.coils, virtual_coils=virtual_coils))


def acceleration(ratio: float) -> str:
    """Return ``"4x"`` for the sampling ratio 1/4 (a run's name)."""
    return f"{round(1 / ratio)}x"


def recipe(module: ModuleType, profile: str, schedule: dict | None = None, setting: str = "main") -> dict:
    """Return ``module.SETTINGS[profile][setting]`` with the keys of ``schedule`` replaced (``train`` merged)."""
    settings = dict(pick(pick(module.SETTINGS, profile), setting))
    for key, value in (schedule or {}).items():
        if key not in settings:
            raise KeyError(f"schedule key {key!r} is not a {module.NAME} setting; known: {sorted(settings)}")
        settings[key] = {**settings[key], **value} if isinstance(value, dict) else value
    return settings


def start_ratio(ratio: float, setting: str) -> float | None:
    """Return the ratio whose model a run starts from (the previous acceleration of the main series), or ``None``."""
    if setting == "main" and ratio in RATIOS[1:]:
        return RATIOS[RATIOS.index(ratio) - 1]
    return None


def run_steps(module: ModuleType, profile: str, ratio: float, *, schedule: dict | None = None,
              setting: str = "main", **options: object) -> int:
    """Return the training steps of one run: ``train.steps`` when warm-started, else ``first_steps``.

    ``options`` are the run's other options (of :func:`build_trainer`), which do not change its length.
    """
    settings = recipe(module, profile, schedule, setting)
    if start_ratio(ratio, setting) is not None:
        return settings["train"]["steps"]
    return settings.get("first_steps", settings["train"]["steps"])


def build_trainer(module: ModuleType, profile: str, ratio: float, *, setting: str = "main",
                  virtual_coils: int | None = None, single_coil: bool = False, contrast: str | None = None,
                  seed: int = 0, schedule: dict | None = None, variant: str | None = None,
                  model_overrides: dict | None = None) -> Trainer:
    """Return the not yet fitted trainer of one multi-coil run of ``module``.

    ``setting`` picks ``SETTINGS[profile]["main"]`` or another entry (PC-RNN's ``"ablation"``); ``virtual_coils``
    compresses the 16 coils to another count than the task's; ``single_coil`` trains for :data:`SINGLE_COIL_TASK`
    instead, with the same settings (runs named ``..._sc``); ``contrast`` replaces the task's training contrast;
    ``variant`` names the ``model_overrides`` (part of the run's name, e.g. an ablation of Table VII). The model
    takes ``coils`` (the virtual coils) when its class has that argument.
    """
    settings = recipe(module, profile, schedule, setting)
    run_task = task(virtual_coils, single_coil=single_coil)
    dataset = run_task.dataset(profile, "train", ratios=(ratio,), contrast=contrast, seed=seed, target="noisy")
    seed_everything(seed)
    model_config = {**settings["model"], **(model_overrides or {})}
    if "coils" in inspect.signature(module.MODEL).parameters:
        model_config["coils"] = run_task.n_coils
    model = module.MODEL(**model_config)
    steps = run_steps(module, profile, ratio, schedule=schedule, setting=setting)
    config = TrainConfig(**{**settings["train"], "steps": steps}, checkpoint_every=50, log_every=5, seed=seed)
    identity = {"recipe": settings, "model": model_config, "task": run_task.name, "ratio": ratio,
                "contrast": contrast or run_task.contrast, "seed": seed}
    prefix = "_".join(filter(None, (setting if setting != "main" else None, variant, acceleration(ratio),
                                    "sc" if single_coil else f"vc{run_task.n_coils}")))
    return make_trainer(profile, module.METHOD, prefix, identity, model, dataset, config,
                        start_from=start_ratio(ratio, setting))


def train(module: ModuleType, profile: str, ratio: float, *, retrain: bool = False, progress: bool = True,
          save: bool = False, load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return one trained run of ``module`` and its history (loaded, resumed or trained).

    ``options`` are those of ``module.trainer``. A warm-started run first trains (or loads) the model of the
    previous acceleration with the same options.
    """
    run_trainer = module.trainer(profile, ratio, **options)

    def train_start(previous: float) -> nn.Module:
        return module.train(profile, previous, retrain=retrain, progress=progress, save=save, **options)[0]

    history = fit_warm_started(run_trainer, train_start, retrain=retrain, progress=progress, save=save,
                               load_only=load_only)
    return run_trainer.model.eval(), history


def task_runs() -> dict[str, dict[float, dict]]:
    """Return ``{task name: {ratio: options of train()}}``: the main models, for both tasks of the recipes."""
    return {TASK: {r: {"ratio": r} for r in RATIOS},
            SINGLE_COIL_TASK: {r: {"ratio": r, "single_coil": True} for r in RATIOS}}


def main_runs() -> list[dict]:
    """Return the options of ``train`` of a multi-coil recipe's main models: every task of :func:`task_runs`."""
    return [options for by_ratio in task_runs().values() for options in by_ratio.values()]
