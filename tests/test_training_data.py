"""The training distribution: mixtures of training files, the shifted sets' names, the twins, the committed choice."""

import json

import numpy as np
import pytest
import torch

from mrilab import selection
from mrilab.data import MixedSlices, SliceDataset, training_slices
from mrilab.data.randomise import SHIFTS
from mrilab.recipes import cgpd_csnet, common, ifr_net, ista_net
from mrilab.transfer import TRANSFER_SETS, evaluate_transfer, per_shift, transfer_sets


def test_a_mixture_holds_every_part_in_turn_with_the_parts_own_masks(smoke_dataset_root):
    root = smoke_dataset_root / "smoke"
    options = {"mask": "cartesian", "ratios": (0.2, 0.3), "target": "noisy"}
    t1w, broad = SliceDataset(root, "train", "T1w", **options), SliceDataset(root, "train", "broad", **options)
    mixed = training_slices(root, "train", "T1w+broad", **options)
    assert isinstance(mixed, MixedSlices) and len(mixed) == len(t1w) + len(broad)
    last = len(t1w) + len(broad) - 1
    for index, (part, local) in {0: (t1w, 0), len(t1w): (broad, 0), last: (broad, len(broad) - 1)}.items():
        for item, expected in (((index, 3), (local, 3)), (index, local)):
            sample, reference = mixed[item], part[expected]
            assert torch.equal(sample["kspace"], reference["kspace"]) and torch.equal(sample["mask"], reference["mask"])
            assert sample["index"] == index
    with pytest.raises(IndexError, match="slice index"):
        mixed[len(mixed)]
    assert isinstance(training_slices(root, "train", "broad", **options), SliceDataset)


@pytest.mark.parametrize("contrast", ["", "T1w+", 3])
def test_a_bad_training_contrast_is_named(smoke_dataset_root, contrast):
    with pytest.raises(ValueError, match="contrast"):
        training_slices(smoke_dataset_root / "smoke", "train", contrast)


def test_a_mixture_needs_two_parts(smoke_dataset_root):
    with pytest.raises(ValueError, match="at least two"):
        MixedSlices([SliceDataset(smoke_dataset_root / "smoke", "train", "T1w")])


def test_the_shifted_sets_name_every_slices_shift_and_others_do_not(smoke_dataset_root):
    root = smoke_dataset_root / "smoke"
    shifted = SliceDataset(root, "val", "shifted", mask="cartesian", ratios=(0.3,))
    assert shifted.slice_shifts == [list(SHIFTS)[i % len(SHIFTS)] for i in range(len(shifted))]
    assert SliceDataset(root, "val", "T1w").slice_shifts is None
    rows = [{"index": i, "psnr": float(i)} for i in range(len(shifted))]
    means = per_shift(rows, shifted)
    assert list(means) == list(SHIFTS)[:len(shifted)]
    for k, shift in enumerate(means):
        indices = [i for i in range(len(shifted)) if i % len(SHIFTS) == k]
        assert means[shift] == pytest.approx(np.mean(indices))
    with pytest.raises(ValueError, match="slice_shifts"):
        per_shift(rows, SliceDataset(root, "val", "T1w"))


def test_transfer_sets_are_the_shifted_test_and_real_splits(smoke_dataset_root, monkeypatch):
    monkeypatch.setenv("MRILAB_DATA", str(smoke_dataset_root))
    sets = transfer_sets("smoke", mask="cartesian", ratios=(0.2, 0.3))
    assert set(sets) == set(TRANSFER_SETS)
    for name, (split, file) in TRANSFER_SETS.items():
        assert [d.ratios for d in sets[name].values()] == [(0.2,), (0.3,)]
        assert all(d.split == split and d.path.stem == file for d in sets[name].values())

    def zero_filled(batch):
        return torch.fft.ifft2(torch.fft.ifftshift(batch["kspace"], dim=(-2, -1)), norm="ortho")

    results = evaluate_transfer({"ZF": {0.2: zero_filled, 0.3: zero_filled}}, sets)
    assert set(results) == {(name, "ZF", r) for name in sets for r in (0.2, 0.3)}
    assert all(len(rows) == len(sets[name][r]) for (name, _, r), rows in results.items())
    with pytest.raises(ValueError, match="no reconstructor for ratios"):
        evaluate_transfer({"ZF": {0.2: zero_filled}}, sets)


