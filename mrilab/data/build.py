"""Profiles of the embedded brain dataset and its cached, atomic build.

``build_dataset("demo")`` writes fastMRI-style folders under ``{root}/demo``: ``singlecoil_{split}/{contrast}.h5``
and ``multicoil_{split}/{contrast}_mc{C}.h5`` (``C`` coils, every contrast) for the splits ``train``, ``val``, ``test``
and ``ood``, the real-scan test file ``singlecoil_real/real.h5`` (:mod:`mrilab.data.real`), the domain-randomised files
``singlecoil_{train,val}/broad.h5``, ``singlecoil_{val,test}/shifted.h5`` and ``singlecoil_{train,val}/zoomed.h5``
(:mod:`mrilab.data.randomise`), then
``manifest.json`` with a hash of every build parameter. A second call with the same parameters finds
the manifest and returns at once; ``force=True`` rebuilds. Single-coil and multi-coil files never share a folder, so
a reader that globs one folder (fastMRI's ``SliceDataset``) sees one kind of file.

Splits. ``train``, ``val`` and ``test`` are axial slices from disjoint plane positions: the planes with enough brain
are cut into ``heldout_blocks`` equal segments; the middle of each segment holds a block of ``block_mm`` validation
planes and a block of ``block_mm`` test planes, ``gap_mm`` planes apart (their order alternates between segments),
fenced off from the training planes by ``guard_mm`` planes on either side; every other plane is for training.
Validation and test therefore each come from ``heldout_blocks`` blocks spread over the whole height of the brain, and
no validation plane is a test plane's immediate neighbour. ``ood`` (out of
distribution) holds coronal and sagittal slices of the same head, which no training or tuning ever sees. ``real``
holds real MR images of several anatomies and contrasts (:data:`mrilab.data.real.REAL_SOURCES`), single-coil, in one
file named after the split: it is a test set only. ``broad.h5`` holds domain-randomised slices of the same planes
as the split's contrast files (a broader training distribution and its validation slices); ``shifted.h5`` holds the
split's planes with one named shift each (:data:`mrilab.data.randomise.SHIFTS`, dealt in turn): the shifted
validation set on which the randomisation is chosen, and its test counterpart; ``zoomed.h5`` holds the split's planes
zoomed in until tissue fills the field of view (:data:`mrilab.data.randomise.ZOOMED`: a candidate training mixture
``"T1w+zoomed"`` and its validation slices).
A split with more slices than positions holds several independently varied versions of each position.

Multi-coil slices. The multi-coil files of a split hold its first ``multicoil_slices`` slices: the same anatomy as
the single-coil files, with their own noise. Every slice draws its own coil array (:func:`mrilab.coils.random_coil_maps`
with the profile's :class:`~mrilab.coils.CoilGeometry`), stored per slice as ``sens_maps`` ``(slices, C, H, W)``, so
that a network cannot learn one fixed set of maps. The array is drawn from the slice's own seed, apart from its
image and noise draws, and shared by the three contrasts of a slice (one head in one coil, scanned three times).
Every file also stores ``slice_subjects``: the anatomy each slice shows (``"mni152"`` for the synthetic slices, the
source's name for real scans), which pairs of files must share slice by slice (a ``reference`` contrast).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from ..coils import CoilGeometry, random_coil_maps, rss
from ..io import atomic_write
from ..ops import fft2c
from . import brain, randomise, real
from .hdf5 import atomic_h5, create_slice_file, finish_slice_file, write_slice

#: Version of the synthesis and file layout; part of the cache hash.
FORMAT_VERSION = 4
#: The synthetic splits (a :class:`Profile` gives each one's slice count).
SPLITS = ("train", "val", "test", "ood")
#: The split of real scans: one single-coil file, ``singlecoil_real/real.h5``, of every usable real image.
REAL_SPLIT = "real"
#: The domain-randomised files (name → the splits that have one), besides the contrasts.
RANDOMISED_FILES = {"broad": ("train", "val"), "shifted": ("val", "test"), "zoomed": ("train", "val")}
#: Orientations of the out-of-distribution split, dealt to its slices in turn.
OOD_ORIENTATIONS = ("coronal", "sagittal")
#: ``slice_subjects`` of every synthetic slice: they all show the one MNI152 anatomy.
SYNTHETIC_SUBJECT = "mni152"
#: The stream of a multi-coil slice's random generator that draws its coil array; stream ``1 + k`` draws the coil
#: noise of the ``k``-th contrast of :data:`mrilab.data.brain.CONTRASTS`.
COIL_GEOMETRY_STREAM = 0


@dataclass(frozen=True)
class Profile:
    """Size of one build of the brain dataset.

    ``slices`` and ``multicoil_slices`` give the number of slices per split (train, val, test, ood); the multi-coil
    files hold the first ``multicoil_slices`` slices of each split (the same anatomy as the single-coil files, with
    their own noise) for the contrasts in ``multicoil_contrasts`` and every coil count in ``coils``, each slice
    with its own coil array drawn from ``coil_geometry``. The split geometry (``heldout_blocks``, ``block_mm``,
    ``guard_mm``, ``gap_mm``, ``min_area_fraction``) is described in the module docstring; ``randomisation`` draws
    the slices of ``broad.h5``.
    """

    name: str
    size: int
    slices: tuple[int, int, int, int]
    multicoil_slices: tuple[int, int, int, int]
    coils: tuple[int, ...] = (16,)
    multicoil_contrasts: tuple[str, ...] = tuple(brain.CONTRASTS)
    snr: float = 40.0
    seed: int = 0
    heldout_blocks: int = 6
    block_mm: int = 2
    guard_mm: int = 4
    gap_mm: int = 2
    min_area_fraction: float = 0.15
    variation: brain.SliceVariation = field(default_factory=brain.SliceVariation)
    randomisation: randomise.DomainRandomisation = field(default_factory=randomise.DomainRandomisation)
    coil_geometry: CoilGeometry = field(default_factory=CoilGeometry)

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 8:
            raise ValueError(f"size must be an integer >= 8, got {self.size!r}")
        for name in ("slices", "multicoil_slices"):
            counts = getattr(self, name)
            if len(counts) != len(SPLITS) or any(not isinstance(n, int) or n < 0 for n in counts):
                raise ValueError(f"{name} must be {len(SPLITS)} non-negative integers {SPLITS}, got {counts!r}")
        unknown = set(self.multicoil_contrasts) - set(brain.CONTRASTS)
        if unknown:
            raise ValueError(f"multicoil_contrasts must be among {sorted(brain.CONTRASTS)}, got {sorted(unknown)}")

    def count(self, split: str, *, multicoil: bool = False) -> int:
        """Return the number of slices of ``split`` (multi-coil: capped by the single-coil count)."""
        counts = self.multicoil_slices if multicoil else self.slices
        return min(counts[SPLITS.index(check_split(split))], self.slices[SPLITS.index(split)])


#: The dataset of each profile (its image size and slice counts); the profile names themselves are
#: :data:`mrilab.runtime.PROFILES`.
DATASET_PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", 64, slices=(16, 4, 4, 4), multicoil_slices=(16, 4, 4, 4)),
    "demo": Profile("demo", 128, slices=(320, 24, 24, 24), multicoil_slices=(96, 24, 24, 24)),
    "full": Profile("full", 256, slices=(1500, 96, 96, 96), multicoil_slices=(200, 48, 48, 48)),
}


def check_split(split: str) -> str:
    """Return ``split`` if it is one of :data:`SPLITS` or :data:`REAL_SPLIT`, else raise ``ValueError``."""
    if split not in (*SPLITS, REAL_SPLIT):
        raise ValueError(f"split must be one of {(*SPLITS, REAL_SPLIT)}, got {split!r}")
    return split


def check_contrast(contrast: str) -> str:
    """Return ``contrast`` if it is one of the brain phantom's contrasts, else raise ``ValueError``."""
    if contrast not in brain.CONTRASTS:
        raise ValueError(f"contrast must be one of {tuple(brain.CONTRASTS)}, got {contrast!r}")
    return contrast


