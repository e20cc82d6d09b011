"""mrilab: operators, masks, coils, metrics, data, models and training for *Deep Unfolding for MRI Reconstruction*."""

from . import coils, masks, metrics, ops

__all__ = ["coils", "masks", "metrics", "ops"]
__version__ = "0.1.0"
