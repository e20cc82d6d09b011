"""The contract every registered model of the book follows (mrilab.models.base), tested once for all of them.

A new model gets every test here by registering and adding its small configuration to SMALL. Its inputs come from
the book's tasks (mrilab.tasks), one of each kind: single-coil, multi-coil with maps, multi-coil without maps and
single-coil with a reference contrast. A model is run on every kind its class attributes say it takes and must refuse
the others, naming the argument it cannot take. A toy magnitude model defined here, multi-coil and accepting a
reference, and two variants of it that need maps or a reference run through the same tests.
"""

import dataclasses
import inspect
import io

import pytest
import torch
from torch import nn

import mrilab.models as models
from mrilab.data import SliceDataset
from mrilab.models import MODELS, ReconstructionModel, build_model
from mrilab.models.base import TYPICAL_RMS, measurement_scale, reconstruct
from mrilab.ops import ifft2c
from mrilab.tasks import TASKS, Task
from mrilab.train import default_loss

#: A configuration small enough for a unit test, per model class.
SMALL = {
    "ISTANetPlus": {"n_phases": 3, "n_filters": 8},
    "CGPDCSNet": {"features": 8, "depth": 2, "n_stages": 2, "n_resblocks": 1},
    "IFRNet": {"n_stages": 2, "n_blocks": 1, "n_points": 11},
    "PCRNN": {"features": 4, "iterations": 2},
    "UNet": {"channels": 4, "levels": 2},
    "D5C5": {"cascades": 2, "depth": 3, "features": 4},
    "IMA": {"features": 4, "stages": 3},
}
BOOK_MODELS = sorted(name for name, cls in MODELS.items() if cls.__module__.startswith("mrilab.models"))
N = 32


class RootSumOfSquares(ReconstructionModel):
    """Toy magnitude model: ``w · (RSS(A^H y) + |reference|)``, the coil images' root-sum-of-squares (coil by coil
    without maps) plus, when given, the reference's magnitude."""

    multi_coil = True
    accepts_reference = True
    output = "magnitude"

    def __init__(self) -> None:
        super().__init__()
        self.config = {}
        self.weight = nn.Parameter(torch.tensor(1.0))

    def unroll(self, data, *, return_stages):
        coils = data.op.adjoint(data.y)
        x = coils.abs().pow(2).sum(dim=1, keepdim=True).sqrt()
        if data.reference is not None:
            x = x + data.reference.abs()
        x = self.weight * x
        return x, ([{"coils": coils, "mask": data.mask.float(), "x": x}] if return_stages else [])


class MapsNeeded(RootSumOfSquares):
    """The toy, asking for maps."""

    needs_sens = True


class ReferenceNeeded(RootSumOfSquares):
    """The toy, asking for a reference."""

    needs_reference = True


TOY = "RootSumOfSquares"
TOYS = {cls.__name__: cls for cls in (RootSumOfSquares, MapsNeeded, ReferenceNeeded)}
CONTRACT_MODELS = [*BOOK_MODELS, *TOYS]


def model_class(name: str) -> type[ReconstructionModel]:
    return TOYS[name] if name in TOYS else MODELS[name]


def make(name: str, kind: str = "single-coil") -> ReconstructionModel:
    """The small model, built for the coils of ``kind`` when its class takes a ``coils`` argument."""
    torch.manual_seed(0)
    config = dict(SMALL.get(name, {}))
    if name not in TOYS and "coils" in inspect.signature(MODELS[name]).parameters:
        config["coils"] = KINDS[kind].n_coils
    model = TOYS[name]() if name in TOYS else build_model(name, config)
    with torch.no_grad():  # move zero-initialised output layers off zero, so every path carries signal
        for parameter in model.parameters():
            parameter.add_(1e-2 * torch.randn_like(parameter))
    return model.eval()


def book_task(**wanted) -> Task:
    """The first of the book's tasks with the ``wanted`` attributes."""
    return next(task for task in TASKS.values() if all(getattr(task, k) == v for k, v in wanted.items()))


_multicoil = book_task(multi_coil=True, maps=False, reference=None)
#: One task per kind of input.
KINDS = {
    "single-coil": book_task(multi_coil=False, reference=None),
    "multi-coil with maps": dataclasses.replace(_multicoil, name=f"{_multicoil.name}-maps", maps=True),
    "multi-coil without maps": _multicoil,
    "with a reference": next(task for task in TASKS.values() if not task.multi_coil and task.reference is not None),
}


def refused(name: str, kind: str) -> str | None:
    """The argument a model cannot take in inputs of ``kind`` (from its class attributes), or None."""
    cls, task = model_class(name), KINDS[kind]
    if task.multi_coil and not cls.multi_coil:
        return "kspace"
    if cls.needs_sens and not task.maps:
        return "sens"
    if cls.needs_reference and task.reference is None:
        return "reference"
    return None


