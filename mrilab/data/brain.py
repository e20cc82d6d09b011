"""Multi-contrast brain slices synthesised from the MNI152 template that ships with nilearn.

The anatomy comes from the ICBM 2009a symmetric MNI152 template (Fonov et al., NeuroImage 54:313, 2011) as
installed inside ``nilearn``: its grey-matter and white-matter probability maps and its brain mask (the T1 template
thresholded at 0.2). Cerebrospinal fluid fills the rest of the brain mask, ``CSF = clip(mask - GM - WM, 0, 1)``.
Outside the brain, the cisterns and fissures (inside a morphological closing of the mask) fill with CSF, and a head
is grown from the distance to the closed mask: a thin CSF layer, the skull (inner table, fatty marrow of the
diploë, outer table), the galea, subcutaneous fat and skin.

Each tissue ``k`` has relaxation times and a proton density ``(T1_k, T2_k, PD_k)``; a voxel holding fractions
``f_k`` (partial-volume mixing by the probability maps) gives, for a spin echo with repetition time ``TR`` and echo
time ``TE``,

    S = sum_k f_k · PD_k · (1 − exp(−TR / T1_k)) · exp(−TE / T2_k).

Slices are axial by default; coronal and sagittal slices of the same head (``orientation=``) give the book's
out-of-distribution test set. Per-slice variety (shared by the three contrasts of a slice so that they stay
spatially aligned): a small rotation, scaling, shift and tilt of the slice plane, a smooth random elastic
deformation, per-tissue jitter of T1/T2/PD, fine multiplicative texture and a smooth receive bias field. Per contrast:
a smooth random phase and complex Gaussian noise at a set SNR.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage


@dataclass(frozen=True)
class Tissue:
    """Relaxation times (ms) and relative proton density of one tissue at 3 T."""

    t1: float
    t2: float
    pd: float


TISSUES: dict[str, Tissue] = {
    # Wansapura et al., "NMR relaxation times in the human brain at 3.0 tesla", JMRI 9:531-538 (1999):
    # white matter T1 ≈ 832 ms, T2 ≈ 80 ms; grey matter T1 ≈ 1331 ms, T2 ≈ 110 ms. Proton densities are relative
    # water contents (WM ≈ 0.7, GM ≈ 0.8, CSF = 1), the order of magnitude quantitative water mapping measures.
    "wm": Tissue(t1=832.0, t2=80.0, pd=0.69),
    "gm": Tissue(t1=1331.0, t2=110.0, pd=0.80),
    # CSF is nearly free water: T1 of several seconds, T2 of one to two seconds at 3 T.
    "csf": Tissue(t1=3700.0, t2=1500.0, pd=1.00),
    # Subcutaneous fat and skeletal muscle at 3 T, approximately as in Gold et al., AJR 183:343-351 (2004) and
    # Stanisz et al., MRM 54:507-512 (2005) (muscle T1 ≈ 1412 ms, T2 ≈ 50 ms).
    "fat": Tissue(t1=380.0, t2=130.0, pd=0.90),
    "muscle": Tissue(t1=1410.0, t2=50.0, pd=0.75),
    # Cortical bone: T2 below a millisecond, so no spin-echo signal at the echo times used here.
    "bone": Tissue(t1=250.0, t2=0.5, pd=0.05),
}


@dataclass(frozen=True)
class Contrast:
    """A spin-echo weighting: repetition and echo time (ms) and fastMRI's ``acquisition`` label."""

    tr: float
    te: float
    acquisition: str


CONTRASTS: dict[str, Contrast] = {
    "T1w": Contrast(tr=500.0, te=15.0, acquisition="AXT1"),
    "T2w": Contrast(tr=4000.0, te=100.0, acquisition="AXT2"),
    "PDw": Contrast(tr=4000.0, te=15.0, acquisition="AXPD"),
}

#: Outer radius (mm from the brain surface) of each layer of the head outside the brain, in order.
HEAD_LAYERS: tuple[tuple[str, float], ...] = (
    ("csf", 1.5),
    ("bone", 3.0),
    ("fat", 5.0),
    ("bone", 6.5),
    ("muscle", 8.0),
    ("fat", 12.0),
    ("muscle", 13.5),
)

FIELD_OF_VIEW_MM = 240.0
#: The template is an average of 152 brains, so its tissue boundaries are blurred; raising the probabilities to this
#: power and renormalising (GM, WM, CSF) restores boundaries about as sharp as a single subject's.
SHARPENING = 2.0
MIN_WORK_GRID = 128  # small slices are synthesised on a finer grid and block-averaged to the output size


