"""The real-scan test set (mrilab.data.real): the sources, their preparation and the draws."""

import numpy as np
import pytest

from mrilab.data import real


@pytest.fixture(scope="module")
def demo_slices():
    return real.real_slices(64, snr=40.0)


def test_every_source_loads_real_anatomy_of_the_documented_size():
    shapes = {s.name: real.load_magnitudes(s)[0].shape for s in real.REAL_SOURCES}
    assert shapes == {"brain-epi": (96, 128), "abdomen-vibe": (484, 484), "shoulder-t1": (1024, 1024),
                      "cortex-t1": (64, 64), "mr-small": (64, 64)}
    for source in real.REAL_SOURCES:
        for plane in real.load_magnitudes(source):
            assert plane.min() >= 0 and plane.std() > 0.05 * plane.max(), source.name  # not blank, not constant


def test_images_that_need_more_than_twice_their_matrix_are_left_out():
    assert {s.name for s in real.REAL_SOURCES if real.usable(s, 128)} == {s.name for s in real.REAL_SOURCES}
    assert {s.name for s in real.REAL_SOURCES if real.usable(s, 256)} == {"brain-epi", "abdomen-vibe", "shoulder-t1"}
    assert {x.source for x in real.real_slices(256, snr=40.0)} == {"brain-epi", "abdomen-vibe", "shoulder-t1"}


def test_to_square_pads_centred_resamples_and_sets_the_99th_percentile_to_one():
    image = np.zeros((4, 8))
    image[1:3, 2:6] = 5.0
    out = real.to_square(image, 8)  # padded to 8 × 8: two zero rows above and below
    assert out.shape == (8, 8)
    assert np.allclose(out[:3], 0) and np.allclose(out[5:], 0) and np.allclose(out[3:5, 2:6], 1)
    assert np.percentile(out, 99) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no signal"):
        real.to_square(np.zeros((4, 4)), 8)


def test_slices_carry_a_smooth_phase_noise_at_the_snr_and_their_origin(demo_slices):
    assert len(demo_slices) == sum(len(s.frames) for s in real.REAL_SOURCES)
    for x in demo_slices:
        magnitude = np.abs(x.clean)
        assert x.clean.shape == (64, 64) and x.clean.dtype == np.complex64
        assert np.percentile(magnitude, 99) == pytest.approx(1.0, rel=1e-5)
        inside = magnitude > 0.05 * magnitude.max()
        assert x.noise_std == pytest.approx(magnitude[inside].mean() / 40.0, rel=1e-5)
        noise = x.noisy - x.clean
        assert np.sqrt(np.mean(np.abs(noise) ** 2)) == pytest.approx(x.noise_std, rel=0.1)
        phase = np.angle(x.clean[inside])
        assert np.ptp(np.unwrap(phase)) > 0.1  # a phase was applied, not a real-valued image
    epi = [x for x in demo_slices if x.source == "brain-epi"]
    assert [x.position_mm for x in epi] == [9, 18, 26, 35, 44]  # ≥ 8 mm apart: one block each


def test_the_draws_are_seeded():
    a, b = real.real_slices(32, snr=20.0, seed=3), real.real_slices(32, snr=20.0, seed=3)
    assert all(np.array_equal(x.noisy, y.noisy) for x, y in zip(a, b, strict=True))
    c = real.real_slices(32, snr=20.0, seed=4)
    assert not np.array_equal(a[0].noisy, c[0].noisy)
    assert np.allclose(np.abs(a[0].clean), np.abs(c[0].clean), rtol=1e-6, atol=1e-7)  # the same magnitude


def test_a_missing_wheel_names_the_package_to_install():
    source = real.RealSource("x", "no_such_package_here", "x.dcm", "", "")
    with pytest.raises(ModuleNotFoundError, match="pip install no_such_package_here"):
        real.source_path(source)
    with pytest.raises(ValueError, match="size"):
        real.real_slices(4, snr=40.0)
    with pytest.raises(ValueError, match="snr"):
        real.real_slices(32, snr=0.0)


def test_every_build_has_the_real_split_with_blocks_per_source(smoke_dataset_root):
    from mrilab.data import REAL_SPLIT, SliceDataset

    dataset = SliceDataset(smoke_dataset_root / "smoke", REAL_SPLIT, REAL_SPLIT, mask="cartesian", ratios=(0.3,))
    slices = real.real_slices(64, snr=40.0)
    assert dataset.n_slices == len(slices)
    assert list(dataset.slice_orientations) == [s.source for s in slices]
    blocks = [dataset.block_label(i) for i in range(dataset.n_slices)]
    assert len(set(blocks)) == len(slices) - 1  # the two adjacent cortex frames share a block
    sample = dataset[0]
    assert np.allclose(sample["target"].numpy(), slices[0].clean, atol=1e-6)
    with pytest.raises(ValueError, match="split must be one of"):
        SliceDataset(smoke_dataset_root / "smoke", "reel", REAL_SPLIT)
