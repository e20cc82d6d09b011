"""The chapters' checks of equations: each prints what it measured and raises when the equation does not hold.

A check compares what the package computes (the model, the block, the solver, the operator) with an independent
computation of the formula written out in the chapter's cell, or asserts a property the derivation proves. A printed
number is an illustration; these checks are what make an executed chapter fail when the code and the mathematics
part ways.

* :func:`identity` — the package's result and the *reference*, the independent computation, agree to a tolerance
  relative to the reference's size (in these checks, "reference" always means that computation);
* :func:`holds` — a property (an inequality, a bound, a boolean) is true.
"""

from __future__ import annotations

import numpy as np
import torch


class CheckFailed(AssertionError):
    """An equation or property checked in a chapter does not hold."""


def _as_tensor(name: str, value: object) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.complex128)
    try:
        return torch.as_tensor(np.asarray(value, dtype=complex))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tensor, an array or a number, got {type(value).__name__}") from None


def identity(name: str, computed: object, reference: object, *, rtol: float | None = None,
             atol: float | None = None) -> None:
    """Check ``computed ≈ reference``: ``max |computed − reference| ≤ atol + rtol · max |reference|``.

    Parameters
    ----------
    name
        What is checked, as the reader should see it (``"eq. (6): soft_dc is the minimiser"``).
    computed
        The package's result.
    reference
        The same quantity computed independently (the formula written out in the cell).
    rtol, atol
        Relative (to the largest magnitude of ``reference``) and absolute tolerances. Without either, ``rtol`` is
        10⁻⁶; a tolerance that is not given is zero once the other one is.

    Prints the residual ``max |computed − reference|`` with the tolerance; returns nothing, so that a check on the
    last line of a cell shows only that line.

    Raises
    ------
    CheckFailed
        When the residual exceeds the tolerance, or the shapes differ.
    """
    if rtol is None and atol is None:
        rtol = 1e-6
    rtol, atol = rtol or 0.0, atol or 0.0
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"rtol and atol must be non-negative, got {rtol!r} and {atol!r}")
    got, expected = _as_tensor("computed", computed), _as_tensor("reference", reference)
    if got.shape != expected.shape:
        raise CheckFailed(f"{name}: computed has shape {tuple(got.shape)}, reference {tuple(expected.shape)}")
    residual = float((got - expected).abs().max()) if got.numel() else 0.0
    tolerance = atol + rtol * (float(expected.abs().max()) if expected.numel() else 0.0)
    if not residual <= tolerance:  # also catches NaN
        raise CheckFailed(f"{name}: max |computed − reference| = {residual:.3g} exceeds the tolerance {tolerance:.3g}")
    print(f"{name}: max |computed − reference| = {residual:.1e} (tolerance {tolerance:.1e}) ✓")


def holds(name: str, condition: bool | torch.Tensor | np.bool_, detail: str = "") -> None:
    """Check that ``condition`` is true (a tensor: every element); print ``name ✓`` or raise :class:`CheckFailed`.

    ``detail`` (the measured values) is printed with the result and included in the error.
    """
    if isinstance(condition, torch.Tensor):
        condition = bool(condition.all())
    elif isinstance(condition, np.ndarray):
        condition = bool(condition.all())
    elif not isinstance(condition, bool | np.bool_):
        raise TypeError(f"condition must be a bool or a boolean tensor, got {type(condition).__name__}")
    suffix = f" ({detail})" if detail else ""
    if not condition:
        raise CheckFailed(f"{name} does not hold{suffix}")
    print(f"{name}{suffix} ✓")