def spin_echo_signal(pd: float | np.ndarray, t1: float | np.ndarray, t2: float | np.ndarray, tr: float,
                     te: float) -> float | np.ndarray:
    """Spin-echo magnitude ``PD · (1 − exp(−TR/T1)) · exp(−TE/T2)`` (times in ms; arrays broadcast)."""
    return pd * (1.0 - np.exp(-tr / t1)) * np.exp(-te / t2)


def contrast_scale(contrast: str) -> float:
    """``1 / max_k S_k``: the nominal signal of the brightest pure tissue of ``contrast`` becomes 1."""
    c = CONTRASTS[contrast]
    return 1.0 / max(float(spin_echo_signal(t.pd, t.t1, t.t2, c.tr, c.te)) for t in TISSUES.values())


@dataclass(frozen=True)
class TissueVolumes:
    """The MNI152 tissue maps at 1 mm (voxel index = mm), indexed ``[x, y, z]`` in RAS orientation."""

    maps: torch.Tensor  # (3, X, Y, Z): grey-matter and white-matter probability, brain mask
    distance_2mm: torch.Tensor  # distance (mm) outside the morphologically closed brain mask, on a 2 mm grid
    center: tuple[float, float, float]  # centre of the brain mask's bounding box (voxels)
    brain_area: np.ndarray  # brain-mask area (mm²) of each axial plane z

    @property
    def center_xy(self) -> tuple[float, float]:
        """Centre of the brain mask's bounding box in the ``(x, y)`` plane (voxels)."""
        return self.center[:2]

    def plane_area(self, orientation: str = "axial") -> np.ndarray:
        """Brain-mask area (mm²) of every plane of ``orientation`` (sagittal: ``x``, coronal: ``y``, axial: ``z``)."""
        axis = check_orientation(orientation)
        return self.maps[2].numpy().sum(axis=tuple(a for a in range(3) if a != axis))


@functools.lru_cache(maxsize=1)
def load_tissue_volumes() -> TissueVolumes:
    """Read the MNI152 GM/WM maps and brain mask from the installed nilearn (no download)."""
    from nilearn import datasets

    gm = np.asarray(datasets.load_mni152_gm_template(resolution=1).get_fdata(), dtype=np.float32)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=1).get_fdata(), dtype=np.float32)
    mask = np.asarray(datasets.load_mni152_brain_mask(resolution=1).get_fdata(), dtype=np.float32)
    np.clip(gm, 0.0, 1.0, out=gm)
    np.clip(wm, 0.0, 1.0, out=wm)
    coarse = mask[::2, ::2, ::2] > 0.5
    closed = ndimage.binary_closing(coarse, iterations=5, border_value=0)
    closed = np.stack([ndimage.binary_fill_holes(plane) for plane in np.moveaxis(closed, 2, 0)], axis=2)
    distance_2mm = ndimage.distance_transform_edt(~closed, sampling=2.0).astype(np.float32)
    extent = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    center = tuple(float(e[0] + e[-1]) / 2.0 for e in extent)
    maps = torch.from_numpy(np.stack([gm, wm, mask]))
    return TissueVolumes(maps, torch.from_numpy(distance_2mm), center, mask.sum(axis=(0, 1)))


#: Slice orientations and the MNI axis each one fixes (``position`` indexes that axis, 1 mm).
ORIENTATIONS: dict[str, int] = {"sagittal": 0, "coronal": 1, "axial": 2}


def check_orientation(orientation: str) -> int:
    """Return the volume axis that ``orientation`` fixes; raise a ValueError naming the choices otherwise."""
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {tuple(ORIENTATIONS)}, got {orientation!r}")
    return ORIENTATIONS[orientation]


@dataclass(frozen=True)
class SliceVariation:
    """How strongly each slice is varied (standard deviations unless stated)."""

    rotation_deg: float = 6.0
    scale: float = 0.05
    shift_mm: float = 4.0
    tilt_deg: float = 2.0
    elastic_mm: float = 2.5
    tissue_jitter: float = 0.05
    texture: float = 0.04
    bias: float = 0.15
    phase_rad: float = 1.0
    head_thickness: float = 0.15


@dataclass(frozen=True)
class SynthesizedImage:
    """One contrast of a synthesised slice: complex64 ``(H, W)`` images without and with noise, and the noise level.

    ``noise_std`` is ``σ`` of the complex Gaussian noise (``E|n|² = σ²``), ``σ = mean brain magnitude / snr``.
    """

    clean: np.ndarray
    noisy: np.ndarray
    noise_std: float