TAKEN = [(name, kind) for name in CONTRACT_MODELS for kind in KINDS if refused(name, kind) is None]
REFUSED = [(name, kind, refused(name, kind)) for name in CONTRACT_MODELS for kind in KINDS if refused(name, kind)]


def home(name: str) -> str:
    """The first kind of input a model takes: single-coil data, or single-coil data with a reference."""
    return next(kind for taken, kind in TAKEN if taken == name)


def data(kind: str = "single-coil", batch: int = 2) -> dict:
    """A task's example inputs and a complex target ``(B, 1, N, N)``."""
    inputs = KINDS[kind].example(N, batch=batch, seed=1)
    target = torch.randn(batch, 1, N, N, dtype=torch.complex64, generator=torch.Generator().manual_seed(2))
    return {**inputs, "target": target}


def check_output(name: str, x: torch.Tensor, batch: int = 2) -> None:
    """Shape ``(B, 1, N, N)``; complex64 or, for a magnitude model, real non-negative float32."""
    assert x.shape == (batch, 1, N, N)
    if model_class(name).output == "complex":
        assert x.dtype == torch.complex64
    else:
        assert x.dtype == torch.float32 and bool((x >= 0).all())


def test_every_book_model_is_exported_registered_and_has_a_small_configuration():
    assert set(BOOK_MODELS) == set(SMALL)
    for name in BOOK_MODELS:
        assert getattr(models, name) is MODELS[name] and issubclass(MODELS[name], ReconstructionModel)


def test_every_kind_of_input_is_tested_and_every_book_model_takes_single_coil_data_or_needs_a_reference():
    assert set(KINDS["multi-coil with maps"].example(N)) == {"kspace", "mask", "ratio", "sens"}
    assert set(KINDS["multi-coil without maps"].example(N)) == {"kspace", "mask", "ratio"}
    assert set(KINDS["with a reference"].example(N)) == {"kspace", "mask", "ratio", "reference"}
    assert KINDS["single-coil"].n_coils == 1 < KINDS["multi-coil without maps"].n_coils
    assert {home(name) for name in BOOK_MODELS} == {"single-coil", "with a reference"}  # IMA needs a reference
    assert {name for name in BOOK_MODELS if home(name) != "single-coil"} == {
        name for name in BOOK_MODELS if MODELS[name].needs_reference}
    assert {kind for name, kind in TAKEN if name == TOY} == set(KINDS)
    assert {argument for _, _, argument in REFUSED} == {"kspace", "sens", "reference"}