def dataset_profile(profile: str | Profile) -> Profile:
    """Return ``profile`` if it is a :class:`Profile`, else the profile of that name in :data:`DATASET_PROFILES`."""
    if isinstance(profile, Profile):
        return profile
    if profile not in DATASET_PROFILES:
        raise ValueError(f"profile must be one of {tuple(DATASET_PROFILES)} or a Profile, got {profile!r}")
    return DATASET_PROFILES[profile]


def default_root() -> Path:
    """``$MRILAB_DATA`` if set, else ``~/.cache/mrilab``."""
    return Path(os.environ.get("MRILAB_DATA") or Path.home() / ".cache" / "mrilab")


def split_directory(root: str | os.PathLike, split: str, *, multicoil: bool = False) -> Path:
    """Return the folder of one split, in fastMRI's naming.

    The folder is ``{root}/singlecoil_{split}`` or ``{root}/multicoil_{split}``.
    """
    return Path(root) / f"{'multicoil' if multicoil else 'singlecoil'}_{check_split(split)}"


def usable_planes(orientation: str = "axial", *, min_area_fraction: float = 0.15) -> np.ndarray:
    """Planes of ``orientation`` whose brain area is at least ``min_area_fraction`` of the largest one's."""
    area = brain.load_tissue_volumes().plane_area(orientation)
    usable = np.flatnonzero(area >= min_area_fraction * area.max())
    return np.arange(usable[0], usable[-1] + 1)


