import torch

from mrilab.coils import birdcage_maps, coil_compress, rss
from mrilab.ops import fft2c, ifft2c

from .conftest import random_complex


def test_birdcage_maps_are_normalised_and_distinct():
    maps = birdcage_maps(8, (48, 64))
    assert maps.shape == (8, 48, 64) and maps.dtype == torch.complex64
    assert torch.allclose((maps.abs() ** 2).sum(0), torch.ones(48, 64), atol=1e-5)
    # each coil is most sensitive near its own position on the circle
    peaks = [int(m.abs().flatten().argmax()) for m in maps]
    assert len(set(peaks)) == 8


def test_rss_of_coil_images_is_object_magnitude():
    x = random_complex(2, 1, 32, 32)
    coil_images = x * birdcage_maps(4, (32, 32))
    assert torch.allclose(rss(coil_images, dim=1), x[:, 0].abs(), atol=1e-5)
    assert torch.allclose(rss(torch.tensor([[3.0], [4.0]]), dim=0), torch.tensor([5.0]))


def test_coil_compression_keeps_all_energy_of_rank_r_data():
    n_coils, rank, shape = 12, 3, (40, 40)
    sources = fft2c(random_complex(rank, *shape, dtype=torch.complex128))
    mixing = random_complex(n_coils, rank, dtype=torch.complex128)
    kspace = torch.einsum("cr,rhw->chw", mixing, sources)
    compressed, matrix = coil_compress(kspace, rank, calib=16, return_matrix=True)
    assert compressed.shape == (rank, *shape)
    assert torch.allclose(compressed.norm(), kspace.norm())
    assert torch.allclose(matrix.mH @ matrix, torch.eye(rank, dtype=matrix.dtype), atol=1e-10)
    # fewer virtual coils lose energy
    assert coil_compress(kspace, rank - 1, calib=16).norm() < 0.999 * kspace.norm()


def test_coil_compression_batched_and_image_rss_close():
    maps = birdcage_maps(16, (64, 64))
    image = torch.zeros(64, 64, dtype=torch.complex64)
    image[16:48, 20:44] = 1
    kspace = fft2c(image * maps)[None].repeat(2, 1, 1, 1)
    compressed = coil_compress(kspace, 8)
    assert compressed.shape == (2, 8, 64, 64)
    full, virtual = rss(ifft2c(kspace)), rss(ifft2c(compressed))
    assert ((full - virtual).norm() / full.norm()) < 0.05
