"""CGPD-CSNet recipe: one multi-ratio model (the two-grid chapter's Table IV) and the small models of its ablations.

Same interface as :mod:`mrilab.recipes.ista_net`: :data:`NAME`, :data:`SETTINGS`, :func:`trainer`, :func:`train`,
:func:`trained` (``{ratio: the multi-ratio model}``) and :func:`runs`; plus :data:`EXPERIMENTS` (the sizes of the
ablation experiments per profile), :data:`TABLE_II` (the module variants) and :func:`ablation` (one variant,
trained once per seed).
"""

from __future__ import annotations

from torch import nn

from ..data import NoisyKSpace
from ..models import CGPDCSNet
from ..runtime import pick, seed_everything
from ..tasks import single_coil_task
from ..train import TrainConfig, Trainer
from .common import TRAINING_DATA, TWIN_DATAS, fit, make_trainer
from .ista_net import RATIOS

NAME = "CGPD-CSNet"
METHOD = "cgpd_csnet"
MODEL = CGPDCSNet
MASK = "cartesian"

#: Per-profile CGPD-CSNet settings. ``"main"`` is the multi-ratio model of the chapter's Table IV, ``"ablation"`` the
#: smaller, shorter-trained model every ablation variant (Tables I, II, V, VI, VII) starts from. ``full`` is the
#: paper's model (p = 32, k = 8, n_s = 13, four ResBlocks, Adam at 1e-4); the paper trains with batch size 1 for 500
#: epochs of 800 images, ``full`` with batch size 4 for 40 000 steps (160 000 samples, about 100 epochs of its 1 500
#: slices). ``demo`` is sized to train on two CPU cores in minutes; its main model's schedule was chosen on the
#: validation split (:mod:`mrilab.selection`, record in ``mrilab/records/``).
SETTINGS = {
    "smoke": {
        "main": {"model": {"features": 4, "depth": 2, "n_stages": 2, "n_resblocks": 1},
                 "train": {"steps": 4, "batch_size": 2, "lr": 1e-3}},
        "ablation": {"model": {"features": 4, "depth": 2, "n_stages": 2, "n_resblocks": 1},
                     "train": {"steps": 2, "batch_size": 2, "lr": 1e-3}},
    },
    "demo": {
        "main": {"model": {"features": 16, "depth": 4, "n_stages": 5, "n_resblocks": 2},
                 "train": {"steps": 960, "batch_size": 2, "lr": 2e-3}},
        "ablation": {"model": {"features": 8, "depth": 3, "n_stages": 3, "n_resblocks": 1},
                     "train": {"steps": 240, "batch_size": 4, "lr": 3e-3}},
    },
    "full": {
        "main": {"model": {"features": 32, "depth": 8, "n_stages": 13, "n_resblocks": 4},
                 "train": {"steps": 40000, "batch_size": 4, "lr": 1e-4, "lr_min": 1e-6}},
        "ablation": {"model": {"features": 32, "depth": 8, "n_stages": 7, "n_resblocks": 4},
                     "train": {"steps": 10000, "batch_size": 4, "lr": 2e-4, "lr_min": 1e-6}},
    },
}  # fmt: skip

#: Sizes of the ablation experiments per profile: the seeds every variant is trained with, the ablation ratios, the
#: stage counts of the Table I sweep, the Table II variants, the noise level of Table VII and the ratio sets of the
#: other masks (Table V).
EXPERIMENTS = {
    "smoke": {"seeds": (0,), "ablation_ratios": (0.1, 0.3), "stages": (1, 2),
              "variants": "acef", "noise": 0.1, "radial": (0.1,), "random2d": (0.05,)},
    "demo": {"seeds": (0, 1, 2), "ablation_ratios": (0.1, 0.3), "stages": (1, 2, 3),
             "variants": "acef", "noise": 0.1, "radial": (0.1, 0.2, 0.3), "random2d": (0.05, 0.1, 0.2)},
    "full": {"seeds": (0, 1, 2), "ablation_ratios": RATIOS, "stages": (3, 5, 7, 9),
             "variants": "abcdef", "noise": 0.1, "radial": RATIOS, "random2d": (0.05, 0.1, 0.2, 0.3, 0.4)},
}  # fmt: skip

#: The module variants of the paper's Table II: (a) neither C_ℓ nor CM, (b) CM only, (c) C_ℓ only, (d) C_ℓ and β
#: from CM, (e) C_ℓ and η from CM, (f) everything (the full model).
TABLE_II = {"a": {"correction": False, "condition": "none"}, "b": {"correction": False, "condition": "both"},
            "c": {"condition": "none"}, "d": {"condition": "beta"}, "e": {"condition": "eta"}, "f": {}}


def run_steps(profile: str, name: str, *, setting: str = "main", steps: int | None = None,
              train_overrides: dict | None = None, **options: object) -> int:
    """Return the training steps of one run (options of :func:`trainer`), without building its data."""
    if steps is not None:
        return steps
    return {**pick(pick(SETTINGS, profile), setting)["train"], **(train_overrides or {})}["steps"]


