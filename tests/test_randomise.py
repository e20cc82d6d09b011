"""Domain randomisation (mrilab.data.randomise): the signal equations, each shift, the draws and their ranges."""

import math

import numpy as np
import pytest

from mrilab.data import brain, randomise
from mrilab.data.randomise import SHIFTS, DomainRandomisation, signal, synthesize_randomised_slice

CSF, FAT = brain.TISSUES["csf"], brain.TISSUES["fat"]


def test_the_signal_equations():
    wm = brain.TISSUES["wm"]
    assert signal("spin_echo", 0.7, wm.t1, wm.t2, tr=500, te=15) == pytest.approx(
        0.7 * (1 - math.exp(-500 / wm.t1)) * math.exp(-15 / wm.t2))
    assert signal("gradient_echo", 0.7, wm.t1, wm.t2, tr=500, te=15, t2star_factor=0.5) == pytest.approx(
        0.7 * (1 - math.exp(-500 / wm.t1)) * math.exp(-15 / (0.5 * wm.t2)))
    # inversion recovery: |1 − 2 e^{−TI/T1} + e^{−TR/T1}|; at TR → ∞ and TI = T1 ln 2 the tissue is nulled
    assert signal("inversion_recovery", 1.0, CSF.t1, CSF.t2, tr=1e9, te=0.0, ti=CSF.t1 * math.log(2)) == pytest.approx(
        0.0, abs=1e-12)
    assert signal("inversion_recovery", 1.0, 1000.0, 100.0, tr=3000, te=10, ti=200) == pytest.approx(
        abs(1 - 2 * math.exp(-0.2) + math.exp(-3)) * math.exp(-0.1))
    with pytest.raises(ValueError, match="sequence must be one of"):
        signal("steady_state", 1.0, 1.0, 1.0, tr=1, te=1)


def draw(shift: DomainRandomisation, seed: int = 0, size: int = 64):
    return synthesize_randomised_slice(95, size, np.random.default_rng(seed), shift)


def test_no_scalp_leaves_only_the_brain():
    plain, _ = draw(SHIFTS["low SNR"])  # the default head, for the same geometry draws
    stripped, drawn = draw(SHIFTS["no scalp"])
    assert drawn["no_scalp"] and not drawn["fat_suppressed"]
    head = np.abs(plain.clean) > 0.05 * np.abs(plain.clean).max()
    brain_only = np.abs(stripped.clean) > 0.05 * np.abs(stripped.clean).max()
    assert brain_only.sum() < 0.85 * head.sum() and not (brain_only & ~head).any()


def test_fat_suppression_darkens_the_scalp_and_flair_darkens_csf():
    plain, _ = draw(SHIFTS["low SNR"])  # the same geometry: it is drawn first, whatever the shift
    fatsat, drawn = draw(SHIFTS["fat suppressed"])
    stripped, _ = draw(SHIFTS["no scalp"])
    assert drawn["fat_suppressed"]
    head = np.abs(plain.clean) > 0.05 * np.abs(plain.clean).max()
    inside = np.abs(stripped.clean) > 0.05 * np.abs(stripped.clean).max()
    scalp = head & ~inside

    def scalp_to_brain(image):
        return np.abs(image.clean)[scalp].mean() / np.abs(image.clean)[inside].mean()

    assert scalp_to_brain(fatsat) < 0.8 * scalp_to_brain(plain)
    flair, drawn = draw(SHIFTS["FLAIR-like"])
    assert drawn["sequence"] == "inversion_recovery"
    ti = SHIFTS["FLAIR-like"].ti_ms[0]
    assert signal("inversion_recovery", CSF.pd, CSF.t1, CSF.t2, tr=9000, te=90, ti=ti) == pytest.approx(0, abs=1e-9)
    assert signal("inversion_recovery", 0.69, 832.0, 80.0, tr=9000, te=90, ti=ti) > 0.1  # white matter is not


def test_every_shift_applies_its_one_departure():
    for name, shift in SHIFTS.items():
        image, drawn = draw(shift)
        assert image.clean.shape == (64, 64) and np.isfinite(image.noisy).all(), name
        assert (drawn["shapes"] > 0) == (name == "textured shapes")
        assert drawn["snr"] == pytest.approx(15.0 if name == "low SNR" else 40.0)
        assert drawn["sequence"] == {"FLAIR-like": "inversion_recovery", "T2*-like": "gradient_echo"}.get(
            name, "spin_echo")


def test_draws_are_seeded_and_within_their_ranges():
    a, drawn_a = draw(DomainRandomisation(), seed=3)
    b, drawn_b = draw(DomainRandomisation(), seed=3)
    assert np.array_equal(a.noisy, b.noisy) and drawn_a == drawn_b
    r = DomainRandomisation()
    draws = [draw(r, seed=s, size=32)[1] for s in range(12)]
    assert {d["sequence"] for d in draws} == set(randomise.SEQUENCES)
    for d in draws:
        assert r.tr_ms[0] <= d["tr"] <= r.tr_ms[1] and r.te_ms[0] <= d["te"] <= r.te_ms[1]
        assert r.snr[0] <= d["snr"] <= r.snr[1] and r.gamma[0] <= d["gamma"] <= r.gamma[1]
        assert not (d["no_scalp"] and d["fat_suppressed"])


