"""ISTA-Net+ recipe: one model per sampling ratio, Cartesian masks, T1w (the ISTA chapter's Table IV layout).

Interface shared by every recipe module: :data:`NAME`, :data:`METHOD` (folder of its runs and weights),
:data:`MODEL` (the model class), :data:`SETTINGS`, :func:`trainer` (the not yet fitted
trainer of one run), :func:`train` (one run, trained, resumed or loaded), :func:`trained` (the models of the
method's main experiment, ``{ratio: model}``) and :func:`runs` (every run the book's chapters use in a profile,
which ``make train`` retrains and CI checks against the committed weights).
"""

from __future__ import annotations

from torch import nn

from ..models import ISTANetPlus
from ..runtime import pick, seed_everything
from ..tasks import single_coil_task
from ..train import TrainConfig, Trainer
from .common import TRAINING_DATA, TWIN_DATAS, TWIN_RATIOS, fit_warm_started, make_trainer

NAME = "ISTA-Net+"
METHOD = "ista_net"
MODEL = ISTANetPlus
MASK = "cartesian"

#: The sampling ratios of the per-ratio models, in training order.
RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5)

#: The pseudo-radial models the IFR chapter compares IFR-Net with (same recipe, ``mask="radial"``).
RADIAL_RATIOS = (0.1, 0.2, 0.3, 0.4)

#: Per-profile model and training schedule. ``full`` is the paper's model (9 phases, 32 filters, its
#: initialisation), trained from scratch for every ratio. ``demo`` is a smaller model (5 phases, 16 filters) that
#: starts as plain gradient steps (``init``), trained as a *warm-started series*: the first ratio from scratch for
#: ``first_steps``, every next ratio from the previous ratio's weights for ``steps``. Each model is still trained for
#: its own ratio. The demo schedule was chosen on the validation split (:mod:`mrilab.selection`, record in
#: ``mrilab/records/``); ``shorter`` is the schedule that lost that selection, which the chapter's
#: out-of-distribution section compares with.
SETTINGS = {
    "smoke": {"model": {"n_phases": 3, "n_filters": 8, "step_init": 1.0, "init": "gradient_steps"},
              "train": {"steps": 4, "batch_size": 2, "lr": 2e-3}, "first_steps": 8, "warm_start": True},
    "demo": {"model": {"n_phases": 5, "n_filters": 16, "step_init": 1.0, "init": "gradient_steps"},
             "train": {"steps": 600, "batch_size": 2, "lr": 2e-3}, "first_steps": 1200, "warm_start": True},
    "full": {"model": {"n_phases": 9, "n_filters": 32}, "train": {"steps": 20000, "batch_size": 8, "lr": 1e-4},
             "first_steps": 20000, "warm_start": False},
}  # fmt: skip


def recipe(profile: str, schedule: dict | None = None) -> dict:
    """Return ``SETTINGS[profile]`` with the top-level keys of ``schedule`` replaced (``"train"`` entries merged)."""
    settings = dict(pick(SETTINGS, profile))
    for key, value in (schedule or {}).items():
        if key not in settings:
            raise KeyError(f"schedule key {key!r} is not an ISTA-Net+ setting; known: {sorted(settings)}")
        settings[key] = {**settings[key], **value} if isinstance(value, dict) else value
    return settings


def shorter(profile: str) -> dict:
    """Return the schedule with half the steps of the profile's (the candidate the demo selection rejected)."""
    settings = pick(SETTINGS, profile)
    return {"first_steps": settings["first_steps"] // 2, "train": {"steps": settings["train"]["steps"] // 2}}


def run_steps(profile: str, ratio: float, *, schedule: dict | None = None, **options: object) -> int:
    """Return the training steps of one run (options of :func:`trainer`), without building its data.

    A warm-started model trains ``train.steps`` from its predecessor; the first of a series, or every model of a
    profile without warm starts, ``first_steps`` from scratch.
    """
    settings = recipe(profile, schedule)
    warm = settings["warm_start"] and ratio in RATIOS[1:]
    return settings["train"]["steps"] if warm else settings["first_steps"]


def trainer(profile: str, ratio: float, *, contrast: str = TRAINING_DATA, mask: str = "cartesian", seed: int = 0,
            schedule: dict | None = None) -> Trainer:
    """Return the trainer of one per-ratio ISTA-Net+ (not yet fitted).

    In a warm-started series ``trainer.run.start_from`` is the ratio whose trained model it starts from (``None``:
    from scratch). ``schedule`` overrides settings of ``SETTINGS[profile]`` (see :func:`recipe`).
    """
    settings = recipe(profile, schedule)
    previous = RATIOS[RATIOS.index(ratio) - 1] if settings["warm_start"] and ratio in RATIOS[1:] else None
    steps = run_steps(profile, ratio, schedule=schedule)
    dataset = single_coil_task(mask).dataset(profile, "train", ratios=(ratio,), contrast=contrast, seed=seed,
                                             target="noisy")
    seed_everything(seed)
    model = ISTANetPlus(**settings["model"])
    config = TrainConfig(**{**settings["train"], "steps": steps}, checkpoint_every=50, log_every=5, seed=seed)
    return make_trainer(profile, METHOD, f"{contrast}_{mask}_{round(100 * ratio)}", {"recipe": settings, "seed": seed},
                        model, dataset, config, start_from=previous)


def train(profile: str, ratio: float, *, retrain: bool = False, progress: bool = True, save: bool = False,
          load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return the trained per-ratio ISTA-Net+ and its history (loaded, resumed or trained; options of :func:`trainer`).

    ``retrain`` and ``save`` are those of :func:`mrilab.recipes.common.fit`. In a warm-started series the models of
    the lower ratios come first: a run that has to train starts from them (:func:`~.common.fit_warm_started`).
    """
    run_trainer = trainer(profile, ratio, **options)

    def train_start(start_ratio: float) -> nn.Module:
        return train(profile, start_ratio, retrain=retrain, progress=progress, save=save, **options)[0]

    history = fit_warm_started(run_trainer, train_start, retrain=retrain, progress=progress, save=save,
                               load_only=load_only)
    return run_trainer.model.eval(), history


def trained(profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
    """Return the main experiment's models: ``{ratio: ISTA-Net+ trained for that ratio}``."""
    return {r: train(profile, r, retrain=retrain, progress=progress)[0] for r in RATIOS}


def twins(profile: str) -> list[dict]:
    """Return the options of :func:`train` of the 10–30 % Cartesian models trained on each of ``TWIN_DATAS``."""
    return [{"ratio": r, "contrast": data} for data in TWIN_DATAS for r in TWIN_RATIOS]


def task_runs(profile: str) -> dict[str, dict[float, dict]]:
    """Return the tasks with ISTA-Net+ models: ``{task name: {ratio: options of train()}}``."""
    return {"singlecoil-t1w-cartesian": {r: {"ratio": r} for r in RATIOS},
            "singlecoil-t1w-radial": {r: {"ratio": r, "mask": "radial"} for r in RADIAL_RATIOS}}


def runs(profile: str) -> list[dict]:
    """Return the options of :func:`train` for every run the chapters use in ``profile``."""
    schedules = [None, shorter(profile)] if profile == "demo" else [None]
    radial = [{"ratio": r, "mask": "radial"} for r in RADIAL_RATIOS]
    return [{"ratio": r, "schedule": s} for s in schedules for r in RATIOS] + radial + twins(profile)