def trainer(profile: str, name: str, *, ratios: float | tuple[float, ...], mask: str = "cartesian",
            noise: float | None = None, setting: str = "main", contrast: str = TRAINING_DATA, seed: int = 0,
            steps: int | None = None, train_overrides: dict | None = None, **model_overrides: object) -> Trainer:
    """Return the trainer (not fitted) of one CGPD-CSNet run.

    ``ratios`` are the training sampling ratios: with several, every sample of every step draws one at random (the
    paper's multi-ratio training). ``setting`` picks ``SETTINGS[profile]["main"]`` or ``["ablation"]``;
    ``model_overrides`` change single :class:`~mrilab.models.CGPDCSNet` options (``correction=False``,
    ``condition="none"``, ``n_stages=3``, ``init="zero"``, ...); ``noise`` trains on
    :class:`~mrilab.data.NoisyKSpace` data at that relative level; ``steps`` and ``train_overrides`` override the
    recipe's step count and other :class:`~mrilab.train.TrainConfig` fields. The run is named ``name-<hash>``.
    """
    settings = pick(pick(SETTINGS, profile), setting)
    ratios = (ratios,) if isinstance(ratios, (int, float)) else tuple(ratios)
    dataset = single_coil_task(mask).dataset(profile, "train", ratios=ratios, contrast=contrast, seed=seed,
                                             target="noisy")
    if noise is not None:
        dataset = NoisyKSpace(dataset, noise, seed=seed)
    seed_everything(seed)
    model_config = {**settings["model"], **model_overrides}
    model = CGPDCSNet(**model_config)
    train_config = {**settings["train"], **(train_overrides or {}),
                    "steps": run_steps(profile, name, setting=setting, steps=steps, train_overrides=train_overrides)}
    identity = {"model": model_config, "train": train_config, "ratios": ratios, "mask": mask, "noise": noise,
                "contrast": contrast, "seed": seed}
    config = TrainConfig(**train_config, checkpoint_every=25, log_every=5, seed=seed)
    return make_trainer(profile, METHOD, name, identity, model, dataset, config)


def train(profile: str, name: str, *, retrain: bool = False, progress: bool = True, save: bool = False,
          load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
    """Return a trained CGPD-CSNet and its history (loaded, resumed or trained; options of :func:`trainer`).

    ``retrain`` and ``save`` are those of :func:`mrilab.recipes.common.fit`.
    """
    run = trainer(profile, name, **options)
    history = fit(run, retrain=retrain, progress=progress, save=save, load_only=load_only)
    return run.model.eval(), history


def trained(profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
    """Return the main experiment's model for every training ratio: ``{ratio: the multi-ratio CGPD-CSNet}``."""
    model, _ = train(profile, "multi_ratio", ratios=RATIOS, retrain=retrain, progress=progress)
    return dict.fromkeys(RATIOS, model)


def ablation(profile: str, name: str, *, retrain: bool = False, progress: bool = False,
             **options: object) -> list[nn.Module]:
    """Return one ablation-size variant trained once per seed of ``EXPERIMENTS[profile]["seeds"]``.

    ``options`` go to :func:`trainer`; ``ratios`` defaults to the profile's ablation ratios.
    """
    experiments = pick(EXPERIMENTS, profile)
    options = {"ratios": experiments["ablation_ratios"], **options}
    return [train(profile, name, setting="ablation", seed=seed, retrain=retrain, progress=progress, **options)[0]
            for seed in experiments["seeds"]]


def ablations(profile: str) -> dict[str, dict]:
    """Return every ablation variant the two-grid chapter trains in ``profile``: ``{run name: options}``."""
    experiments = pick(EXPERIMENTS, profile)
    base_stages = pick(SETTINGS, profile)["ablation"]["model"]["n_stages"]
    variants = {f"ablation_{v}": TABLE_II[v] for v in experiments["variants"]}
    variants |= {f"ablation_stages{n}": {"n_stages": n} for n in experiments["stages"] if n != base_stages}
    variants |= {"ablation_zero_init": {"init": "zero"}, "ablation_noisy": {"noise": experiments["noise"]}}
    variants |= {f"ablation_{kind}": {"ratios": experiments[kind], "mask": kind} for kind in ("radial", "random2d")}
    return variants


def twins(profile: str) -> list[dict]:
    """Return the options of :func:`train` of the main model trained on each of :data:`~.common.TWIN_DATAS`."""
    return [{"name": "multi_ratio", "ratios": RATIOS, "contrast": data} for data in TWIN_DATAS]


def task_runs(profile: str) -> dict[str, dict[float, dict]]:
    """Return the tasks with CGPD-CSNet models, ``{task name: {ratio: options of train()}}``: one model, every ratio."""
    return {"singlecoil-t1w-cartesian": {r: {"name": "multi_ratio", "ratios": RATIOS} for r in RATIOS}}


def runs(profile: str) -> list[dict]:
    """Return the options of :func:`train` for every run the chapters use in ``profile``."""
    main = [{"name": "multi_ratio", "ratios": RATIOS}] + twins(profile)
    experiments = pick(EXPERIMENTS, profile)
    small = [{"name": name, "setting": "ablation", "seed": seed, "ratios": experiments["ablation_ratios"], **options}
             for name, options in ablations(profile).items() for seed in experiments["seeds"]]
    return main + small
