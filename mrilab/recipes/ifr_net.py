"""IFR-Net recipe: per-ratio pseudo-radial models (Table IV), the 25 % models of Table V, and ablation variants.

The ablation variants are small from-scratch models (Tables II, III, IX, X, Fig. 6, the refinement module, and the
three places where the authors' released code departs from the paper's text).

Interface of every recipe module (:mod:`mrilab.recipes`): :data:`NAME`, :data:`METHOD`, :data:`MODEL`,
:data:`MASK` (the main experiment's mask), :data:`SETTINGS`, :func:`trainer`, :func:`train`, :func:`trained`,
:func:`runs`; plus :data:`PATTERNS` (Table V), :data:`ABLATIONS` (the variants, :data:`DEFAULT_VARIANT` the
unchanged model, with :func:`baseline` and :func:`follows`), :func:`ablation`, and :func:`recipe` (a schedule's
overrides, the candidates of the demo selection in :mod:`mrilab.selection`).
"""

from __future__ import annotations

from dataclasses import asdict

from torch import nn

from ..models import IFRNet
from ..runtime import pick, seed_everything
from ..tasks import single_coil_task
from ..train import TrainConfig, Trainer
from .common import TRAINING_DATA, TWIN_DATAS, fit_warm_started, make_trainer

NAME = "IFR-Net"
METHOD = "ifr_net"
MODEL = IFRNet
MASK = "radial"

#: The pseudo-radial sampling ratios of the per-ratio models (the paper's Table IV), in training order.
RATIOS = (0.1, 0.2, 0.3, 0.4)

#: Table V: the three sampling patterns at 25 %; each model starts from the 20 % radial model.
PATTERNS = ("cartesian", "random2d", "radial")
PATTERN_RATIO = 0.25

#: Per-profile model and schedule. ``full`` is the paper's network (7 stages, 2 blocks, 8 DCT filters) trained
#: from scratch per ratio. ``demo`` has 5 stages (the paper's Table X setting) and is trained as a warm-started
#: series: the first ratio from scratch for ``first_steps``, every next ratio (and every Table V pattern) from the
#: previous model for ``steps``; this schedule was chosen on the validation split (:mod:`mrilab.selection`, record
#: in ``mrilab/records/selection_demo_ifr_net.json``). ``ablation`` is the from-scratch schedule of the ablation
#: variants, all at ``ablation_ratio`` (the paper's stage sweep and weight-sharing experiments use 40 % radial).
SETTINGS = {
    "smoke": {"model": {"n_stages": 2, "n_blocks": 1, "n_points": 21},
              "train": {"steps": 4, "batch_size": 2, "lr": 2e-3}, "first_steps": 8, "warm_start": True,
              "ablation": {"steps": 4, "seeds": (0,), "stages": (1,)}, "ablation_ratio": 0.4},
    "demo": {"model": {"n_stages": 5},
             "train": {"steps": 300, "batch_size": 2, "lr": 2e-3}, "first_steps": 600, "warm_start": True,
             "ablation": {"steps": 200, "seeds": (0, 1, 2), "stages": (1, 3)}, "ablation_ratio": 0.4},
    "full": {"model": {"n_stages": 7},
             "train": {"steps": 10000, "batch_size": 4, "lr": 1e-3}, "first_steps": 10000, "warm_start": False,
             "ablation": {"steps": 10000, "seeds": (0, 1, 2), "stages": (1, 3, 5, 9)}, "ablation_ratio": 0.4},
}  # fmt: skip

#: The ablation variant that is the profile's model unchanged, trained from scratch with the ablation schedule, so
#: that every other variant is compared with a model trained the same way. Its label ``"reference"`` names its runs
#: (``ablation_reference_<seed>``, and so the committed weights) and its rows in the committed results, so it is kept;
#: it has nothing to do with a task's reference contrast (the models' ``reference=`` input).
DEFAULT_VARIANT = "reference"

#: The ablation variants: name → overrides of the profile's model (:data:`DEFAULT_VARIANT` overrides nothing). The
#: stage sweep adds ``N_s = s`` for every ``s`` of ``SETTINGS[profile]["ablation"]["stages"]``. The variants marked
#: "(code)" follow the authors' released code (``yqx7150/IFR-Net-Code``) where it departs from the paper's text,
#: which the default model follows (:data:`FOLLOWS` names the file).
ABLATIONS = {
    DEFAULT_VARIANT: {},
    "K = 3 blocks": {"n_blocks": 3},
    "random init": {"init": "random"},
    "L = 16 (random init)": {"n_filters": 16, "init": "random"},
    "shared weights": {"shared": True},
    "no refinement": {"refine": False},
    "T of x (code)": {"descriptor_of": "x"},
    "flat blur (code)": {"blur_sigma": 50.0, "blur_radius": 25},
    "S_PLF per filter (code)": {"plf_per_filter": True},
    "all three (code)": {"descriptor_of": "x", "blur_sigma": 50.0, "blur_radius": 25, "plf_per_filter": True},
}

