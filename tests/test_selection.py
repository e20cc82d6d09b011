"""Recipe selection on the validation split: the rule, the record, the seed spread."""

import pytest

from mrilab import selection
from mrilab.recipes import pc_rnn


@pytest.fixture
def isolated(tmp_path, monkeypatch, smoke_dataset_root):
    monkeypatch.setenv("MRILAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MRILAB_DATA", str(smoke_dataset_root))
    monkeypatch.setattr(selection, "RECORDS", tmp_path / "records")
    return tmp_path


def test_select_writes_a_record_that_the_chapters_can_show(isolated, monkeypatch):
    monkeypatch.setitem(selection.CANDIDATES["cgpd_csnet"], "smoke", {
        "1 step": {"steps": 1, "batch_size": 2}, "2 steps": {"steps": 2, "batch_size": 2}})
    record = selection.select("cgpd_csnet", "smoke")
    assert record["split"] == "val" and [c["name"] for c in record["candidates"]] == ["1 step", "2 steps"]
    best = max(c["val_psnr_mean"] for c in record["candidates"])
    chosen = next(c for c in record["candidates"] if c["name"] == record["chosen"])
    assert chosen["val_psnr_mean"] >= best - selection.TOLERANCE_DB
    assert [r["seed"] for r in record["seed_repeats"]] == list(selection.SEEDS)
    assert record["kernel_order"] is None  # measured once, on the cheaper ISTA-Net+
    assert selection.load_record("cgpd_csnet", "smoke") == record
    table = selection.record_table(record)
    assert "**(chosen)**" in table and "10 %" in table
    assert all(v >= 0 for v in selection.seed_spread(record).values())


def test_the_kernel_order_shift_is_measured_with_another_thread_count(isolated, monkeypatch):
    monkeypatch.setitem(selection.CANDIDATES["ista_net"], "smoke", {"2 + 4 × 1 steps": {"first_steps": 2,
                                                                                        "train": {"steps": 1}}})
    record = selection.select("ista_net", "smoke")
    assert record["kernel_order"]["threads"] == 1 and record["kernel_order"]["ratio"] == 0.1
    assert "seed 0" in selection.kernel_order_shift(record)


def test_selection_errors_name_the_argument(isolated):
    with pytest.raises(ValueError, match="method must be one of"):
        selection.select("unet", "smoke")
    with pytest.raises(ValueError, match="no candidates for profile 'full'"):
        selection.select("ista_net", "full")
    with pytest.raises(FileNotFoundError, match="select_recipe.py"):
        selection.load_record("ista_net", "full")


def test_a_multicoil_selection_scores_its_candidates_on_the_validation_slices_of_its_task(isolated):
    record = selection.select("pc_rnn", "smoke")
    assert record["task"] == "multicoil-t1w-equispaced-vc4" and record["mask"] == "equispaced"
    assert list(record["candidates"][0]["val_psnr"]) == ["0.25"]  # the 4× model
    assert [r["seed"] for r in record["seed_repeats"]] == list(selection.REPEAT_SEEDS["pc_rnn"])


def test_the_multicoil_recipes_train_as_long_as_their_committed_selection_chose():
    def chosen(method):
        record = selection.load_record(method, "demo")
        best = max(c["val_psnr_mean"] for c in record["candidates"])
        choice = next(c for c in record["candidates"] if c["name"] == record["chosen"])
        assert choice["val_psnr_mean"] >= best - record["tolerance_db"]
        assert record["task"] == "multicoil-t1w-equispaced-vc4"
        return choice["overrides"]

    for method, module in selection.MULTI_COIL.items():
        assert module.SETTINGS["demo"]["main"]["first_steps"] == chosen(method)["first_steps"], method
    ablation = pc_rnn.SETTINGS["demo"]["ablation"]["train"]["steps"]
    assert ablation == chosen("pc_rnn_ablation")["train"]["steps"]
