"""A procedural ellipse phantom with texture and smooth phase, for tests that must not wait for the brain data.

In the spirit of the Shepp–Logan phantom (Shepp & Logan, IEEE Trans. Nucl. Sci. 21:21-43, 1974): a bright outer
ellipse (the "skull"), a large interior ellipse (the "brain") and random smaller ellipses of other intensities, with
multiplicative fine texture and a smooth phase so that the image is complex like a real MR image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage

from .._checks import check_shape2d


def ellipse_phantom(shape: Sequence[int], seed: int = 0, *, n_ellipses: int = 8) -> torch.Tensor:
    """Complex64 ``(H, W)`` phantom with magnitude maximum 1, deterministic for ``seed``."""
    height, width = check_shape2d("shape", shape)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng([seed, height, width])
    v, u = np.meshgrid(np.linspace(-1.0, 1.0, height), np.linspace(-1.0, 1.0, width), indexing="ij")
    image = _ellipse(u, v, 0.0, 0.0, 0.92, 0.78, 0.0) * 1.0
    image += _ellipse(u, v, 0.0, 0.0, 0.85, 0.71, 0.0) * -0.6
    for _ in range(n_ellipses):
        cu, cv = rng.uniform(-0.45, 0.45, size=2)
        a, b = rng.uniform(0.05, 0.3, size=2)
        image += _ellipse(u, v, cu, cv, a, b, rng.uniform(0, np.pi)) * rng.uniform(-0.25, 0.35)
    image = np.clip(image, 0.0, None)
    texture = ndimage.gaussian_filter(rng.standard_normal((height, width)), 1.0)
    image *= 1.0 + 0.05 * texture / texture.std()
    phase = rng.uniform(-np.pi, np.pi) + rng.normal(0, 1.0) * u + rng.normal(0, 1.0) * v + rng.normal(0, 0.5) * u * v
    complex_image = image / image.max() * np.exp(1j * phase)
    return torch.from_numpy(complex_image.astype(np.complex64))


def _ellipse(u: np.ndarray, v: np.ndarray, cu: float, cv: float, a: float, b: float, angle: float) -> np.ndarray:
    """Return the indicator of the ellipse with centre ``(cu, cv)``, half-axes ``a, b`` rotated by ``angle``."""
    cos, sin = np.cos(angle), np.sin(angle)
    du, dv = u - cu, v - cv
    return ((((cos * du + sin * dv) / a) ** 2 + ((-sin * du + cos * dv) / b) ** 2) <= 1.0).astype(np.float64)
