import numpy as np
import pytest
import torch

from mrilab.coils import (
    BIRDCAGE,
    CoilGeometry,
    birdcage_maps,
    calibration_window,
    coil_compress,
    coil_positions,
    estimate_sensitivities,
    random_coil_maps,
    rss,
)
from mrilab.masks import cartesian_mask
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


# -- per-slice random coil arrays -----------------------------------------------------------------------------------
def test_random_coil_maps_are_normalised_reproducible_and_vary():
    maps = random_coil_maps(8, (48, 64), np.random.default_rng(5))
    assert maps.shape == (8, 48, 64) and maps.dtype == torch.complex64
    assert torch.allclose((maps.abs() ** 2).sum(0), torch.ones(48, 64), atol=1e-5)
    assert torch.equal(maps, random_coil_maps(8, (48, 64), np.random.default_rng(5)))
    assert (maps - random_coil_maps(8, (48, 64), np.random.default_rng(6))).abs().max() > 0.3
    # the fixed birdcage is the special case with every width zero
    for n_coils in (1, 5, 16):
        assert torch.equal(random_coil_maps(n_coils, (32, 32), np.random.default_rng(1), BIRDCAGE),
                           birdcage_maps(n_coils, (32, 32)))


def test_random_coil_maps_put_each_coil_where_it_was_drawn():
    positions = coil_positions(6, np.random.default_rng(2))
    maps = random_coil_maps(6, (129, 129), np.random.default_rng(2)).abs()
    axis = (torch.arange(129) - 64.5) / 64.5
    for (x, y, _), coil in zip(positions, maps, strict=True):
        row, column = divmod(int(coil.flatten().argmax()), 129)
        # the map peaks on the border of the field of view, on the side of its coil
        direction = np.array([x, y]) / np.hypot(x, y)
        peak = np.array([float(axis[column]), float(axis[row])])
        assert np.dot(peak / np.linalg.norm(peak), direction) > 0.9


def test_coil_positions_follow_the_geometry():
    geometry = CoilGeometry()
    n_coils, draws = 8, [coil_positions(8, np.random.default_rng(seed), geometry) for seed in range(400)]
    spacing = 2 * np.pi / n_coils
    low = geometry.radius[0] * (1 - geometry.distance_jitter) - np.sqrt(2) * geometry.offset
    high = geometry.radius[1] * (1 + geometry.distance_jitter) + np.sqrt(2) * geometry.offset
    first_angles = []
    for positions in draws:
        x, y, theta = positions.T
        seen_from_centre = np.angle(np.exp(1j * (np.arctan2(y, x) - theta)))
        assert np.all(np.abs(seen_from_centre) < 0.1)  # the ring's centre is at most 0.1 * sqrt(2) off
        distance = np.hypot(x, y)
        assert np.all(distance > low) and np.all(distance < high) and low > 1  # every coil outside the head
        steps = np.diff(theta)  # neighbours keep their order, spaced by (1 +- 2 angle_jitter) of the even spacing
        assert np.all(steps > (1 - 2 * geometry.angle_jitter) * spacing)
        assert np.all(steps < (1 + 2 * geometry.angle_jitter) * spacing)
        first_angles.append(theta[0])
    # the rotation turns the ring to any orientation: coil 0 is found all round the head
    quarters = np.histogram(np.mod(first_angles, 2 * np.pi), bins=4, range=(0, 2 * np.pi))[0]
    assert quarters.min() > 60
    radii = [np.hypot(*p[:, :2].T).mean() for p in draws]
    assert np.ptp(radii) > 0.6 * (geometry.radius[1] - geometry.radius[0])  # the ring's radius varies


def test_coil_geometry_rejects_coils_inside_the_head():
    with pytest.raises(ValueError, match="outside the unit circle"):
        CoilGeometry(radius=(1.1, 1.5), distance_jitter=0.1, offset=0.0)
    with pytest.raises(ValueError, match="angle_jitter must be below 0.5"):
        CoilGeometry(angle_jitter=0.5)
    with pytest.raises(ValueError, match="radius must be a pair"):
        CoilGeometry(radius=(1.8, 1.4))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        random_coil_maps(4, (8, 8), 0)


# -- sensitivities estimated from the calibration region ------------------------------------------------------------
def band_limited_coil_images(n_coils, shape, band, seed):
    """Coil images whose k-space is zero outside the central ``band x band`` block, and a per-pixel phase."""
    generator = torch.Generator().manual_seed(seed)
    kspace = torch.zeros(n_coils, *shape, dtype=torch.complex128)
    rows, columns = calibration_window(*shape, band)
    kspace[:, rows, columns] = torch.randn(n_coils, band, band, dtype=torch.complex128, generator=generator)
    return ifft2c(kspace)


def test_estimated_sensitivities_are_normalised_and_recover_smooth_maps_up_to_a_phase():
    # coil images x_c = S_c x with sum_c |S_c|^2 = 1: S_c = x_c / rss(x) times any per-pixel phase of the object
    coil_images = band_limited_coil_images(6, (40, 48), band=7, seed=3)
    object_phase = torch.polar(torch.ones(40, 48, dtype=torch.float64),
                               torch.linspace(-3, 3, 48, dtype=torch.float64).expand(40, 48))
    true_maps = coil_images / rss(coil_images, dim=0) * object_phase.conj()
    for calib in (7, 8, 12):  # any calibration block that holds the data's band
        estimated = estimate_sensitivities(coil_images, calib)
        assert torch.allclose((estimated.abs() ** 2).sum(0), torch.ones(40, 48, dtype=torch.float64), atol=1e-12)
        phase = (estimated * true_maps.conj()).sum(0)  # unit-modulus exactly when estimated = phase * true maps
        assert torch.allclose(estimated, phase * true_maps, atol=1e-10)
        assert torch.allclose(phase, object_phase, atol=1e-10)
    # a block that cuts into the band only approximates the maps, and batched input gives the same maps per sample
    assert not torch.allclose(estimate_sensitivities(coil_images, 5), estimate_sensitivities(coil_images, 7),
                              atol=1e-3)
    batch = torch.stack([coil_images, 2 * coil_images.roll(1, dims=0)])
    batched = estimate_sensitivities(batch, 7)
    assert torch.allclose(batched[0], estimate_sensitivities(coil_images, 7), atol=1e-12)
    assert torch.allclose(batched[1], estimate_sensitivities(coil_images, 7).roll(1, dims=0), atol=1e-12)
    with pytest.raises(ValueError, match=r"calib must be an integer in \[1, 40\]"):
        estimate_sensitivities(coil_images, 41)


def test_calibration_window_is_the_centre_band_a_cartesian_mask_samples():
    for size, calib in ((64, 24), (64, 7), (33, 8), (33, 9)):
        rows, columns = calibration_window(size, size, calib)
        centre_only = cartesian_mask((size, size), calib / size, center_fraction=calib / size)
        assert np.flatnonzero(centre_only[0].numpy()).tolist() == list(range(size))[columns]
        assert rows == columns
