"""Torch datasets of undersampled slices, following the book's sample contract.

``dataset[i]`` is slice ``i`` with its *evaluation* mask: fixed per slice, drawn from the seed ``(seed, split, i)``
(so validation and test never share a mask pattern), with the ratio ``ratios[i % len(ratios)]``.
``dataset[(i, draw)]`` is the same slice with a *training* mask (and, with several ratios, a ratio) drawn from
``(seed, split, i, draw)``, so a trainer gets fresh but reproducible masks per step. A sample is a dict:

* ``"kspace"``: complex64 ``(C, H, W)``, the measured k-space with zeros where the mask does not sample;
* ``"mask"``: bool ``(1, H, W)``;
* ``"target"``: complex64 ``(1, H, W)``, the reference image (``target=`` chooses): the noise-free image the file
  stores as ``reconstruction_clean`` (what evaluation scores against), or the noisy fully sampled image
  ``F^H y`` single-coil, ``S^H F^H y`` multi-coil (``sum_c |S_c|^2 = 1``), which is all real data offer;
* ``"ratio"``: float32 0-d tensor, the sampling ratio the mask achieves;
* ``"reference"`` (if asked): complex64 ``(1, H, W)``, the fully sampled image of another contrast of the same slice;
* ``"sens"`` (multi-coil): complex64 ``(C, H, W)`` coil sensitivities (the slice's own, where the file stores one
  set per slice);
* ``"index"``: ``i``.

``transform=`` applies a callable ``sample -> sample`` (or each of a sequence of them, in order) to every sample:
coil compression, estimated sensitivities, normalisation (:mod:`mrilab.data.transforms`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .._checks import check_ratio
from ..masks import MASK_KINDS, mask_from_name
from ..ops import ifft2c
from .build import DATASET_PROFILES, SPLITS, Profile, build_dataset, check_split, dataset_profile, split_directory
from .hdf5 import open_slice_file, require_key
from .transforms import as_transform

_EVALUATION, _TRAINING, _RATIO = 0, 1, 2
TARGETS = ("auto", "clean", "noisy")
#: Planes of one orientation closer than this (in mm, i.e. MNI152 voxels) belong to one *block*, the unit the
#: statistics resample (:mod:`mrilab.stats`). Adjacent planes 1 mm apart show nearly the same anatomy, so their
#: scores are not independent; the blocks of one held-out split lie 16–26 mm apart and the out-of-distribution
#: planes 11–14 mm apart, far enough for different structures to fill the slice. 8 mm (twice the guard between
#: training and held-out planes) separates the two cases.
BLOCK_GAP_MM = 8
#: What a file may store about where each slice comes from. A ``reference`` file must store the subjects and
#: positions, like the file it is paired with, and agree with it slice by slice on everything both store.
SLICE_ORIGINS = ("slice_subjects", "slice_positions", "slice_orientations", "slice_variants")
_REQUIRED_ORIGINS = SLICE_ORIGINS[:2]


class SliceDataset(torch.utils.data.Dataset):
    """Undersampled slices of one split and contrast of a dataset in fastMRI's layout.

    Parameters
    ----------
    root_or_profile:
        A profile name (``"smoke"``, ``"demo"``, ``"full"``) or :class:`~mrilab.data.Profile`, built on first use
        under ``root``; or a directory holding ``singlecoil_{split}/{contrast}.h5`` (a built profile, or converted
        data).
    split, contrast:
        Which file: ``singlecoil_{split}/{contrast}.h5``, or ``multicoil_{split}/{contrast}_mc{coils}.h5`` when
        ``coils`` is given.
    mask:
        Mask kind for :func:`mrilab.masks.mask_from_name`.
    ratios:
        Sampling ratio(s) in (0, 1].
    seed:
        Seeds every mask (see the module docstring).
    reference:
        Contrast whose fully sampled image of the same slice is returned as ``"reference"``. Both files must store
        the subject and position of every slice (``slice_subjects``, ``slice_positions``) and agree on them (and on
        orientations and variants where both store those), so that two unrelated volumes never pass as a pair.
    coils:
        Number of coils of the multi-coil file to read; ``None`` for single-coil.
    max_slices:
        Keep only the first ``max_slices`` slices.
    target:
        ``"clean"`` (the stored noise-free image), ``"noisy"`` (the fully sampled image) or ``"auto"`` (clean when
        the file stores it, else noisy: converted real data).
    root:
        Cache directory for profile names (default :func:`mrilab.data.default_root`).
    transform:
        A callable ``sample -> sample``, or a sequence of them applied in order (:mod:`mrilab.data.transforms`), run
        on every sample after it is assembled.
    """

    def __init__(self, root_or_profile: str | os.PathLike | Profile, split: str = "train", contrast: str = "T1w", *,
                 mask: str = "cartesian", ratios: float | Sequence[float] = (0.25,), seed: int = 0,
                 reference: str | None = None, coils: int | None = None, max_slices: int | None = None,
                 root: str | os.PathLike | None = None, target: str = "auto",
                 transform: Callable[[dict], dict] | Sequence[Callable[[dict], dict]] | None = None) -> None:
        self.directory = _resolve_directory(root_or_profile, root)
        self.split = check_split(split)
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if mask not in MASK_KINDS:
            raise ValueError(f"mask must be one of {MASK_KINDS}, got {mask!r}")
        if isinstance(ratios, (int, float)):
            ratios = (ratios,)
        self.ratios = tuple(check_ratio("ratios", r) for r in ratios)
        if not self.ratios:
            raise ValueError("ratios must hold at least one sampling ratio in (0, 1]")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if coils is not None and (isinstance(coils, bool) or not isinstance(coils, int) or coils < 1):
            raise ValueError(f"coils must be None (single-coil) or a positive integer, got {coils!r}")
        self.mask_kind, self.seed, self.coils, self.contrast, self.reference = mask, seed, coils, contrast, reference
        self.transform = as_transform(transform)
        name = f"{contrast}.h5" if coils is None else f"{contrast}_mc{coils}.h5"
        self.path = self._file(name, "contrast", contrast, multicoil=coils is not None)
        self.reference_path = None if reference is None else self._file(f"{reference}.h5", "reference", reference)
        with open_slice_file(self.path, required=("kspace",)) as f:
            kspace = f["kspace"]
            expected_ndim = 3 if coils is None else 4
            if kspace.ndim != expected_ndim:
                raise ValueError(f"{self.path}: kspace must have {expected_ndim} dimensions "
                                 f"({'slices, H, W' if coils is None else 'slices, coils, H, W'}), got {kspace.shape}")
            self.shape = tuple(kspace.shape[-2:])
            n_slices = kspace.shape[0]
            positions = f["slice_positions"][()] if "slice_positions" in f else None
            origins = {key: f[key][()] for key in SLICE_ORIGINS if key in f} if reference is not None else {}
            orientations = f["slice_orientations"][()] if "slice_orientations" in f else None
            has_clean = "reconstruction_clean" in f
            shifts = f["slice_shifts"][()] if "slice_shifts" in f else None
            if target == "clean" and not has_clean:
                raise ValueError(f"target='clean': {self.path} stores no noise-free image (reconstruction_clean); "
                                 "use target='noisy' or 'auto'")
            self.target = "clean" if target == "auto" and has_clean else ("noisy" if target == "auto" else target)
            self._sens = None
            if coils is not None:
                sens = require_key(f, "sens_maps")
                if (sens.ndim not in (3, 4) or tuple(sens.shape[-3:]) != tuple(kspace.shape[-3:])
                        or (sens.ndim == 4 and sens.shape[0] != n_slices)):
                    raise ValueError(f"{self.path}: sens_maps must be (coils, H, W) or (slices, coils, H, W) matching "
                                     f"kspace {kspace.shape}, got {sens.shape}")
                if sens.ndim == 3:
                    self._sens = torch.from_numpy(np.asarray(sens[()], dtype=np.complex64))
        if self.reference_path is not None:
            with open_slice_file(self.reference_path, required=("kspace",)) as f:
                if f["kspace"].shape[0] < n_slices or tuple(f["kspace"].shape[-2:]) != self.shape:
                    raise ValueError(f"reference file {self.reference_path} has kspace {f['kspace'].shape}, "
                                     f"expected at least {n_slices} slices of {self.shape}")
                _check_pairing(self.path, origins, self.reference_path,
                               {key: f[key][:n_slices] for key in SLICE_ORIGINS if key in f}, reference)
        if max_slices is not None:
            if isinstance(max_slices, bool) or not isinstance(max_slices, int) or max_slices < 1:
                raise ValueError(f"max_slices must be a positive integer, got {max_slices!r}")
            n_slices = min(n_slices, max_slices)
        self.n_slices = n_slices
        self.slice_positions = np.arange(n_slices) if positions is None else positions[:n_slices]
        self.slice_orientations = (np.full(n_slices, "axial", dtype=object) if orientations is None
                                   else np.array([o.decode() for o in orientations[:n_slices]], dtype=object))
        #: the named shift of every slice of a shifted set (:data:`mrilab.data.randomise.SHIFTS`), else ``None``
        self.slice_shifts = None if shifts is None else [v.decode() for v in shifts[:n_slices]]
        self._blocks = (None if positions is None
                        else block_labels(self.slice_positions, self.slice_orientations, BLOCK_GAP_MM))
        self._handles: dict[Path, object] = {}
        self._pid = None

    def _file(self, name: str, argument: str, contrast: str, *, multicoil: bool = False) -> Path:
        folder = split_directory(self.directory, self.split, multicoil=multicoil)
        path = folder / name
        if not path.is_file():
            available = sorted(p.name for p in folder.glob("*.h5"))
            raise ValueError(f"{argument}={contrast!r}: no file {path} (available in this split: {available})")
        return path

    def __len__(self) -> int:
        return self.n_slices

    def _read(self, path: Path, index: int, key: str = "kspace") -> torch.Tensor:
        if self._pid != os.getpid():  # h5py handles must not cross a fork (DataLoader workers)
            self._handles, self._pid = {}, os.getpid()
        if path not in self._handles:
            self._handles[path] = open_slice_file(path)
        return torch.from_numpy(np.asarray(self._handles[path][key][index], dtype=np.complex64))

    def _sensitivities(self, index: int) -> torch.Tensor:
        return self._sens if self._sens is not None else self._read(self.path, index, "sens_maps")

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        index, draw = item if isinstance(item, tuple) else (item, None)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.n_slices:
            raise IndexError(f"slice index must be an integer in [0, {self.n_slices}), got {index!r}")
        index = int(index)
        split = SPLITS.index(self.split) if self.split in SPLITS else len(SPLITS)  # the real split comes last
        if draw is None:
            ratio = self.ratios[index % len(self.ratios)]
            mask_seed = _seed(self.seed, _EVALUATION, split, index)
        else:
            if isinstance(draw, bool) or not isinstance(draw, (int, np.integer)) or draw < 0:
                raise ValueError(f"draw must be a non-negative integer, got {draw!r}")
            rng = np.random.default_rng([self.seed, _RATIO, split, index, int(draw)])
            ratio = self.ratios[rng.integers(len(self.ratios))]
            mask_seed = _seed(self.seed, _TRAINING, split, index, int(draw))
        mask = mask_from_name(self.mask_kind, self.shape, ratio, seed=mask_seed)[None]
        full = self._read(self.path, index)
        if self.coils is None:
            full = full[None]
        target = (self._read(self.path, index, "reconstruction_clean")[None] if self.target == "clean"
                  else self._combine(full, index))
        sample = {"kspace": full * mask, "mask": mask, "target": target,
                  "ratio": torch.tensor(float(mask.float().mean()), dtype=torch.float32)}
        if self.reference_path is not None:
            sample["reference"] = ifft2c(self._read(self.reference_path, index))[None]
        if self.coils is not None:
            sample["sens"] = self._sensitivities(index)
        sample["index"] = index
        return sample if self.transform is None else self.transform(sample)

    def _combine(self, full: torch.Tensor, index: int) -> torch.Tensor:
        """Return the fully sampled image of k-space ``full``: ``F^H y`` single-coil, ``S^H F^H y`` multi-coil."""
        if self.coils is None:
            return ifft2c(full)
        return (ifft2c(full) * self._sensitivities(index).conj()).sum(dim=0, keepdim=True)

    def fully_sampled(self, index: int) -> torch.Tensor:
        """Return the noisy fully sampled image ``(1, H, W)`` of slice ``index``.

        It is the best any reconstruction can hope for from these measurements without denoising: scored against the
        clean target, it is a results table's ceiling.
        """
        full = self._read(self.path, index)
        return self._combine(full[None] if self.coils is None else full, index)

    def position_label(self, index: int) -> str:
        """Where slice ``index`` comes from, e.g. ``"axial 57"``: slices sharing a label share their anatomy."""
        return f"{self.slice_orientations[index]} {int(self.slice_positions[index])}"

    def block_label(self, index: int) -> str:
        """Which block slice ``index`` belongs to, e.g. ``"axial 27–28"``: the unit of the statistics.

        Blocks group the planes of one orientation that lie within :data:`BLOCK_GAP_MM` of each other. A file that
        stores no slice positions (converted data) makes every slice its own block.
        """
        return self.position_label(index) if self._blocks is None else self._blocks[index]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"], state["_pid"] = {}, None
        return state


class NoisyKSpace(torch.utils.data.Dataset):
    """A dataset whose measured k-space carries extra complex Gaussian noise (the paper's Table VII).

    Every sample of ``dataset`` gets ``y ← y + M ⊙ n`` with ``n`` complex Gaussian, ``E|n|² = σ²`` and
    ``σ = level · RMS(x*)``, the root-mean-square of the fully sampled image (by Parseval, of the fully sampled
    k-space too). The noise is a pure function of ``(seed, index, draw)``: evaluation samples (``dataset[i]``) see the
    same noise on every run, training samples (``dataset[(i, draw)]``) fresh noise per draw. ``target`` stays clean.
    """

    def __init__(self, dataset: torch.utils.data.Dataset, level: float, *, seed: int = 0) -> None:
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not level >= 0:
            raise ValueError(f"level must be a non-negative number (noise std / image RMS), got {level!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.dataset, self.level, self.seed = dataset, float(level), seed

    def __len__(self) -> int:
        """Return the number of slices of the wrapped dataset."""
        return len(self.dataset)

    def __getattr__(self, name: str) -> object:
        """Return the wrapped dataset's attribute (``ratios``, ``shape``, ``mask_kind``, ...)."""
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        """Return the wrapped sample with noise added to its measured k-space."""
        sample = dict(self.dataset[item])
        index, draw = item if isinstance(item, tuple) else (item, -1)
        entropy = [self.seed, int(index), int(draw) + 1]
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence(entropy).generate_state(1)[0]))
        kspace = sample["kspace"]
        sigma = self.level * float(sample["target"].abs().pow(2).mean().sqrt())
        noise = torch.randn(*kspace.shape, 2, generator=generator) * (sigma / 2**0.5)
        sample["kspace"] = kspace + torch.view_as_complex(noise) * sample["mask"]
        return sample


