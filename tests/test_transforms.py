"""The dataset's fastMRI-style transforms: coil compression, estimated sensitivities, normalisation."""

import numpy as np
import pytest
import torch

from mrilab.coils import birdcage_maps, calibration_window, rss
from mrilab.data import SliceDataset, collate, ellipse_phantom
from mrilab.data.transforms import CoilCompress, Compose, EstimateSensitivities, Normalise, as_transform
from mrilab.masks import cartesian_mask
from mrilab.ops import fft2c, ifft2c

SHAPE = (48, 48)


def multicoil_sample(n_coils=8, *, noise=0.0, dtype=torch.complex128, seed=0):
    """A sample of ``n_coils`` birdcage coils seeing a phantom under a Cartesian mask with a 16-line centre."""
    generator = torch.Generator().manual_seed(seed)
    image = ellipse_phantom(SHAPE, seed=seed).to(dtype)
    sens = birdcage_maps(n_coils, SHAPE, dtype=dtype)
    mask = cartesian_mask(SHAPE, 0.5, center_fraction=16 / 48, seed=seed)[None]
    coil_images = sens * image + noise * torch.randn(n_coils, *SHAPE, dtype=dtype, generator=generator)
    return {"kspace": fft2c(coil_images) * mask, "mask": mask, "target": image[None], "sens": sens,
            "reference": 0.5 * image[None].conj(), "ratio": torch.tensor(0.5), "index": 3}


def calibration_energy(kspace, calib):
    rows, columns = calibration_window(*kspace.shape[-2:], calib)
    return kspace[:, rows, columns].abs().pow(2).sum()


# -- composition -----------------------------------------------------------------------------------------------------
def test_dataset_applies_a_transform_or_a_sequence_in_order(smoke_dataset_root):
    smoke = smoke_dataset_root / "smoke"
    calls = []

    def first(sample):
        calls.append("first")
        return {**sample, "kspace": 2 * sample["kspace"]}

    def second(sample):
        calls.append("second")
        return {**sample, "kspace": sample["kspace"] + 1}

    plain = SliceDataset(smoke, "train", "T1w")[(2, 1)]
    composed = SliceDataset(smoke, "train", "T1w", transform=[first, second])[(2, 1)]
    assert calls == ["first", "second"]
    assert torch.equal(composed["kspace"], 2 * plain["kspace"] + 1)  # (2y) + 1, not 2(y + 1)
    assert torch.equal(SliceDataset(smoke, "train", "T1w", transform=first)[(2, 1)]["kspace"], 2 * plain["kspace"])
    assert torch.equal(composed["mask"], plain["mask"]) and composed["index"] == 2
    assert as_transform(None) is None and as_transform(first) is first
    assert isinstance(as_transform((first, second)), Compose)
    with pytest.raises(TypeError, match="transform must be None, a callable"):
        SliceDataset(smoke, "train", "T1w", transform=3)
    with pytest.raises(TypeError, match=r"transforms\[1\] must be a callable"):
        Compose([first, "second"])