def split_positions(split: str, *, heldout_blocks: int = 6, block_mm: int = 2, guard_mm: int = 4, gap_mm: int = 2,
                    min_area_fraction: float = 0.15) -> np.ndarray:
    """Axial planes (MNI152 ``z`` voxel indices, 1 mm) of ``split`` (``train``, ``val`` or ``test``).

    See the module docstring for the layout; the splits are disjoint, every validation or test plane is more than
    ``guard_mm`` planes away from every training plane, and validation and test planes are more than ``gap_mm``
    planes apart.
    """
    if check_split(split) == "ood":
        raise ValueError("split='ood' has coronal and sagittal slices, not axial planes; use ood_positions()")
    for name, value in (("heldout_blocks", heldout_blocks), ("block_mm", block_mm), ("guard_mm", guard_mm),
                        ("gap_mm", gap_mm)):
        may_be_zero = name in ("guard_mm", "gap_mm")
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if may_be_zero else 1):
            raise ValueError(f"{name} must be a {'non-negative' if may_be_zero else 'positive'} integer, "
                             f"got {value!r}")
    planes = usable_planes(min_area_fraction=min_area_fraction)
    segment = 2 * guard_mm + 2 * block_mm + gap_mm
    if heldout_blocks * segment >= len(planes):
        raise ValueError(f"heldout_blocks={heldout_blocks} segments of {segment} mm (2 guard_mm + 2 block_mm + gap_mm) "
                         f"do not leave training planes in the {len(planes)} usable planes; use fewer or smaller "
                         "blocks")
    owner = np.full(len(planes), "train", dtype=object)
    for k in range(heldout_blocks):
        start = int(round((k + 0.5) * len(planes) / heldout_blocks - segment / 2))
        first, second = ("val", "test") if k % 2 == 0 else ("test", "val")
        owner[start:start + segment] = "guard"
        owner[start + guard_mm:start + guard_mm + block_mm] = first
        owner[start + guard_mm + block_mm + gap_mm:start + guard_mm + 2 * block_mm + gap_mm] = second
    return planes[owner == split]


def ood_positions(*, min_area_fraction: float = 0.3) -> dict[str, np.ndarray]:
    """Usable planes of every orientation in :data:`OOD_ORIENTATIONS` (the ``ood`` split's candidates)."""
    return {o: usable_planes(o, min_area_fraction=min_area_fraction) for o in OOD_ORIENTATIONS}


