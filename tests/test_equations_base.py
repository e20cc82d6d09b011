"""What every model sees (mrilab.models.base): the masked data ``y = M ⊙ kspace``, the operator of its mask and coils,
the sampling ratio α (given, or the fraction of k-space each sample's mask holds) and a reference if it accepts one,
checked once at the boundary; and what it returns, in the units of the data."""

import pytest
import torch

from mrilab.models.base import (
    OUTPUTS,
    TYPICAL_RMS,
    Measurements,
    ReconstructionModel,
    check_values,
    measurement_scale,
    ratio_tensor,
)

from .test_equations_ops import apply, dense_operator, random, random_mask

H, W = 4, 6


class Probe(ReconstructionModel):
    """Returns ``A^H y`` (coil images without maps) and keeps the :class:`Measurements` it was given."""

    def __init__(self, **flags):
        super().__init__()
        for name, value in flags.items():
            setattr(self, name, value)
        self.config = {}

    def unroll(self, data, *, return_stages):
        self.data = data
        x = data.op.adjoint(data.y)
        return x, ([{"x": x}] if return_stages else [])


def test_measurements_are_the_masked_data_and_the_masks_operator():
    kspace = random(2, 1, H, W, seed=70)
    mask = random_mask((2, 1, H, W), seed=71)
    model = Probe()
    x, stages = model(kspace, mask, return_stages=True)
    data = model.data
    assert isinstance(data, Measurements) and data.batch_size == 2
    masked = torch.where(mask, kspace, torch.zeros_like(kspace))
    scale = (masked.abs() ** 2).sum(dim=(1, 2, 3), keepdim=True).div(H * W).sqrt() / TYPICAL_RMS  # per sample
    assert torch.allclose(data.scale, scale) and torch.allclose(data.y, masked / scale)
    assert torch.allclose(x, apply([a.conj().T for a in dense_operator(mask, None, 2)], kspace, (1, H, W)))
    assert stages == [{"x": x}] and model(kspace, mask).shape == (2, 1, H, W)
    assert data.ratio is None and data.reference is None and data.sens is None


def test_the_sampling_ratio_is_each_samples_mask_fraction_unless_given():
    kspace = random(3, 1, H, W, seed=72)
    masks = torch.stack([random_mask((1, H, W), seed=s, fraction=f) for s, f in ((1, 0.2), (2, 0.5), (3, 0.8))])
    model = Probe()
    model(kspace, masks)
    expected = torch.tensor([float(masks[b].double().mean()) for b in range(3)])
    assert torch.allclose(model.data.sampling_ratio(), expected)
    shared = random_mask((H, W), seed=4)
    model(kspace, shared)
    assert torch.allclose(model.data.sampling_ratio(), torch.full((3,), float(shared.double().mean())))
    model(kspace, shared[None, None])  # (1, 1, H, W): one mask for the batch
    assert model.data.sampling_ratio().shape == (3,)
    model(kspace, shared, ratio=0.25)
    assert torch.equal(model.data.sampling_ratio(), torch.full((3,), 0.25))
    model(kspace, shared, ratio=torch.tensor([0.1, 0.2, 1.0], dtype=torch.float64))
    assert model.data.ratio.dtype == torch.float32 and torch.allclose(model.data.ratio, torch.tensor([0.1, 0.2, 1.0]))


def test_ratio_tensor_accepts_numbers_and_tensors_in_zero_one():
    assert torch.equal(ratio_tensor(1, 3, "cpu"), torch.ones(3))
    assert torch.equal(ratio_tensor(0.5, 2, "cpu"), torch.full((2,), 0.5))
    assert torch.equal(ratio_tensor(torch.tensor(0.5), 2, "cpu"), torch.full((2,), 0.5))
    assert torch.equal(ratio_tensor(torch.tensor([0.5]), 2, "cpu"), torch.full((2,), 0.5))
    assert torch.equal(ratio_tensor(torch.tensor([0.5, 1.0]), 2, "cpu"), torch.tensor([0.5, 1.0]))
    for bad in (0, 0.0, 1.01, -0.5, torch.tensor([0.5, 0.0])):
        with pytest.raises(ValueError, match="ratio must be in"):
            ratio_tensor(bad, 2, "cpu")
    for bad in (True, "0.5", None):
        with pytest.raises(TypeError, match="ratio must be a number"):
            ratio_tensor(bad, 2, "cpu")
    with pytest.raises(TypeError, match="floating-point"):
        ratio_tensor(torch.tensor([1, 1]), 2, "cpu")
    with pytest.raises(ValueError, match="3 entries"):
        ratio_tensor(torch.tensor([0.5, 0.5]), 3, "cpu")


def test_check_values_screens_every_float_tensor_and_the_ratio():
    good = {"kspace": random(2, 1, H, W, seed=73), "target": torch.zeros(2), "index": torch.tensor([0, 1]),
            "ratio": torch.tensor([0.3, 0.4]), "name": "x"}
    check_values(good)
    check_values({**good, "ratio": None})
    bad = good["kspace"].clone()
    bad[1, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"batch\['kspace'\] contains NaN or infinite"):
        check_values({**good, "kspace": bad})
    with pytest.raises(ValueError, match=r"batch\['target'\] contains NaN"):
        check_values({**good, "target": torch.tensor([0.0, float("nan")])})
    with pytest.raises(ValueError, match="ratio must be in"):
        check_values({**good, "ratio": torch.tensor([0.3, 1.5])})


