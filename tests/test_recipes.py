"""The recipes: one interface per method, run directories, resume, committed weights, noisy k-space, baselines."""

import json

import pytest
import torch

from mrilab.data import NoisyKSpace, SliceDataset
from mrilab.recipes import (
    METHODS,
    cgpd_csnet,
    common,
    d5c5,
    ifr_net,
    ima,
    ista_net,
    multicoil,
    multicontrast,
    pc_rnn,
    unet,
)
from mrilab.train import load_checkpoint

CGPD_CSNET = cgpd_csnet.SETTINGS


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MRILAB_RUNS", str(tmp_path))
    return tmp_path


def test_every_profile_has_main_and_ablation_settings():
    for profile in ("smoke", "demo", "full"):
        for setting in ("main", "ablation"):
            assert {"model", "train"} <= set(CGPD_CSNET[profile][setting])
    assert CGPD_CSNET["full"]["main"]["model"] == {"features": 32, "depth": 8, "n_stages": 13, "n_resblocks": 4}


def test_cgpd_run_trains_in_its_run_dir_and_resumes(runs):
    model, history = cgpd_csnet.train("smoke", "multi", ratios=(0.1, 0.3), steps=1, progress=False)
    (out,) = (runs / "smoke" / "cgpd_csnet").glob("multi-*")
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 1 and (out / "history.json").exists()
    assert state["model_config"] == {**model.config, **CGPD_CSNET["smoke"]["main"]["model"]}
    assert state["train_config"]["batch_size"] == CGPD_CSNET["smoke"]["main"]["train"]["batch_size"]

    trainer = cgpd_csnet.trainer("smoke", "multi", ratios=(0.1, 0.3), steps=1)
    assert trainer.out_dir == out and trainer.resume() and trainer.step == 1  # picks up the finished run
    assert set(trainer.dataset.ratios) == {0.1, 0.3}
    # another recipe (a learning rate, a length) trains in its own directory instead of resuming a stale checkpoint
    for other in (cgpd_csnet.trainer("smoke", "multi", ratios=(0.1, 0.3), steps=1, train_overrides={"lr": 5e-4}),
                  cgpd_csnet.trainer("smoke", "multi", ratios=(0.1, 0.3), steps=2)):
        assert other.out_dir != out and not other.resume()


def test_model_overrides_and_settings_reach_the_model(runs):
    trainer = cgpd_csnet.trainer("smoke", "variant", ratios=0.2, setting="ablation", correction=False, condition="none",
                       init="zero", n_stages=1)
    config = trainer.model.config
    assert (config["correction"], config["condition"], config["init"], config["n_stages"]) == (False, "none", "zero", 1)
    assert trainer.config.steps == CGPD_CSNET["smoke"]["ablation"]["train"]["steps"]
    assert trainer.out_dir.parent == runs / "smoke" / "cgpd_csnet" and trainer.out_dir.name.startswith("variant-")
    with pytest.raises(KeyError, match="profile"):
        cgpd_csnet.trainer("nonexistent", "x", ratios=0.2)


def test_noisy_kspace_is_seeded_masked_and_scaled():
    clean = SliceDataset("smoke", "test", "T1w", ratios=(0.3,))
    noisy = NoisyKSpace(clean, 0.1, seed=3)
    a, b, c = noisy[0], noisy[0], NoisyKSpace(clean, 0.1, seed=4)[0]
    assert torch.equal(a["kspace"], b["kspace"]) and not torch.equal(a["kspace"], c["kspace"])
    assert not torch.equal(noisy[(0, 1)]["kspace"], noisy[(0, 2)]["kspace"])  # fresh noise per training draw
    noise = a["kspace"] - clean[0]["kspace"]
    assert torch.equal(noise[~a["mask"].expand_as(noise)], torch.zeros_like(noise[~a["mask"].expand_as(noise)]))
    sigma = 0.1 * a["target"].abs().pow(2).mean().sqrt()
    measured = noise[a["mask"].expand_as(noise)].abs().pow(2).mean().sqrt()
    assert abs(float(measured / sigma) - 1) < 0.1
    assert torch.equal(a["target"], clean[0]["target"]) and noisy.ratios == (0.3,) and len(noisy) == len(clean)
    with pytest.raises(ValueError, match="level"):
        NoisyKSpace(clean, -1.0)


