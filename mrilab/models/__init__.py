"""Reconstruction networks. Every model takes ``(kspace, mask, **extras)`` and returns the complex image.

Models record their constructor arguments in ``self.config`` so checkpoints can rebuild them (see
:mod:`mrilab.models.registry`).
"""

from . import cgpd_csnet  # noqa: F401  (registers CGPDCSNet)
from .ista_net import ISTANetPlus  # noqa: F401  (registers ISTANetPlus)
from .registry import MODELS, build_model, register

__all__ = ["MODELS", "build_model", "register"]
