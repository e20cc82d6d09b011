"""Tasks declared once, the registry of methods built from them, the recipe interface and the benchmark runner."""

import inspect
import json

import pytest
import torch

from mrilab import benchmark, methods
from mrilab.data import SliceDataset
from mrilab.evaluation import evaluate
from mrilab.recipes import RECIPES
from mrilab.recipes.classical import tuned
from mrilab.results import read_results, results_row, write_results
from mrilab.tasks import TASKS, Task, get_task, single_coil_task, task_name


def test_the_book_declares_its_tasks_with_names_that_follow_one_scheme():
    assert {"singlecoil-t1w-cartesian", "singlecoil-t1w-radial", "multicoil-t1w-equispaced",
            "multicontrast-t2w-pdw-cartesian", "multicontrast-t2w-pdw-radial"} <= set(TASKS)
    assert TASKS["singlecoil-t1w-cartesian"].ratios == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert TASKS["multicoil-t1w-equispaced"].ratios == (1 / 4, 1 / 6) and TASKS["multicoil-t1w-equispaced"].coils
    assert TASKS["multicontrast-t2w-pdw-radial"].ratios == (1 / 4, 1 / 8)
    assert all(task.name == task_name(task.contrast, task.mask, coils=task.coils, reference=task.reference,
                                      virtual_coils=task.virtual_coils) for task in TASKS.values())
    assert single_coil_task("radial") is TASKS["singlecoil-t1w-radial"]
    with pytest.raises(ValueError, match="task must be one of"):
        get_task("singlecoil-t1w-spiral")


@pytest.mark.parametrize(("options", "message"), [
    ({"mask": "spiral"}, "mask must be one of"),
    ({"ratios": (0.0,)}, "ratios must be sampling ratios"),
    ({"maps": True}, "need multi-coil data"),
    ({"coils": 8, "virtual_coils": 9}, "virtual_coils must be in"),
    ({"reference": "T1w"}, "must differ from the target"),
])
def test_a_task_refuses_what_cannot_be_asked(options, message):
    with pytest.raises(ValueError, match=message):
        Task("x", "x", "T1w", **{"ratios": (0.25,), **options})


def test_a_task_builds_its_datasets_and_keeps_maps_from_methods_that_may_not_see_them():
    task = TASKS["multicontrast-t2w-pdw-cartesian"]
    dataset = task.dataset("smoke", "val", max_slices=2)
    sample = dataset[0]
    assert dataset.contrast == "T2w" and dataset.reference == "PDw" and "reference" in sample
    assert abs(float(sample["mask"].float().mean()) - 0.25) < 0.05
    multi = TASKS["multicoil-t1w-equispaced"]
    batch = multi.dataset("smoke", "test", max_slices=1)[0]
    assert batch["kspace"].shape[0] == 16 and "sens" in batch
    assert "sens" not in multi.inputs(batch) and "sens" in multi.inputs(batch, oracle=True)
    example = multi.example(16, batch=3)
    assert example["kspace"].shape == (3, 16, 16, 16) and "sens" not in example
    with_maps = Task("multicoil-t1w-cartesian", "x", "T1w", (0.3,), coils=4, maps=True).example(16)
    assert with_maps["sens"].shape == (2, 4, 16, 16)
    assert torch.allclose((with_maps["sens"].abs() ** 2).sum(dim=1), torch.ones(2, 16, 16))


def test_every_recipe_takes_its_runs_options_in_one_call_shape():
    for recipe in RECIPES:
        for function in ("trainer", "train", "run_steps"):
            parameters = list(inspect.signature(getattr(recipe, function)).parameters.values())
            assert parameters[0].name == "profile"
        for options in recipe.runs("smoke") + [o for runs in recipe.task_runs("smoke").values() for o in runs.values()]:
            for function in ("trainer", "train", "run_steps"):
                inspect.signature(getattr(recipe, function)).bind("smoke", **options)
        names = {recipe.trainer("smoke", **options).run.name for options in recipe.runs("smoke")}
        for name, runs in recipe.task_runs("smoke").items():
            assert set(runs) <= set(TASKS[name].ratios) | {0.25}  # the IFR chapters' patterns are compared at 25 %
            assert {recipe.trainer("smoke", **options).run.name for options in runs.values()} <= names


