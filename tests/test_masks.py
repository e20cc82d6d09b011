import pytest
import torch

from mrilab.masks import cartesian_mask, mask_from_name, radial_mask, random2d_mask, sampling_ratio


@pytest.mark.parametrize("ratio", [0.1, 0.2, 0.25, 0.333, 0.5])
@pytest.mark.parametrize("pattern", ["random", "equispaced"])
@pytest.mark.parametrize("width", [64, 128, 255])
def test_cartesian_ratio_exact_to_one_line(ratio, pattern, width):
    mask = cartesian_mask((32, width), ratio, pattern=pattern, seed=7)
    assert mask.dtype == torch.bool and mask.shape == (32, width)
    lines = mask[0]
    assert torch.equal(mask, lines.expand_as(mask))  # whole columns
    assert int(lines.sum()) == round(ratio * width)
    assert abs(sampling_ratio(mask) - ratio) <= 0.5 / width + 1e-9


def test_cartesian_centre_lines_are_sampled():
    width = 128
    mask = cartesian_mask((8, width), 0.25, center_fraction=0.08, seed=1)
    n_center = round(0.08 * width)
    start = (width - n_center + 1) // 2
    assert mask[0, start : start + n_center].all()
    assert mask[0, width // 2]


def test_acceleration_form_matches_fastmri_defaults():
    mask = cartesian_mask((64, 100), acceleration=4, seed=0)
    assert int(mask[0].sum()) == 25
    assert mask[0, 46:54].all()  # 0.08 * 100 = 8 central lines
    assert int(cartesian_mask((64, 100), acceleration=8, seed=0)[0].sum()) == round(100 / 8)


@pytest.mark.parametrize("fn", [cartesian_mask, random2d_mask, radial_mask])
def test_masks_are_deterministic_for_a_seed(fn):
    a, b = fn((48, 48), 0.3, seed=11), fn((48, 48), 0.3, seed=11)
    assert torch.equal(a, b)
    assert not torch.equal(a, fn((48, 48), 0.3, seed=12))


@pytest.mark.parametrize("fn", [random2d_mask, radial_mask])
@pytest.mark.parametrize("shape", [(64, 64), (128, 96), (256, 256)])
@pytest.mark.parametrize("ratio", [0.05, 0.1, 0.25, 0.4])
def test_2d_masks_hit_ratio_within_one_percent(fn, shape, ratio):
    mask = fn(shape, ratio, seed=0)
    assert mask.dtype == torch.bool and mask.shape == shape
    assert abs(sampling_ratio(mask) - ratio) < 0.01
    assert mask[shape[0] // 2, shape[1] // 2]  # the k-space centre is always sampled


def test_radial_spokes_pass_through_centre_and_are_symmetric_in_density():
    mask = radial_mask((128, 128), 0.2, seed=0).float()
    centre = mask[56:72, 56:72].mean()
    edge = mask[:16].mean()
    assert centre > 0.9 and edge < 0.15


def test_variable_density_decreases_outwards():
    mask = random2d_mask((128, 128), 0.2, seed=0).float()
    assert mask[48:80, 48:80].mean() > 2 * mask[:32].mean()


def test_mask_from_name():
    assert torch.equal(mask_from_name("radial", (32, 32), 0.2, seed=1), radial_mask((32, 32), 0.2, seed=1))
    assert torch.equal(
        mask_from_name("equispaced", (32, 32), 0.2), cartesian_mask((32, 32), 0.2, pattern="equispaced")
    )


def test_calibration_size_is_the_side_of_the_fully_sampled_centre_square():
    from mrilab.masks import calibration_size

    mask = torch.zeros(32, 40, dtype=torch.bool)
    mask[:, 17:23] = True  # a central band of 6 columns around column 20 (the k-space centre)
    assert calibration_size(mask) == 6
    mask[:, 23] = True  # 7 columns, still centred enough for a 7 x 7 square (rows 13..19 are sampled)
    assert calibration_size(mask) == 7
    full = torch.ones(8, 12, dtype=torch.bool)
    assert calibration_size(full) == 8  # capped by the height
    mask[16, 20] = False
    with pytest.raises(ValueError, match="unsampled centre"):
        calibration_size(mask)