def test_coils_references_and_sizes_at_the_boundary():
    kspace = random(2, 3, H, W, seed=74)
    mask = random_mask((H, W), seed=75)
    sens = random(3, H, W, seed=76)
    model = Probe(multi_coil=True)
    x = model(kspace, mask)  # coils without maps: the operator works coil by coil
    assert model.data.op.sens is None and torch.equal(model.data.op.mask, mask)
    expected = apply([a.conj().T for a in dense_operator(mask, None, 2, coils=3)], kspace, (3, H, W))
    assert torch.allclose(x, expected)
    x = model(kspace, mask, sens=sens)
    assert torch.allclose(x, apply([a.conj().T for a in dense_operator(mask, sens, 2)], kspace, (1, H, W)))
    model(kspace, mask, sens=sens[None].expand(2, 3, H, W))
    assert model.data.op.sens.shape == (2, 3, H, W) and torch.equal(model.data.sens, sens[None].expand(2, 3, H, W))
    with pytest.raises(ValueError, match="sens must be"):
        model(kspace, mask, sens=random(3, 3, H, W, seed=77))
    with pytest.raises(ValueError, match="kspace must be single-coil"):
        Probe()(kspace, mask)
    with pytest.raises(ValueError, match="needs sens"):
        Probe(multi_coil=True, needs_sens=True)(kspace, mask)
    reference = random(2, 1, H, W, seed=78)
    single = Probe(accepts_reference=True, needs_reference=True)
    single(kspace[:, :1], mask, reference=reference)
    rms = (reference.abs() ** 2).mean(dim=(1, 2, 3), keepdim=True).sqrt() / TYPICAL_RMS
    assert torch.allclose(single.data.reference, reference / rms)  # the reference in units of its own scale
    with pytest.raises(ValueError, match="needs reference"):
        single(kspace[:, :1], mask)
    with pytest.raises(ValueError, match="reference must have shape"):
        single(kspace[:, :1], mask, reference=reference[:1])
    assert Probe(size_multiple=2)(kspace[:, :1], mask).shape == (2, 1, H, W)
    with pytest.raises(ValueError, match="divisible by 4"):
        Probe(size_multiple=4)(kspace[:, :1], mask)
    with pytest.raises(ValueError, match="mask must be"):
        Probe()(kspace[:, :1], random_mask((2, 2, H, W), seed=79))
    with pytest.raises(NotImplementedError, match="ReconstructionModel must implement"):
        ReconstructionModel()(kspace[:, :1], mask)


def test_a_reference_reaches_only_the_models_that_accept_one():
    kspace, mask = random(2, 1, H, W, seed=80), random_mask((H, W), seed=81)
    reference = random(2, 1, H, W, seed=82)
    ignoring = Probe()
    assert torch.equal(ignoring(kspace, mask, reference=reference), ignoring(kspace, mask))
    assert ignoring.data.reference is None
    ignoring(kspace, mask, reference=reference[:1])  # dropped unchecked: it is not an input of this model
    optional = Probe(accepts_reference=True)
    optional(kspace, mask)
    assert optional.data.reference is None
    optional(kspace, mask, reference=reference)
    assert torch.allclose(optional.data.reference, reference / measurement_scale(reference))


def test_model_classes_declare_a_known_output_and_accept_what_they_need():
    assert ReconstructionModel.output == "complex" and OUTPUTS == ("complex", "magnitude")
    assert not ReconstructionModel.accepts_reference and not ReconstructionModel.needs_reference

    class Magnitude(ReconstructionModel):
        output = "magnitude"

    class Multicontrast(ReconstructionModel):
        accepts_reference = needs_reference = True

    assert Magnitude.output == "magnitude" and Multicontrast.needs_reference
    with pytest.raises(ValueError, match="^Phase.output must be one of"):
        type("Phase", (ReconstructionModel,), {"output": "phase"})
    with pytest.raises(ValueError, match="^Careless sets needs_reference = True, so it must set accepts_reference"):
        type("Careless", (ReconstructionModel,), {"needs_reference": True})


class Stager(ReconstructionModel):
    """A magnitude model of two stages holding tensors of several kinds: the coil images, their root-sum-of-squares
    ``"x"`` (halved in the first stage), a real mask and a real weight map."""

    multi_coil = True
    output = "magnitude"

    def unroll(self, data, *, return_stages):
        coils = data.op.adjoint(data.y)
        x = coils.abs().pow(2).sum(dim=1, keepdim=True).sqrt()
        self.unscaled = [{"coils": coils, "x": x / 2, "mask": data.mask.float(), "weights": coils.abs()},
                         {"x": x, "coils": 2 * coils}]
        return x, ([dict(stage) for stage in self.unscaled] if return_stages else [])


def test_the_output_every_stage_x_and_every_complex_stage_tensor_come_back_in_the_datas_units():
    kspace, mask = 5.0 * random(2, 3, H, W, seed=83), random_mask((2, 1, H, W), seed=84)
    model = Stager()
    x, stages = model(kspace, mask, return_stages=True)
    first, last = model.unscaled
    scale = measurement_scale(kspace * mask)
    assert not x.is_complex() and torch.equal(x, last["x"] * scale) and torch.equal(model(kspace, mask), x)
    assert torch.equal(stages[1]["x"], x) and torch.equal(stages[0]["x"], first["x"] * scale)  # real "x": scaled
    for stage, unscaled in zip(stages, model.unscaled, strict=True):  # complex, also (B, C, H, W): scaled
        assert torch.equal(stage["coils"], unscaled["coils"] * scale)
    assert stages[0]["mask"] is first["mask"] and stages[0]["weights"] is first["weights"]  # other real: left
