"""Convert IXI NIfTI volumes (T1, T2, PD per subject) into the book's paired multi-contrast layout.

IXI (https://brain-development.org/ixi-dataset/) ships one magnitude volume per subject and contrast, named
``IXI{id}-{site}-{n}-{T1|T2|PD}.nii.gz``. T2 and PD come from one dual-echo acquisition and share a grid; T1 was
acquired separately in the same session, so it is resampled into the T2 grid through the scanner affines
(trilinear, ``nibabel.processing.resample_from_to``) — no registration, so head motion between the scans remains.

Per subject: volumes are reoriented to RAS, the central ``slice_fraction`` of the axial planes is kept, each plane is
displayed like the synthetic data (anterior up, the subject's right on the left), zero-padded to a square,
resampled to ``size × size`` and scaled so that the volume's largest value is 1. The images are real (IXI has no
phase), and the stored k-space is ``fft2c`` of them. Subjects, not slices, are dealt to the splits. Every file stores
``slice_subjects`` (the subject, e.g. ``IXI002``) and ``slice_positions`` (the axial plane) of each slice, which pair
the three contrasts slice by slice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy import ndimage

from ..ops import fft2c
from .build import SPLITS, split_directory
from .hdf5 import write_slice_file

if TYPE_CHECKING:
    from nibabel.nifti1 import Nifti1Image

IXI_CONTRASTS = {"T1": "T1w", "T2": "T2w", "PD": "PDw"}
_ACQUISITIONS = {"T1w": "AXT1", "T2w": "AXT2", "PDw": "AXPD"}
_FILE_PATTERN = re.compile(r"^(IXI\d+)-.*-(T1|T2|PD)\.nii(\.gz)?$")


def find_ixi_subjects(directory: str | os.PathLike) -> dict[str, dict[str, Path]]:
    """``{subject: {"T1w": path, "T2w": path, "PDw": path}}`` for the subjects with all three contrasts."""
    subjects: dict[str, dict[str, Path]] = {}
    for path in sorted(Path(directory).glob("*.nii*")):
        match = _FILE_PATTERN.match(path.name)
        if match:
            subjects.setdefault(match.group(1), {})[IXI_CONTRASTS[match.group(2)]] = path
    return {s: files for s, files in subjects.items() if len(files) == len(IXI_CONTRASTS)}


def load_ixi_subject(files: dict[str, Path], size: int, *, slice_fraction: float = 0.6) -> dict[str, np.ndarray]:
    """Paired axial slices ``{contrast: float32 (slices, size, size)}`` of one subject, each volume's max = 1."""
    import nibabel
    import nibabel.processing

    if not 0.0 < slice_fraction <= 1.0:
        raise ValueError(f"slice_fraction must be in (0, 1], got {slice_fraction}")
    images = {contrast: nibabel.as_closest_canonical(_load_3d(nibabel, files[contrast])) for contrast in files}
    grid = images["T2w"]
    out = {}
    for contrast, image in images.items():
        if image.shape != grid.shape or not np.allclose(image.affine, grid.affine):
            image = nibabel.processing.resample_from_to(image, grid, order=1)
        volume = np.asarray(image.get_fdata(), dtype=np.float32)
        depth = volume.shape[2]
        keep = max(1, round(slice_fraction * depth))
        first = (depth - keep) // 2
        planes = [_display_plane(volume[:, :, z], size) for z in range(first, first + keep)]
        stack = np.stack(planes)
        out[contrast] = stack / max(float(stack.max()), 1e-12)
    out["positions"] = np.arange(first, first + keep, dtype=np.int32)
    return out


def convert_ixi(directory: str | os.PathLike, out_dir: str | os.PathLike, *, size: int = 128,
                fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), slice_fraction: float = 0.6,
                seed: int = 0) -> list[Path]:
    """Convert every complete IXI subject in ``directory`` into ``{out_dir}/singlecoil_{split}/{T1w,T2w,PDw}.h5``.

    Subjects are shuffled with ``seed`` and dealt to train/val/test in the proportions ``fractions`` (each split
    with at least one subject when there are enough). Returns the written paths.
    """
    subjects = find_ixi_subjects(directory)
    if not subjects:
        raise FileNotFoundError(f"no IXI subject with T1, T2 and PD volumes (IXI*-T1/T2/PD.nii.gz) in {directory}")
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers (train, val, test) summing to 1, "
                         f"got {fractions}")
    names = sorted(subjects)
    order = np.random.default_rng(seed).permutation(len(names))
    bounds = np.round(np.cumsum(fractions) * len(names)).astype(int)
    written = []
    for split_index, split in enumerate(SPLITS[:3]):
        start = bounds[split_index - 1] if split_index else 0
        chosen = [names[i] for i in order[start : bounds[split_index]]]
        if not chosen:
            continue
        volumes = [load_ixi_subject(subjects[s], size, slice_fraction=slice_fraction) for s in chosen]
        subject_of_slice = np.array([s for s, v in zip(chosen, volumes, strict=True) for _ in v["positions"]],
                                    dtype="S")
        extras = {"slice_positions": np.concatenate([v["positions"] for v in volumes]),
                  "slice_subjects": subject_of_slice}
        for contrast, acquisition in _ACQUISITIONS.items():
            images = torch.from_numpy(np.concatenate([v[contrast] for v in volumes])).to(torch.complex64)
            written.append(write_slice_file(split_directory(out_dir, split) / f"{contrast}.h5", fft2c(images).numpy(),
                                            acquisition=acquisition, attrs={"contrast": contrast, "source": "IXI"},
                                            datasets=extras))
    return written


def _load_3d(nibabel: ModuleType, path: Path) -> Nifti1Image:
    image = nibabel.load(path)
    shape = image.shape
    if len(shape) == 4 and shape[3] == 1:
        image = image.slicer[..., 0]
    if len(image.shape) != 3:
        raise ValueError(f"{path}: an IXI volume must be 3-D (x, y, z), got shape {shape}")
    return image


def _display_plane(plane: np.ndarray, size: int) -> np.ndarray:
    """RAS ``(x, y)`` plane → rows anterior→posterior, columns subject right→left, padded square, ``size²``."""
    display = plane.T[::-1, ::-1]
    side = max(display.shape)
    padded = np.zeros((side, side), dtype=np.float32)
    top, left = (side - display.shape[0]) // 2, (side - display.shape[1]) // 2
    padded[top : top + display.shape[0], left : left + display.shape[1]] = display
    return ndimage.zoom(padded, size / side, order=1)[:size, :size].astype(np.float32)
