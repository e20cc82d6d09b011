"""The PC-RNN chapter's baselines: fastMRI's U-Net and D5C5 (mrilab.models.unet, mrilab.models.d5c5)."""

import pytest
import torch

from mrilab.coils import rss
from mrilab.masks import cartesian_mask
from mrilab.models.d5c5 import D5C5
from mrilab.models.unet import UNet
from mrilab.ops import fft2c, ifft2c


def coil_data(coils: int = 2, size: int = 32, batch: int = 2):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, coils, size, size, dtype=torch.complex64, generator=generator)
    mask = cartesian_mask((size, size), 0.3, seed=0)
    return fft2c(images) * mask, mask


def test_the_unet_has_the_fastmri_baseline_layers_and_parameter_count():
    def conv_block(a, b):  # two 3x3 convolutions without bias, each with an affine-free instance norm
        return a * b * 9 + b * b * 9

    chans, levels = 32, 4
    expected, width, widths = conv_block(1, chans), chans, [chans]
    for _ in range(levels - 1):
        expected += conv_block(width, 2 * width)
        width *= 2
        widths.append(width)
    expected += conv_block(width, 2 * width)
    for width in reversed(widths):
        expected += 2 * width * width * 4 + conv_block(2 * width, width)  # 2x2 transposed convolution, merge
    expected += chans + 1  # the last 1x1 convolution
    assert sum(p.numel() for p in UNet().parameters()) == expected


def test_the_unet_sees_the_zero_filled_magnitude_and_returns_a_magnitude():
    torch.manual_seed(0)
    model = UNet(channels=4, levels=2).eval()
    kspace, mask = coil_data()
    with torch.no_grad():
        image, stages = model(kspace, mask, return_stages=True)
    assert image.shape == (2, 1, 32, 32) and not image.is_complex()
    assert torch.allclose(stages[0]["x"][:, 0], rss(ifft2c(kspace)), rtol=1e-5)
    with pytest.raises(ValueError, match="H and W divisible by 4"):
        model(kspace[..., :30, :30], mask[:30, :30])
    with pytest.raises(ValueError, match="needs reference"):
        UNet(channels=4, levels=2, reference_input=True)(kspace, mask)
    reference = torch.randn(2, 1, 32, 32, dtype=torch.complex64)
    two_inputs = UNet(channels=4, levels=2, reference_input=True).eval()
    with torch.no_grad():  # the reference's own units do not matter (the contract divides them out), its image does
        assert torch.allclose(two_inputs(kspace, mask, reference=reference),
                              two_inputs(kspace, mask, reference=2 * reference), rtol=1e-4, atol=1e-6)
        assert not torch.allclose(two_inputs(kspace, mask, reference=reference),
                                  two_inputs(kspace, mask, reference=reference.flip(-1)))


def test_d5c5_starts_as_zero_filling_and_keeps_the_measured_k_space_after_every_cascade():
    model = D5C5(coils=2, cascades=3, depth=3, features=8).eval()
    kspace, mask = coil_data()
    with torch.no_grad():
        for cnn in model.cascade:
            cnn[-1].weight.zero_()
            cnn[-1].bias.zero_()
        image, stages = model(kspace, mask, return_stages=True)
    assert torch.allclose(image[:, 0], rss(ifft2c(kspace)), rtol=1e-5)  # residual CNNs at zero: x_i = x_0
    torch.manual_seed(0)
    model = D5C5(coils=2, cascades=3, depth=3, features=8).eval()
    with torch.no_grad():
        image, stages = model(kspace, mask, return_stages=True)
    assert len(stages) == 3
    for stage in stages:
        assert torch.allclose(fft2c(stage["coils"]) * mask, kspace, atol=1e-5)
    assert not torch.allclose(image[:, 0], rss(ifft2c(kspace)), rtol=1e-3)


@pytest.mark.parametrize(("cls", "options", "message"), [
    (UNet, {"channels": 0}, "channels must be a positive integer"),
    (UNet, {"levels": 0}, "levels must be a positive integer"),
    (UNet, {"dropout": 1.0}, "dropout must be in"),
    (D5C5, {"depth": 1}, "depth must be an integer >= 2"),
    (D5C5, {"coils": 0}, "coils must be an integer >= 1"),
])
def test_bad_configurations_are_refused(cls, options, message):
    with pytest.raises(ValueError, match=message):
        cls(**options)


def test_the_unet_ignores_sensitivity_maps_it_was_not_trained_with():
    from mrilab.coils import birdcage_maps

    torch.manual_seed(0)
    model = UNet(channels=4, levels=2).eval()
    mask = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    mask[..., ::2] = True
    kspace = torch.randn(1, 4, 16, 16, dtype=torch.complex64) * mask
    sens = birdcage_maps(4, (16, 16)).unsqueeze(0)
    with torch.no_grad():
        assert torch.equal(model(kspace, mask), model(kspace, mask, sens=sens))
