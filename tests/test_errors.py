"""Bad input raises a clear error that names the argument and what was expected."""

import pytest
import torch

from mrilab import coils, masks, metrics, ops
from mrilab.train import TrainConfig, Trainer, load_checkpoint, train_config_from_dict

from .toys import ToyDataset, ToyNet

MASK = masks.cartesian_mask((16, 16), 0.5)
X = torch.randn(2, 1, 16, 16, dtype=torch.complex64)


def test_fft_rejects_real_input():
    with pytest.raises(TypeError, match="x must be a complex tensor"):
        ops.fft2c(torch.randn(4, 4))


def test_operator_rejects_non_boolean_mask():
    with pytest.raises(TypeError, match="mask must have dtype torch.bool"):
        ops.MRIOperator(MASK.float())


def test_operator_rejects_wrong_image_shape():
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 16, 16\)"):
        ops.MRIOperator(MASK).forward(torch.randn(2, 1, 16, 8, dtype=torch.complex64))


def test_operator_rejects_mask_size_mismatch_of_kspace():
    with pytest.raises(ValueError, match="y must have shape"):
        ops.MRIOperator(MASK).adjoint(torch.randn(2, 1, 32, 32, dtype=torch.complex64))


def test_operator_rejects_kspace_with_wrong_coil_count():
    op = ops.MRIOperator(MASK, coils.birdcage_maps(4, (16, 16)))
    with pytest.raises(ValueError, match=r"y must have shape \(B, 4, 16, 16\)"):
        op.adjoint(torch.randn(1, 1, 16, 16, dtype=torch.complex64))


def test_operator_rejects_sensitivities_of_other_size():
    with pytest.raises(ValueError, match="sens must have spatial size"):
        ops.MRIOperator(MASK, coils.birdcage_maps(4, (8, 8)))


def test_fft_and_operator_never_wait_for_values():
    """Shapes are checked on every call, values only at a model's boundary: a NaN passes through the operator."""
    bad = X.clone()
    bad[0, 0, 0, 0] = float("nan")
    assert bool(ops.MRIOperator(MASK).forward(bad).isnan().any())


def test_operator_rejects_batch_mismatch_with_mask():
    batched = MASK.expand(3, 1, 16, 16)
    with pytest.raises(ValueError, match="x has batch size 2 but mask has batch size 3"):
        ops.MRIOperator(batched).forward(X)


def test_soft_dc_rejects_non_positive_rho():
    op = ops.MRIOperator(MASK)
    with pytest.raises(ValueError, match="rho must be a positive number"):
        op.soft_dc(X, op.forward(X), 0.0)


@pytest.mark.parametrize("ratio", [0.0, 1.5, -0.1])
def test_masks_reject_ratio_outside_unit_interval(ratio):
    with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\]"):
        masks.cartesian_mask((16, 16), ratio)


def test_masks_reject_both_ratio_and_acceleration():
    with pytest.raises(ValueError, match="exactly one of ratio"):
        masks.random2d_mask((16, 16), 0.25, acceleration=4)


def test_masks_reject_bad_shape_and_pattern():
    with pytest.raises(ValueError, match="shape must be a pair"):
        masks.radial_mask((16, 0), 0.2)
    with pytest.raises(ValueError, match="pattern must be"):
        masks.cartesian_mask((16, 16), 0.2, pattern="spiral")
    with pytest.raises(ValueError, match="mask kind must be"):
        masks.mask_from_name("spiral", (16, 16), 0.2)


def test_masks_reject_centre_larger_than_ratio():
    with pytest.raises(ValueError, match="center_fraction must be in"):
        masks.cartesian_mask((16, 16), 0.2, center_fraction=0.5)


def test_coil_compression_rejects_too_many_virtual_coils():
    with pytest.raises(ValueError, match=r"n_virtual must be an integer in \[1, 4\]"):
        coils.coil_compress(torch.randn(4, 16, 16, dtype=torch.complex64), 5)


def test_birdcage_rejects_bad_coil_count():
    with pytest.raises(ValueError, match="n_coils must be a positive integer"):
        coils.birdcage_maps(0, (8, 8))


def test_metrics_reject_shape_mismatch_and_nan():
    with pytest.raises(ValueError, match="pred and target must have the same shape"):
        metrics.psnr(torch.rand(2, 16, 16), torch.rand(2, 16, 8))
    with pytest.raises(ValueError, match="target contains NaN"):
        metrics.ssim(torch.rand(16, 16), torch.full((16, 16), float("nan")))
    with pytest.raises(ValueError, match="at least 7x7"):
        metrics.ssim(torch.rand(5, 5), torch.rand(5, 5))


def test_trainer_rejects_bad_config_and_model():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        train_config_from_dict({"stepz": 3})
    with pytest.raises(TypeError, match="model must record its constructor arguments"):
        Trainer(torch.nn.Linear(2, 2), ToyDataset(), "unused")


def test_load_checkpoint_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not an mrilab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_resume_refuses_a_different_model(tmp_path):
    config = TrainConfig(steps=1, batch_size=1, device="cpu")
    Trainer(ToyNet(features=4), ToyDataset(), tmp_path, config).fit(progress=False)
    with pytest.raises(ValueError, match="holds a different model"):
        Trainer(ToyNet(features=8), ToyDataset(), tmp_path, config).fit(progress=False)