#: What each variant follows: the paper's table or figure, or the file of the authors' released code.
FOLLOWS = {
    DEFAULT_VARIANT: "the paper's text (eqs. 5–13)",
    "K = 3 blocks": "Table II",
    "random init": "Table IX",
    "L = 16 (random init)": "Table III",
    "shared weights": "Table X",
    "no refinement": "module R removed",
    "T of x (code)": "code: layersfunction/Tmid.m",
    "flat blur (code)": "code: config.m, util/texture_map.m",
    "S_PLF per filter (code)": "code: util/initialize_IFR_NET.m",
    "all three (code)": "code: the three above",
}

#: The variant each ablation is compared with, where it is not :data:`DEFAULT_VARIANT`: the wider random-initialised
#: model against the random-initialised one of the default width, so that its row measures the width alone.
BASELINES = {"L = 16 (random init)": "random init"}

#: Validation slices whose loss (eq. 12) the trainer records every 25 steps (the paper's Fig. 10).
VALIDATION_SLICES = 4

#: Variants trained with every seed of the profile (their claims rest on differences of tenths of a dB), and the
#: baselines they are compared with.
SEEDED = (DEFAULT_VARIANT, "random init", "L = 16 (random init)", "no refinement", "T of x (code)",
          "flat blur (code)", "S_PLF per filter (code)", "all three (code)")


def variants(profile: str) -> dict[str, dict]:
    """Return every ablation variant of ``profile``: :data:`ABLATIONS` plus the stage sweep ``N_s = s``."""
    stages = pick(SETTINGS, profile)["ablation"]["stages"]
    return {**ABLATIONS, **{f"N_s = {s}": {"n_stages": s} for s in stages}}


def baseline(variant: str) -> str:
    """Return the ablation variant ``variant`` is compared with (:data:`BASELINES`, else :data:`DEFAULT_VARIANT`)."""
    return BASELINES.get(variant, DEFAULT_VARIANT)


def follows(variant: str) -> str:
    """Return what an ablation variant follows (:data:`FOLLOWS`; the stage sweep ``N_s = s``: Fig. 6)."""
    return FOLLOWS.get(variant, "Fig. 6" if variant.startswith("N_s = ") else "")


def seeds(profile: str, variant: str) -> tuple[int, ...]:
    """Return an ablation variant's training seeds: all of the profile's for :data:`SEEDED`, else the first."""
    profile_seeds = pick(SETTINGS, profile)["ablation"]["seeds"]
    return profile_seeds if variant in SEEDED else profile_seeds[:1]


def warm_start_from(profile: str, ratio: float, mask: str = MASK) -> tuple[str, float] | None:
    """Return ``(mask, ratio)`` of the model a run of the warm-started series starts from (``None``: scratch)."""
    if not pick(SETTINGS, profile)["warm_start"]:
        return None
    if mask == MASK and ratio in RATIOS[1:]:
        return MASK, RATIOS[RATIOS.index(ratio) - 1]
    return None if (mask, ratio) == (MASK, RATIOS[0]) else (MASK, 0.2)


def recipe(profile: str, schedule: dict | None = None) -> dict:
    """Return ``SETTINGS[profile]`` with the top-level keys of ``schedule`` replaced (``"train"`` entries merged).

    The schedule candidates of the demo selection (:mod:`mrilab.selection`) are such overrides:
    ``{"first_steps": ..., "train": {"steps": ...}}``.
    """
    settings = dict(pick(SETTINGS, profile))
    for key, value in (schedule or {}).items():
        if key not in settings:
            raise KeyError(f"schedule key {key!r} is not an IFR-Net setting; known: {sorted(settings)}")
        settings[key] = {**settings[key], **value} if isinstance(value, dict) else value
    return settings


def run_steps(profile: str, ratio: float, *, mask: str = MASK, variant: str | None = None,
              schedule: dict | None = None, **options: object) -> int:
    """Return the training steps of one run (options of :func:`trainer`), without building its data."""
    settings = recipe(profile, schedule)
    if variant is not None:
        return settings["ablation"]["steps"]
    return settings["train"]["steps"] if warm_start_from(profile, ratio, mask) else settings["first_steps"]