class MixedSlices(torch.utils.data.Dataset):
    """The slices of several datasets one after another: a training mixture such as ``"T1w+broad"``.

    Slice ``i`` is slice ``i - offset`` of the part whose range holds it, with that part's evaluation or training
    mask (``dataset[(i, draw)]``), so a trainer that draws indices uniformly sees every part in proportion to its
    size. ``sample["index"]`` is the index in the mixture.
    """

    def __init__(self, parts: Sequence[torch.utils.data.Dataset]) -> None:
        if len(parts) < 2:
            raise ValueError(f"parts must hold at least two datasets, got {len(parts)}")
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(part) for part in self.parts])

    def __len__(self) -> int:
        """Return the number of slices of all parts together."""
        return int(self.offsets[-1])

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        """Return slice ``item`` (or ``(item, draw)``) of the part that holds it."""
        index, draw = item if isinstance(item, tuple) else (item, None)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self):
            raise IndexError(f"slice index must be an integer in [0, {len(self)}), got {index!r}")
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        local = int(index) - int(self.offsets[part])
        sample = dict(self.parts[part][local if draw is None else (local, draw)])
        sample["index"] = int(index)
        return sample


def training_slices(root_or_profile: str | os.PathLike | Profile, split: str, contrast: str,
                    **options: object) -> torch.utils.data.Dataset:
    """Return the :class:`SliceDataset` of ``contrast``, or the :class:`MixedSlices` of ``"A+B"``'s files.

    ``options`` are those of :class:`SliceDataset` (the same for every part).
    """
    names = contrast.split("+") if isinstance(contrast, str) else []
    if not names or not all(names):
        raise ValueError(f"contrast must be a file name or names joined by '+' (e.g. 'T1w+broad'), got {contrast!r}")
    if len(names) == 1:
        return SliceDataset(root_or_profile, split, names[0], **options)
    return MixedSlices([SliceDataset(root_or_profile, split, name, **options) for name in names])