def test_the_registry_says_which_methods_apply_to_which_task():
    table = {name: [m.name for m in methods.methods_for(task)] for name, task in TASKS.items()}
    assert table["singlecoil-t1w-cartesian"] == ["Zero-filling", "FISTA-wavelet", "TV", "ISTA-Net+", "CGPD-CSNet",
                                                 "Fully sampled, noisy (ceiling)"]
    assert {"IFR-CS", "IFR-Net", "ISTA-Net+"} <= set(table["singlecoil-t1w-radial"])
    assert table["multicoil-t1w-equispaced"] == [
        "Zero-filling", "FISTA-wavelet (estimated maps)", "TV (estimated maps)", "FISTA-wavelet (true maps, oracle)",
        "TV (true maps, oracle)", "Fully sampled, noisy (ceiling)"]
    assert [m.oracle for m in methods.methods_for("multicoil-t1w-equispaced")].count(True) == 2
    assert all(isinstance(method, methods.Method) for method in methods.METHODS)
    with pytest.raises(ValueError, match="method must be one of"):
        methods.get_method("SENSE-Net")


def test_a_classical_method_built_for_a_task_is_the_tuned_reconstructor_of_that_task():
    task = TASKS["singlecoil-t1w-cartesian"]
    dataset = task.dataset("smoke", "test", ratios=(0.2,), max_slices=2)
    built = methods.get_method("TV").build("smoke", task, 0.2, dataset=dataset)
    _, reference = tuned("tv", "smoke", task, 0.2)
    assert [r["psnr"] for r in evaluate(built, dataset)] == [r["psnr"] for r in evaluate(reference, dataset)]


def test_zero_filling_of_multi_coil_data_is_the_root_sum_of_squares_and_sense_tv_beats_it():
    task = TASKS["multicoil-t1w-equispaced"]
    dataset = task.dataset("smoke", "test", ratios=(1 / 4,), max_slices=2)
    batch = dataset[0]
    zero = methods.get_method("Zero-filling").build("smoke", task, 1 / 4, dataset=dataset)
    image = zero({key: value[None] if torch.is_tensor(value) else value for key, value in task.inputs(batch).items()})
    coil_images = torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(batch["kspace"], dim=(-2, -1)),
                                                     norm="ortho"), dim=(-2, -1))
    assert torch.allclose(image[0, 0], coil_images.abs().pow(2).sum(0).sqrt(), atol=1e-6)
    scores = {}
    for name in ("Zero-filling", "TV (estimated maps)", "TV (true maps, oracle)"):
        method = methods.get_method(name)
        built = method.build("smoke", task, 1 / 4, dataset=dataset)
        scores[name] = sum(r["psnr"] for r in evaluate(methods.restricted(task, method, built), dataset)) / 2
    assert scores["TV (true maps, oracle)"] > scores["Zero-filling"]
    assert scores["TV (estimated maps)"] > scores["Zero-filling"]


def test_a_trained_method_is_loaded_never_trained_by_the_registry(monkeypatch, tmp_path):
    monkeypatch.setenv("MRILAB_RUNS", str(tmp_path))
    task = TASKS["singlecoil-t1w-cartesian"]
    dataset = SliceDataset("smoke", "test", "T1w", ratios=(0.2,), max_slices=1)
    with pytest.raises(LookupError, match="neither committed weights nor a finished training run"):
        methods.get_method("ISTA-Net+").build("smoke", task, 0.2, dataset=dataset)


