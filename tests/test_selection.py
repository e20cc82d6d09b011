"""Recipe selection on the validation split: the rule, the record, the seed spread."""

import pytest

from mrilab import selection


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
    assert record["kernel_order"]["threads"] == 1
    assert selection.load_record("cgpd_csnet", "smoke") == record
    table = selection.record_table(record)
    assert "**(chosen)**" in table and "10 %" in table
    assert all(v >= 0 for v in selection.seed_spread(record).values())
    assert "seed 0" in selection.kernel_order_shift(record)


def test_selection_errors_name_the_argument(isolated):
    with pytest.raises(ValueError, match="method must be one of"):
        selection.select("unet", "smoke")
    with pytest.raises(ValueError, match="no candidates for profile 'full'"):
        selection.select("ista_net", "full")
    with pytest.raises(FileNotFoundError, match="select_recipe.py"):
        selection.load_record("ista_net", "full")