def test_ista_net_series_warm_starts_from_the_lower_ratio(runs):
    ISTA_NET = ista_net.SETTINGS
    trainer = ista_net.trainer("smoke", 0.2)
    assert trainer.run.start_from == 0.1 and trainer.config.steps == ISTA_NET["smoke"]["train"]["steps"]
    first = ista_net.trainer("smoke", 0.1)
    assert first.run.start_from is None and first.config.steps == ISTA_NET["smoke"]["first_steps"]
    model, history = ista_net.train("smoke", 0.2, progress=False)
    first_runs = (runs / "smoke" / "ista_net").glob(f"{common.TRAINING_DATA}_cartesian_10-*/checkpoint.pt")
    assert len(list(first_runs)) == 1  # trained first
    assert history["step"][-1] == ISTA_NET["smoke"]["train"]["steps"]
    again, _ = ista_net.train("smoke", 0.2, progress=False)  # reloads, trains nothing
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    longer = ista_net.trainer("smoke", 0.2, schedule={"first_steps": 16})
    assert longer.out_dir != trainer.out_dir and longer.config.steps == ISTA_NET["smoke"]["train"]["steps"]
    with pytest.raises(KeyError, match="not an ISTA-Net\\+ setting"):
        ista_net.trainer("smoke", 0.2, schedule={"epochs": 3})


def test_a_warm_started_run_never_trains_when_it_may_only_load(runs, monkeypatch, tmp_path):
    monkeypatch.setattr(common, "WEIGHTS", tmp_path / "weights")  # no committed weights
    with pytest.raises(LookupError, match="neither committed weights nor a finished training run"):
        ista_net.train("smoke", 0.2, progress=False, load_only=True)
    assert not list(runs.glob("**/checkpoint.pt"))  # neither the run nor the one it starts from trained
    asked = []
    with pytest.raises(LookupError):
        common.fit_warm_started(ista_net.trainer("smoke", 0.2), asked.append, progress=False, load_only=True)
    assert asked == []  # the model it starts from is not even built


def test_classical_baselines_tune_on_validation_and_evaluate_every_method():
    from mrilab.recipes.classical import CLASSICAL, CLASSICAL_METHODS, LAMBDA_GRID, classical_baselines

    test_sets = {0.2: SliceDataset("smoke", "test", "T1w", ratios=(0.2,), max_slices=2)}
    lambdas, rows = classical_baselines("smoke", test_sets)
    assert set(lambdas) == {("fista", 0.2), ("tv", 0.2)}
    assert all(lambdas[m, 0.2] in LAMBDA_GRID["smoke"][m] for m in ("fista", "tv"))
    assert set(rows) == {(name, 0.2) for name in CLASSICAL_METHODS} and all(len(r) == 2 for r in rows.values())
    psnr = {name: sum(row["psnr"] for row in rows[name, 0.2]) / 2 for name in CLASSICAL_METHODS}
    assert psnr["TV"] > psnr["Zero-filling"]
    assert {"iterations", "tuning_slices"} <= set(CLASSICAL["demo"])
    with pytest.raises(KeyError, match="no settings for profile 'huge'"):
        classical_baselines("huge", test_sets)


def test_the_lambda_record_is_read_by_tuned_and_checked_by_rescoring(monkeypatch, tmp_path):
    from mrilab.recipes import classical

    monkeypatch.setattr(classical, "RECORDS", tmp_path)
    cartesian, radial = "singlecoil-t1w-cartesian", "singlecoil-t1w-radial"
    monkeypatch.setattr(classical, "LAMBDA_SETTINGS", (("tv", cartesian, 0.2, None), ("fista", radial, 0.3, None)))
    assert "no λ record" in classical.check_lambda_record("smoke")[0]
    record = classical.write_lambda_record("smoke")
    entry = record["entries"]["tv_singlecoil-t1w-cartesian_20"]
    grid = classical.LAMBDA_GRID["smoke"]["tv"]
    assert entry["lambda"] == classical.tuned("tv", "smoke", cartesian, 0.2)[0] == grid[0]
    assert classical.check_lambda_record("smoke") == []

    path = classical.lambda_record_path("smoke")
    edited = json.loads(path.read_text())
    edited["entries"]["tv_singlecoil-t1w-cartesian_20"]["lambda"] = 0.5  # tuned() must read the record, not tune again
    edited["entries"]["tv_singlecoil-t1w-cartesian_20"]["scores"]["0.5"] = 99.0  # and the check must re-score it
    path.write_text(json.dumps(edited))
    assert classical.tuned("tv", "smoke", cartesian, 0.2)[0] == 0.5
    assert classical.tuned("tv", "smoke", radial, 0.2)[0] == classical.LAMBDA_GRID["smoke"]["tv"][0]
    problems = classical.check_lambda_record("smoke")
    assert len(problems) == 1 and problems[0].startswith("tv singlecoil-t1w-cartesian 0.2: λ 0.5 now scores")

    monkeypatch.setitem(classical.CLASSICAL, "smoke", {**classical.CLASSICAL["smoke"], "iterations": 7})
    assert classical.tuned("tv", "smoke", cartesian, 0.2)[0] != 0.5  # a record of other settings is not used
    assert "other settings" in classical.check_lambda_record("smoke")[0]


