import pytest
import torch

from mrilab.coils import birdcage_maps
from mrilab.masks import cartesian_mask, random2d_mask
from mrilab.ops import (
    MRIOperator,
    batch_to_complex,
    channels_to_complex,
    complex_to_batch,
    complex_to_channels,
    fft2c,
    ifft2c,
)

from .adjoint import assert_adjoint
from .conftest import random_complex


def inner(a, b):
    return (a.conj() * b).sum()


def test_fft_parseval_and_inverse():
    x = random_complex(3, 2, 32, 48, dtype=torch.complex128)
    k = fft2c(x)
    assert torch.allclose(k.norm(), x.norm())
    assert torch.allclose(ifft2c(k), x)
    assert torch.allclose(fft2c(ifft2c(x)), x)


@pytest.mark.parametrize("shape", [(32, 32), (31, 33)])
def test_fft_of_centred_delta_is_flat(shape):
    x = torch.zeros(shape, dtype=torch.complex128)
    x[shape[0] // 2, shape[1] // 2] = 1
    k = fft2c(x)
    flat = torch.full(shape, 1 / (shape[0] * shape[1]) ** 0.5, dtype=torch.float64)
    assert torch.allclose(k.real, flat)
    assert torch.allclose(k.imag, torch.zeros(shape, dtype=torch.float64), atol=1e-12)


def test_complex_channels_round_trip():
    x = random_complex(2, 3, 8, 8)
    real = complex_to_channels(x)
    assert real.shape == (2, 6, 8, 8) and not real.is_complex()
    assert torch.equal(channels_to_complex(real), x)


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("to_real, to_complex", [(complex_to_channels, channels_to_complex),
                                                  (complex_to_batch, batch_to_complex)])
def test_half_precision_channels_become_complex64(half, to_real, to_complex):
    # a convolution's output under autocast is half precision; the image made of it must be complex64
    real = to_real(random_complex(2, 1, 8, 8)).to(half)
    image = to_complex(real)
    assert image.dtype == torch.complex64
    assert torch.equal(image, to_complex(real.float()))


#: The operator's modes: (maps' coils or None, coil images without maps): single-coil, coil by coil, SENSE.
MODES = {"single coil": (None, 1), "coil by coil": (None, 4), "SENSE": (4, 1)}


def operator(mode, mask, dtype=torch.complex64):
    """The operator of ``mode`` and the shapes' coil counts: (op, image coils, k-space coils)."""
    maps, coils = MODES[mode]
    if maps is None:
        return MRIOperator(mask), coils, coils
    return MRIOperator(mask, birdcage_maps(maps, tuple(mask.shape[-2:]), dtype=dtype)), 1, maps


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batched_mask", [False, True])
@pytest.mark.parametrize("override", [False, True])
def test_adjointness(mode, batched_mask, override):
    """<A x, y> = <x, A^H y> in every mode, for a shared and a per-sample mask, and with the mask given per call
    (to an operator built with another mask)."""
    shape = (32, 40)
    mask = cartesian_mask(shape, 0.3, seed=3)
    if batched_mask:
        mask = torch.stack([cartesian_mask(shape, 0.3, seed=s) for s in range(2)])[:, None]
    built_with = cartesian_mask(shape, 0.5, seed=9) if override else mask
    op, image_coils, kspace_coils = operator(mode, built_with, dtype=torch.complex128)
    call = {"mask": mask} if override else {}
    assert_adjoint(lambda x: op.forward(x, **call), lambda y: op.adjoint(y, **call), (2, image_coils, *shape),
                   (2, kspace_coils, *shape))


def test_normal_operator_is_projection_single_coil():
    mask = random2d_mask((32, 32), 0.3, seed=1)
    op = MRIOperator(mask)
    x = random_complex(1, 1, 32, 32)
    assert torch.allclose(op.normal(op.normal(x)), op.normal(x), atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_hard_dc_keeps_measured_kspace(mode):
    shape = (32, 32)
    mask = cartesian_mask(shape, 0.25, seed=0)
    op, image_coils, _ = operator(mode, mask)
    truth = random_complex(2, image_coils, *shape)
    y = op.forward(truth)
    start = random_complex(2, image_coils, *shape)
    x = op.hard_dc(start, y)
    assert torch.allclose(op.hard_dc(truth, y), truth, atol=1e-5)
    if op.sens is None:  # coil by coil: every coil's sampled k-space is y, its unsampled k-space that of start
        assert torch.allclose(op.forward(x), y, atol=1e-5)
        assert torch.allclose(fft2c(x) * ~mask, fft2c(start) * ~mask, atol=1e-5)
    else:
        assert (op.forward(x) - y).norm() < 0.5 * (op.forward(start) - y).norm()


@pytest.mark.parametrize("mode", MODES)
def test_soft_dc_is_the_minimiser(mode):
    shape = (24, 24)
    mask = cartesian_mask(shape, 0.4, seed=2)
    op, image_coils, _ = operator(mode, mask, dtype=torch.complex128)
    z = random_complex(2, image_coils, *shape, dtype=torch.complex128)
    y = op.forward(random_complex(2, image_coils, *shape, dtype=torch.complex128))
    rho = torch.tensor([0.3, 2.0], dtype=torch.float64).view(2, 1, 1, 1)
    x = op.soft_dc(z, y, rho, cg_iterations=100).detach().requires_grad_(True)
    objective = ((op.forward(x) - y).abs() ** 2).sum() + (rho * (x - z).abs() ** 2).sum()
    (grad,) = torch.autograd.grad(objective, x)
    rhs = op.adjoint(y) + rho * z  # the gradient is 2 (A^H A + rho I) x - 2 rhs: small relative to rhs
    assert grad.abs().max() < 1e-6 * rhs.abs().max()
    # closed form: large rho returns z, vanishing rho returns data consistency
    assert torch.allclose(op.soft_dc(z, y, 1e9), z, atol=1e-6)


def test_operator_is_differentiable():
    mask = cartesian_mask((16, 16), 0.5)
    op = MRIOperator(mask)
    x = random_complex(1, 1, 16, 16).requires_grad_(True)
    op.adjoint(op.forward(x)).abs().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
