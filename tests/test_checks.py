"""The chapters' equation checks: they pass on agreement, print the residual, and raise on disagreement."""

import math

import numpy as np
import pytest
import torch

from mrilab.checks import CheckFailed, holds, identity


def test_identity_passes_within_the_relative_tolerance_and_prints_the_residual(capsys):
    reference = torch.tensor([100.0, -50.0], dtype=torch.float64)
    assert identity("scaled", reference + 1e-5, reference, rtol=1e-6) is None  # nothing for a cell to echo
    assert "scaled: max |computed − reference| = 1.0e-05 (tolerance 1.0e-04) ✓" in capsys.readouterr().out


@pytest.mark.parametrize("computed", [torch.tensor([1.0, 2.1]), np.array([1.0, math.nan]), [1.0, 2.0, 3.0]])
def test_identity_raises_on_a_difference_nan_or_shape(computed):
    with pytest.raises(CheckFailed, match="eq. 1"):
        identity("eq. 1", computed, torch.tensor([1.0, 2.0]), rtol=1e-3)


def test_a_given_tolerance_replaces_the_default_relative_one():
    identity("default", 1.0 + 5e-7, 1.0)
    with pytest.raises(CheckFailed):
        identity("absolute only", 1.0 + 5e-7, 1.0, atol=1e-9)  # no hidden rtol = 1e-6 on top of atol


def test_identity_compares_complex_values_and_numbers():
    identity("complex", torch.tensor([1 + 1j]), np.array([1 + 1j]))
    with pytest.raises(CheckFailed):
        identity("complex", torch.tensor([1 + 1j]), torch.tensor([1 - 1j]), atol=1e-3)
    identity("number", 0.1 + 0.2, 0.3, atol=1e-12)


def test_holds_accepts_true_and_raises_with_the_detail():
    holds("bound", torch.tensor([True, True]), "max 0.5")
    with pytest.raises(CheckFailed, match=r"bound does not hold \(max 1.5\)"):
        holds("bound", torch.tensor([True, False]), "max 1.5")
    with pytest.raises(TypeError):
        holds("bound", "yes")