def test_the_lambda_settings_cover_every_ratio_the_chapters_compare_with_tv():
    from mrilab.recipes.classical import LAMBDA_SETTINGS
    from mrilab.recipes.common import TWIN_RATIOS

    needed = {(m, "singlecoil-t1w-cartesian", r, None) for m in ("fista", "tv") for r in ista_net.RATIOS}
    needed |= {(m, "singlecoil-t1w-radial", r, None) for m in ("fista", "tv") for r in ifr_net.RATIOS}
    needed |= {("tv", "singlecoil-t1w-cartesian", r, None) for r in (*TWIN_RATIOS, ifr_net.PATTERN_RATIO)}
    needed |= {(m, "multicoil-t1w-equispaced", r, maps) for m in ("fista", "tv") for r in (1 / 4, 1 / 6)
               for maps in ("estimated", "true")}
    assert needed <= set(LAMBDA_SETTINGS)


def test_every_method_has_the_same_interface():
    assert list(METHODS) == ["ISTA-Net+", "CGPD-CSNet", "IFR-Net", "U-Net", "D5C5", "PC-RNN", "IMA"]
    for name, module in METHODS.items():
        assert module.NAME == name and set(module.SETTINGS) == {"smoke", "demo", "full"}
        for function in ("trainer", "train", "trained", "runs", "run_steps"):
            assert callable(getattr(module, function)), (name, function)
        runs = module.runs("demo")
        names = {module.trainer("demo", **options).run.name for options in runs}
        assert len(names) == len(runs)  # every run of the chapters has its own directory and weights


def test_committed_weights_load_when_the_recipe_hash_matches_and_train_otherwise(runs, monkeypatch, tmp_path):
    monkeypatch.setattr(common, "WEIGHTS", tmp_path / "weights")
    trainer = cgpd_csnet.trainer("smoke", "multi", ratios=(0.1,), steps=1)
    assert common.committed(trainer) is None
    common.fit(trainer, progress=False, save=True)  # trains, then writes weights and manifest
    path = common.weights_path("smoke", "cgpd_csnet", trainer.run.name)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["hash"] == common.recipe_hash(trainer.run.recipe) and manifest["steps"] == 1
    assert set(torch.load(path, weights_only=True)) == set(trainer.model.state_dict())

    monkeypatch.setenv("MRILAB_RUNS", str(tmp_path / "elsewhere"))  # no checkpoint to resume: must load
    fresh = cgpd_csnet.trainer("smoke", "multi", ratios=(0.1,), steps=1)
    history = common.fit(fresh, progress=False)
    assert history == manifest["history"] and not fresh.checkpoint_path.exists()
    assert all(torch.equal(a, b) for a, b in zip(fresh.model.state_dict().values(),
                                                trainer.model.state_dict().values(), strict=True))
    model, entry = common.load_committed("smoke", "cgpd_csnet", trainer.run.name)
    assert entry["run"] == trainer.run.name and not model.training

    manifest["hash"] = "0" * 64  # a stale file: trained with another recipe
    path.with_suffix(".json").write_text(json.dumps(manifest))
    stale = cgpd_csnet.trainer("smoke", "multi", ratios=(0.1,), steps=1)
    assert common.committed(stale) is None
    common.fit(stale, progress=False)
    assert stale.checkpoint_path.exists()  # trained instead of loading
    retrained = cgpd_csnet.trainer("smoke", "multi", ratios=(0.1,), steps=1)
    common.fit(retrained, progress=False, retrain=True)  # retrain ignores committed weights (resumes its run)
    assert retrained.step == 1