# -- coil compression (PC-RNN, Section III-E) --------------------------------------------------------------------------
def test_coil_compression_to_every_coil_is_lossless():
    sample = multicoil_sample(8, noise=0.05)
    compressed = CoilCompress(8, calib=16)(sample)
    assert compressed["kspace"].shape == (8, *SHAPE)
    torch.testing.assert_close(rss(ifft2c(compressed["kspace"]), dim=0), rss(ifft2c(sample["kspace"]), dim=0),
                               rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(rss(compressed["sens"], dim=0), torch.ones(SHAPE, dtype=torch.float64), rtol=1e-10,
                               atol=0)  # a unitary M keeps sum_c |S_c|^2 = 1
    assert torch.equal(compressed["mask"], sample["mask"]) and compressed["target"] is sample["target"]
    assert sample["kspace"].shape == (8, *SHAPE)  # the sample given is left as it was


def test_compressed_calibration_energy_is_the_top_singular_values():
    sample = multicoil_sample(8, noise=0.05)
    rows, columns = calibration_window(*SHAPE, 16)
    calibration = sample["kspace"][:, rows, columns].reshape(8, -1).T  # Y_calib: (n_calib^2, n_c)
    singular = torch.linalg.svdvals(calibration)
    total = calibration_energy(sample["kspace"], 16)
    for n_virtual in (1, 3, 5):
        kept = calibration_energy(CoilCompress(n_virtual, calib=16)(sample)["kspace"], 16)
        torch.testing.assert_close(kept, (singular[:n_virtual] ** 2).sum(), rtol=1e-10, atol=0)
        assert kept < total
    # the first virtual coils hold the most: the last ones of a full compression hold the smallest singular values
    full = CoilCompress(8, calib=16)(sample)["kspace"]
    per_coil = torch.stack([calibration_energy(full[v : v + 1], 16) for v in range(8)])
    torch.testing.assert_close(per_coil, singular**2, rtol=1e-10, atol=1e-12)


def test_compressed_sensitivities_describe_the_compressed_data():
    sample = multicoil_sample(8)  # noise-free: y = M F (S x)
    compressed = CoilCompress(3, calib=16)(sample)
    predicted = sample["mask"] * fft2c(compressed["sens"] * sample["target"])  # M F (S M_c x)
    torch.testing.assert_close(compressed["kspace"], predicted, rtol=1e-10, atol=1e-10)
    assert compressed["sens"].shape == (3, *SHAPE)
    assert float((compressed["sens"].abs() ** 2).sum(0).max()) <= 1 + 1e-12  # a projection of normalised maps
    without = CoilCompress(3, calib=16)({key: value for key, value in sample.items() if key != "sens"})
    assert "sens" not in without and torch.equal(without["kspace"], compressed["kspace"])


def test_coil_compression_on_dataset_samples(smoke_dataset_root):
    dataset = SliceDataset(smoke_dataset_root / "smoke", "train", "T1w", coils=16, mask="equispaced", ratios=0.25,
                           transform=CoilCompress(4, calib=4))
    sample = dataset[0]
    assert sample["kspace"].shape == (4, 64, 64) and sample["sens"].shape == (4, 64, 64)
    assert torch.equal(sample["kspace"] == 0, ~sample["mask"].expand(4, -1, -1))
    with pytest.raises(ValueError, match=r"n_virtual must be an integer in \[1, 16\]"):
        SliceDataset(smoke_dataset_root / "smoke", "train", "T1w", coils=16, transform=CoilCompress(17))[0]
    with pytest.raises(ValueError, match="n_virtual must be a positive integer"):
        CoilCompress(0)
    with pytest.raises(ValueError, match=r"CoilCompress needs sample\['kspace'\] of shape \(coils, H, W\)"):
        CoilCompress(1)({"kspace": torch.zeros(2, 1, 8, 8, dtype=torch.complex64)})


# -- sensitivities from the calibration region ------------------------------------------------------------------------
def test_estimated_sensitivities_replace_the_true_ones():
    sample = multicoil_sample(8)
    estimated = EstimateSensitivities(calib=16)(sample)["sens"]
    torch.testing.assert_close((estimated.abs() ** 2).sum(0), torch.ones(SHAPE, dtype=torch.float64), rtol=1e-10,
                               atol=0)
    # where the object is, smooth birdcage maps are recovered up to the object's phase; the estimate is exact only
    # for data inside the calibration block (tests/test_coils.py), and the phantom's sharp edges are not
    inside = sample["target"][0].abs() > 0.2
    phase = (estimated * sample["sens"].conj()).sum(0)
    assert float((phase.abs() - 1)[inside].abs().max()) < 0.02
    assert float((estimated - phase * sample["sens"])[:, inside].abs().mean()) < 0.03
    # the estimate reads only the measured k-space, whatever maps the sample had
    wrong_maps = {**sample, "sens": torch.ones_like(sample["sens"])}
    assert torch.equal(EstimateSensitivities(calib=16)(wrong_maps)["sens"], estimated)
    with pytest.raises(ValueError, match="calib must be a positive integer"):
        EstimateSensitivities(calib=0)


# -- normalisation by the mean zero-filled magnitude (PC-RNN, Section IV-B) ----------------------------------------
def zero_filled_mean(kspace):
    """NumPy: the mean of |F^H y| (one coil) or of the RSS of the coil images."""
    images = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace.numpy(), axes=(-2, -1)), norm="ortho"),
                             axes=(-2, -1))
    return float(np.sqrt((np.abs(images) ** 2).sum(0)).mean())


@pytest.mark.parametrize("n_coils", [1, 8])
def test_normalisation_divides_by_the_mean_zero_filled_magnitude_and_round_trips(n_coils):
    sample = multicoil_sample(n_coils, noise=0.02, dtype=torch.complex64)
    if n_coils == 1:
        sample = {**sample, "kspace": fft2c(sample["target"]) * sample["mask"]}
    normalised = Normalise()(sample)
    norm = normalised["norm"]
    assert norm.dtype == torch.float32 and norm.ndim == 0
    np.testing.assert_allclose(float(norm), zero_filled_mean(sample["kspace"]), rtol=1e-5)
    np.testing.assert_allclose(zero_filled_mean(normalised["kspace"]), 1.0, rtol=1e-5)
    for key in ("kspace", "target", "reference"):
        torch.testing.assert_close(normalised[key] * norm, sample[key], rtol=1e-6, atol=1e-7)
    for key in ("mask", "sens", "ratio"):
        assert normalised[key] is sample[key]
    torch.testing.assert_close(Normalise.undo(normalised["target"], norm), sample["target"], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="already has a 'norm'"):
        Normalise()(normalised)


def test_normalisation_undone_on_a_batch(smoke_dataset_root):
    dataset = SliceDataset(smoke_dataset_root / "smoke", "val", "T2w", ratios=0.3, transform=Normalise())
    plain = SliceDataset(smoke_dataset_root / "smoke", "val", "T2w", ratios=0.3)
    batch = collate([dataset[0], dataset[1]])
    assert batch["norm"].shape == (2,)
    assert batch["norm"][0] != batch["norm"][1]  # every slice its own factor
    restored = Normalise.undo(batch["target"], batch["norm"])
    torch.testing.assert_close(restored, torch.stack([plain[0]["target"], plain[1]["target"]]), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"norm of shape \(2,\) needs an image \(B, 1, H, W\) with B = 2"):
        Normalise.undo(batch["target"][:1], batch["norm"])
    with pytest.raises(ValueError, match="nothing to scale by"):
        Normalise()({"kspace": torch.zeros(1, 8, 8, dtype=torch.complex64)})
