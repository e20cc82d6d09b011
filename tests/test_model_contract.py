"""The contract every registered model of the book follows (mrilab.models.base), tested once for all of them.

A new model gets every test here by registering and adding its small configuration to SMALL.
"""

import io

import pytest
import torch

import mrilab.models as models
from mrilab.data import SliceDataset
from mrilab.masks import cartesian_mask
from mrilab.models import MODELS, ReconstructionModel, build_model
from mrilab.models.base import TYPICAL_RMS, measurement_scale, reconstruct
from mrilab.ops import fft2c, ifft2c
from mrilab.train import default_loss

#: A configuration small enough for a unit test, per model class.
SMALL = {
    "ISTANetPlus": {"n_phases": 3, "n_filters": 8},
    "CGPDCSNet": {"features": 8, "depth": 2, "n_stages": 2, "n_resblocks": 1},
    "IFRNet": {"n_stages": 2, "n_blocks": 1, "n_points": 11},
}
BOOK_MODELS = sorted(name for name, cls in MODELS.items() if cls.__module__.startswith("mrilab.models"))
N = 32


def make(name: str) -> ReconstructionModel:
    torch.manual_seed(0)
    model = build_model(name, SMALL[name])
    with torch.no_grad():  # move zero-initialised output layers off zero, so every path carries signal
        for parameter in model.parameters():
            parameter.add_(1e-2 * torch.randn_like(parameter))
    return model.eval()


def data(batch: int = 2) -> dict:
    generator = torch.Generator().manual_seed(1)
    target = torch.randn(batch, 1, N, N, dtype=torch.complex64, generator=generator)
    mask = cartesian_mask((N, N), 0.3, seed=0)
    return {"kspace": fft2c(target) * mask, "mask": mask, "target": target, "ratio": torch.full((batch,), 0.3)}