def trainer(profile: str, ratio: float, *, mask: str = MASK, contrast: str = TRAINING_DATA, seed: int = 0,
            variant: str | None = None, schedule: dict | None = None) -> Trainer:
    """Return the trainer of one IFR-Net (not yet fitted).

    Without ``variant``: a model of the warm-started series (``trainer.run.start_from`` is ``(mask, ratio)`` of the
    model it starts from, or ``None``). With ``variant`` (a key of :func:`variants`): that ablation variant,
    trained from scratch with the ablation schedule. ``schedule`` overrides the profile's schedule (:func:`recipe`;
    the candidates of the demo selection).
    """
    settings = recipe(profile, schedule)
    model_options = dict(settings["model"])
    start_from = None if variant is not None else warm_start_from(profile, ratio, mask)
    steps = run_steps(profile, ratio, mask=mask, variant=variant, schedule=schedule)
    if variant is not None:
        known = variants(profile)
        if variant not in known:
            raise ValueError(f"variant must be one of {sorted(known)}, got {variant!r}")
        model_options.update(known[variant])
        prefix = f"ablation_{variant}_{seed}".replace(" ", "").replace("=", "")
    else:
        prefix = f"{contrast}_{mask}_{round(100 * ratio)}"
    task = single_coil_task(mask)
    dataset = task.dataset(profile, "train", ratios=(ratio,), contrast=contrast, seed=seed, target="noisy")
    validation = task.dataset(profile, "val", ratios=(ratio,), contrast=contrast, seed=seed, target="noisy",
                              max_slices=VALIDATION_SLICES)
    seed_everything(seed)
    model = IFRNet(**model_options)
    config = TrainConfig(**{**settings["train"], "steps": steps}, checkpoint_every=50, log_every=5, seed=seed,
                         validate_every=25)
    # the run's identity holds the TrainConfig fields that existed when the demo weights were committed: the later
    # ones say how a run executes (mrilab.train.execution) and keep their defaults here
    train = {k: v for k, v in asdict(config).items() if k not in ("precision", "compile")}
    identity = {"model": model_options, "train": train, "mask": mask, "ratio": ratio, "contrast": contrast,
                "start_from": start_from}
    return make_trainer(profile, METHOD, prefix, {"recipe": identity, "seed": seed}, model, dataset, config,
                        validation=validation, start_from=start_from)


def train(profile: str, ratio: float, *, retrain: bool = False, progress: bool = True, save: bool = False,
          load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return one trained IFR-Net and its history (loaded, resumed or trained; options of :func:`trainer`).

    A warm-started model that has to train first trains (or loads) the model it starts from
    (:func:`~.common.fit_warm_started`).
    """
    run_trainer = trainer(profile, ratio, **options)

    def train_start(start_from: tuple[str, float]) -> nn.Module:
        start_mask, start_ratio = start_from
        start_options = {k: v for k, v in options.items() if k not in ("mask", "variant")}
        return train(profile, start_ratio, mask=start_mask, retrain=retrain, progress=progress, save=save,
                     **start_options)[0]

    history = fit_warm_started(run_trainer, train_start, retrain=retrain, progress=progress, save=save,
                               load_only=load_only)
    return run_trainer.model.eval(), history


def trained(profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
    """Return the main experiment's models: ``{ratio: IFR-Net trained for pseudo-radial sampling at that ratio}``."""
    return {r: train(profile, r, retrain=retrain, progress=progress)[0] for r in RATIOS}


def ablation(profile: str, variant: str, *, retrain: bool = False,
             progress: bool = False) -> dict[int, tuple[nn.Module, dict]]:
    """Return ``{seed: (model, history)}`` of one ablation variant, one entry per seed of :func:`seeds`."""
    ratio = pick(SETTINGS, profile)["ablation_ratio"]
    return {seed: train(profile, ratio, variant=variant, seed=seed, retrain=retrain, progress=progress)
            for seed in seeds(profile, variant)}


def twins(profile: str) -> list[dict]:
    """Return the options of :func:`train` of the Cartesian model trained on each of :data:`~.common.TWIN_DATAS`.

    The models of its warm-started series (:func:`warm_start_from`) come first.
    """
    chain, start = [], ("cartesian", PATTERN_RATIO)
    while start is not None:
        chain.insert(0, {"ratio": start[1], "mask": start[0]})
        start = warm_start_from(profile, start[1], start[0])
    return [{**options, "contrast": data} for data in TWIN_DATAS for options in chain]


def task_runs(profile: str) -> dict[str, dict[float, dict]]:
    """Return the tasks with IFR-Net models: ``{task name: {ratio: options of train()}}``."""
    return {"singlecoil-t1w-radial": {r: {"ratio": r} for r in RATIOS},
            **{f"singlecoil-t1w-{m}": {PATTERN_RATIO: {"ratio": PATTERN_RATIO, "mask": m}}
               for m in PATTERNS if m != "radial"}}


def runs(profile: str) -> list[dict]:
    """Return the options of :func:`train` for every run the IFR chapters use in ``profile``."""
    settings = pick(SETTINGS, profile)
    main = [{"ratio": r} for r in RATIOS]
    patterns = [{"ratio": PATTERN_RATIO, "mask": m} for m in PATTERNS]
    ablations = [{"ratio": settings["ablation_ratio"], "variant": v, "seed": s} for v in variants(profile)
                 for s in seeds(profile, v)]
    return main + patterns + ablations + twins(profile)