def _spread(available: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` slices cycling through an evenly spread subset of ``available``: ``(positions, variants)``."""
    used = min(n, len(available))
    chosen = available[np.round(np.linspace(0, len(available) - 1, used)).astype(int)] if used else available[:0]
    index = np.arange(n)
    return chosen[index % max(used, 1)], index // max(used, 1)


def slice_plan(profile: Profile, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(positions, variants, orientations)`` of every slice of ``split`` in ``profile``."""
    n = profile.count(split)
    if split == "ood":
        candidates = ood_positions()
        counts = [len(range(k, n, len(OOD_ORIENTATIONS))) for k in range(len(OOD_ORIENTATIONS))]
        plans = [_spread(candidates[o], c) for o, c in zip(OOD_ORIENTATIONS, counts, strict=True)]
        positions, variants, orientations = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                                             np.empty(n, dtype=object))
        for k, (orientation, (p, v)) in enumerate(zip(OOD_ORIENTATIONS, plans, strict=True)):
            positions[k::len(OOD_ORIENTATIONS)], variants[k::len(OOD_ORIENTATIONS)] = p, v
            orientations[k::len(OOD_ORIENTATIONS)] = orientation
        return positions, variants, orientations
    available = split_positions(split, heldout_blocks=profile.heldout_blocks, block_mm=profile.block_mm,
                                guard_mm=profile.guard_mm, gap_mm=profile.gap_mm,
                                min_area_fraction=profile.min_area_fraction)
    positions, variants = _spread(available, n)
    return positions, variants, np.full(n, "axial", dtype=object)


def build_hash(profile: Profile) -> str:
    """SHA-256 of every parameter the build depends on."""
    import nilearn

    parameters = {
        "format": FORMAT_VERSION,
        "profile": asdict(profile),
        "tissues": {k: asdict(v) for k, v in brain.TISSUES.items()},
        "contrasts": {k: asdict(v) for k, v in brain.CONTRASTS.items()},
        "head_layers": brain.HEAD_LAYERS,
        "sharpening": brain.SHARPENING,
        "field_of_view_mm": brain.FIELD_OF_VIEW_MM,
        "nilearn": nilearn.__version__,
        "real": [asdict(source) for source in real.REAL_SOURCES],
        "randomisation": asdict(profile.randomisation),
        "shifts": {name: asdict(shift) for name, shift in randomise.SHIFTS.items()},
        "zoomed": asdict(randomise.ZOOMED),
        "real_max_upsampling": real.MAX_UPSAMPLING,
    }
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()


def dataset_files(profile: Profile) -> list[str]:
    """Paths (relative to the profile directory) of every file a build writes."""
    files = []
    for split in SPLITS:
        files += [f"singlecoil_{split}/{contrast}.h5" for contrast in brain.CONTRASTS]
        if profile.count(split, multicoil=True):
            files += [f"multicoil_{split}/{c}_mc{n}.h5" for c in profile.multicoil_contrasts for n in profile.coils]
    files += [f"singlecoil_{split}/{name}.h5" for name, splits in RANDOMISED_FILES.items() for split in splits]
    return [*files, f"singlecoil_{REAL_SPLIT}/{REAL_SPLIT}.h5"]


def build_dataset(profile: str | Profile, root: str | os.PathLike | None = None, force: bool = False, *,
                  progress: bool = False) -> Path:
    """Build (or find in the cache) the brain dataset of ``profile``; returns ``{root}/{profile.name}``."""
    profile = dataset_profile(profile)
    directory = Path(root if root is not None else default_root()) / profile.name
    digest = build_hash(profile)
    manifest_path = directory / "manifest.json"
    if not force and _cached(manifest_path, digest):
        return directory
    start = time.perf_counter()
    for split in SPLITS:
        _build_split(profile, directory, split, digest, progress=progress)
    for name, splits in RANDOMISED_FILES.items():
        for split in splits:
            _build_randomised(profile, directory, split, name, digest)
    _build_real(profile, directory, digest)
    manifest = {"hash": digest, "profile": asdict(profile), "files": dataset_files(profile),
                "seconds": round(time.perf_counter() - start, 3), "format": FORMAT_VERSION}
    atomic_write(manifest_path, json.dumps(manifest, indent=1, default=str))
    return directory


def _cached(manifest_path: Path, digest: str) -> bool:
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("hash") == digest and all((manifest_path.parent / f).is_file() for f in manifest["files"])


def _build_split(profile: Profile, directory: Path, split: str, digest: str, *, progress: bool) -> None:
    positions, variants, orientations = slice_plan(profile, split)
    n, n_multicoil = len(positions), profile.count(split, multicoil=True)
    shape = (profile.size, profile.size)
    split_code = SPLITS.index(split)
    contrast_codes = {contrast: k for k, contrast in enumerate(brain.CONTRASTS)}
    with contextlib.ExitStack() as stack:
        single = {}
        for contrast, spec in brain.CONTRASTS.items():
            path = split_directory(directory, split) / f"{contrast}.h5"
            f = single[contrast] = stack.enter_context(atomic_h5(path))
            create_slice_file(f, n, shape, coils=None, acquisition=spec.acquisition,
                              attrs={"contrast": contrast, "build_hash": digest})
        multi = {}
        for contrast in profile.multicoil_contrasts if n_multicoil else ():
            for n_coils in profile.coils:
                path = split_directory(directory, split, multicoil=True) / f"{contrast}_mc{n_coils}.h5"
                f = multi[contrast, n_coils] = stack.enter_context(atomic_h5(path))
                create_slice_file(f, n_multicoil, shape, coils=n_coils,
                                  acquisition=brain.CONTRASTS[contrast].acquisition,
                                  attrs={"contrast": contrast, "build_hash": digest})
                # smooth maps: byte shuffling and gzip store them in about 60 % of the space, lossless
                f.create_dataset("sens_maps", shape=(n_multicoil, n_coils, *shape), dtype=np.complex64,
                                 chunks=(1, n_coils, *shape), compression="gzip", shuffle=True)
        iterator = range(n)
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc=f"{profile.name}/{split}")
        for i in iterator:
            position, variant, orientation = int(positions[i]), int(variants[i]), str(orientations[i])
            entropy = [profile.seed, split_code, position, variant]
            if orientation != "axial":
                entropy.append(brain.ORIENTATIONS[orientation])
            rng = np.random.default_rng(entropy)
            images = brain.synthesize_slice(position, profile.size, rng, snr=profile.snr, variation=profile.variation,
                                            orientation=orientation)
            for contrast, f in single.items():
                image = torch.from_numpy(images[contrast].noisy)
                write_slice(f, i, fft2c(image).numpy(), image.abs().numpy(), images[contrast].clean)
            if i >= n_multicoil or not multi:
                continue
            sens = {c: random_coil_maps(c, shape, np.random.default_rng([*entropy, c, COIL_GEOMETRY_STREAM]),
                                        profile.coil_geometry) for c in profile.coils}
            for (contrast, n_coils), f in multi.items():
                coil_rng = np.random.default_rng([*entropy, n_coils, 1 + contrast_codes[contrast]])
                noise = coil_rng.standard_normal((2, n_coils, *shape), dtype=np.float32)
                noise *= images[contrast].noise_std / np.sqrt(2)  # white noise: the same law in image and k-space
                clean = torch.from_numpy(images[contrast].clean)
                coil_images = sens[n_coils] * clean + torch.complex(*torch.from_numpy(noise))
                # the clean coil-combined image S^H (S x) is x itself, since sum_c |S_c|^2 = 1
                write_slice(f, i, fft2c(coil_images).numpy(), rss(coil_images, dim=0).numpy(), clean.numpy())
                f["sens_maps"][i] = sens[n_coils].numpy()
        for f in [*single.values(), *multi.values()]:
            count = f["kspace"].shape[0]
            _write_slice_origins(f, positions[:count], variants[:count], orientations[:count],
                                 np.full(count, SYNTHETIC_SUBJECT, dtype=object))
            finish_slice_file(f)


def _write_slice_origins(f: h5py.File, positions: np.ndarray, variants: np.ndarray, orientations: np.ndarray,
                         subjects: np.ndarray) -> None:
    """Store where every slice comes from: ``slice_positions``, ``_variants``, ``_orientations`` and ``_subjects``."""
    f.create_dataset("slice_positions", data=np.asarray(positions).astype(np.int32))
    f.create_dataset("slice_variants", data=np.asarray(variants).astype(np.int32))
    f.create_dataset("slice_orientations", data=np.asarray(orientations).astype("S"))
    f.create_dataset("slice_subjects", data=np.asarray(subjects).astype("S"))


def _build_real(profile: Profile, directory: Path, digest: str) -> None:
    """Write ``singlecoil_real/real.h5``: every usable real image at the profile's size, with its origin.

    ``slice_orientations`` and ``slice_subjects`` hold each slice's source name and ``slice_positions`` its position
    in mm along the source's slice axis, so that the blocks of the statistics are the sources' groups of adjacent
    planes.
    """
    slices = real.real_slices(profile.size, snr=profile.snr, seed=profile.seed, phase_rad=profile.variation.phase_rad)
    path = split_directory(directory, REAL_SPLIT) / f"{REAL_SPLIT}.h5"
    with atomic_h5(path) as f:
        create_slice_file(f, len(slices), (profile.size, profile.size), coils=None, acquisition="REAL",
                          attrs={"contrast": REAL_SPLIT, "build_hash": digest,
                                 "sources": json.dumps([asdict(s) for s in real.REAL_SOURCES])})
        for i, item in enumerate(slices):
            image = torch.from_numpy(item.noisy)
            write_slice(f, i, fft2c(image).numpy(), image.abs().numpy(), item.clean)
        sources = np.array([s.source for s in slices], dtype=object)
        _write_slice_origins(f, np.array([s.position_mm for s in slices]), np.array([s.frame for s in slices]),
                             sources, sources)
        finish_slice_file(f)


def _build_randomised(profile: Profile, directory: Path, split: str, name: str, digest: str) -> None:
    """Write ``singlecoil_{split}/{name}.h5``: the split's planes, domain-randomised (``broad``), shifted or zoomed."""
    positions, variants, orientations = slice_plan(profile, split)
    shift_names = list(randomise.SHIFTS)
    path = split_directory(directory, split) / f"{name}.h5"
    with atomic_h5(path) as f:
        create_slice_file(f, len(positions), (profile.size, profile.size), coils=None, acquisition=name.upper(),
                          attrs={"contrast": name, "build_hash": digest})
        shifts = []
        for i, (position, variant, orientation) in enumerate(zip(positions, variants, orientations, strict=True)):
            shift = shift_names[i % len(shift_names)] if name == "shifted" else ""
            if shift:
                settings, kind = randomise.SHIFTS[shift], shift_names.index(shift)
            elif name == "zoomed":
                settings, kind = randomise.ZOOMED, len(shift_names) + 1
            else:
                settings, kind = profile.randomisation, len(shift_names)
            rng = np.random.default_rng([profile.seed, SPLITS.index(split), int(position), int(variant), 7, kind])
            image, _ = randomise.synthesize_randomised_slice(int(position), profile.size, rng, settings,
                                                             variation=profile.variation, orientation=str(orientation))
            noisy = torch.from_numpy(image.noisy)
            write_slice(f, i, fft2c(noisy).numpy(), noisy.abs().numpy(), image.clean)
            shifts.append(shift)
        _write_slice_origins(f, positions, variants, orientations,
                             np.full(len(positions), SYNTHETIC_SUBJECT, dtype=object))
        if name == "shifted":
            f.create_dataset("slice_shifts", data=np.array(shifts, dtype="S"))
        finish_slice_file(f)