def synthesize_slice(position: int, size: int, rng: np.random.Generator, *, snr: float,
                     variation: SliceVariation = SliceVariation(), orientation: str = "axial",
                     ) -> dict[str, SynthesizedImage]:
    """One slice at MNI voxel plane ``position`` (1 mm) in every contrast of :data:`CONTRASTS`.

    ``orientation`` says which axis ``position`` indexes: ``"axial"`` (``z``; anterior at the top, the subject's
    right on the image's left), ``"coronal"`` (``y``; superior at the top) or ``"sagittal"`` (``x``; superior at
    the top, anterior on the left).

    The geometry, tissue parameters, texture and bias field are drawn once and shared by the contrasts; the phase
    and the noise are drawn per contrast. All draws come from ``rng`` in a fixed order.
    """
    volumes = load_tissue_volumes()
    supersample = max(1, round(MIN_WORK_GRID / size))
    grid = size * supersample
    fractions, brain_fraction = tissue_fractions(volumes, position, grid, rng, variation, orientation)
    texture_pd = smooth_noise(rng, grid, 0.7) + 0.5 * smooth_noise(rng, grid, 3.0)
    texture_relax = smooth_noise(rng, grid, 0.7) + 0.5 * smooth_noise(rng, grid, 3.0)
    bias = bias_field(rng, grid, variation.bias)
    jitter = {name: np.exp(variation.tissue_jitter * rng.standard_normal(3)) for name in TISSUES}
    brain = block_mean(brain_fraction, supersample) > 0.5
    images = {}
    for contrast, c in CONTRASTS.items():
        magnitude = np.zeros((grid, grid), dtype=np.float64)
        for name, tissue in TISSUES.items():
            j_t1, j_t2, j_pd = jitter[name]
            pd = tissue.pd * j_pd * (1.0 + variation.texture * texture_pd)
            relax = 1.0 + 0.5 * variation.texture * texture_relax
            magnitude += fractions[name] * spin_echo_signal(pd, tissue.t1 * j_t1 * relax, tissue.t2 * j_t2 * relax,
                                                            c.tr, c.te)
        magnitude *= bias * contrast_scale(contrast)
        clean = block_mean(magnitude, supersample) * np.exp(1j * smooth_phase(rng, size, variation.phase_rad))
        sigma = float(np.abs(clean)[brain].mean()) / snr
        noise = (rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))) * (sigma / np.sqrt(2))
        images[contrast] = SynthesizedImage(clean.astype(np.complex64), (clean + noise).astype(np.complex64), sigma)
    return images


