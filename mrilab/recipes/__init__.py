"""Training recipes, one module per method, all with the same interface.

Each module has ``NAME`` (display name), ``METHOD`` (folder name of its runs and weights), ``MODEL`` (its model
class), per-profile
``SETTINGS``, ``trainer(profile, ...)`` (the not yet fitted :class:`~mrilab.train.Trainer` of one named run),
``train(profile, ..., retrain=False)`` (one run: loaded from the committed weights when they match the recipe,
else trained or resumed), ``trained(profile)`` (the main experiment's models, ``{ratio: model}``) and
``runs(profile)`` (every run the chapters use) and ``run_steps(profile, ...)`` (the training steps of one run,
without building its data). :data:`METHODS` maps display names to modules, so that a chapter
comparing every method loops over it; :mod:`mrilab.recipes.classical` holds the tuned classical baselines.
"""

from . import cgpd_csnet, classical, ifr_net, ista_net
from .common import (
    BROAD,
    NARROW,
    TRAINING_DATA,
    TWIN_DATA,
    committed_runs,
    expected_training,
    export,
    fit,
    gpu_training_estimate,
    load_committed,
    recipe_hash,
    run_name,
)

#: Display name → recipe module of every trained method, in the book's order.
METHODS = {ista_net.NAME: ista_net, cgpd_csnet.NAME: cgpd_csnet, ifr_net.NAME: ifr_net}

__all__ = ["BROAD", "METHODS", "NARROW", "TRAINING_DATA", "TWIN_DATA", "cgpd_csnet", "classical", "committed_runs",
           "expected_training", "export", "fit", "gpu_training_estimate", "ifr_net", "ista_net", "load_committed",
           "recipe_hash", "run_name"]
