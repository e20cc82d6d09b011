"""The registry of every reconstruction method of the book: which tasks it applies to and how to build it for one.

A :class:`Method` is built for a task and a sampling ratio (:meth:`Method.build`) into a *reconstructor*, a function
``batch -> image`` that :func:`mrilab.evaluation.evaluate` runs (a trained model is one). Four kinds:

* :class:`Trained` — a network, from its recipe module's weights (:mod:`mrilab.recipes`): committed weights or a
  finished run, never a new training;
* :class:`Classical` — zero filling, FISTA with a Haar wavelet prior and FISTA-TV, with λ chosen on validation
  slices of the task (:func:`mrilab.recipes.classical.tuned`); on multi-coil tasks the solvers use the SENSE
  operator with maps estimated from the calibration region, or with the true maps (an *oracle*, labelled so);
* :class:`IFRCS` — IFR-CS with its λ and ``V`` chosen on validation slices;
* :class:`Ceiling` — the noisy fully sampled image, what the measurements allow without denoising.

:data:`METHODS` lists them in the book's order; :func:`methods_for` gives those of one task. The benchmark runner
(:mod:`mrilab.benchmark`) evaluates every method on every task it applies to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from .evaluation import fully_sampled_ceiling
from .models.base import reconstruct
from .recipes import RECIPES, Recipe
from .recipes.classical import CLASSICAL_METHODS, ifr_cs_parameters, ifr_cs_reconstructor, tuned
from .tasks import Task, get_task

#: A function ``batch -> image`` (complex, or a magnitude) that evaluation runs.
Reconstructor = Callable[[dict], torch.Tensor]


@runtime_checkable
class Method(Protocol):
    """What the registry knows of a method: its name, its tasks, and how to build it for one."""

    name: str
    oracle: bool

    def ratios(self, profile: str, task: Task) -> tuple[float, ...]:
        """Return the sampling ratios of ``task`` the method can be built for (empty: not applicable)."""

    def build(self, profile: str, task: Task, ratio: float, *, dataset: torch.utils.data.Dataset,
              device: str = "cpu") -> Reconstructor:
        """Return the reconstructor for ``task`` at ``ratio``; ``dataset`` is the evaluation set it will run on."""

    def parameters(self, reconstructor: Reconstructor) -> int:
        """Return the trainable parameters of a built reconstructor (0 for a classical one)."""


@dataclass(frozen=True)
class Trained:
    """A network of a recipe module, for every task and ratio of its ``task_runs``."""

    recipe: Recipe
    oracle: bool = False

    @property
    def name(self) -> str:
        """The recipe's display name."""
        return self.recipe.NAME

    def ratios(self, profile: str, task: Task) -> tuple[float, ...]:
        """Return the ratios of ``task`` the method can be built for."""
        runs = self.recipe.task_runs(profile).get(task.name, {})
        return tuple(r for r in task.ratios if r in runs)

    def build(self, profile: str, task: Task, ratio: float, *, dataset: torch.utils.data.Dataset,
              device: str = "cpu") -> nn.Module:
        """Return the committed (or finished) model of the task and ratio, in eval mode; never train."""
        options = self.recipe.task_runs(profile)[task.name][ratio]
        model, _ = self.recipe.train(profile, progress=False, load_only=True, **options)
        return model.to(device).eval()

    def parameters(self, reconstructor: Reconstructor) -> int:
        """Return the trainable parameters of ``reconstructor``."""
        return sum(p.numel() for p in reconstructor.parameters() if p.requires_grad)


@dataclass(frozen=True)
class Classical:
    """Zero filling or a CS solver (``solver`` of :func:`mrilab.recipes.classical.classical_reconstructor`).

    ``maps`` selects the multi-coil version: ``None`` for single-coil tasks (and for zero filling, which combines
    the coil images by root-sum-of-squares), ``"estimated"`` or ``"true"`` (the oracle) for the SENSE solvers.
    """

    name: str
    solver: str
    maps: str | None = None

    @property
    def oracle(self) -> bool:
        """Whether the method reads the true coil maps, which no scanner gives."""
        return self.maps == "true"

    def ratios(self, profile: str, task: Task) -> tuple[float, ...]:
        """Return the ratios of ``task`` the method can be built for."""
        needs_maps = task.multi_coil and self.solver != "zero_filled"
        return task.ratios if needs_maps == (self.maps is not None) else ()

    def build(self, profile: str, task: Task, ratio: float, *, dataset: torch.utils.data.Dataset,
              device: str = "cpu") -> Reconstructor:
        """Return the reconstructor of ``task`` at ``ratio``."""
        return tuned(self.solver, profile, task, ratio, maps=self.maps, device=device)[1]

    def parameters(self, reconstructor: Reconstructor) -> int:
        """Return the trainable parameters of ``reconstructor``."""
        return 0


