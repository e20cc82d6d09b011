"""What a reconstruction is asked to do, declared once: the book's tasks.

A :class:`Task` names a contrast, the coils (single-coil, or ``C`` coils with or without sensitivity maps, optionally
compressed to virtual coils), an optional fully sampled reference contrast, the mask kind, the sampling ratios and
the splits. Everything that needs data for a method is built from its task: the trainers' datasets
(:meth:`Task.dataset`), the inputs of the contract tests and of the timing helper (:meth:`Task.example`), the λ
tuning of the classical baselines, the benchmark runner (:mod:`mrilab.benchmark`) and the results rows (each carries
its task's name).

A method says which tasks it applies to in the registry, :mod:`mrilab.methods`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .data.build import REAL_SPLIT, SPLITS
from .masks import MASK_KINDS, mask_from_name


@dataclass(frozen=True)
class Task:
    """One reconstruction task.

    Parameters
    ----------
    name:
        Identifier used by the registry, the results rows and the runner's ``--task``.
    title:
        What a table calls it.
    contrast:
        The target contrast (``"T1w"``, ``"T2w"``, ``"PDw"``).
    ratios:
        Sampling ratios in (0, 1]; an acceleration ``R`` is the ratio ``1/R``.
    mask:
        Mask kind of :func:`mrilab.masks.mask_from_name`.
    coils:
        ``None`` for single-coil data, else the number of receive coils of the multi-coil files.
    maps:
        Multi-coil only: whether a method is given the coils' sensitivity maps. Without maps a method works on the
        coils' k-space alone (it may estimate maps from the calibration region itself); a method that reads the
        true maps anyway is an *oracle* and is labelled so (:class:`mrilab.methods.Method`).
    virtual_coils:
        Multi-coil only: compress the coils to this many virtual coils (SVD coil compression) before a method
        sees them; ``None`` keeps every coil.
    reference:
        The contrast whose fully sampled image of the same slice comes with every sample (multi-contrast tasks).
    splits:
        The splits the task's data have: training, validation, test, the out-of-distribution planes and, for
        single-coil tasks, the real scans (:data:`mrilab.data.build.REAL_SPLIT`).
    """

    name: str
    title: str
    contrast: str
    ratios: tuple[float, ...]
    mask: str = "cartesian"
    coils: int | None = None
    maps: bool = False
    virtual_coils: int | None = None
    reference: str | None = None
    splits: tuple[str, ...] = ("train", "val", "test", "ood")

    def __post_init__(self) -> None:
        if self.mask not in MASK_KINDS:
            raise ValueError(f"task {self.name!r}: mask must be one of {MASK_KINDS}, got {self.mask!r}")
        if not self.ratios or any(not 0 < r <= 1 for r in self.ratios):
            raise ValueError(f"task {self.name!r}: ratios must be sampling ratios in (0, 1], got {self.ratios!r}")
        if self.coils is None and (self.maps or self.virtual_coils is not None):
            raise ValueError(f"task {self.name!r}: maps and virtual_coils need multi-coil data (coils=C)")
        if self.virtual_coils is not None and not 1 <= self.virtual_coils <= (self.coils or 0):
            raise ValueError(f"task {self.name!r}: virtual_coils must be in [1, {self.coils}], "
                             f"got {self.virtual_coils}")
        if self.reference == self.contrast:
            raise ValueError(f"task {self.name!r}: the reference contrast must differ from the target")
        unknown = set(self.splits) - {*SPLITS, REAL_SPLIT}
        if unknown:
            raise ValueError(f"task {self.name!r}: splits must be among {(*SPLITS, REAL_SPLIT)}, got {sorted(unknown)}")

    @property
    def multi_coil(self) -> bool:
        """Whether the task's data have several coils."""
        return self.coils is not None

    @property
    def n_coils(self) -> int:
        """The number of coils a method sees: 1, the coils, or the virtual coils after compression."""
        if self.coils is None:
            return 1
        return self.virtual_coils or self.coils

    def dataset(self, root_or_profile: str | os.PathLike, split: str, *, ratios: tuple[float, ...] | None = None,
                contrast: str | None = None, **options: object) -> torch.utils.data.Dataset:
        """Return the task's slices of ``split`` at ``ratios`` (default the task's), with its mask, coils and reference.

        ``contrast`` replaces the target contrast: the training distribution of a recipe (``"broad"``, or files
        joined by ``+``, :func:`mrilab.data.training_slices`) or a transfer split's file (``"real"``,
        ``"shifted"``). ``options`` (``seed``, ``max_slices``, ``target``, ``root``) go to
        :class:`~mrilab.data.SliceDataset`. The samples of a multi-coil task keep the file's maps (compressed
        with the k-space when the task has virtual coils, :class:`~mrilab.data.transforms.CoilCompress`); what a
        method may see of them is :meth:`inputs`.
        """
        from .data import training_slices
        from .data.transforms import CoilCompress

        if split not in self.splits:
            raise ValueError(f"split must be one of task {self.name!r}'s splits {self.splits}, got {split!r}")
        if self.virtual_coils is not None:
            options = {**options, "transform": CoilCompress(self.virtual_coils)}
        return training_slices(root_or_profile, split, contrast or self.contrast, mask=self.mask,
                               ratios=tuple(ratios or self.ratios), reference=self.reference, coils=self.coils,
                               **options)

    def inputs(self, batch: dict, *, oracle: bool = False) -> dict:
        """Return what a method may see of ``batch``: without ``sens`` unless the task gives maps (or ``oracle``)."""
        if self.multi_coil and not (self.maps or oracle):
            return {key: value for key, value in batch.items() if key != "sens"}
        return batch

    def example(self, size: int = 16, *, batch: int = 2, ratio: float | None = None, seed: int = 0,
                dtype: torch.dtype = torch.complex64) -> dict:
        """Return a random batch shaped like the task's data: the input of contract tests and timings.

        ``kspace`` ``(batch, C, size, size)`` under the task's mask at ``ratio`` (default its first), ``mask``,
        ``ratio``, and, as the task says, ``sens`` (normalised maps) and ``reference``.
        """
        from .coils import birdcage_maps

        generator = torch.Generator().manual_seed(seed)
        ratio = self.ratios[0] if ratio is None else ratio
        mask = mask_from_name(self.mask, (size, size), ratio, seed=seed)
        kspace = torch.randn(batch, self.n_coils, size, size, dtype=dtype, generator=generator) * mask
        example = {"kspace": kspace, "mask": mask, "ratio": torch.full((batch,), float(mask.float().mean()))}
        if self.multi_coil and self.maps:
            example["sens"] = birdcage_maps(self.n_coils, (size, size), dtype=dtype).expand(batch, -1, -1, -1)
        if self.reference is not None:
            example["reference"] = torch.randn(batch, 1, size, size, dtype=dtype, generator=generator)
        return example