def test_ifr_runs_cover_the_main_series_patterns_and_ablations():
    runs_ = ifr_net.runs("demo")
    assert [r["ratio"] for r in runs_[:4]] == list(ifr_net.RATIOS)
    assert {r.get("mask") for r in runs_[4:7]} == set(ifr_net.PATTERNS)
    seeded = [r for r in runs_ if r.get("variant") in ifr_net.SEEDED]
    assert len(seeded) == 3 * len(ifr_net.SEEDED)
    assert {r["variant"] for r in runs_ if "variant" in r} == set(ifr_net.variants("demo"))


def test_ifr_ablations_name_what_they_follow_and_compare_like_with_like():
    variants = ifr_net.variants("demo")
    assert all(ifr_net.follows(v) for v in variants)  # a table, a figure or a file of the released code
    assert ifr_net.follows("N_s = 3") == "Fig. 6"
    # the wider random-initialised model is compared with the random-initialised one of the default width
    assert ifr_net.baseline("L = 16 (random init)") == "random init"
    wide, base = variants["L = 16 (random init)"], variants[ifr_net.baseline("L = 16 (random init)")]
    assert wide["init"] == base["init"] == "random" and {k for k in wide if wide[k] != base.get(k)} == {"n_filters"}
    assert all(ifr_net.baseline(v) == ifr_net.DEFAULT_VARIANT for v in variants if v != "L = 16 (random init)")
    # the default model's label names its committed runs and results rows (ablation_reference_<seed>)
    assert ifr_net.DEFAULT_VARIANT == "reference" and variants[ifr_net.DEFAULT_VARIANT] == {}
    # a variant and its baseline have the same seeds, so that they are paired seed by seed
    assert all(ifr_net.seeds("demo", v) == ifr_net.seeds("demo", ifr_net.baseline(v)) for v in ifr_net.SEEDED)
    # the released code's choices, alone and together
    code = {v: o for v, o in variants.items() if v.endswith("(code)")}
    assert code["T of x (code)"] == {"descriptor_of": "x"}
    assert code["flat blur (code)"] == {"blur_sigma": 50.0, "blur_radius": 25}
    assert code["S_PLF per filter (code)"] == {"plf_per_filter": True}
    assert code["all three (code)"] == {k: v for o in list(code.values())[:3] for k, v in o.items()}


def test_ifr_schedule_overrides_the_series_without_renaming_the_default(runs):
    default = ifr_net.trainer("smoke", 0.2)
    same = ifr_net.trainer("smoke", 0.2, schedule={"first_steps": 8, "train": {"steps": 4}})
    assert same.run.name == default.run.name  # the profile's own schedule, spelled out: the same run
    longer = ifr_net.trainer("smoke", 0.2, schedule={"train": {"steps": 6}})
    assert longer.run.name != default.run.name and longer.config.steps == 6
    assert ifr_net.run_steps("smoke", 0.1, schedule={"first_steps": 16}) == 16
    with pytest.raises(KeyError, match="not an IFR-Net setting"):
        ifr_net.trainer("smoke", 0.2, schedule={"epochs": 3})


def test_ifr_trainer_warm_starts_and_names_variants(runs):
    assert ifr_net.trainer("smoke", 0.1).run.start_from is None
    assert ifr_net.trainer("smoke", 0.3).run.start_from == ("radial", 0.2)
    assert ifr_net.trainer("smoke", 0.25, mask="random2d").run.start_from == ("radial", 0.2)
    variant = ifr_net.trainer("smoke", 0.4, variant="no refinement")
    assert variant.run.start_from is None and variant.model.config["refine"] is False
    code = ifr_net.trainer("smoke", 0.4, variant="all three (code)").model.config
    assert (code["descriptor_of"], code["blur_sigma"], code["blur_radius"], code["plf_per_filter"]) == ("x", 50.0, 25,
                                                                                                       True)
    assert variant.config.steps == ifr_net.SETTINGS["smoke"]["ablation"]["steps"]
    with pytest.raises(ValueError, match="variant must be one of"):
        ifr_net.trainer("smoke", 0.4, variant="bigger")


def test_run_steps_are_the_trainers_steps_without_building_data():
    for module in METHODS.values():
        for options in module.runs("smoke"):
            assert module.run_steps("smoke", **options) == module.trainer("smoke", **options).config.steps, options
    assert [ista_net.run_steps("demo", r) for r in (0.1, 0.3)] == [1200, 600]  # the warm-started demo series
    assert [ista_net.run_steps("full", r) for r in (0.1, 0.3)] == [20000, 20000]  # full: every ratio from scratch
    assert ifr_net.run_steps("demo", 0.2, mask="cartesian") == 300 and ifr_net.run_steps("full", 0.2) == 10000
    assert cgpd_csnet.run_steps("full", "x", setting="ablation") == 10000
    assert cgpd_csnet.run_steps("demo", "x", train_overrides={"steps": 7}) == 7