@dataclass(frozen=True)
class IFRCS:
    """IFR-CS with its λ and ``V`` chosen on validation slices (:func:`mrilab.recipes.classical.ifr_cs_parameters`)."""

    name: str = "IFR-CS"
    oracle: bool = False
    tasks: tuple[str, ...] = ("singlecoil-t1w-radial", "singlecoil-t1w-random2d")

    def ratios(self, profile: str, task: Task) -> tuple[float, ...]:
        """Return the ratios of ``task`` the method can be built for."""
        return task.ratios if task.name in self.tasks else ()

    def build(self, profile: str, task: Task, ratio: float, *, dataset: torch.utils.data.Dataset,
              device: str = "cpu") -> Reconstructor:
        """Return the reconstructor of ``task`` at ``ratio``."""
        return ifr_cs_reconstructor(ifr_cs_parameters(profile, ratio, mask=task.mask))

    def parameters(self, reconstructor: Reconstructor) -> int:
        """Return the trainable parameters of ``reconstructor``."""
        return 0


@dataclass(frozen=True)
class Ceiling:
    """The noisy fully sampled image (:func:`mrilab.evaluation.fully_sampled_ceiling`), on every task."""

    name: str = "Fully sampled, noisy (ceiling)"
    oracle: bool = False

    def ratios(self, profile: str, task: Task) -> tuple[float, ...]:
        """Return the ratios of ``task`` the method can be built for."""
        return task.ratios

    def build(self, profile: str, task: Task, ratio: float, *, dataset: torch.utils.data.Dataset,
              device: str = "cpu") -> Reconstructor:
        """Return the reconstructor of ``task`` at ``ratio``."""
        return fully_sampled_ceiling(dataset)

    def parameters(self, reconstructor: Reconstructor) -> int:
        """Return the trainable parameters of ``reconstructor``."""
        return 0


#: Every method of the book, in the order of its tables (the ceiling last).
METHODS: tuple[Method, ...] = (
    *(Classical(name, solver) for name, solver in CLASSICAL_METHODS.items()),
    *(Classical(f"{name} ({maps} maps{', oracle' if maps == 'true' else ''})", solver, maps=maps)
      for maps in ("estimated", "true") for name, solver in CLASSICAL_METHODS.items() if solver != "zero_filled"),
    IFRCS(),
    *(Trained(recipe) for recipe in RECIPES),
    Ceiling(),
)


def restricted(task: Task, method: Method, reconstructor: Reconstructor) -> Reconstructor:
    """Return ``reconstructor`` seeing only the inputs ``task`` gives ``method`` (:meth:`Task.inputs`).

    A model is called through the shared contract (:func:`mrilab.models.base.reconstruct`). Without this, a
    multi-coil batch would hand its true sensitivity maps to every method.
    """
    call = (lambda batch: reconstruct(reconstructor, batch)) if isinstance(reconstructor, nn.Module) else reconstructor

    def run(batch: dict) -> torch.Tensor:
        return call(task.inputs(batch, oracle=method.oracle))

    return run


def get_method(name: str) -> Method:
    """Return the registered method called ``name``."""
    for method in METHODS:
        if method.name == name:
            return method
    raise ValueError(f"method must be one of {[m.name for m in METHODS]}, got {name!r}")


def methods_for(task: str | Task, profile: str = "demo") -> list[Method]:
    """Return the methods that apply to ``task`` (at least one of its ratios), in :data:`METHODS` order."""
    task = get_task(task)
    return [method for method in METHODS if method.ratios(profile, task)]

