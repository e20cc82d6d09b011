"""Reconstruction networks, all in one contract (:mod:`mrilab.models.base`).

``model(kspace, mask, *, ratio=None, reference=None, sens=None, return_stages=False)`` returns the image
``(B, 1, H, W)``: complex, or real magnitudes for a model whose ``output`` is ``"magnitude"``.

Every model records its constructor arguments in ``self.config`` and registers its class in :data:`MODELS`, so a
checkpoint (model name + config + weights) rebuilds it with :func:`build_model`.
"""

from .base import Measurements, ReconstructionModel
from .cgpd_csnet import CGPDCSNet
from .d5c5 import D5C5
from .ifr_net import IFRNet
from .ima import IMA
from .ista_net import ISTANetPlus
from .pc_rnn import PCRNN
from .registry import MODELS, build_model, register
from .unet import UNet

__all__ = ["D5C5", "IMA", "MODELS", "PCRNN", "CGPDCSNet", "IFRNet", "ISTANetPlus", "Measurements",
           "ReconstructionModel", "UNet", "build_model", "register"]