def test_the_runner_writes_rows_with_their_task_for_every_applicable_method(monkeypatch, tmp_path):
    monkeypatch.setenv("MRILAB_RESULTS", str(tmp_path))
    other = results_row("TV", [{"index": 0, "position": "p", "block": "b", "psnr": 1.0, "ssim": 0.5, "hfen": 1.0,
                                "seconds": 0.0}], task="singlecoil-t1w-radial", dataset="d", split="test",
                        mask="radial", ratio=0.1, parameters=0, experiment="benchmark")
    write_results("benchmark", [other], profile="smoke", device="cpu")  # an earlier run's row of another task
    assert benchmark.main(["--profile", "smoke", "--task", "singlecoil-t1w-random2d"]) == 0
    rows = read_results("benchmark", "smoke", tmp_path)["rows"]
    assert rows[0]["task"] == "singlecoil-t1w-radial"  # kept
    rows = rows[1:]
    assert {row["task"] for row in rows} == {"singlecoil-t1w-random2d"}
    assert {row["experiment"] for row in rows} == {"benchmark"}
    assert {"Zero-filling", "TV", "IFR-CS", "Fully sampled, noisy (ceiling)"} <= {row["method"] for row in rows}
    assert json.loads(json.dumps(rows)) == rows


def test_the_timing_helper_feeds_a_model_an_input_of_its_task():
    from mrilab.chapter import seconds_per_slice
    from mrilab.models import ISTANetPlus

    model = ISTANetPlus(n_phases=2, n_filters=4)
    assert seconds_per_slice(model, 32, repeats=1) > 0
    with pytest.raises(ValueError, match="kspace must be single-coil"):  # 16 coils: the task's input, not one coil
        seconds_per_slice(model, 32, task="multicoil-t1w-equispaced", repeats=1)


def test_the_training_cost_helper_counts_what_autograd_saves_per_slice():
    from types import SimpleNamespace

    from mrilab.chapter import training_step_cost

    conv = torch.nn.Conv2d(1, 4, 3, padding=1)

    def cost(size, batch):
        images = torch.randn(batch, 1, size, size)
        trainer = SimpleNamespace(batch=lambda step: {"kspace": images}, model=conv, device=torch.device("cpu"),
                                  optimizer=torch.optim.SGD(conv.parameters(), lr=0.1),
                                  loss_fn=lambda model, b: torch.relu(model(b["kspace"])).sum())
        return training_step_cost(trainer, repeats=1)

    small, large, pair = cost(16, 1), cost(32, 1), cost(32, 2)
    assert small["seconds"] > 0 and conv.weight.grad is None  # the gradients are discarded
    # conv saves its input (and its weight), ReLU its output: 1 + 4 float32 maps of the image per slice
    assert large["bytes"] == pytest.approx(5 * 4 * 32 * 32, rel=0.05)
    assert 3.5 < large["bytes"] / small["bytes"] <= 4
    assert pair["bytes"] == pytest.approx(large["bytes"], rel=0.05)  # per slice: the batch divides out



def test_a_task_with_virtual_coils_compresses_its_samples():
    task = TASKS["multicoil-t1w-equispaced-vc4"]
    assert task.name == task_name("T1w", "equispaced", coils=16, virtual_coils=4) and task.n_coils == 4
    sample = task.dataset("smoke", "test", max_slices=1)[0]
    full = TASKS["multicoil-t1w-equispaced"].dataset("smoke", "test", max_slices=1)[0]
    assert sample["kspace"].shape[0] == 4 and sample["sens"].shape[0] == 4 and full["kspace"].shape[0] == 16
    assert float(sample["kspace"].abs().pow(2).sum()) <= float(full["kspace"].abs().pow(2).sum()) * (1 + 1e-5)
    assert task.example(16)["kspace"].shape == (2, 4, 16, 16)


def test_a_task_builds_datasets_of_its_own_splits_only():
    assert "real" in TASKS["singlecoil-t1w-cartesian"].splits and "real" not in TASKS["multicoil-t1w-equispaced"].splits
    assert len(TASKS["singlecoil-t1w-cartesian"].dataset("smoke", "real", contrast="real")) > 0  # its file: real.h5
    with pytest.raises(ValueError, match="split must be one of task 'multicoil-t1w-equispaced'"):
        TASKS["multicoil-t1w-equispaced"].dataset("smoke", "real", contrast="real")
    with pytest.raises(ValueError, match="splits must be among"):
        Task("x", "x", "T1w", (0.2,), splits=("train", "holdout"))