def test_noise_is_at_the_drawn_snr():
    image, drawn = draw(SHIFTS["low SNR"], size=128)
    magnitude = np.abs(image.clean)
    inside = magnitude > 0.05 * magnitude.max()
    assert image.noise_std == pytest.approx(magnitude[inside].mean() / drawn["snr"], rel=1e-5)
    assert np.sqrt(np.mean(np.abs(image.noisy - image.clean) ** 2)) == pytest.approx(image.noise_std, rel=0.05)


def test_zoom_in_magnifies_a_window_inside_the_image_around_tissue():
    grid = 65
    ramp = np.tile(np.arange(grid, dtype=float), (grid, 1))  # value = column index: slopes measure magnification
    out = randomise.zoom_in(ramp + 1.0, np.random.default_rng(0), 2.0)
    assert out.shape == ramp.shape
    assert np.allclose(np.diff(out, axis=1), 0.5) and np.allclose(np.diff(out, axis=0), 0.0)  # 2× magnified
    assert out.min() >= 1.0 - 1e-12 and out.max() <= grid + 1e-12  # the window stays inside: no edge padding
    spot = np.zeros((grid, grid))
    spot[10:14, 50:54] = 1.0  # the only tissue: the window must be centred on it (clamped to the image)
    out = randomise.zoom_in(spot, np.random.default_rng(1), 3.0)
    assert out.sum() > 9 * 0.5 * spot.sum()  # a tissue patch magnified 3×: about 9× its area
    assert np.allclose(randomise.zoom_in(ramp, np.random.default_rng(2), 1.0), ramp)
    with pytest.raises(ValueError, match="zoom must be >= 1"):
        randomise.zoom_in(ramp, np.random.default_rng(0), 0.5)
    with pytest.raises(ValueError, match="square 2-D image"):
        randomise.zoom_in(ramp[:, :10], np.random.default_rng(0), 2.0)
    with pytest.raises(ValueError, match="some positive signal"):
        randomise.zoom_in(np.zeros((8, 8)), np.random.default_rng(0), 2.0)
    with pytest.raises(ValueError, match="finite"):
        randomise.zoom_in(np.full((8, 8), np.nan), np.random.default_rng(0), 2.0)


def test_zoomed_slices_fill_the_field_of_view_and_p_zoom_zero_draws_nothing():
    whole, _ = draw(SHIFTS["low SNR"], size=64)
    zoomed, drawn = draw(randomise.ZOOMED, size=64)
    assert randomise.ZOOMED.zoom[0] <= drawn["zoom"] <= randomise.ZOOMED.zoom[1]

    def filled(image):
        magnitude = np.abs(image.clean)
        return (magnitude > 0.05 * magnitude.max()).mean()

    assert filled(zoomed) > filled(whole) + 0.1
    # p_zoom = 0 takes no draw, so the default randomisation's slices (broad.h5) are those of a build without zoom;
    # any p_zoom > 0 takes one more uniform draw, even when it does not zoom
    class Counting(np.random.Generator):
        def random(self, *args, **kwargs):
            self.calls = getattr(self, "calls", 0) + 1
            return super().random(*args, **kwargs)

    counts = {}
    for p_zoom in (0.0, 1e-12):
        rng = Counting(np.random.PCG64(5))
        _, drawn = synthesize_randomised_slice(95, 32, rng, DomainRandomisation(p_zoom=p_zoom))
        counts[p_zoom] = rng.calls
        assert drawn["zoom"] == 1.0
    assert counts[1e-12] == counts[0.0] + 1


@pytest.mark.parametrize("bad, match", [({"p_no_scalp": 1.5}, "p_no_scalp"), ({"snr": (0.0, 10.0)}, "snr"),
                                        ({"sequences": (0.0, 0.0, 0.0)}, "sequences"),
                                        ({"tr_ms": (600.0, 300.0)}, "tr_ms"), ({"p_zoom": -0.1}, "p_zoom"),
                                        ({"zoom": (0.5, 2.0)}, "zoom")])
def test_bad_settings_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        DomainRandomisation(**bad)


def test_every_build_has_broad_and_shifted_files_of_the_splits_planes(smoke_dataset_root):
    import h5py

    from mrilab.data import SliceDataset
    from mrilab.data.build import RANDOMISED_FILES

    root = smoke_dataset_root / "smoke"
    for name, splits in RANDOMISED_FILES.items():
        for split in splits:
            dataset = SliceDataset(root, split, name, mask="cartesian", ratios=(0.3,))
            contrast = SliceDataset(root, split, "T1w", mask="cartesian", ratios=(0.3,))
            assert np.array_equal(dataset.slice_positions, contrast.slice_positions), (split, name)
            assert not np.allclose(dataset[0]["target"].abs(), contrast[0]["target"].abs())
            with h5py.File(dataset.path) as f:
                if name == "shifted":
                    shifts = [s.decode() for s in f["slice_shifts"][()]]
                    assert shifts == [list(SHIFTS)[i % len(SHIFTS)] for i in range(len(shifts))]