def task_name(contrast: str, mask: str, *, coils: int | None = None, reference: str | None = None,
              virtual_coils: int | None = None) -> str:
    """Return the name of the task with these inputs, in the scheme of :data:`TASKS`.

    ``singlecoil-{contrast}-{mask}``, ``multicoil-{contrast}-{mask}`` (with ``-vc{n}`` for coils compressed to
    ``n`` virtual coils) or ``multicontrast-{contrast}-{reference}-{mask}`` (lower case): the name a results row
    carries when a chapter evaluates a setting the book does not declare as a task of its own (e.g. the IFR
    chapter's T2w slices).
    """
    if reference is not None:
        return f"multicontrast-{contrast.lower()}-{reference.lower()}-{mask}"
    name = f"{'singlecoil' if coils in (None, 1) else 'multicoil'}-{contrast.lower()}-{mask}"
    return name if virtual_coils is None else f"{name}-vc{virtual_coils}"


#: The splits of the single-coil T1w tasks: the synthetic ones and the real scans.
WITH_REAL_SCANS = (*SPLITS, REAL_SPLIT)


def _tasks(*tasks: Task) -> dict[str, Task]:
    for task in tasks:
        expected = task_name(task.contrast, task.mask, coils=task.coils, reference=task.reference,
                             virtual_coils=task.virtual_coils)
        if task.name != expected:
            raise ValueError(f"task {task.name!r} must be named {expected!r}")
    return {task.name: task for task in tasks}


#: The book's tasks, by name.
TASKS: dict[str, Task] = _tasks(
    Task("singlecoil-t1w-cartesian", "single-coil T1w, 1-D Cartesian", "T1w", (0.1, 0.2, 0.3, 0.4, 0.5),
         splits=WITH_REAL_SCANS),
    Task("singlecoil-t1w-radial", "single-coil T1w, pseudo-radial", "T1w", (0.1, 0.2, 0.3, 0.4), mask="radial",
         splits=WITH_REAL_SCANS),
    Task("singlecoil-t1w-random2d", "single-coil T1w, 2-D random", "T1w", (0.25,), mask="random2d",
         splits=WITH_REAL_SCANS),
    Task("singlecoil-t1w-equispaced", "single-coil T1w, equispaced Cartesian", "T1w", (1 / 4, 1 / 6),
         mask="equispaced"),
    Task("multicoil-t1w-equispaced", "16-coil T1w, equispaced Cartesian, no maps", "T1w", (1 / 4, 1 / 6),
         mask="equispaced", coils=16),
    Task("multicoil-t1w-equispaced-vc4", "16-coil T1w compressed to 4 virtual coils, equispaced, no maps", "T1w",
         (1 / 4, 1 / 6), mask="equispaced", coils=16, virtual_coils=4),
    Task("multicontrast-t2w-pdw-cartesian", "T2w with a PDw reference, 1-D Cartesian", "T2w", (1 / 4, 1 / 8),
         reference="PDw"),
    Task("multicontrast-t2w-pdw-radial", "T2w with a PDw reference, pseudo-radial", "T2w", (1 / 4, 1 / 8),
         mask="radial", reference="PDw"),
)


def single_coil_task(mask: str, contrast: str = "T1w") -> Task:
    """Return the book's single-coil task of ``contrast`` with ``mask`` (what the single-coil recipes train on)."""
    return get_task(task_name(contrast, mask))


def get_task(name: str | Task) -> Task:
    """Return the task called ``name`` (a :class:`Task` is returned as it is)."""
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name]
