"""Real MR images that ship inside Python wheels: the book's real-scan test set.

No network is needed: the images are files inside the installed ``nibabel`` (MIT licence), ``pydicom`` (MIT) and
``pydicom-data`` (MIT) wheels. Every real MR image among them that is usable is listed in :data:`REAL_SOURCES`:

* ``nibabel/tests/data/example4d.nii.gz``: a brain echo-planar (T2*-weighted, fat-suppressed: the scalp is dark)
  volume, 128 × 96 × 24 at 2 × 2 × 2.2 mm, first of its two volumes (the second is the same anatomy 2 s later).
  Planes 4, 8, 12, 16 and 20 are used, 8.8 mm apart, so that each is a block of its own.
* ``pydicom-data``'s ``MR-SIEMENS-DICOM-WithOverlays.dcm`` (from GDCM's test data): an axial abdomen, T1-weighted
  fat-suppressed 3-D gradient echo (VIBE), 484 × 484.
* ``pydicom-data``'s ``MR2_UNCR.dcm`` (NEMA WG04 sample): a shoulder, T1-weighted spin echo, 1024 × 1024.
* ``pydicom-data``'s ``emri_small.dcm``: a zoomed crop of a brain's cortex, T1-weighted, 64 × 64, ten frames; the
  frames are adjacent, so the two used (2 and 7) form one block.
* ``pydicom``'s ``MR_small.dcm``: NEMA WG04's ``MR1`` downsized to 64 × 64.

Left out: ``anatomical.nii`` (33 × 41 at 2 mm, cropped inside the brain; resampling it to the book's sizes would
mean inventing three quarters of its k-space), ``functional.nii``, ``example_nifti2.nii.gz`` and the other nibabel
NIfTI files (at most 32 × 21 pixels), nibabel's PAR/REC files (a water phantom, not anatomy), the compressed and
big-endian copies of the files above (the same pixels), and every non-MR file (CT, ultrasound, radiographs,
secondary captures). An image is used at a profile's size only if that needs at most :data:`MAX_UPSAMPLING` times
its matrix (upsampling leaves the outer k-space of the result nearly empty, which would make it too easy).

Each image becomes a complex test slice as the synthetic slices are made (:mod:`mrilab.data.brain`): its
magnitude, padded to a square and resampled to the profile's size (antialiased when shrinking), scaled so that
its 99th percentile is 1, times a smooth random phase; complex Gaussian noise is added at the profile's SNR. The
magnitude is the "noise-free" reference: it carries the original scan's own noise, which no method can remove.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import brain

#: The largest upsampling factor (output size over the image's longer side) at which an image is used.
MAX_UPSAMPLING = 2.0


@dataclass(frozen=True)
class RealSource:
    """One real MR file inside a wheel.

    ``package`` is the importable package whose directory holds ``path``; ``frames`` the planes (NIfTI) or frames
    (multi-frame DICOM) used; ``spacing_mm`` the distance between consecutive ``frames`` indices, so that a
    slice's position in mm groups adjacent planes into blocks (:func:`mrilab.data.datasets.block_labels`).
    """

    name: str
    package: str
    path: str
    description: str
    licence: str
    frames: tuple[int, ...] = (0,)
    spacing_mm: float = 1.0


REAL_SOURCES: tuple[RealSource, ...] = (
    RealSource("brain-epi", "nibabel", "tests/data/example4d.nii.gz",
               "brain, echo-planar (T2*-weighted, fat-suppressed), 2 mm", "MIT (nibabel)",
               frames=(4, 8, 12, 16, 20), spacing_mm=2.2),
    RealSource("abdomen-vibe", "data_store", "data/MR-SIEMENS-DICOM-WithOverlays.dcm",
               "abdomen, T1-weighted fat-suppressed gradient echo (Siemens)", "MIT (pydicom-data)"),
    RealSource("shoulder-t1", "data_store", "data/MR2_UNCR.dcm",
               "shoulder, T1-weighted spin echo (Philips)", "MIT (pydicom-data)"),
    RealSource("cortex-t1", "data_store", "data/emri_small.dcm",
               "brain cortex (zoomed crop), T1-weighted", "MIT (pydicom-data)", frames=(2, 7), spacing_mm=1.0),
    RealSource("mr-small", "pydicom", "data/test_files/MR_small.dcm",
               "NEMA WG04 MR1, downsized", "MIT (pydicom)"),
)

#: The wheels the real-scan test set reads, for the error message when one is missing.
REQUIRED_PACKAGES = {"nibabel": "nibabel", "data_store": "pydicom-data", "pydicom": "pydicom"}


@dataclass(frozen=True)
class RealSlice:
    """One real test slice: the magnitude reference, the complex noisy image, the noise level and where it is from.

    ``source`` names the :class:`RealSource`, ``frame`` the plane or frame and ``position_mm`` its position along
    the source's slice axis.
    """

    clean: np.ndarray
    noisy: np.ndarray
    noise_std: float
    source: str
    frame: int
    position_mm: int


def source_path(source: RealSource) -> Path:
    """Return the file of ``source`` inside its installed package; a missing wheel raises with the pip name."""
    if importlib.util.find_spec(source.package) is None:
        wheel = REQUIRED_PACKAGES.get(source.package, source.package)
        raise ModuleNotFoundError(f"the real-scan test set needs the {wheel!r} package (pip install {wheel}) for "
                                  f"{source.path}")
    module = importlib.import_module(source.package)
    path = Path(module.__file__).parent / source.path
    if not path.is_file():
        raise FileNotFoundError(f"{source.name}: {path} is missing from the installed {source.package}")
    return path


def load_magnitudes(source: RealSource) -> list[np.ndarray]:
    """Return the magnitude planes of ``source`` (one per entry of ``frames``), float64, rows top to bottom."""
    path = source_path(source)
    if path.name.endswith((".nii", ".nii.gz")):
        import nibabel

        volume = np.asarray(nibabel.load(path).dataobj, dtype=np.float64)
        volume = volume[..., 0] if volume.ndim == 4 else volume
        # RAS voxel axes (x, y) → rows anterior at the top, the subject's right on the image's left (radiological)
        return [np.ascontiguousarray(volume[:, :, z].T[::-1, ::-1]) for z in source.frames]
    import pydicom

    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array.astype(np.float64)
    pixels = pixels * float(getattr(dataset, "RescaleSlope", 1.0)) + float(getattr(dataset, "RescaleIntercept", 0.0))
    planes = pixels if pixels.ndim == 3 else pixels[None]
    return [np.abs(planes[frame]) for frame in source.frames]


def usable(source: RealSource, size: int) -> bool:
    """Whether ``source`` may be used at ``size`` (see :data:`MAX_UPSAMPLING`)."""
    shape = load_magnitudes(source)[0].shape
    return size <= MAX_UPSAMPLING * max(shape)


def to_square(magnitude: np.ndarray, size: int) -> np.ndarray:
    """Pad ``magnitude`` with zeros to a centred square, resample it to ``size × size`` and scale it to 1.

    Shrinking is antialiased; the scale puts the 99th percentile at 1.
    """
    from skimage.transform import resize

    side = max(magnitude.shape)
    square = np.zeros((side, side))
    top, left = (side - magnitude.shape[0]) // 2, (side - magnitude.shape[1]) // 2
    square[top : top + magnitude.shape[0], left : left + magnitude.shape[1]] = magnitude
    out = resize(square, (size, size), order=1, anti_aliasing=side > size, preserve_range=True)
    out = np.clip(out, 0.0, None)
    level = float(np.percentile(out, 99))
    if level <= 0:
        raise ValueError(f"a real image has no signal: its 99th percentile is {level}")
    return out / level


def real_slices(size: int, *, snr: float, seed: int = 0, phase_rad: float = 1.0) -> list[RealSlice]:
    """Every usable real slice at ``size``: magnitude reference, noisy complex image with a smooth random phase.

    The phase and noise of slice ``k`` are drawn from ``numpy.random.default_rng([seed, 99, k])``; the noise's
    ``σ`` is the mean magnitude inside the object (where it exceeds 5 % of its maximum) over ``snr``, as for the
    synthetic slices.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    if not snr > 0:
        raise ValueError(f"snr must be positive, got {snr!r}")
    slices = []
    for source in REAL_SOURCES:
        if not usable(source, size):
            continue
        for frame, magnitude in zip(source.frames, load_magnitudes(source), strict=True):
            rng = np.random.default_rng([seed, 99, len(slices)])
            reference = to_square(magnitude, size)
            clean = reference * np.exp(1j * brain.smooth_phase(rng, size, phase_rad))
            sigma = float(reference[reference > 0.05 * reference.max()].mean()) / snr
            noise = (rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))) * (sigma / np.sqrt(2))
            slices.append(RealSlice(clean.astype(np.complex64), (clean + noise).astype(np.complex64), sigma,
                                    source.name, frame, int(round(frame * source.spacing_mm))))
    return slices
