"""Classical CS-MRI reconstruction: zero-filling, ISTA/FISTA with a wavelet prior, total variation and IFR-CS.

The baselines of the ISTA chapter pair and the starting point that ISTA-Net+ unrolls (Beck & Teboulle 2009).
"""

from ..prox import soft_threshold
from .ifr_cs import ifr_cs
from .proximal_gradient import History, power_iteration, proximal_gradient, resolve_lambda
from .sparse import fista, ista
from .tv import gradient, gradient_adjoint, total_variation, tv_prox, tv_reconstruction
from .wavelets import WaveletTransform
from .zero_filled import zero_filled

__all__ = [
    "History",
    "WaveletTransform",
    "fista",
    "gradient",
    "gradient_adjoint",
    "ifr_cs",
    "ista",
    "power_iteration",
    "proximal_gradient",
    "resolve_lambda",
    "soft_threshold",
    "total_variation",
    "tv_prox",
    "tv_reconstruction",
    "zero_filled",
]