@pytest.mark.parametrize("name, kind, argument", REFUSED)
def test_a_model_refuses_inputs_it_cannot_take_naming_the_argument(name, kind, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"), torch.no_grad():
        reconstruct(make(name, kind), data(kind))


@pytest.mark.parametrize("name, kind", TAKEN)
def test_output_shape_dtype_stages_and_determinism(name, kind):
    model, batch = make(name, kind), data(kind)
    with torch.no_grad():
        x = reconstruct(model, batch)
        again, stages = reconstruct(model, batch, return_stages=True)
    check_output(name, x)
    assert torch.equal(x, again)  # the same output twice
    assert isinstance(stages, list) and stages and all(isinstance(s, dict) and "x" in s for s in stages)
    assert torch.equal(stages[-1]["x"], x)
    # every stage's "x" is an output image; other entries may be coil images, masks or real maps of other shapes
    assert all(s["x"].shape == x.shape and s["x"].dtype == x.dtype for s in stages)
    assert all(isinstance(value, torch.Tensor) for s in stages for value in s.values())


@pytest.mark.parametrize("name, kind", TAKEN)
def test_unused_optional_inputs_are_ignored(name, kind):
    model, batch = make(name, kind), data(kind)
    cls = model_class(name)
    extras = {}
    if not cls.accepts_reference:
        extras["reference"] = torch.randn(2, 1, N, N, dtype=torch.complex64)
    if not cls.multi_coil and not cls.needs_sens:
        extras["sens"] = torch.ones(2, 1, N, N, dtype=torch.complex64)
    with torch.no_grad():
        assert torch.equal(reconstruct(model, batch), reconstruct(model, {**batch, **extras}))


@pytest.mark.parametrize("name, kind", TAKEN)
def test_gradient_flows_from_the_loss_to_every_parameter(name, kind):
    model, batch = make(name, kind).train(), data(kind)
    loss = default_loss(model, batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert not silent, f"no gradient reaches {silent}"


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_weights_only_checkpoint_round_trip(name):
    model, batch = make(name, home(name)), data(home(name), batch=1)
    buffer = io.BytesIO()
    torch.save({"model_name": name, "model_config": model.config, "state_dict": model.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    rebuilt = build_model(state["model_name"], state["model_config"])
    rebuilt.load_state_dict(state["state_dict"])
    with torch.no_grad():
        assert torch.equal(reconstruct(rebuilt.eval(), batch), reconstruct(model, batch))


@pytest.mark.parametrize("name", [name for name in CONTRACT_MODELS if not KINDS[home(name)].multi_coil])
def test_bad_inputs_are_named(name):
    model, batch = make(name), data(home(name))
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
        ((kspace, mask), {"sens": torch.ones(2, 3, N, N, dtype=torch.complex64)}, ValueError, "sens must be"),
    ]
    if model_class(name).accepts_reference:
        cases.append(((kspace, mask), {"reference": kspace[:1]}, ValueError, "reference must have shape"))
    if not model_class(name).multi_coil:
        cases.append(((kspace.repeat(1, 2, 1, 1), mask), {}, ValueError, "kspace must be single-coil"))
    given = {"reference": batch["reference"]} if "reference" in batch else {}
    for args, kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            model(*args, **{**given, **kwargs})


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


@pytest.mark.parametrize("name, kind", TAKEN)
@pytest.mark.parametrize("c", [0.01, 0.5, 2.0, 100.0])
def test_a_change_of_units_scales_the_output_and_every_stage_image(name, kind, c):
    """model(c·y) = c·model(y): the data are divided by their scale inside the model and the output, every stage's
    "x" and every complex stage tensor multiplied by it again; real maps stay. Float32 rounding of y/s differs
    between the two calls, and a network amplifies it a little (a U-Net on the flat root-sum-of-squares of 16 random
    coils: 2e-6 of the peak); the tolerance is 1e-5 of the peak."""
    model, batch = make(name, kind), data(kind)
    with torch.no_grad():
        x, stages = reconstruct(model, batch, return_stages=True)
        scaled, scaled_stages = reconstruct(model, {**batch, "kspace": c * batch["kspace"]}, return_stages=True)
    torch.testing.assert_close(scaled, c * x, rtol=1e-5, atol=1e-5 * c * float(x.abs().max()))
    for stage, scaled_stage in zip(stages, scaled_stages, strict=True):
        for key, value in stage.items():
            expected = c * value if key == "x" or value.is_complex() else value
            torch.testing.assert_close(scaled_stage[key], expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()),
                                       msg=f"{name} stage {key!r} at c = {c}")


def test_a_magnitude_model_takes_coils_without_maps_and_a_reference_if_given():
    """The toy's output is the naive w · (sqrt(Σ_c |F^H M y_c|²) + |reference| / its scale) in the data's units."""
    model = make(TOY)
    batch = data("multi-coil without maps")
    kspace, mask = batch["kspace"], batch["mask"]
    coil_images = torch.stack([torch.stack([ifft2c(k_c * mask) for k_c in k]) for k in kspace])
    expected = model.weight * coil_images.abs().pow(2).sum(dim=1, keepdim=True).sqrt()
    reference = data("with a reference")["reference"]
    with torch.no_grad():
        torch.testing.assert_close(model(kspace, mask), expected, rtol=1e-5, atol=1e-6)
        with_reference = model(kspace, mask, reference=reference)
    scale = measurement_scale(kspace * mask)
    reference_term = model.weight * scale * reference.abs() / measurement_scale(reference)
    torch.testing.assert_close(with_reference, expected + reference_term, rtol=1e-5, atol=1e-6)


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
    model, batch = make(name, home(name)), data(home(name))
    with torch.no_grad():
        loss = default_loss(model, batch)
        scaled = default_loss(model, {**batch, "kspace": 7.0 * batch["kspace"], "target": 7.0 * batch["target"]})
    torch.testing.assert_close(scaled, loss, rtol=1e-5, atol=0)


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_every_training_loss_checks_its_batch_alike(name):
    """The models' losses share mrilab.models.base.check_training_batch: the same errors, naming the key."""
    model, batch = make(name, home(name)), data(home(name))
    with pytest.raises(KeyError, match="batch must contain 'target'"):
        model.training_loss({k: v for k, v in batch.items() if k != "target"})
    with pytest.raises(TypeError, match="^target must be a complex tensor"):
        model.training_loss({**batch, "target": batch["target"].real})
    with pytest.raises(ValueError, match=r"^target must have shape \(2, 1, 32, 32\)"):
        model.training_loss({**batch, "target": batch["target"][..., :16]})
    with pytest.raises(ValueError, match="^target contains NaN"):
        model.training_loss({**batch, "target": torch.full_like(batch["target"], float("nan"))})
    with pytest.raises(TypeError, match="^kspace must be a torch.Tensor"):  # left to the model's own input checks
        model.training_loss({**batch, "kspace": None})


def test_the_default_loss_of_a_magnitude_model_compares_magnitudes():
    """Without its own training_loss, a magnitude model is trained towards |target|, not the complex target."""
    model, batch = make(TOY, "multi-coil without maps"), data("multi-coil without maps")
    with torch.no_grad():
        expected = (reconstruct(model, batch) - batch["target"].abs()).abs().mean()
        torch.testing.assert_close(default_loss(model, batch), expected)