def test_gpu_training_estimate_is_steps_times_the_recorded_step(tmp_path, monkeypatch):
    record = {"device": "Some GPU", "measured": "2026-01-02T03:04:05Z",
              "steps_ms": {"ISTA-Net+": {"full": {"float32": 100.0, "bfloat16": 50.0}}}}
    (tmp_path / "gpu_steps.json").write_text(json.dumps(record))
    monkeypatch.setattr(common, "GPU_STEPS", tmp_path / "gpu_steps.json")
    steps = sum(ista_net.run_steps("full", **options) for options in ista_net.runs("full"))
    sentence = common.gpu_training_estimate(ista_net)
    assert f"{len(ista_net.runs('full'))} runs, {steps:,} training steps" in sentence
    assert f"about {steps * 0.1 / 3600:.1f} GPU hours" in sentence and "Some GPU (2026-01-02)" in sentence
    assert f"about {steps * 0.05 / 3600:.1f} GPU hours" in common.gpu_training_estimate(ista_net, precision="bfloat16")


def test_multicoil_recipes_train_one_model_per_acceleration_6x_from_4x(runs, smoke_dataset_root, monkeypatch):
    monkeypatch.setenv("MRILAB_DATA", str(smoke_dataset_root))
    for module in (unet, d5c5, pc_rnn):
        first, second = (module.trainer("smoke", r) for r in multicoil.RATIOS)
        assert first.run.start_from is None and second.run.start_from == multicoil.RATIOS[0]
        assert first.config.steps == module.SETTINGS["smoke"]["main"]["first_steps"]
        assert second.config.steps == module.SETTINGS["smoke"]["main"]["train"]["steps"]
        assert first.run.name.startswith("4x_vc4-") and second.run.name.startswith("6x_vc4-")
        assert module.task_runs("smoke")[multicoil.TASK] == {r: {"ratio": r} for r in multicoil.RATIOS}
        batch = first.batch(0)
        assert batch["kspace"].shape[1] == 4 and batch["mask"].float().mean() == pytest.approx(0.25, abs=0.05)
    model, history = pc_rnn.train("smoke", multicoil.RATIOS[1], progress=False)
    assert len(list((runs / "smoke" / "pc_rnn").glob("4x_vc4-*/checkpoint.pt"))) == 1  # the 4× model came first
    assert history["step"][-1] == pc_rnn.SETTINGS["smoke"]["main"]["train"]["steps"] and model.coils == 4


def test_multicoil_recipes_also_train_the_single_coil_task_with_the_same_settings(smoke_dataset_root, monkeypatch):
    monkeypatch.setenv("MRILAB_DATA", str(smoke_dataset_root))
    single = multicoil.task(single_coil=True)
    assert single.name == multicoil.SINGLE_COIL_TASK and single.n_coils == 1 and single.mask == "equispaced"
    assert single.ratios == multicoil.RATIOS
    with pytest.raises(ValueError, match="single-coil task has no virtual coils"):
        multicoil.task(8, single_coil=True)
    for module in (unet, d5c5, pc_rnn):
        first, second = (module.trainer("smoke", r, single_coil=True) for r in multicoil.RATIOS)
        multi = module.trainer("smoke", multicoil.RATIOS[0])
        assert first.run.name.startswith("4x_sc-") and second.run.name.startswith("6x_sc-")
        assert second.run.start_from == multicoil.RATIOS[0] and first.run.recipe["task"] == single.name
        assert first.run.recipe["recipe"] == multi.run.recipe["recipe"]  # the same settings as the multi-coil run
        assert first.batch(0)["kspace"].shape[1] == 1
        assert module.task_runs("smoke")[single.name] == {r: {"ratio": r, "single_coil": True}
                                                          for r in multicoil.RATIOS}
        assert all(options in module.runs("demo") for options in module.task_runs("demo")[single.name].values())


