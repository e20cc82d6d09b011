"""Argument checks shared by the package: each raises an error that names the argument and what was expected."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_tensor(
    name: str,
    value: object,
    *,
    ndim: int | Sequence[int] | None = None,
    complex_: bool | None = None,
    dtype: torch.dtype | None = None,
    finite: bool = True,
) -> torch.Tensor:
    """Validate ``value`` and return it.

    ``ndim`` may be one number or a sequence of accepted numbers; ``complex_`` demands a complex (True) or a
    real (False) dtype; ``finite`` rejects NaN and infinity, except while ``torch.compile`` traces the call: a value
    check needs the values on the host and would split the compiled graph, so compiled callers check their inputs'
    values before the compiled region (:meth:`mrilab.train.Trainer.compute_loss`).
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None:
        accepted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in accepted:
            wanted = " or ".join(str(n) for n in accepted)
            raise ValueError(f"{name} must have {wanted} dimensions, got shape {tuple(value.shape)}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {value.dtype}")
    if complex_ is True and not value.is_complex():
        raise TypeError(f"{name} must be a complex tensor (e.g. torch.complex64), got {value.dtype}")
    if complex_ is False and value.is_complex():
        raise TypeError(f"{name} must be a real tensor, got {value.dtype}")
    if finite and value.numel() and (value.is_floating_point() or value.is_complex()) and not compiling():
        # NaN and infinity propagate through a sum, so one reduction screens the tensor; the elementwise test
        # only runs when the sum is not finite (which a huge but finite tensor can also cause).
        if not bool(torch.isfinite(value.sum())) and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    return value


def compiling() -> bool:
    """Return whether ``torch.compile`` is tracing the current call (value checks are then left to the caller)."""
    return torch.compiler.is_compiling()


def check_ratio(name: str, value: float) -> float:
    """Return ``value`` as a float after checking that it is a sampling ratio in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in (0, 1], got {type(value).__name__}")
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value}")
    return float(value)


def check_shape2d(name: str, shape: Sequence[int]) -> tuple[int, int]:
    """Return ``shape`` as a pair of ints after checking that it is an image shape ``(H, W)`` of positive integers."""
    try:
        height, width = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (H, W) of positive integers, got {shape!r}") from None
    if height <= 0 or width <= 0 or (height, width) != tuple(shape):
        raise ValueError(f"{name} must be a pair (H, W) of positive integers, got {shape!r}")
    return height, width