def test_the_recipes_train_on_the_committed_choice_and_twins_on_the_other_data(smoke_dataset_root, monkeypatch):
    record = json.loads((selection.RECORDS / "training_data_demo.json").read_text())
    assert {common.TRAINING_DATA, common.TWIN_DATA} == {common.NARROW, common.BROAD}
    assert common.TRAINING_DATA == record["chosen_contrast"] == selection.TRAINING_DATA[record["chosen"]]
    narrow = next(c for c in record["candidates"] if c["name"] == "narrow")
    eligible = [c for c in record["candidates"] if c["val_mean"] >= narrow["val_mean"] - record["tolerance_db"]]
    assert record["chosen"] == max(eligible, key=lambda c: c["shifted_mean"])["name"]
    monkeypatch.setenv("MRILAB_DATA", str(smoke_dataset_root))
    assert common.TWIN_DATAS == (common.TWIN_DATA, common.ZOOMED) and common.ZOOMED == "T1w+zoomed"
    for module in (ista_net, cgpd_csnet, ifr_net):
        twins = module.twins("demo")
        assert {t["contrast"] for t in twins} == set(common.TWIN_DATAS)
        assert all(t in module.runs("demo") for t in twins)
        last = [t for t in twins if t["contrast"] == common.TWIN_DATA][-1]
        twin = module.trainer("smoke", **last)
        default = module.trainer("smoke", **{k: v for k, v in last.items() if k != "contrast"})
        assert twin.run.name != default.run.name and twin.dataset.path.stem == common.TWIN_DATA
        assert default.dataset.path.stem == common.TRAINING_DATA
        zoomed = module.trainer("smoke", **twins[-1])
        assert [part.path.stem for part in zoomed.dataset.parts] == ["T1w", "zoomed"]
    assert [t["ratio"] for t in ista_net.twins("demo")] == list(common.TWIN_RATIOS) * 2
    assert ifr_net.twins("demo")[-1] == {"ratio": ifr_net.PATTERN_RATIO, "mask": "cartesian",
                                         "contrast": common.ZOOMED}
    full = ifr_net.twins("full")  # no warm starts in full: one model per distribution
    assert [t["contrast"] for t in full] == list(common.TWIN_DATAS) and all(t["mask"] == "cartesian" for t in full)


def test_the_data_rule_keeps_candidates_within_the_tolerance_and_takes_the_best_shifted():
    tolerance = selection.IN_DISTRIBUTION_TOLERANCE_DB
    narrow = {"name": "narrow", "val_mean": 20.0, "shifted_mean": 18.0}
    close = {"name": "close", "val_mean": 20.0 - tolerance + 0.01, "shifted_mean": 18.5}
    far = {"name": "far", "val_mean": 20.0 - tolerance - 0.01, "shifted_mean": 25.0}
    assert selection.apply_data_rule([narrow, close, far]) == "close"
    assert selection.apply_data_rule([narrow, far]) == "narrow"
    with pytest.raises(ValueError, match="must include 'narrow'"):
        selection.apply_data_rule([close, far])


def test_the_zoomed_record_compares_the_book_s_networks_and_chose_by_the_rule():
    record = json.loads((selection.RECORDS / "training_data_zoomed_demo.json").read_text())
    assert record["training_data"] == {"narrow": common.NARROW, "narrow + zoomed": common.ZOOMED}
    assert {(e["network"], e["ratio"]) for e in record["entries"]} == {
        *(("ISTA-Net+", r) for r in common.TWIN_RATIOS), *(("CGPD-CSNet", r) for r in common.TWIN_RATIOS),
        ("IFR-Net (cartesian)", 0.25)}
    for candidate in record["choice"]["candidates"]:
        def mean(places, label=candidate["name"]):
            return np.mean([e["places"][p][label]["psnr"] for e in record["entries"] for p in places])

        assert candidate["val_mean"] == pytest.approx(mean(["in distribution (val)"]), abs=1e-4)
        assert candidate["shifted_mean"] == pytest.approx(mean(["shifted (val)", "zoomed (val)"]), abs=1e-4)
    assert record["choice"]["chosen"] == selection.apply_data_rule(record["choice"]["candidates"])
    assert all(place.endswith("(val)") or place in ("in distribution (test)", "real") for place in record["places"])
