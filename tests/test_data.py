"""The embedded brain dataset, its HDF5 layout, the datasets, the phantom and the fastMRI/IXI converters."""

import dataclasses
import os
import runpy
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from mrilab.coils import CoilGeometry, random_coil_maps, rss
from mrilab.data import (
    CONTRASTS,
    DATASET_PROFILES,
    SPLITS,
    TISSUES,
    SliceDataset,
    build_dataset,
    collate,
    convert_fastmri,
    convert_ixi,
    ellipse_phantom,
    ood_positions,
    spin_echo_signal,
    split_positions,
)
from mrilab.data.brain import SliceVariation, synthesize_slice
from mrilab.data.build import COIL_GEOMETRY_STREAM, RANDOMISED_FILES, Profile
from mrilab.data.datasets import block_labels
from mrilab.data.hdf5 import ISMRMRD_NAMESPACE, atomic_h5, ismrmrd_header, write_slice_file
from mrilab.ops import fft2c, ifft2c

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    build_dataset("smoke", root=root)
    return root


@pytest.fixture(scope="module")
def smoke(smoke_root):
    return smoke_root / "smoke"


def h5_arrays(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}, dict(f.attrs)


# -- physics -----------------------------------------------------------------------------------------------------
def test_spin_echo_contrast_ordering():
    def signal(tissue, contrast):
        t, c = TISSUES[tissue], CONTRASTS[contrast]
        return spin_echo_signal(t.pd, t.t1, t.t2, c.tr, c.te)

    assert signal("csf", "T2w") > signal("gm", "T2w") > signal("wm", "T2w")
    assert signal("csf", "T1w") < signal("gm", "T1w") < signal("wm", "T1w")


def test_synthesized_slice_csf_brighter_on_t2_darker_on_t1():
    from mrilab.data import brain

    still = SliceVariation(rotation_deg=0, scale=0, shift_mm=0, tilt_deg=0, elastic_mm=0, head_thickness=0)
    fractions, _ = brain.tissue_fractions(brain.load_tissue_volumes(), 80, 128, np.random.default_rng(0), still)
    csf, wm = (brain.block_mean(fractions[t], 2) > 0.9 for t in ("csf", "wm"))
    assert csf.sum() > 10 and wm.sum() > 100
    images = synthesize_slice(80, 64, np.random.default_rng(0), snr=40.0, variation=still)
    t1, t2 = np.abs(images["T1w"].noisy), np.abs(images["T2w"].noisy)
    assert t2[csf].mean() > 1.5 * t2[wm].mean()
    assert t1[csf].mean() < 0.7 * t1[wm].mean()


# -- build: cache, atomicity, determinism, splits ---------------------------------------------------------------
def test_build_writes_fastmri_layout(smoke):
    for split in SPLITS:
        for contrast, spec in CONTRASTS.items():
            with h5py.File(smoke / f"singlecoil_{split}" / f"{contrast}.h5", "r") as f:
                n = f["kspace"].shape[0]
                assert f["kspace"].dtype == np.complex64 and f["kspace"].shape == (n, 64, 64)
                clean = f["reconstruction_clean"]
                assert clean.dtype == np.complex64 and clean.shape == (n, 64, 64)
                assert f["reconstruction_rss"].dtype == np.float32 and f["reconstruction_rss"].shape == (n, 64, 64)
                assert f.attrs["acquisition"] == spec.acquisition
                assert np.isclose(f.attrs["max"], f["reconstruction_rss"][()].max())
                assert 0.5 < f.attrs["max"] < 2.0
                assert f["slice_positions"].shape == (n,)
                assert f["slice_subjects"][()].tolist() == [b"mni152"] * n
                header = f["ismrmrd_header"][()]
            # every contrast has multi-coil files, with one set of maps per slice
            for coils in DATASET_PROFILES["smoke"].coils:
                with h5py.File(smoke / f"multicoil_{split}" / f"{contrast}_mc{coils}.h5", "r") as f:
                    n = f["kspace"].shape[0]
                    assert f["kspace"].shape[1:] == (coils, 64, 64) and f["sens_maps"].shape == (n, coils, 64, 64)
                    assert f["sens_maps"].dtype == np.complex64
                    assert f["reconstruction_clean"].shape == (n, 64, 64)
                    assert f["slice_subjects"][()].tolist() == [b"mni152"] * n
    # one kind of file per folder: fastMRI's SliceDataset globs a folder and expects one challenge in it
    randomised = {s: sum(s in splits for splits in RANDOMISED_FILES.values()) for s in SPLITS}  # broad, shifted
    assert [len(list((smoke / f"singlecoil_{s}").glob("*.h5"))) for s in SPLITS] == [3 + randomised[s] for s in SPLITS]
    per_split = 3 * len(DATASET_PROFILES["smoke"].coils)  # every contrast, every coil count
    assert [len(list((smoke / f"multicoil_{s}").glob("*.h5"))) for s in SPLITS] == [per_split] * len(SPLITS)
    assert not list(smoke.rglob("*.tmp"))
    _check_header_as_fastmri_reads_it(header, 64, 64)


