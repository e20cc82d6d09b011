"""Ghosts of equispaced sampling: with the lines k ≡ k0 (mod R) of the centred k-space sampled,
x_ZF(n) = (1/R) Σ_j exp(+2iπ j (k0 − W/2)/R) x(n − jW/R), the copies being ``torch.roll(x, j * W // R)``."""

import cmath

import pytest
import torch

from mrilab.masks import cartesian_mask
from mrilab.ops import MRIOperator, fft2c, ifft2c

H, W = 12, 32


def image(seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(2, 1, H, W, dtype=torch.complex128, generator=generator)


def ghosts(x, k0, acceleration, *, phases=True):
    width = x.shape[-1]
    total = torch.zeros_like(x)
    for j in range(acceleration):
        phase = cmath.exp(2j * cmath.pi * j * (k0 - width // 2) / acceleration) if phases else 1.0
        total = total + phase * torch.roll(x, j * width // acceleration, dims=-1)
    return total / acceleration


def comb(k0, acceleration, shape=(H, W)):
    lines = torch.zeros(shape[-1], dtype=torch.bool)
    lines[k0 :: acceleration] = True
    return lines.expand(shape).clone()


@pytest.mark.parametrize("acceleration", [2, 4])
def test_formula_for_every_offset(acceleration):
    for k0 in range(acceleration):
        mask = comb(k0, acceleration)
        op = MRIOperator(mask)
        for seed in range(3):
            x = image(seed)
            assert torch.allclose(op.adjoint(op.forward(x)), ghosts(x, k0, acceleration), atol=1e-12)
            assert torch.allclose(ifft2c(mask * fft2c(x)), ghosts(x, k0, acceleration), atol=1e-12)


@pytest.mark.parametrize("acceleration", [2, 4])
def test_formula_for_seeded_equispaced_masks(acceleration):
    offsets = set()
    for seed in range(6):
        mask = cartesian_mask((H, W), 1 / acceleration, pattern="equispaced", center_fraction=0, seed=seed)
        columns = mask[0].nonzero().flatten()
        k0 = int(columns[0])
        assert torch.equal(columns, torch.arange(k0, W, acceleration))
        offsets.add(k0)
        op = MRIOperator(mask)
        x = image(seed)
        assert torch.allclose(op.adjoint(op.forward(x)), ghosts(x, k0, acceleration), atol=1e-12)
    assert len(offsets) > 1


def test_phases_matter_unless_the_centre_is_sampled():
    x = image(0)
    for k0 in range(4):
        op = MRIOperator(comb(k0, 4))
        without_phases = torch.allclose(op.adjoint(op.forward(x)), ghosts(x, k0, 4, phases=False), atol=1e-12)
        assert without_phases == (k0 % 4 == (W // 2) % 4)
        conjugate = ghosts(x.conj(), k0, 4).conj()  # the opposite phase sign
        assert torch.allclose(op.adjoint(op.forward(x)), conjugate, atol=1e-12) == (k0 % 2 == (W // 2) % 2)