def block_labels(positions: Sequence[int], orientations: Sequence[str], gap: int) -> list[str]:
    """Label every slice with its block: the run of its orientation's planes in which neighbours are < ``gap`` apart.

    A block is labelled by its orientation and first and last plane (``"axial 27–28"``, or ``"coronal 42"``).
    """
    if isinstance(gap, bool) or not isinstance(gap, int) or gap < 1:
        raise ValueError(f"gap must be a positive integer (mm), got {gap!r}")
    positions, orientations = np.asarray(positions, dtype=np.int64), np.asarray(orientations, dtype=object)
    labels = np.empty(len(positions), dtype=object)
    for orientation in dict.fromkeys(orientations.tolist()):
        planes = np.unique(positions[orientations == orientation])
        starts = np.concatenate([[0], np.flatnonzero(np.diff(planes) >= gap) + 1])
        ends = np.concatenate([starts[1:], [len(planes)]])
        for start, end in zip(starts, ends, strict=True):
            first, last = planes[start], planes[end - 1]
            name = f"{orientation} {first}" if first == last else f"{orientation} {first}–{last}"
            labels[(orientations == orientation) & (positions >= first) & (positions <= last)] = name
    return labels.tolist()


def _check_pairing(path: Path, origins: dict[str, np.ndarray], reference_path: Path,
                   reference_origins: dict[str, np.ndarray], reference: str) -> None:
    """Raise ``ValueError`` unless the reference file holds the same slices (subject, position, ...) as ``path``."""
    for file, stored in ((path, origins), (reference_path, reference_origins)):
        missing = [key for key in _REQUIRED_ORIGINS if key not in stored]
        if missing:
            raise ValueError(f"reference={reference!r}: {file} stores no {' or '.join(missing)}, so its slices cannot "
                             "be paired with the other file's (both must store the subject and position of every "
                             "slice)")
    for key in SLICE_ORIGINS:
        if key in origins and key in reference_origins:
            ours, theirs = origins[key], reference_origins[key]
            differ = np.flatnonzero(ours != theirs)
            if differ.size:
                i = int(differ[0])
                theirs_i, ours_i = (_plain(v[i].item()) for v in (theirs, ours))
                raise ValueError(f"reference={reference!r}: {reference_path} holds other slices than {path}: "
                                 f"{key} of slice {i} is {theirs_i!r}, expected {ours_i!r}")


def _plain(value: object) -> object:
    return value.decode() if isinstance(value, bytes) else value


def _resolve_directory(root_or_profile: str | os.PathLike | Profile, root: str | os.PathLike | None) -> Path:
    if isinstance(root_or_profile, Profile) or root_or_profile in DATASET_PROFILES:
        return build_dataset(dataset_profile(root_or_profile), root=root)
    directory = Path(root_or_profile)
    if not directory.is_dir():
        raise ValueError(f"root_or_profile must be a profile name or an existing directory, got {root_or_profile!r}")
    return directory


def _seed(*entropy: int) -> int:
    """Hash a tuple of non-negative integers into a 32-bit mask seed (NumPy's SeedSequence hashing)."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(1)[0])
