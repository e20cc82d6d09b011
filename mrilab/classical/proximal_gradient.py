"""Proximal gradient descent (ISTA) and its accelerated form (FISTA) for ``min_x ½‖Ax − y‖² + g(x)``.

Beck & Teboulle (2009), "A fast iterative shrinkage-thresholding algorithm for linear inverse problems": with
``f(x) = ½‖Ax − y‖²``, ``∇f(x) = A^H(Ax − y)`` is Lipschitz with constant ``L = ‖A^H A‖`` and, for a step ``1/L``,

* ISTA (their Section 3): ``x_k = prox_{g/L}(x_{k−1} − ∇f(x_{k−1}) / L)``, with
  ``F(x_k) − F* ≤ L‖x₀ − x*‖² / (2k)`` (Theorem 3.1);
* FISTA (their Section 4): the same step taken at the extrapolated point
  ``z_{k+1} = x_k + ((t_k − 1)/t_{k+1})(x_k − x_{k−1})``, ``t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2``, with
  ``F(x_k) − F* ≤ 2L‖x₀ − x*‖² / (k + 1)²`` (Theorem 4.4).

The wavelet and total-variation solvers (:mod:`.sparse`, :mod:`.tv`) plug their ``g`` and prox into
:func:`proximal_gradient`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from ..ops import MRIOperator


@dataclass
class History:
    """What a solver recorded: the objective of every iterate (when tracked) and the iterates (when kept).

    ``objective[k, b]`` is ``F(x_k)`` of sample ``b`` (``k = 0`` is the start ``x₀``), float64 on the CPU, or an
    empty ``(0, B)`` tensor when the solver ran with ``track_objective=False``; ``iterates`` holds ``x₀, x₁, ...``
    when the solver was asked to keep them.
    """

    objective: torch.Tensor
    iterates: list[torch.Tensor] = field(default_factory=list)


def power_iteration(op: MRIOperator | Callable[[torch.Tensor], torch.Tensor], shape: Sequence[int], *,
                    iterations: int = 100, tol: float = 1e-7, seed: int = 0,
                    dtype: torch.dtype = torch.complex64) -> float:
    """Estimate ``L = ‖A^H A‖`` (the largest eigenvalue of the normal operator) by power iteration.

    ``op`` is an :class:`~mrilab.ops.MRIOperator` or any callable ``x ↦ A^H A x``; ``shape`` is the image shape
    ``(H, W)`` or ``(B, 1, H, W)``. The batch is treated as one block-diagonal operator, so the result is the largest
    ``L`` over the batch, a valid Lipschitz constant for all samples. Iterates the Rayleigh quotient
    ``<x, A^H A x>`` of the normalised ``x`` until its relative change is below ``tol``; the estimate approaches ``L``
    from below.
    """
    normal = op.normal if isinstance(op, MRIOperator) else op
    if not callable(normal):
        raise TypeError(f"op must be an MRIOperator or a callable x -> A^H A x, got {type(op).__name__}")
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        shape = (1, 1, *shape)
    if len(shape) != 4:
        raise ValueError(f"shape must be (H, W) or (B, 1, H, W), got {shape}")
    device = op.mask.device if isinstance(op, MRIOperator) else None
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, dtype=dtype, generator=generator).to(device)
    estimate = 0.0
    for _ in range(iterations):
        x = x / x.norm()
        ax = normal(x)
        previous, estimate = estimate, float((x.conj() * ax).real.sum())
        x = ax
        if abs(estimate - previous) <= tol * abs(estimate):
            break
    return estimate


def proximal_gradient(
    op: MRIOperator,
    y: torch.Tensor,
    prox: Callable[[torch.Tensor, float], torch.Tensor],
    penalty: Callable[[torch.Tensor], torch.Tensor],
    *,
    iterations: int,
    accelerated: bool,
    step: float | None = None,
    x0: torch.Tensor | None = None,
    keep_iterates: bool = False,
    track_objective: bool = True,
) -> tuple[torch.Tensor, History]:
    """Run ISTA (``accelerated=False``) or FISTA (``accelerated=True``) on ``½‖Ax − y‖² + g(x)``.

    ``prox(v, t)`` must return ``prox_{t g}(v)`` and ``penalty(x)`` the per-sample ``g(x)``, shape ``(B,)``. ``y`` is
    the measured k-space ``(B, C, H, W)``; it is masked by ``op.mask`` (only sampled points are data). ``step``
    defaults to ``1/L`` with ``L`` from :func:`power_iteration`; ``x0`` defaults to ``A^H y``.
    """
    if not isinstance(op, MRIOperator):
        raise TypeError(f"op must be an mrilab.ops.MRIOperator, got {type(op).__name__}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be a non-negative integer, got {iterations!r}")
    x = op.adjoint(y) if x0 is None else x0
    y = y * op.mask
    if step is None:
        step = 1.0 / power_iteration(op, x.shape, dtype=x.dtype)
    if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")

    def objective(image: torch.Tensor) -> torch.Tensor:
        residual = op.forward(image) - y
        data = 0.5 * (residual.abs() ** 2).sum(dim=(1, 2, 3))
        return (data + penalty(image)).detach().to("cpu", torch.float64)

    objectives = [objective(x)] if track_objective else []
    iterates = [x] if keep_iterates else []
    z, t = x, 1.0
    for _ in range(iterations):
        x_next = prox(z - step * op.adjoint(op.forward(z) - y), step)
        if accelerated:
            t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
            z = x_next + ((t - 1) / t_next) * (x_next - x)
            t = t_next
        else:
            z = x_next
        x = x_next
        if track_objective:
            objectives.append(objective(x))
        if keep_iterates:
            iterates.append(x)
    objective_table = torch.stack(objectives) if objectives else torch.zeros(0, x.shape[0], dtype=torch.float64)
    return x, History(objective_table, iterates)


def resolve_lambda(op: MRIOperator, y: torch.Tensor, lam: float | torch.Tensor | None,
                   relative_default: float) -> float | torch.Tensor:
    """Resolve the regularisation weight ``λ`` into a number or a tensor broadcastable to ``(B, 1, 1, 1)``.

    ``lam=None`` gives ``relative_default · max|A^H y|`` per sample: the problem is homogeneous (scaling ``y`` by
    ``c`` scales the minimiser by ``c`` when ``λ`` scales too), so a ``λ`` relative to the zero-filled image's peak
    works across intensity scales. A number or a real non-negative tensor is used as given.
    """
    if lam is None:
        peak = op.adjoint(y).abs().flatten(1).amax(dim=1)
        return (relative_default * peak).reshape(-1, 1, 1, 1)
    if isinstance(lam, torch.Tensor):
        if lam.is_complex() or not bool((lam >= 0).all()):
            raise ValueError("lam must be a real, non-negative tensor")
        return lam.to(y.device)
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or lam < 0:
        raise ValueError(f"lam must be a non-negative number, a tensor or None, got {lam!r}")
    return float(lam)
