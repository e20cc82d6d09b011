"""Profiles of the embedded brain dataset and its cached, atomic build.

``build_dataset("demo")`` writes ``{root}/demo/{split}/{contrast}.h5`` (single-coil) and
``{root}/demo/{split}/{contrast}_mc{C}.h5`` (``C`` birdcage coils) for the splits ``train``, ``val`` and ``test``,
then ``{root}/demo/manifest.json`` with a hash of every build parameter. A second call with the same parameters
finds the manifest and returns at once; ``force=True`` rebuilds.

Splits are disjoint in slice position: the axial planes with enough brain are cut into blocks of ``block_mm``
consecutive planes, blocks are dealt to the splits in a fixed pattern (so that every split spans the whole height of
the brain), and ``guard_mm`` planes are dropped on each side of a boundary between blocks of different splits.
A split with more slices than positions holds several independently varied versions of each position.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..coils import birdcage_maps, rss
from ..ops import fft2c
from . import brain
from .hdf5 import atomic_h5, create_slice_file, finish_slice_file, write_slice

#: Version of the synthesis and file layout; part of the cache hash.
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
_SPLIT_PATTERN = ("train", "train", "train", "val", "train", "train", "test")


@dataclass(frozen=True)
class Profile:
    """Size of one build of the brain dataset.

    ``slices`` and ``multicoil_slices`` give the number of slices per split (train, val, test); the multi-coil
    files hold the first ``multicoil_slices`` slices of each split (the same anatomy as the single-coil files, with
    their own noise) for the contrasts in ``multicoil_contrasts`` and every coil count in ``coils``.
    """

    name: str
    size: int
    slices: tuple[int, int, int]
    multicoil_slices: tuple[int, int, int]
    coils: tuple[int, ...] = (8, 16)
    multicoil_contrasts: tuple[str, ...] = ("T1w",)
    snr: float = 40.0
    seed: int = 0
    block_mm: int = 8
    guard_mm: int = 2
    variation: brain.SliceVariation = field(default_factory=brain.SliceVariation)

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 8:
            raise ValueError(f"size must be an integer >= 8, got {self.size!r}")
        for name in ("slices", "multicoil_slices"):
            counts = getattr(self, name)
            if len(counts) != 3 or any(not isinstance(n, int) or n < 0 for n in counts):
                raise ValueError(f"{name} must be three non-negative integers (train, val, test), got {counts!r}")
        unknown = set(self.multicoil_contrasts) - set(brain.CONTRASTS)
        if unknown:
            raise ValueError(f"multicoil_contrasts must be among {sorted(brain.CONTRASTS)}, got {sorted(unknown)}")

    def count(self, split: str, *, multicoil: bool = False) -> int:
        counts = self.multicoil_slices if multicoil else self.slices
        return min(counts[SPLITS.index(check_split(split))], self.slices[SPLITS.index(split)])


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", 64, slices=(16, 4, 4), multicoil_slices=(16, 4, 4)),
    "demo": Profile("demo", 128, slices=(320, 24, 24), multicoil_slices=(96, 24, 24)),
    "full": Profile("full", 256, slices=(1500, 100, 100), multicoil_slices=(200, 50, 50)),
}


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def check_contrast(contrast: str) -> str:
    if contrast not in brain.CONTRASTS:
        raise ValueError(f"contrast must be one of {tuple(brain.CONTRASTS)}, got {contrast!r}")
    return contrast


def resolve_profile(profile: str | Profile) -> Profile:
    """A :class:`Profile`, or the name of one in :data:`PROFILES`."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {tuple(PROFILES)} or a Profile, got {profile!r}")
    return PROFILES[profile]


def default_root() -> Path:
    """``$MRILAB_DATA`` if set, else ``~/.cache/mrilab``."""
    return Path(os.environ.get("MRILAB_DATA") or Path.home() / ".cache" / "mrilab")


def split_positions(split: str, *, block_mm: int = 8, guard_mm: int = 2, min_area_fraction: float = 0.3) -> np.ndarray:
    """Axial planes (MNI152 ``z`` voxel indices, 1 mm) that belong to ``split``; disjoint across splits."""
    check_split(split)
    area = brain.load_tissue_volumes().brain_area
    usable = np.flatnonzero(area >= min_area_fraction * area.max())
    planes = np.arange(usable[0], usable[-1] + 1)
    block = (planes - planes[0]) // block_mm
    owner = np.array([_SPLIT_PATTERN[b % len(_SPLIT_PATTERN)] for b in block])
    keep = owner == split
    for offset in range(1, guard_mm + 1):
        keep[offset:] &= owner[:-offset] == owner[offset:]
        keep[:-offset] &= owner[offset:] == owner[:-offset]
    if not keep.any():
        raise ValueError(
            f"block_mm={block_mm} with guard_mm={guard_mm} leaves no slice position for split {split!r} in the "
            f"{len(planes)} usable planes; use smaller blocks"
        )
    return planes[keep]


