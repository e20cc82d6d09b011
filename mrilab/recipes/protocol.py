"""The interface every training recipe module implements (:data:`mrilab.recipes.RECIPES`).

A recipe module is a module, not a class, so the interface is a :class:`typing.Protocol` that modules satisfy
structurally. Every function takes the profile first and the run's options as keywords: the options that
:func:`Recipe.runs` and :func:`Recipe.task_runs` return are exactly what :func:`Recipe.trainer`,
:func:`Recipe.train` and :func:`Recipe.run_steps` accept, so one call shape, ``recipe.train(profile, **options)``,
serves every method (``tests/test_recipes.py`` binds them for every run).
"""

from __future__ import annotations

from typing import Protocol

from torch import nn

from ..models.base import ReconstructionModel
from ..train import Trainer


class Recipe(Protocol):
    """A training recipe: the model, its settings per profile, and every run the book's chapters use."""

    #: Display name (a table's method column).
    NAME: str
    #: Folder of its runs and committed weights.
    METHOD: str
    #: The model class.
    MODEL: type[ReconstructionModel]
    #: Per-profile model and training settings.
    SETTINGS: dict

    def trainer(self, profile: str, **options: object) -> Trainer:
        """Return the not yet fitted trainer of one run."""

    def train(self, profile: str, *, retrain: bool = False, progress: bool = True, save: bool = False,
              load_only: bool = False, **options: object) -> tuple[nn.Module, dict]:
        """Return one run's model and history: committed weights, a finished run, or trained now."""

    def trained(self, profile: str, *, retrain: bool = False, progress: bool = True) -> dict[float, nn.Module]:
        """Return the main experiment's models, ``{ratio: model}``."""

    def runs(self, profile: str) -> list[dict]:
        """Return the options of every run the chapters use (``make train`` retrains them)."""

    def run_steps(self, profile: str, **options: object) -> int:
        """Return one run's training steps without building its data."""

    def task_runs(self, profile: str) -> dict[str, dict[float, dict]]:
        """Return ``{task name: {ratio: options}}``: the run that reconstructs each task at each ratio."""