def test_multicontrast_recipes_train_one_model_per_mask_and_acceleration_8x_from_4x(runs, smoke_dataset_root,
                                                                                    monkeypatch):
    monkeypatch.setenv("MRILAB_DATA", str(smoke_dataset_root))
    for module, setting in ((ima, "main"), (unet, "reference")):
        for mask in multicontrast.MASKS:
            first, second = (module.trainer("smoke", r, mask=mask) for r in multicontrast.RATIOS)
            assert first.run.start_from is None and second.run.start_from == multicontrast.RATIOS[0]
            assert first.config.steps == module.SETTINGS["smoke"][setting]["first_steps"]
            assert second.config.steps == module.SETTINGS["smoke"][setting]["train"]["steps"]
            assert first.run.recipe["task"] == multicontrast.TASKS[mask]
            batch = first.batch(0)
            assert batch["reference"].shape == batch["target"].shape and batch["kspace"].shape[1] == 1
        assert {name: set(runs) for name, runs in module.task_runs("smoke").items()
                if name.startswith("multicontrast")} == dict.fromkeys(multicontrast.TASKS.values(),
                                                                     set(multicontrast.RATIOS))
    assert unet.trainer("smoke", 0.25, mask="radial").model.reference_input
    single = ima.trainer("smoke", 0.25, mask="radial", variant="single")
    assert single.model.use_reference is False and "single_radial_4x_refpdw" in single.run.name
    t1w = ima.trainer("smoke", 0.125, mask="radial", setting="ablation", reference="T1w")
    assert t1w.run.start_from is None and t1w.run.recipe["task"] == "multicontrast-t2w-t1w-radial"
    assert t1w.batch(0)["reference"].shape[1] == 1
    with pytest.raises(ValueError, match="variant must be one of"):
        ima.trainer("smoke", 0.25, variant="no_attention")
    demo = ima.ablations("demo")
    assert all(o["mask"] == ima.ABLATION_MASK and o["ratio"] == ima.ABLATION_RATIO for o in demo)
    assert sum(o["variant"] == "no_dcm" for o in demo) == len(ima.EXPERIMENTS["demo"]["seeds"])


def test_pc_rnn_ablations_are_table_vii_variants_and_table_iv_coils(runs, smoke_dataset_root, monkeypatch):
    monkeypatch.setenv("MRILAB_DATA", str(smoke_dataset_root))
    demo = pc_rnn.ablations("demo")
    variants = {(o["variant"], o.get("virtual_coils")) for o in demo}
    assert variants == {(v, None) for v in pc_rnn.TABLE_VII} | {("s4_2_1", 8)}
    repeated = pc_rnn.EXPERIMENTS["demo"]["repeated"]
    assert len(demo) == len(variants) * len(pc_rnn.EXPERIMENTS["demo"]["seeds"]) + len(repeated["variants"]) * len(
        repeated["seeds"])
    assert not set(repeated["seeds"]) & set(pc_rnn.EXPERIMENTS["demo"]["seeds"])  # more seeds, not the same twice
    for variant in repeated["variants"]:
        assert sorted(o["seed"] for o in demo if o["variant"] == variant and "virtual_coils" not in o) == sorted(
            pc_rnn.EXPERIMENTS["demo"]["seeds"] + repeated["seeds"])
    assert all(o["ratio"] == pc_rnn.ABLATION_RATIO and o["setting"] == "ablation" for o in demo)
    parallel = pc_rnn.trainer("smoke", 0.25, setting="ablation", variant="parallel")
    reverse = pc_rnn.trainer("smoke", 0.25, setting="ablation", variant="s1_2_4", virtual_coils=8)
    assert parallel.model.connected is False and parallel.run.start_from is None
    assert reverse.model.config["scales"] == [1, 2, 4] and reverse.model.coils == 8
    assert reverse.batch(0)["kspace"].shape[1] == 8 and reverse.run.name.startswith("ablation_s1_2_4_4x_vc8-")
    with pytest.raises(ValueError, match="variant must be one of"):
        pc_rnn.trainer("smoke", 0.25, variant="s3")
    with pytest.raises(KeyError, match="not a PC-RNN setting"):
        pc_rnn.trainer("smoke", 0.25, schedule={"epochs": 3})


def test_run_lock_makes_a_second_holder_wait(tmp_path):
    import threading
    import time

    entered = threading.Event()

    def second():
        with common.run_lock(tmp_path / "run"):
            entered.set()

    with common.run_lock(tmp_path / "run"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert not entered.is_set()  # the folder is locked: the second holder waits
    thread.join(timeout=10)
    assert entered.is_set() and (tmp_path / "run" / ".lock").exists()