def slice_plan(profile: Profile, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(positions, variants)`` of every slice of ``split``: positions cycle through an evenly spread subset."""
    available = split_positions(split, block_mm=profile.block_mm, guard_mm=profile.guard_mm)
    n = profile.count(split)
    used = min(n, len(available))
    chosen = available[np.round(np.linspace(0, len(available) - 1, used)).astype(int)] if used else available[:0]
    index = np.arange(n)
    return chosen[index % max(used, 1)], index // max(used, 1)


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
    }
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()


def dataset_files(profile: Profile) -> list[str]:
    """Paths (relative to the profile directory) of every file a build writes."""
    files = []
    for split in SPLITS:
        files += [f"{split}/{contrast}.h5" for contrast in brain.CONTRASTS]
        if profile.count(split, multicoil=True):
            files += [f"{split}/{c}_mc{n}.h5" for c in profile.multicoil_contrasts for n in profile.coils]
    return files


def build_dataset(profile: str | Profile, root: str | os.PathLike | None = None, force: bool = False, *,
                  progress: bool = False) -> Path:
    """Build (or find in the cache) the brain dataset of ``profile``; returns ``{root}/{profile.name}``."""
    profile = resolve_profile(profile)
    directory = Path(root if root is not None else default_root()) / profile.name
    digest = build_hash(profile)
    manifest_path = directory / "manifest.json"
    if not force and _cached(manifest_path, digest):
        return directory
    start = time.perf_counter()
    for split in SPLITS:
        _build_split(profile, directory / split, split, digest, progress=progress)
    manifest = {"hash": digest, "profile": asdict(profile), "files": dataset_files(profile),
                "seconds": round(time.perf_counter() - start, 3), "format": FORMAT_VERSION}
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=1, default=str))
    return directory


def _cached(manifest_path: Path, digest: str) -> bool:
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("hash") == digest and all((manifest_path.parent / f).is_file() for f in manifest["files"])


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _build_split(profile: Profile, directory: Path, split: str, digest: str, *, progress: bool) -> None:
    positions, variants = slice_plan(profile, split)
    n, n_multicoil = len(positions), profile.count(split, multicoil=True)
    shape = (profile.size, profile.size)
    sens = {c: birdcage_maps(c, shape) for c in profile.coils}
    split_code = SPLITS.index(split)
    with contextlib.ExitStack() as stack:
        single = {}
        for contrast, spec in brain.CONTRASTS.items():
            f = single[contrast] = stack.enter_context(atomic_h5(directory / f"{contrast}.h5"))
            create_slice_file(f, n, shape, coils=None, acquisition=spec.acquisition,
                              attrs={"contrast": contrast, "build_hash": digest})
        multi = {}
        for contrast in profile.multicoil_contrasts if n_multicoil else ():
            for n_coils in profile.coils:
                path = directory / f"{contrast}_mc{n_coils}.h5"
                f = multi[contrast, n_coils] = stack.enter_context(atomic_h5(path))
                create_slice_file(f, n_multicoil, shape, coils=n_coils,
                                  acquisition=brain.CONTRASTS[contrast].acquisition,
                                  attrs={"contrast": contrast, "build_hash": digest})
                f.create_dataset("sens_maps", data=sens[n_coils].numpy())
        iterator = range(n)
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc=f"{profile.name}/{split}")
        for i in iterator:
            position, variant = int(positions[i]), int(variants[i])
            rng = np.random.default_rng([profile.seed, split_code, position, variant])
            images = brain.synthesize_slice(position, profile.size, rng, snr=profile.snr, variation=profile.variation)
            for contrast, f in single.items():
                image = torch.from_numpy(images[contrast].noisy)
                write_slice(f, i, fft2c(image).numpy(), image.abs().numpy())
            if i >= n_multicoil:
                continue
            for (contrast, n_coils), f in multi.items():
                coil_rng = np.random.default_rng([profile.seed, split_code, position, variant, n_coils,
                                                  list(brain.CONTRASTS).index(contrast)])
                noise = coil_rng.standard_normal((2, n_coils, *shape), dtype=np.float32)
                noise *= images[contrast].noise_std / np.sqrt(2)  # white noise: the same law in image and k-space
                coil_images = sens[n_coils] * torch.from_numpy(images[contrast].clean)
                coil_images = coil_images + torch.complex(*torch.from_numpy(noise))
                write_slice(f, i, fft2c(coil_images).numpy(), rss(coil_images, dim=0).numpy())
        for f in [*single.values(), *multi.values()]:
            count = f["kspace"].shape[0]
            f.create_dataset("slice_positions", data=positions[:count].astype(np.int32))
            f.create_dataset("slice_variants", data=variants[:count].astype(np.int32))
            finish_slice_file(f)