def test_every_book_model_is_exported_registered_and_has_a_small_configuration():
    assert set(BOOK_MODELS) == set(SMALL)
    for name in BOOK_MODELS:
        assert getattr(models, name) is MODELS[name] and issubclass(MODELS[name], ReconstructionModel)


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_output_shape_dtype_stages_and_determinism(name):
    model, batch = make(name), data()
    with torch.no_grad():
        x = reconstruct(model, batch)
        again, stages = reconstruct(model, batch, return_stages=True)
    assert x.shape == (2, 1, N, N) and x.dtype == torch.complex64
    assert torch.equal(x, again)  # the same output twice
    assert isinstance(stages, list) and stages and all(isinstance(s, dict) and "x" in s for s in stages)
    assert torch.equal(stages[-1]["x"], x)
    assert all(s["x"].is_complex() for s in stages)  # other entries may be real maps (e.g. IFR-Net's descriptor T)
    assert all(image.shape == x.shape for s in stages for image in s.values())


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_unused_optional_inputs_are_ignored(name):
    model, batch = make(name), data()
    cls = MODELS[name]
    extras = {}
    if not cls.needs_reference:
        extras["reference"] = torch.randn(2, 1, N, N, dtype=torch.complex64)
    if not cls.multi_coil and not cls.needs_sens:
        extras["sens"] = torch.ones(2, 1, N, N, dtype=torch.complex64)
    with torch.no_grad():
        assert torch.equal(reconstruct(model, batch), reconstruct(model, {**batch, **extras}))


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_gradient_flows_from_the_loss_to_every_parameter(name):
    model, batch = make(name).train(), data()
    loss = default_loss(model, batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert not silent, f"no gradient reaches {silent}"


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_weights_only_checkpoint_round_trip(name):
    model, batch = make(name), data(1)
    buffer = io.BytesIO()
    torch.save({"model_name": name, "model_config": model.config, "state_dict": model.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    rebuilt = build_model(state["model_name"], state["model_config"])
    rebuilt.load_state_dict(state["state_dict"])
    with torch.no_grad():
        assert torch.equal(reconstruct(rebuilt.eval(), batch), reconstruct(model, batch))


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_bad_inputs_are_named(name):
    model, batch = make(name), data()
    kspace, mask = batch["kspace"], batch["mask"]
    nan = kspace.clone()
    nan[0, 0, 0, 0] = float("nan")
    cases = [
        ((kspace.real, mask), {}, TypeError, "kspace must be a complex"),
        ((kspace[0], mask), {}, ValueError, "kspace must have 4 dimensions"),
        ((nan, mask), {}, ValueError, "kspace contains NaN"),
        ((kspace, mask.float()), {}, TypeError, "mask must have dtype"),
        ((kspace, mask[:, :-2]), {}, ValueError, "mask must be"),
        ((kspace, mask.expand(3, 1, N, N)), {}, ValueError, "mask must be"),
        ((kspace, mask), {"ratio": 1.5}, ValueError, "ratio must be in"),
        ((kspace, mask), {"ratio": "0.3"}, TypeError, "ratio must be a number"),
        ((kspace, mask), {"reference": kspace[:1]}, ValueError, "reference must have shape"),
        ((kspace, mask), {"sens": torch.ones(2, 3, N, N, dtype=torch.complex64)}, ValueError, "sens must be"),
    ]
    if not MODELS[name].multi_coil:
        cases.append(((kspace.repeat(1, 2, 1, 1), mask), {}, ValueError, "kspace must be single-coil"))
    for args, kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            model(*args, **kwargs)


def test_reconstruct_forwards_every_optional_key_of_a_batch():
    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, kspace, mask, **extras):
            seen.update(extras)
            return kspace

    batch = data() | {"reference": torch.zeros(1), "sens": torch.ones(1), "index": torch.tensor([0, 1])}
    reconstruct(Recorder(), batch, return_stages=False)
    assert set(seen) == {"ratio", "reference", "sens", "return_stages"}
    with pytest.raises(KeyError, match="mask"):
        reconstruct(Recorder(), {"kspace": batch["kspace"]})


@pytest.mark.parametrize("name", BOOK_MODELS)
@pytest.mark.parametrize("c", [0.01, 0.5, 2.0, 100.0])
def test_a_change_of_units_scales_the_output_and_every_stage_image(name, c):
    """model(c·y) = c·model(y): the data are divided by their scale inside the model and the output multiplied by
    it again. Float32 rounding of y/s differs between the two calls; the tolerance is a few ulps of the output."""
    model, batch = make(name), data()
    with torch.no_grad():
        x, stages = reconstruct(model, batch, return_stages=True)
        scaled, scaled_stages = reconstruct(model, {**batch, "kspace": c * batch["kspace"]}, return_stages=True)
    torch.testing.assert_close(scaled, c * x, rtol=1e-5, atol=1e-6 * c * float(x.abs().max()))
    for stage, scaled_stage in zip(stages, scaled_stages, strict=True):
        for key, value in stage.items():
            expected = c * value if value.is_complex() else value
            torch.testing.assert_close(scaled_stage[key], expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()),
                                       msg=f"{name} stage {key!r} at c = {c}")


def test_the_measurement_scale_is_the_zero_filled_rms_over_the_typical_rms():
    """s = RMS(F^H y) / TYPICAL_RMS per sample (Parseval: the RMS of the masked k-space itself)."""
    kspace = data()["kspace"] * data()["mask"]
    kspace = torch.cat([kspace, 3.0 * kspace])
    naive = torch.stack([ifft2c(k).abs().pow(2).mean().sqrt() / TYPICAL_RMS for k in kspace])
    torch.testing.assert_close(measurement_scale(kspace).flatten(), naive, rtol=1e-6, atol=0)
    assert torch.all(measurement_scale(torch.zeros(1, 1, 4, 4, dtype=torch.complex64)) > 0)


def test_normalised_training_images_peak_near_one(smoke_dataset_root):
    """TYPICAL_RMS keeps x*/s in the generator's units: the median peak of the normalised targets is within 1 ± 1/3."""
    dataset = SliceDataset("smoke", "train", "T1w", ratios=(0.1, 0.2, 0.3), root=smoke_dataset_root)
    peaks = [float(sample["target"].abs().max() / measurement_scale(sample["kspace"][None]).flatten())
             for sample in map(dataset.__getitem__, range(len(dataset)))]
    assert 0.75 < float(torch.tensor(peaks).median()) < 1.33, peaks


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_the_training_loss_does_not_depend_on_the_units(name):
    """Each model's loss is computed in units of the data's scale: scaling kspace and target by c leaves it."""
    model, batch = make(name), data()
    with torch.no_grad():
        loss = default_loss(model, batch)
        scaled = default_loss(model, {**batch, "kspace": 7.0 * batch["kspace"], "target": 7.0 * batch["target"]})
    torch.testing.assert_close(scaled, loss, rtol=1e-5, atol=0)