def tissue_fractions(volumes: TissueVolumes, position: int, grid: int, rng: np.random.Generator,
                      variation: SliceVariation, orientation: str = "axial",
                      ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sample the tissue maps on a randomly rotated, scaled, shifted, tilted and elastically deformed slice.

    Returns the fraction of every tissue in every pixel and the brain-mask fraction.
    """
    spacing = FIELD_OF_VIEW_MM / grid
    axis = (np.arange(grid) - (grid - 1) / 2.0) * spacing
    v, u = np.meshgrid(axis, axis, indexing="ij")  # v: rows (anterior → posterior), u: columns
    angle = np.deg2rad(variation.rotation_deg * rng.standard_normal())
    scale = 1.0 + variation.scale * rng.standard_normal()
    shift = variation.shift_mm * rng.standard_normal(2)
    tilt = np.tan(np.deg2rad(variation.tilt_deg * rng.standard_normal(2)))
    elastic = [variation.elastic_mm * coarse_field(rng, grid, 6) for _ in range(2)]
    cos, sin = np.cos(angle), np.sin(angle)
    u_src = scale * (cos * u - sin * v) + shift[0] + elastic[0]
    v_src = scale * (sin * u + cos * v) + shift[1] + elastic[1]
    cx, cy, cz = volumes.center
    normal = position + tilt[0] * u_src + tilt[1] * v_src
    axis = check_orientation(orientation)
    if axis == 2:  # radiological display: the subject's right on the image's left, anterior at the top
        coords = np.stack([cx - u_src, cy - v_src, normal])
    elif axis == 1:  # superior at the top, the subject's right on the image's left
        coords = np.stack([cx - u_src, normal, cz - v_src])
    else:  # superior at the top, anterior on the left
        coords = np.stack([normal, cy - u_src, cz - v_src])
    gm, wm, mask = _trilinear(volumes.maps, coords, padding="zeros")
    (distance,) = _trilinear(volumes.distance_2mm[None], coords / 2.0, padding="border")
    csf = np.clip(mask - gm - wm, 0.0, None)
    sharpened = [p**SHARPENING for p in (gm, wm, csf)]
    total = np.maximum(sum(sharpened), 1e-12)
    fractions = {name: np.zeros_like(gm) for name in TISSUES}
    for name, p in zip(("gm", "wm", "csf"), sharpened, strict=True):
        fractions[name] = mask * p / total
    outside = 1.0 - mask
    thickness = np.exp(variation.head_thickness * rng.standard_normal())
    inner = 0.0
    for name, outer in HEAD_LAYERS:
        outer *= thickness
        below_outer = 1.0 - _ramp(distance - outer)
        beyond_inner = _ramp(distance - inner) if inner > 0 else 1.0
        fractions[name] += outside * (below_outer - (1.0 - beyond_inner))
        inner = outer
    return fractions, mask


def _trilinear(volume: torch.Tensor, coords: np.ndarray, *, padding: str) -> np.ndarray:
    """Trilinear interpolation of the channels ``(C, X, Y, Z)`` of ``volume`` at voxel coordinates ``(3, H, W)``."""
    size = torch.tensor(volume.shape[1:], dtype=torch.float64).view(3, 1, 1) - 1
    normalised = 2.0 * torch.from_numpy(coords) / size - 1.0  # grid_sample wants (z, y, x) order in [-1, 1]
    grid = normalised.flip(0).permute(1, 2, 0)[None, None].float()
    sampled = torch.nn.functional.grid_sample(volume[None], grid, mode="bilinear", padding_mode=padding,
                                              align_corners=True)
    return sampled[0, :, 0].numpy()


def _ramp(t: np.ndarray, width: float = 1.0) -> np.ndarray:
    """0 below ``-width/2``, 1 above ``width/2``: soft (partial-volume) layer edges."""
    return np.clip(t / width + 0.5, 0.0, 1.0)


def coarse_field(rng: np.random.Generator, grid: int, knots: int) -> np.ndarray:
    """Smooth random field: ``knots × knots`` standard-normal weights on Gaussian bumps spread over the grid."""
    basis = _gaussian_basis(grid, knots)
    return basis @ rng.standard_normal((knots, knots)) @ basis.T


@functools.lru_cache(maxsize=16)
def _gaussian_basis(grid: int, knots: int) -> np.ndarray:
    """``(grid, knots)`` Gaussian bumps one knot spacing wide, rows normalised to unit sum of squares."""
    x = np.linspace(0.0, 1.0, grid)[:, None]
    centres = np.linspace(0.0, 1.0, knots)[None, :]
    basis = np.exp(-0.5 * ((x - centres) * (knots - 1)) ** 2)
    return basis / np.sqrt((basis**2).sum(axis=1, keepdims=True))


def smooth_noise(rng: np.random.Generator, grid: int, sigma: float) -> np.ndarray:
    """White noise filtered by a Gaussian of ``sigma`` pixels, rescaled to unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal((grid, grid)), sigma, mode="wrap")
    return field / field.std()


def bias_field(rng: np.random.Generator, grid: int, strength: float) -> np.ndarray:
    """Smooth multiplicative receive field ``exp(p(u, v))`` with a random quadratic polynomial ``p``."""
    axis = np.linspace(-1.0, 1.0, grid)
    v, u = np.meshgrid(axis, axis, indexing="ij")
    terms = np.stack([u, v, u * v, u**2 - 1 / 3, v**2 - 1 / 3])
    return np.exp(strength * np.tensordot(rng.standard_normal(5), terms, axes=1) / np.sqrt(2))


def smooth_phase(rng: np.random.Generator, size: int, amplitude: float) -> np.ndarray:
    """Draw a constant, a linear ramp and a smooth random field: the slowly varying phase of a real MR image."""
    axis = np.linspace(-1.0, 1.0, size)
    v, u = np.meshgrid(axis, axis, indexing="ij")
    offset = rng.uniform(-np.pi, np.pi)
    ramp = amplitude * (rng.standard_normal() * u + rng.standard_normal() * v)
    return offset + ramp + amplitude * coarse_field(rng, size, 4)


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor × factor`` blocks: the ideal low-pass-and-sample of a finer grid."""
    if factor == 1:
        return image
    h, w = image.shape
    return image.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
