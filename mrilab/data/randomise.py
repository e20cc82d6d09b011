"""Domain randomisation: synthetic training slices that vary beyond what the book's generator draws by default.

A network trained on :func:`mrilab.data.brain.synthesize_slice` alone learns that generator: a bright ring of
scalp and marrow around every brain, three spin-echo contrasts, one texture scale, one SNR. Real images break each
of those habits (a fat-suppressed EPI has a dark scalp, a FLAIR nulls the CSF, a gradient echo decays with T2*,
an abdomen or a shoulder is not a head). :func:`synthesize_randomised_slice` draws, per slice and from ``rng``:

* **the head**: with probability ``p_no_scalp`` only the brain (skull-stripped); otherwise the head layers, with
  fat suppressed (fat's proton density times ``fat_suppression``) with probability ``p_fat_suppressed``;
* **the sequence** (``sequences``): a spin echo ``PD (1 − e^{−TR/T1}) e^{−TE/T2}``; a magnitude inversion recovery
  ``PD |1 − 2 e^{−TI/T1} + e^{−TR/T1}| e^{−TE/T2}`` (FLAIR-like when TI nulls CSF:
  ``TI = T1_CSF ln(2 / (1 + e^{−TR/T1_CSF}))``); or a gradient echo, the spin-echo formula with ``T2* = f · T2``;
  TR, TE and TI log-uniform in their ranges;
* **the intensities**: per-tissue jitter as in the default generator, then a monotone curve ``m ↦ m^γ`` of the
  normalised magnitude;
* **the texture**: strength uniform in ``texture`` and scale log-uniform in ``texture_scale_px`` (strength 0 with
  probability ``p_no_texture``);
* **non-brain structure**: with probability ``p_shapes``, one to four textured ellipses of random intensity;
* **the field of view**: with probability ``p_zoom``, a window ``zoom`` times smaller than the slice, centred on a
  random point of tissue (kept inside the slice), magnified to fill it: a detail filled with tissue from edge to
  edge, as a surface-coil or small-FOV acquisition sees it, instead of a whole head in air (``zoom`` log-uniform);
* **the noise**: SNR log-uniform in ``snr``.

The geometry (rotation, scaling, shift, tilt, elastic deformation), bias field and phase are drawn as by the
default generator (:class:`~mrilab.data.brain.SliceVariation`). :data:`SHIFTS` names the single shifts of the
synthetic *shifted* validation set, each a :class:`DomainRandomisation` that applies one shift to every slice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from . import brain

SEQUENCES = ("spin_echo", "inversion_recovery", "gradient_echo")


@dataclass(frozen=True)
class DomainRandomisation:
    """Probabilities and ranges of the randomised synthesis (see the module docstring)."""

    p_no_scalp: float = 0.3
    p_fat_suppressed: float = 0.3
    fat_suppression: float = 0.05
    sequences: tuple[float, float, float] = (0.5, 0.25, 0.25)  # spin echo, inversion recovery, gradient echo
    tr_ms: tuple[float, float] = (300.0, 6000.0)
    te_ms: tuple[float, float] = (8.0, 120.0)
    ti_ms: tuple[float, float] = (100.0, 3000.0)
    t2star_factor: tuple[float, float] = (0.3, 0.8)
    gamma: tuple[float, float] = (0.6, 1.6)
    texture: tuple[float, float] = (0.0, 0.15)
    texture_scale_px: tuple[float, float] = (0.5, 6.0)
    p_no_texture: float = 0.2
    p_shapes: float = 0.2
    snr: tuple[float, float] = (15.0, 80.0)
    p_zoom: float = 0.0
    zoom: tuple[float, float] = (1.5, 3.0)

    def __post_init__(self) -> None:
        for name in ("p_no_scalp", "p_fat_suppressed", "fat_suppression", "p_no_texture", "p_shapes", "p_zoom"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if len(self.sequences) != len(SEQUENCES) or min(self.sequences) < 0 or sum(self.sequences) <= 0:
            raise ValueError(f"sequences must be {len(SEQUENCES)} non-negative weights {SEQUENCES}, "
                             f"got {self.sequences!r}")
        for name in ("tr_ms", "te_ms", "ti_ms", "t2star_factor", "gamma", "texture", "texture_scale_px", "snr",
                     "zoom"):
            low, high = getattr(self, name)
            if not 0 <= low <= high or (name != "texture" and low <= 0):
                raise ValueError(f"{name} must be a range (low, high) with 0 < low <= high, got {(low, high)!r}")
        if self.zoom[0] < 1.0:
            raise ValueError(f"zoom must be a range of magnifications >= 1, got {self.zoom!r}")


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def signal(sequence: str, pd: np.ndarray | float, t1: np.ndarray | float, t2: np.ndarray | float, *, tr: float,
           te: float, ti: float = 0.0, t2star_factor: float = 1.0) -> np.ndarray | float:
    """Magnitude signal of ``sequence`` (times in ms; arrays broadcast); see the module docstring."""
    if sequence == "spin_echo":
        return brain.spin_echo_signal(pd, t1, t2, tr, te)
    if sequence == "gradient_echo":  # T2* = f · T2: field inhomogeneity shortens the decay
        return brain.spin_echo_signal(pd, t1, t2star_factor * t2, tr, te)
    if sequence == "inversion_recovery":
        return pd * np.abs(1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-tr / t1)) * np.exp(-te / t2)
    raise ValueError(f"sequence must be one of {SEQUENCES}, got {sequence!r}")


def synthesize_randomised_slice(position: int, size: int, rng: np.random.Generator,
                                randomisation: DomainRandomisation = DomainRandomisation(), *,
                                variation: brain.SliceVariation | None = None,
                                orientation: str = "axial") -> tuple[brain.SynthesizedImage, dict]:
    """One randomised slice at MNI plane ``position``: the image and a dict of what was drawn.

    ``variation`` (default :class:`~mrilab.data.brain.SliceVariation`) sets the geometry, bias and phase draws.
    """
    variation = brain.SliceVariation() if variation is None else variation
    volumes = brain.load_tissue_volumes()
    supersample = max(1, round(brain.MIN_WORK_GRID / size))
    grid = size * supersample
    fractions, brain_fraction = brain.tissue_fractions(volumes, position, grid, rng, variation, orientation)
    drawn = {"no_scalp": bool(rng.random() < randomisation.p_no_scalp)}
    drawn["fat_suppressed"] = (not drawn["no_scalp"]) and bool(rng.random() < randomisation.p_fat_suppressed)
    weights = np.asarray(randomisation.sequences, dtype=float)
    drawn["sequence"] = SEQUENCES[int(rng.choice(len(SEQUENCES), p=weights / weights.sum()))]
    drawn["tr"], drawn["te"] = _log_uniform(rng, randomisation.tr_ms), _log_uniform(rng, randomisation.te_ms)
    drawn["ti"] = _log_uniform(rng, randomisation.ti_ms)
    drawn["t2star_factor"] = float(rng.uniform(*randomisation.t2star_factor))
    drawn["gamma"] = float(rng.uniform(*randomisation.gamma))
    drawn["texture"] = 0.0 if rng.random() < randomisation.p_no_texture else float(rng.uniform(*randomisation.texture))
    drawn["texture_scale"] = _log_uniform(rng, randomisation.texture_scale_px)
    drawn["snr"] = _log_uniform(rng, randomisation.snr)
    texture = brain.smooth_noise(rng, grid, drawn["texture_scale"] * supersample)
    bias = brain.bias_field(rng, grid, variation.bias)
    jitter = {name: np.exp(variation.tissue_jitter * rng.standard_normal(3)) for name in brain.TISSUES}
    sequence = {key: drawn[key] for key in ("tr", "te", "ti", "t2star_factor")}

    magnitude = np.zeros((grid, grid))
    nominal = []
    for name, tissue in brain.TISSUES.items():
        if drawn["no_scalp"] and name not in ("gm", "wm", "csf"):
            continue
        pd = tissue.pd * (randomisation.fat_suppression if name == "fat" and drawn["fat_suppressed"] else 1.0)
        nominal.append(float(signal(drawn["sequence"], pd, tissue.t1, tissue.t2, **sequence)))
        j_t1, j_t2, j_pd = jitter[name]
        part = fractions[name] * (brain_fraction if drawn["no_scalp"] else 1.0)
        magnitude += part * signal(drawn["sequence"], pd * j_pd * (1.0 + drawn["texture"] * texture),
                                   tissue.t1 * j_t1, tissue.t2 * j_t2, **sequence)
    magnitude = np.clip(magnitude / max(max(nominal), 1e-6), 0.0, None) ** drawn["gamma"]
    drawn["shapes"] = 0
    if rng.random() < randomisation.p_shapes:
        drawn["shapes"] = int(rng.integers(1, 5))
        magnitude = _add_shapes(magnitude, rng, drawn["shapes"], supersample)
    drawn["zoom"] = 1.0
    if randomisation.p_zoom > 0 and rng.random() < randomisation.p_zoom:  # no draw at p_zoom = 0: streams unchanged
        drawn["zoom"] = _log_uniform(rng, randomisation.zoom)
        magnitude = zoom_in(magnitude, rng, drawn["zoom"])
    magnitude *= bias
    clean = brain.block_mean(magnitude, supersample) * np.exp(1j * brain.smooth_phase(rng, size, variation.phase_rad))
    inside = np.abs(clean) > 0.05 * np.abs(clean).max()
    sigma = float(np.abs(clean)[inside].mean()) / drawn["snr"]
    noise = (rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))) * (sigma / np.sqrt(2))
    image = brain.SynthesizedImage(clean.astype(np.complex64), (clean + noise).astype(np.complex64), sigma)
    return image, drawn


def zoom_in(magnitude: np.ndarray, rng: np.random.Generator, zoom: float) -> np.ndarray:
    """Magnify a window ``zoom`` times smaller than ``magnitude`` to its full size (linear interpolation).

    The window is centred on a pixel drawn among those above a tenth of the maximum (tissue), moved the least
    distance that keeps it inside the image.
    """
    if zoom < 1.0:
        raise ValueError(f"zoom must be >= 1, got {zoom!r}")
    if magnitude.ndim != 2 or magnitude.shape[0] != magnitude.shape[1]:
        raise ValueError(f"magnitude must be a square 2-D image, got shape {magnitude.shape}")
    if not np.isfinite(magnitude).all() or magnitude.max() <= 0:
        raise ValueError("magnitude must be finite with some positive signal to zoom in on")
    grid = magnitude.shape[0]
    tissue = np.argwhere(magnitude > 0.1 * magnitude.max())
    half = (grid - 1) / (2.0 * zoom)
    centre = tissue[rng.integers(len(tissue))].astype(float)
    centre = np.clip(centre, half, grid - 1 - half)
    axis = np.linspace(-half, half, grid)
    rows, cols = np.meshgrid(centre[0] + axis, centre[1] + axis, indexing="ij")
    return ndimage.map_coordinates(magnitude, [rows, cols], order=1, mode="nearest")


def _add_shapes(magnitude: np.ndarray, rng: np.random.Generator, count: int, supersample: int) -> np.ndarray:
    """Paint ``count`` textured ellipses of random size, position, angle and intensity over ``magnitude``."""
    grid = magnitude.shape[0]
    axis = np.linspace(-1.0, 1.0, grid)
    v, u = np.meshgrid(axis, axis, indexing="ij")
    out = magnitude.copy()
    for _ in range(count):
        cu, cv = rng.uniform(-0.7, 0.7, 2)
        a, b = rng.uniform(0.05, 0.4, 2)
        angle = rng.uniform(0, np.pi)
        du, dv = u - cu, v - cv
        x, y = np.cos(angle) * du + np.sin(angle) * dv, -np.sin(angle) * du + np.cos(angle) * dv
        inside = np.clip((1.0 - (x / a) ** 2 - (y / b) ** 2) * grid * min(a, b) / 2, 0.0, 1.0)  # soft edge
        texture = 1.0 + 0.3 * brain.smooth_noise(rng, grid, rng.uniform(0.5, 4.0) * supersample)
        intensity = rng.uniform(0.2, 1.0)
        out = out * (1.0 - inside) + inside * intensity * np.clip(texture, 0.0, None)
    return out


_NONE = DomainRandomisation(p_no_scalp=0.0, p_fat_suppressed=0.0, sequences=(1.0, 0.0, 0.0), tr_ms=(500.0, 500.0),
                            te_ms=(15.0, 15.0), gamma=(1.0, 1.0), texture=(0.04, 0.04), texture_scale_px=(0.7, 0.7),
                            p_no_texture=0.0, p_shapes=0.0, snr=(40.0, 40.0))

#: The inversion time that nulls CSF at TR = 9 s: ``1 − 2 e^{−TI/T1} + e^{−TR/T1} = 0``.
_FLAIR_TI = brain.TISSUES["csf"].t1 * float(np.log(2.0 / (1.0 + np.exp(-9000.0 / brain.TISSUES["csf"].t1))))

#: The shifts of the synthetic shifted validation set: each applies one departure from the default T1-weighted
#: generator to every slice (FLAIR-like: an inversion recovery whose TI nulls CSF; T2*-like: a gradient echo).
SHIFTS: dict[str, DomainRandomisation] = {
    "no scalp": replace(_NONE, p_no_scalp=1.0),
    "fat suppressed": replace(_NONE, p_fat_suppressed=1.0),
    "FLAIR-like": replace(_NONE, sequences=(0.0, 1.0, 0.0), tr_ms=(9000.0, 9000.0), te_ms=(90.0, 90.0),
                          ti_ms=(_FLAIR_TI, _FLAIR_TI)),
    "T2*-like": replace(_NONE, sequences=(0.0, 0.0, 1.0), tr_ms=(600.0, 600.0), te_ms=(25.0, 25.0),
                        t2star_factor=(0.4, 0.4)),
    "textured shapes": replace(_NONE, p_shapes=1.0, texture=(0.12, 0.12), texture_scale_px=(3.0, 3.0)),
    "low SNR": replace(_NONE, snr=(15.0, 15.0)),
}

#: Slices of the default T1-weighted generator, every one zoomed in until tissue fills the field of view
#: (``zoomed.h5``: a candidate training distribution mixed with the narrow one, and its validation slices).
ZOOMED = replace(_NONE, p_zoom=1.0)