def _check_header_as_fastmri_reads_it(header, height, width):
    """What fastmri.data.mri_data.SliceDataset parses: enc/recon matrix sizes and the phase-encoding limits."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(header)
    ns = {"n": ISMRMRD_NAMESPACE}

    def query(path):
        return int(root.find("/".join(f"n:{p}" for p in path), ns).text)

    assert query(["encoding", "encodedSpace", "matrixSize", "x"]) == height
    assert query(["encoding", "encodedSpace", "matrixSize", "y"]) == width
    assert query(["encoding", "reconSpace", "matrixSize", "y"]) == width
    center = query(["encoding", "encodingLimits", "kspace_encoding_step_1", "center"])
    maximum = query(["encoding", "encodingLimits", "kspace_encoding_step_1", "maximum"]) + 1
    padding_left = width // 2 - center
    assert padding_left == 0 and padding_left + maximum == width


def test_cache_hit_does_not_rewrite(smoke_root, smoke):
    before = {p: p.stat().st_mtime_ns for p in smoke.rglob("*") if p.is_file()}
    assert build_dataset("smoke", root=smoke_root) == smoke
    assert {p: p.stat().st_mtime_ns for p in smoke.rglob("*") if p.is_file()} == before


def test_same_seed_same_bytes(tmp_path, smoke):
    profile = Profile("tiny", 32, slices=(3, 2, 2, 2), multicoil_slices=(2, 1, 1, 1), coils=(4,))
    first = build_dataset(profile, root=tmp_path / "a")
    second = build_dataset(profile, root=tmp_path / "b", force=True)
    for name in ("singlecoil_train/T2w.h5", "singlecoil_val/PDw.h5", "multicoil_train/T1w_mc4.h5",
                 "singlecoil_ood/T1w.h5"):
        a, _ = h5_arrays(first / name)
        b, _ = h5_arrays(second / name)
        assert a.keys() == b.keys()
        for key in a:
            assert np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes(), key
    other = build_dataset(Profile("tiny", 32, slices=(3, 2, 2, 2), multicoil_slices=(2, 1, 1, 1), coils=(4,),
                                  seed=1), root=tmp_path / "c")
    assert not np.array_equal(h5_arrays(first / "singlecoil_train/T2w.h5")[0]["kspace"],
                              h5_arrays(other / "singlecoil_train/T2w.h5")[0]["kspace"])


def test_force_rebuilds(tmp_path):
    profile = Profile("tiny", 16, slices=(1, 1, 1, 1), multicoil_slices=(0, 0, 0, 0))
    directory = build_dataset(profile, root=tmp_path)
    mtime = (directory / "singlecoil_train/T1w.h5").stat().st_mtime_ns
    build_dataset(profile, root=tmp_path, force=True)
    assert (directory / "singlecoil_train/T1w.h5").stat().st_mtime_ns > mtime


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.h5"
    with pytest.raises(RuntimeError), atomic_h5(target) as f:
        f["a"] = np.zeros(3)
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_h5(target) as f:
        f["a"] = np.ones(3)
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5"]


def blocks(positions):
    """Runs of consecutive planes."""
    positions = sorted(positions)
    return 1 + sum(b - a > 1 for a, b in zip(positions, positions[1:], strict=False))


def test_splits_are_disjoint_guarded_and_span_the_brain(smoke):
    axial = ("train", "val", "test")
    positions = {s: set(split_positions(s).tolist()) for s in axial}
    for a, b in [("train", "val"), ("train", "test"), ("val", "test")]:
        assert not positions[a] & positions[b]
    # no validation plane is a test plane's neighbour: gap_mm = 2 unused planes between the two blocks
    assert min(abs(p - q) for p in positions["val"] for q in positions["test"]) == 3
    for held_out in ("val", "test"):
        gap = min(abs(p - q) for p in positions["train"] for q in positions[held_out])
        assert gap > 4  # at least 4 mm of guard planes between any training plane and any held-out plane
        assert blocks(positions[held_out]) >= 6
        everything = sorted(set().union(*positions.values()))
        height = everything[-1] - everything[0]
        # spread over the whole height: a held-out block in the lowest and in the highest sixth of the brain
        assert min(positions[held_out]) - everything[0] < height / 6
        assert everything[-1] - max(positions[held_out]) < height / 6
    for split in axial:
        with h5py.File(smoke / f"singlecoil_{split}" / "T1w.h5", "r") as f:
            assert set(f["slice_positions"][()].tolist()) <= positions[split]
            assert set(f["slice_orientations"][()].tolist()) == {b"axial"}
    with h5py.File(smoke / "singlecoil_ood" / "T1w.h5", "r") as f:
        orientations = f["slice_orientations"][()].tolist()
        assert set(orientations) == {b"coronal", b"sagittal"}
        candidates = ood_positions()
        for orientation, position in zip(orientations, f["slice_positions"][()], strict=True):
            assert position in candidates[orientation.decode()]
    with pytest.raises(ValueError, match="do not leave training planes"):
        split_positions("test", heldout_blocks=20)


def test_block_labels_join_planes_closer_than_the_gap():
    positions = [27, 28, 47, 48, 28, 27, 42, 56]
    orientations = ["axial"] * 6 + ["coronal"] * 2
    assert block_labels(positions, orientations, 8) == ["axial 27–28", "axial 27–28", "axial 47–48", "axial 47–48",
                                                         "axial 27–28", "axial 27–28", "coronal 42", "coronal 56"]
    assert block_labels([1, 8, 15], ["axial"] * 3, 8) == ["axial 1–15"] * 3  # a chain of neighbours is one block
    with pytest.raises(ValueError, match="gap must be a positive integer"):
        block_labels([1], ["axial"], 0)


def test_test_and_validation_slices_fall_into_one_block_per_held_out_segment(smoke):
    for split in ("val", "test"):
        dataset = SliceDataset(smoke, split, "T1w")
        labels = [dataset.block_label(i) for i in range(len(dataset))]
        planes = {dataset.position_label(i) for i in range(len(dataset))}
        assert len(set(labels)) == len(planes) == 4  # smoke: four slices from four segments, one plane each
    ood = SliceDataset(smoke, "ood", "T1w")
    assert all(ood.block_label(i).split()[0] == ood.slice_orientations[i] for i in range(len(ood)))


# -- datasets ------------------------------------------------------------------------------------------------------
def test_sample_shapes_dtypes_and_consistency(smoke):
    dataset = SliceDataset(smoke, "train", "T1w", ratios=(0.25,))
    assert len(dataset) == 16
    sample = dataset[3]
    assert sample["kspace"].dtype == torch.complex64 and sample["kspace"].shape == (1, 64, 64)
    assert sample["mask"].dtype == torch.bool and sample["mask"].shape == (1, 64, 64)
    assert sample["target"].dtype == torch.complex64 and sample["target"].shape == (1, 64, 64)
    assert sample["ratio"].dtype == torch.float32 and sample["ratio"].ndim == 0
    assert abs(float(sample["ratio"]) - 0.25) <= 1 / 64 and sample["index"] == 3
    assert torch.equal(sample["kspace"] == 0, ~sample["mask"].expand_as(sample["kspace"]))
    noisy = SliceDataset(smoke, "train", "T1w", ratios=(0.25,), target="noisy")[3]
    assert torch.equal(noisy["kspace"], sample["kspace"])
    assert torch.allclose(fft2c(noisy["target"]) * sample["mask"], sample["kspace"], atol=1e-5)
    with h5py.File(smoke / "singlecoil_train" / "T1w.h5", "r") as f:
        kspace, magnitude = torch.from_numpy(f["kspace"][3]), f["reconstruction_rss"][3]
        clean = torch.from_numpy(f["reconstruction_clean"][3])
    assert torch.allclose(ifft2c(kspace), noisy["target"][0], atol=1e-6)
    assert np.allclose(noisy["target"][0].abs().numpy(), magnitude, atol=1e-5)
    assert torch.equal(sample["target"][0], clean)  # evaluation scores against the noise-free image
    noise = (noisy["target"] - sample["target"])[0]
    assert 0.005 < float(noise.abs().pow(2).mean().sqrt()) < 0.1  # ...which differs from the measured one by noise
    assert sample["target"].imag.abs().max() > 0.05  # complex images with phase


def test_eval_masks_fixed_training_draws_reproducible(smoke):
    dataset = SliceDataset(smoke, "val", "T2w", mask="random2d", ratios=(0.1, 0.3), seed=5)
    assert torch.equal(dataset[1]["mask"], dataset[1]["mask"])
    assert not torch.equal(dataset[1]["mask"], dataset[2]["mask"])
    assert [round(float(dataset[i]["ratio"]), 1) for i in range(4)] == [0.1, 0.3, 0.1, 0.3]
    draws = [dataset[(1, d)]["mask"] for d in range(6)]
    assert all(torch.equal(m, dataset[(1, d)]["mask"]) for d, m in enumerate(draws))
    assert len({m.numpy().tobytes() for m in draws}) == 6
    assert {round(float(dataset[(1, d)]["ratio"]), 1) for d in range(12)} == {0.1, 0.3}
    assert torch.equal(dataset[(1, 0)]["target"], dataset[1]["target"])
    other_seed = SliceDataset(smoke, "val", "T2w", mask="random2d", ratios=(0.1, 0.3), seed=6)
    assert not torch.equal(other_seed[1]["mask"], dataset[1]["mask"])


def test_validation_and_test_never_share_a_mask(smoke):
    val = SliceDataset(smoke, "val", "T1w", mask="cartesian", ratios=(0.2,))
    test = SliceDataset(smoke, "test", "T1w", mask="cartesian", ratios=(0.2,))
    val_masks = {val[i]["mask"].numpy().tobytes() for i in range(len(val))}
    assert not val_masks & {test[i]["mask"].numpy().tobytes() for i in range(len(test))}


def test_reference_contrast_is_aligned(smoke):
    dataset = SliceDataset(smoke, "test", "T2w", reference="T1w")
    t1 = SliceDataset(smoke, "test", "T1w")
    sample = dataset[2]
    assert sample["reference"].shape == (1, 64, 64) and sample["reference"].dtype == torch.complex64
    assert torch.allclose(sample["reference"], t1.fully_sampled(2))  # the reference is measured, with its noise

    def head(image):
        magnitude = image.abs()[0]
        return magnitude > 0.15 * magnitude.max()

    def iou(a, b):
        return float((a & b).sum() / (a | b).sum())

    same = iou(head(sample["target"]), head(sample["reference"]))
    shifted = iou(head(sample["target"]), torch.roll(head(sample["reference"]), 3, dims=1))
    assert same > 0.9 and same > shifted


def test_multicoil_samples(smoke):
    dataset = SliceDataset(smoke, "train", "T1w", coils=16, ratios=(0.3,))
    sample = dataset[0]
    assert sample["kspace"].shape == (16, 64, 64) and sample["sens"].shape == (16, 64, 64)
    assert sample["target"].shape == (1, 64, 64)
    with h5py.File(smoke / "multicoil_train" / "T1w_mc16.h5", "r") as f:
        assert torch.equal(sample["target"][0], torch.from_numpy(f["reconstruction_clean"][0]))
        coil_images = ifft2c(torch.from_numpy(f["kspace"][0]))
        assert np.allclose(rss(coil_images, dim=0).numpy(), f["reconstruction_rss"][0], atol=1e-5)
        for i in (0, 5):  # every slice comes with its own maps
            assert torch.equal(dataset[i]["sens"], torch.from_numpy(f["sens_maps"][i]))
    magnitude, combined = rss(coil_images, dim=0), dataset.fully_sampled(0)[0].abs()
    assert float((combined - magnitude).abs().max()) < 0.1
    assert float((combined - magnitude).abs().mean()) < 0.03  # RSS: a noise bias in the air that grows with C
    single = SliceDataset(smoke, "train", "T1w").fully_sampled(0)[0].abs()
    assert float((single - combined).abs().mean()) < 0.03  # same anatomy, independent noise
    assert torch.equal(SliceDataset(smoke, "train", "T1w")[0]["target"], sample["target"])  # the same clean image


def test_every_multicoil_slice_has_its_own_coil_array(smoke):
    profile = DATASET_PROFILES["smoke"]
    t1, t2 = (SliceDataset(smoke, "train", c, coils=16, ratios=1.0, target="noisy") for c in ("T1w", "T2w"))
    maps = torch.stack([t1[i]["sens"] for i in range(len(t1))])
    assert torch.allclose((maps.abs() ** 2).sum(1), torch.ones(len(t1), 64, 64), atol=1e-5)
    # any two slices' maps differ, and the three contrasts of a slice share its coil array
    pairs = (maps[:, None] - maps[None]).abs().flatten(2).amax(-1)
    assert float(pairs[~torch.eye(len(t1), dtype=torch.bool)].min()) > 0.05
    assert all(torch.equal(t2[i]["sens"], maps[i]) for i in range(len(t2)))
    # each array is drawn from the slice's own seed, apart from its image and noise
    with h5py.File(t1.path, "r") as f:
        variants = f["slice_variants"][()]
    for i in (0, 7):
        entropy = [profile.seed, SPLITS.index("train"), int(t1.slice_positions[i]), int(variants[i])]
        rng = np.random.default_rng([*entropy, 16, COIL_GEOMETRY_STREAM])
        assert torch.equal(maps[i], random_coil_maps(16, (64, 64), rng, profile.coil_geometry))
        # the noisy target combines the coils with the slice's own maps: S_i^H F^H y
        torch.testing.assert_close(t1[i]["target"][0], (maps[i].conj() * ifft2c(t1[i]["kspace"])).sum(0))


def test_coil_geometry_leaves_the_single_coil_data_alone(tmp_path):
    tiny = Profile("tiny", 32, slices=(2, 1, 1, 1), multicoil_slices=(2, 1, 1, 1), coils=(4,))
    other = dataclasses.replace(tiny, coil_geometry=CoilGeometry(radius=(2.0, 2.5), offset=0.2))
    first, second = build_dataset(tiny, root=tmp_path / "a"), build_dataset(other, root=tmp_path / "b")
    for name in ("singlecoil_train/T1w.h5", "singlecoil_ood/PDw.h5", "singlecoil_val/broad.h5"):
        a, b = h5_arrays(first / name)[0], h5_arrays(second / name)[0]
        assert all(np.array_equal(a[key], b[key]) for key in a), name
    a, b = (h5_arrays(d / "multicoil_train/T2w_mc4.h5")[0] for d in (first, second))
    assert not np.array_equal(a["sens_maps"], b["sens_maps"])
    assert np.array_equal(a["reconstruction_clean"], b["reconstruction_clean"])  # the same anatomy


def test_per_slice_maps_must_match_the_slices(tmp_path):
    kspace = np.ones((3, 2, 8, 8), np.complex64)
    write_slice_file(tmp_path / "multicoil_train" / "T1w_mc2.h5", kspace, acquisition="AXT1",
                     datasets={"sens_maps": np.ones((2, 2, 8, 8), np.complex64)})
    with pytest.raises(ValueError, match=r"sens_maps must be \(coils, H, W\) or \(slices, coils, H, W\)"):
        SliceDataset(tmp_path, "train", "T1w", coils=2)


def test_collate_stacks(smoke):
    dataset = SliceDataset(smoke, "train", "PDw", reference="T2w")
    batch = collate([dataset[0], dataset[(1, 4)]])
    assert batch["kspace"].shape == (2, 1, 64, 64) and batch["mask"].shape == (2, 1, 64, 64)
    assert batch["ratio"].shape == (2,) and batch["reference"].shape == (2, 1, 64, 64)
    assert batch["index"].tolist() == [0, 1]


def test_dataset_from_profile_name_uses_cache(smoke_root):
    dataset = SliceDataset("smoke", "val", root=smoke_root)
    assert len(dataset) == 4 and dataset.directory == smoke_root / "smoke"


def test_phantom():
    image = ellipse_phantom((48, 40), seed=2)
    assert image.dtype == torch.complex64 and image.shape == (48, 40)
    assert abs(float(image.abs().max()) - 1.0) < 1e-6
    assert torch.equal(image, ellipse_phantom((48, 40), seed=2))
    assert not torch.equal(image, ellipse_phantom((48, 40), seed=3))


# -- converters ------------------------------------------------------------------------------------------------
def write_fake_fastmri(path, kspace, acquisition="AXT2"):
    with h5py.File(path, "w") as f:
        f["kspace"] = kspace
        f["ismrmrd_header"] = ismrmrd_header(*kspace.shape[-2:])
        images = ifft2c(torch.from_numpy(kspace))
        f["reconstruction_rss"] = (rss(images, dim=1) if kspace.ndim == 4 else images.abs()).numpy()
        f.attrs["acquisition"] = acquisition
        f.attrs["max"] = float(f["reconstruction_rss"][()].max())


def test_convert_fastmri_multicoil_round_trip(tmp_path):
    from mrilab.coils import birdcage_maps

    volumes = []
    for seed in range(2):
        image = torch.stack([ellipse_phantom((32, 32), seed=seed * 3 + s) for s in range(3)])
        volumes.append(image)
        coil_kspace = fft2c(birdcage_maps(6, (32, 32)) * image[:, None])
        write_fake_fastmri(tmp_path / f"vol{seed}.h5", coil_kspace.numpy())
    out = tmp_path / "converted"
    script = runpy.run_path(str(SCRIPTS / "convert_fastmri.py"))
    script["main"]([str(tmp_path / "vol0.h5"), str(tmp_path / "vol1.h5"), "--out", str(out), "--split", "val",
                    "--coils", "4"])
    single = SliceDataset(out, "val", "T2w")
    multi = SliceDataset(out, "val", "T2w", coils=4)
    assert len(single) == len(multi) == 6
    expected = torch.cat(volumes).abs()
    expected = expected / expected.flatten(1).amax(1).view(-1, 1, 1)
    for i in range(6):
        assert float((single[i]["target"][0].abs() - expected[i] / expected[i].max()).abs().max()) < 0.05
        assert torch.allclose(multi[i]["target"], single[i]["target"], atol=1e-4)


def test_convert_ixi_round_trip(tmp_path):
    import nibabel

    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*(np.linspace(-1, 1, n) for n in (20, 24, 10)), indexing="ij"))
    head = (grid**2).sum(0) < 0.8
    for subject in range(4):
        for contrast, gain in (("T1", 1.0), ("T2", 2.0), ("PD", 0.5)):
            volume = (head * gain * (1 + 0.1 * rng.standard_normal(head.shape))).astype(np.float32)
            affine = np.diag([2.0, 2.0, 3.0, 1.0])
            if contrast == "T1":  # its own grid, resampled into the T2 grid through the affines
                volume, affine = volume[::-1].copy(), np.diag([-2.0, 2.0, 3.0, 1.0])
                affine[0, 3] = 38.0
            name = f"IXI{subject:03d}-Guys-0001-{contrast}.nii.gz"
            nibabel.save(nibabel.Nifti1Image(volume, affine), tmp_path / name)
    written = convert_ixi(tmp_path, tmp_path / "out", size=24, fractions=(0.5, 0.25, 0.25), slice_fraction=0.5)
    assert len(written) == 9
    subjects = {}
    for split in SPLITS[:3]:
        with h5py.File(tmp_path / "out" / f"singlecoil_{split}" / "T2w.h5", "r") as f:
            subjects[split] = set(f["slice_subjects"][()].tolist())
            assert f["kspace"].shape == (5 * len(subjects[split]), 24, 24)
    assert sum(len(s) for s in subjects.values()) == 4
    sample = SliceDataset(tmp_path / "out", "train", "T2w", reference="T1w")[0]
    t2, t1 = sample["target"][0].abs() > 0.3, sample["reference"][0].abs() > 0.3
    assert float((t2 & t1).sum() / (t2 | t1).sum()) > 0.8


def test_reference_must_show_the_same_subject_at_the_same_position(tmp_path):
    kspace = np.ones((3, 8, 8), np.complex64)

    def write(contrast, **datasets):
        write_slice_file(tmp_path / "singlecoil_train" / f"{contrast}.h5", kspace, acquisition=contrast,
                         datasets={"slice_positions": np.arange(3, dtype=np.int32), **datasets})

    write("T2w", slice_subjects=np.array([b"IXI002"] * 3))
    write("T1w", slice_subjects=np.array([b"IXI002"] * 3))
    write("PDw", slice_subjects=np.array([b"IXI002", b"IXI002", b"IXI012"]))  # equal positions, other subject
    write("FLAIR")  # no subjects: nothing to pair by
    assert len(SliceDataset(tmp_path, "train", "T2w", reference="T1w")) == 3
    with pytest.raises(ValueError, match=r"holds other slices .*slice_subjects of slice 2 is 'IXI012', "
                                         r"expected 'IXI002'"):
        SliceDataset(tmp_path, "train", "T2w", reference="PDw")
    with pytest.raises(ValueError, match=r"reference='FLAIR': .*FLAIR.h5 stores no slice_subjects"):
        SliceDataset(tmp_path, "train", "T2w", reference="FLAIR")
    with pytest.raises(ValueError, match=r"reference='T2w': .*FLAIR.h5 stores no slice_subjects"):
        SliceDataset(tmp_path, "train", "FLAIR", reference="T2w")


def test_converted_fastmri_volumes_of_two_contrasts_never_pair(tmp_path):
    image = torch.stack([ellipse_phantom((16, 16), seed=s) for s in range(2)])
    for acquisition in ("AXT1", "AXT2"):  # two unrelated volumes, slices 0 and 1 each
        write_fake_fastmri(tmp_path / f"file_brain_{acquisition}_1.h5", fft2c(image).numpy(), acquisition)
        convert_fastmri([tmp_path / f"file_brain_{acquisition}_1.h5"], tmp_path / "out", "train")
    with h5py.File(tmp_path / "out" / "singlecoil_train" / "T2w.h5", "r") as f:
        assert f["slice_subjects"][()].tolist() == [b"file_brain_AXT2_1.h5"] * 2
        assert f["slice_positions"][()].tolist() == [0, 1]
    with pytest.raises(ValueError, match="holds other slices"):
        SliceDataset(tmp_path / "out", "train", "T2w", reference="T1w")


# -- errors ------------------------------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors(smoke, tmp_path):
    with pytest.raises(ValueError, match="profile must be one of"):
        build_dataset("huge", root=tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        SliceDataset(smoke, "training")
    with pytest.raises(ValueError, match="contrast='FLAIR'"):
        SliceDataset(smoke, "train", "FLAIR")
    with pytest.raises(ValueError, match=r"ratios must be in \(0, 1\]"):
        SliceDataset(smoke, "train", ratios=(0.0,))
    with pytest.raises(ValueError, match=r"ratios must be in \(0, 1\]"):
        SliceDataset(smoke, "train", ratios=(1.5,))
    with pytest.raises(ValueError, match="mask must be one of"):
        SliceDataset(smoke, "train", mask="spiral")
    with pytest.raises(ValueError, match="reference='T3w'"):
        SliceDataset(smoke, "train", reference="T3w")
    with pytest.raises(IndexError, match="slice index"):
        SliceDataset(smoke, "val")[4]
    with pytest.raises(ValueError, match="draw must be"):
        SliceDataset(smoke, "val")[(0, -1)]
    with pytest.raises(ValueError, match="root_or_profile"):
        SliceDataset(tmp_path / "missing", "train")
    with pytest.raises(ValueError, match="shape must be a pair"):
        ellipse_phantom((32,), seed=0)


def test_missing_hdf5_key_names_key_and_file(tmp_path):
    (tmp_path / "singlecoil_train").mkdir()
    path = tmp_path / "singlecoil_train" / "T1w.h5"
    with h5py.File(path, "w") as f:
        f["reconstruction_rss"] = np.zeros((1, 8, 8), np.float32)
    with pytest.raises(KeyError, match=rf"{path}.*'kspace'"):
        SliceDataset(tmp_path, "train", "T1w")
    no_header = tmp_path / "no_header.h5"
    with h5py.File(no_header, "w") as f:
        f["kspace"] = np.ones((1, 8, 8), np.complex64)
    with pytest.raises(KeyError, match=rf"{no_header}.*'ismrmrd_header'"):
        convert_fastmri([no_header], tmp_path / "out", "train")
    write_slice_file(tmp_path / "multicoil_train" / "T2w_mc2.h5", np.ones((1, 2, 8, 8), np.complex64),
                     acquisition="AXT2")
    with pytest.raises(KeyError, match="'sens_maps'"):
        SliceDataset(tmp_path, "train", "T2w", coils=2)


def test_converters_reject_wrong_shapes(tmp_path):
    import nibabel

    write_fake_fastmri(tmp_path / "bad.h5", np.ones((2, 3, 4, 8, 8), np.complex64))
    with pytest.raises(ValueError, match=r"kspace must be \(slices, H, W\) or \(slices, coils, H, W\)"):
        convert_fastmri([tmp_path / "bad.h5"], tmp_path / "out", "train")
    with pytest.raises(ValueError, match="kspace must have 4 dimensions"):
        write_slice_file(tmp_path / "d" / "multicoil_train" / "T1w_mc2.h5", np.ones((1, 8, 8), np.complex64),
                         acquisition="x")
        SliceDataset(tmp_path / "d", "train", "T1w", coils=2)
    for contrast in ("T1", "T2", "PD"):
        nibabel.save(nibabel.Nifti1Image(np.ones((8, 8), np.float32), np.eye(4)),
                     tmp_path / f"IXI001-Guys-0001-{contrast}.nii.gz")
    with pytest.raises(ValueError, match="must be 3-D"):
        convert_ixi(tmp_path, tmp_path / "ixi_out")
    with pytest.raises(ValueError, match="fractions must be"):
        convert_ixi(tmp_path, tmp_path / "ixi_out", fractions=(0.5, 0.5, 0.5))


def test_make_and_plot_scripts(smoke_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MRILAB_DATA", str(smoke_root))
    runpy.run_path(str(SCRIPTS / "make_brain_dataset.py"))["main"](["--profile", "smoke"])
    out = tmp_path / "brain.png"
    runpy.run_path(str(SCRIPTS / "plot_dataset.py"))["main"](["--profile", "smoke", "--out", str(out)])
    assert out.stat().st_size > 10_000
    assert os.environ["MRILAB_DATA"] == str(smoke_root)
