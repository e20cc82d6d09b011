import json

import pytest
import torch

from mrilab.evaluation import evaluate
from mrilab.stats import summarize
from mrilab.train import TrainConfig, Trainer, load_checkpoint, load_model

from .toys import ToyDataset, ToyNet


def make_trainer(out_dir, steps=6, **kwargs):
    torch.manual_seed(0)
    config = TrainConfig(steps=steps, batch_size=2, lr=1e-2, checkpoint_every=2, log_every=1, device="cpu", **kwargs)
    return Trainer(ToyNet(), ToyDataset(), out_dir, config)


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_training_reduces_loss_and_writes_artifacts(tmp_path):
    trainer = make_trainer(tmp_path, steps=30)
    history = trainer.fit(progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert json.loads((tmp_path / "history.json").read_text())["step"][-1] == 30
    assert (tmp_path / "loss.png").stat().st_size > 0
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["model_name"] == "ToyNet" and state["step"] == 30


def test_kill_and_resume_gives_identical_weights(tmp_path):
    straight = make_trainer(tmp_path / "straight")
    straight.fit(progress=False)

    interrupted = make_trainer(tmp_path / "resumed")
    calls = {"n": 0}

    def dying_loss(model, batch):
        calls["n"] += 1
        if calls["n"] == 4:  # dies during step 4, after the checkpoint at step 2
            raise KeyboardInterrupt
        return (model(batch["kspace"], batch["mask"]) - batch["target"]).abs().mean()

    interrupted.loss_fn = dying_loss
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(progress=False)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 2

    resumed = make_trainer(tmp_path / "resumed")
    resumed.fit(progress=False)
    assert resumed.step == 6
    assert torch.equal(weights(resumed.model), weights(straight.model))


def test_load_model_in_one_call(tmp_path):
    trainer = make_trainer(tmp_path, steps=2)
    trainer.fit(progress=False)
    model = load_model(tmp_path / "checkpoint.pt")
    assert isinstance(model, ToyNet) and not model.training
    assert torch.equal(weights(model), weights(trainer.model))


def test_extending_steps_resumes_but_other_config_changes_are_refused(tmp_path):
    make_trainer(tmp_path, steps=2).fit(progress=False)
    longer = make_trainer(tmp_path, steps=4)
    longer.fit(progress=False)
    assert longer.step == 4
    with pytest.raises(ValueError, match="different config"):
        make_trainer(tmp_path, steps=6, seed=1).fit(progress=False)


def test_evaluate_returns_per_slice_table():
    dataset = ToyDataset(n=5)
    model = ToyNet()
    rows = evaluate(model, dataset, batch_size=2, device="cpu")
    assert [r["index"] for r in rows] == list(range(5))
    assert {"position", "psnr", "ssim", "hfen", "nmse", "seconds"} <= set(rows[0])
    again = evaluate(model, dataset, batch_size=3, device="cpu")
    assert [r["psnr"] for r in rows] == pytest.approx([r["psnr"] for r in again], abs=1e-4)
    summary = summarize(rows)
    assert summary["n_slices"] == 5 and summary["psnr_ci_low"] <= summary["psnr_mean"] <= summary["psnr_ci_high"]

    def zero_filled(batch):
        return torch.fft.ifft2(batch["kspace"])

    assert len(evaluate(zero_filled, dataset, device="cpu")) == 5


def test_learning_rate_schedule():
    cfg = TrainConfig(steps=100, lr=1e-3, lr_min=1e-5)
    assert cfg.learning_rate(0) == pytest.approx(1e-3)
    assert cfg.learning_rate(50) == pytest.approx(0.5 * (1e-3 + 1e-5))
    assert TrainConfig(lr_schedule="constant").learning_rate(999) == 1e-3


def test_validation_loss_is_recorded_every_validate_every_steps(tmp_path):
    torch.manual_seed(0)
    config = TrainConfig(steps=6, batch_size=2, lr=1e-2, checkpoint_every=2, log_every=1, device="cpu",
                         validate_every=4)
    trainer = Trainer(ToyNet(), ToyDataset(), tmp_path, config, validation=ToyDataset(n=3))
    history = trainer.fit(progress=False)
    assert history["val_step"] == [4, 6] and len(history["val_loss"]) == 2
    assert history["val_loss"][-1] == pytest.approx(trainer.validation_loss())


def test_validate_every_needs_a_validation_set(tmp_path):
    config = TrainConfig(steps=2, device="cpu", validate_every=1)
    with pytest.raises(ValueError, match="validation dataset"):
        Trainer(ToyNet(), ToyDataset(), tmp_path, config)
    with pytest.raises(ValueError, match="validate_every"):
        TrainConfig(validate_every=-1)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_autocast_training_runs_its_convolutions_in_half_precision(tmp_path, precision):
    trainer = make_trainer(tmp_path, steps=4, precision=precision)
    seen = []
    trainer.model.net[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    history = trainer.fit(progress=False)
    assert seen and set(seen) == {getattr(torch, precision)}
    assert all(torch.isfinite(torch.tensor(history["loss"])))
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert trainer.scaler.is_enabled() == (precision == "float16")


def test_float32_training_uses_no_autocast_and_no_scaler(tmp_path):
    trainer = make_trainer(tmp_path, steps=1)
    seen = []
    trainer.model.net[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    trainer.fit(progress=False)
    assert seen == [torch.float32] and not trainer.scaler.is_enabled()


def test_float16_resume_restores_the_gradient_scaler(tmp_path):
    first = make_trainer(tmp_path, steps=2, precision="float16")
    first.fit(progress=False)
    first.scaler.update(new_scale=123.0)  # as after overflows: not the scale a fresh scaler starts with
    first.save_checkpoint()
    resumed = make_trainer(tmp_path, steps=4, precision="float16")
    assert resumed.scaler.get_scale() != 123.0
    assert resumed.resume() and resumed.scaler.get_scale() == 123.0


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="float8")


@pytest.mark.parametrize("name", ["ISTANetPlus", "CGPDCSNet", "IFRNet"])
def test_every_models_training_loss_compiles_without_graph_breaks(name):
    import torch._dynamo

    from mrilab.masks import cartesian_mask
    from mrilab.models.registry import build_model
    from mrilab.ops import fft2c
    from mrilab.train import _Loss, default_loss

    small = {"ISTANetPlus": {"n_phases": 2, "n_filters": 4}, "IFRNet": {"n_stages": 2, "n_blocks": 1},
             "CGPDCSNet": {"features": 4, "depth": 2, "n_stages": 2, "n_resblocks": 1}}[name]
    target = torch.randn(2, 1, 32, 32, dtype=torch.complex64)
    mask = torch.stack([cartesian_mask((32, 32), 0.3, seed=s) for s in range(2)])[:, None]
    batch = {"kspace": fft2c(target) * mask, "mask": mask, "target": target, "ratio": torch.full((2,), 0.3)}
    torch._dynamo.reset()
    explained = torch._dynamo.explain(_Loss(build_model(name, small)))(batch, default_loss)
    assert explained.graph_break_count == 0, [r.reason.splitlines()[0] for r in explained.break_reasons]


def test_compiled_training_checks_the_batch_values_and_matches_eager(tmp_path):
    from mrilab.models import ISTANetPlus

    def trainer(name, **options):
        torch.manual_seed(0)
        config = TrainConfig(steps=2, batch_size=2, log_every=1, device="cpu", **options)
        return Trainer(ISTANetPlus(n_phases=2, n_filters=4), ToyDataset(), tmp_path / name, config)

    eager, compiled = trainer("eager"), trainer("compiled", compile=True)
    torch.testing.assert_close(torch.tensor(compiled.fit(progress=False)["loss"]),
                               torch.tensor(eager.fit(progress=False)["loss"]), rtol=1e-4, atol=1e-6)
    batch = compiled.batch(0)
    batch["kspace"][0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"batch\['kspace'\] contains NaN"):
        compiled.compute_loss(batch)
