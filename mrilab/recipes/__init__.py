"""Training recipes, one module per method, all implementing :class:`~mrilab.recipes.protocol.Recipe`.

Each module has ``NAME`` (display name), ``METHOD`` (folder name of its runs and weights), ``MODEL`` (its model
class), per-profile ``SETTINGS``, ``trainer(profile, **options)`` (the not yet fitted
:class:`~mrilab.train.Trainer` of one named run), ``train(profile, **options)`` (one run: loaded from the committed
weights when they match the recipe, else trained or resumed), ``trained(profile)`` (the main experiment's models,
``{ratio: model}``), ``runs(profile)`` (every run the chapters use), ``run_steps(profile, **options)`` (the training
steps of one run, without building its data) and ``task_runs(profile)`` (the run of each task and ratio, for the
registry :mod:`mrilab.methods`). :data:`RECIPES` lists the modules (the multi-coil ones share
:mod:`mrilab.recipes.multicoil`, the multi-contrast ones :mod:`mrilab.recipes.multicontrast`);
:mod:`mrilab.recipes.classical` holds the tuned classical baselines.
"""

from . import cgpd_csnet, classical, d5c5, ifr_net, ima, ista_net, multicoil, multicontrast, pc_rnn, unet
from .common import (
    BROAD,
    NARROW,
    TRAINING_DATA,
    TWIN_DATA,
    TWIN_DATAS,
    ZOOMED,
    committed_runs,
    expected_training,
    export,
    fit,
    gpu_training_estimate,
    load_committed,
    recipe_hash,
    run_name,
)
from .protocol import Recipe

#: Every trained method's recipe module, in the book's order (the registry :mod:`mrilab.methods` holds them all).
RECIPES: tuple[Recipe, ...] = (ista_net, cgpd_csnet, ifr_net, unet, d5c5, pc_rnn, ima)
#: Display name → recipe module: a view of :data:`RECIPES`.
METHODS = {recipe.NAME: recipe for recipe in RECIPES}

__all__ = [
    "BROAD", "METHODS", "NARROW", "RECIPES", "Recipe", "TRAINING_DATA", "TWIN_DATA", "TWIN_DATAS", "ZOOMED",
    "cgpd_csnet", "classical", "committed_runs", "d5c5", "expected_training", "export", "fit", "gpu_training_estimate",
    "ifr_net", "ima", "ista_net", "load_committed", "multicoil", "multicontrast", "pc_rnn", "recipe_hash", "run_name",
    "unet"
]
