import json

import pytest

from mrilab.results import SCHEMA, load_all, read_results, results_row, table, write_results
from mrilab.runtime import pick, resolve_profile, runs_dir

ROWS = [{"index": i, "position": f"axial {i}", "psnr": 30.0 + i, "ssim": 0.9, "hfen": 0.2, "nmse": 0.01,
         "seconds": 0.01} for i in range(3)]


def test_environment_overrides_the_parameter(monkeypatch):
    monkeypatch.setenv("MRILAB_PROFILE", "smoke")
    assert resolve_profile("full") == "smoke"
    monkeypatch.delenv("MRILAB_PROFILE")
    assert resolve_profile("demo") == "demo"
    assert resolve_profile("auto") == "demo"  # everywhere, with or without a GPU: full is asked for by name


def test_bad_profiles_are_named(monkeypatch):
    monkeypatch.delenv("MRILAB_PROFILE", raising=False)
    with pytest.raises(ValueError, match="profile must be one of"):
        resolve_profile("quick")
    monkeypatch.setenv("MRILAB_PROFILE", "tiny")
    with pytest.raises(ValueError, match="MRILAB_PROFILE must be one of"):
        resolve_profile("demo")
    with pytest.raises(KeyError, match="no settings for profile 'full'"):
        pick({"smoke": 1}, "full")


def test_runs_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MRILAB_RUNS", str(tmp_path))
    assert runs_dir("demo", "x") == tmp_path / "demo" / "x"


def test_results_round_trip(monkeypatch, tmp_path):
    monkeypatch.setenv("MRILAB_RESULTS", str(tmp_path))
    row = results_row("TV", ROWS, task="t", dataset="brain", split="test", mask="cartesian", ratio=0.2, parameters=0,
                      lambda_relative=0.003)
    path = write_results("chapter", [row], profile="smoke", device="cpu")
    assert path == tmp_path / "smoke" / "chapter.json"
    payload = read_results("chapter", "smoke")
    assert payload["schema"] == SCHEMA and payload["rows"] == [row | {"profile": "smoke", "device": "cpu"}]
    assert json.loads(path.read_text())["machine"]["cpu_count"] >= 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_results_reject_incomplete_and_duplicate_rows(monkeypatch, tmp_path):
    monkeypatch.setenv("MRILAB_RESULTS", str(tmp_path))
    with pytest.raises(ValueError, match="missing keys"):
        write_results("chapter", [{"method": "TV"}], profile="smoke", device="cpu")
    bad = results_row("TV", ROWS, task="t", dataset="b", split="test", mask="c", ratio=0.1,
                      parameters=0) | {"psnr_mean": "x"}
    with pytest.raises(ValueError, match="psnr_mean must be a number"):
        write_results("chapter", [bad], profile="smoke", device="cpu")
    good = results_row("TV", ROWS, task="t", dataset="b", split="test", mask="c", ratio=0.1, parameters=0)
    with pytest.raises(ValueError, match="unique"):
        write_results("chapter", [good, good], profile="smoke", device="cpu")
    with pytest.raises(FileNotFoundError, match="run the chapter"):
        read_results("other", "smoke")


def test_table_has_one_row_per_method_and_a_column_per_ratio():
    def row(method, ratio, psnr, **extra):
        rows = [r | {"psnr": psnr + r["index"] - 1} for r in ROWS]
        return results_row(method, rows, task="t", dataset="b", split="test", mask="c", ratio=ratio, parameters=0,
                           **extra)

    payload = {"chapter": "c", "rows": [row("ZF", 0.1, 20.0), row("Net", 0.1, 25.5), row("ZF", 0.25, 22.0),
                                        row("Net", 0.15, 1.0, experiment="untrained_ratio")]}
    lines = table(payload).splitlines()
    assert lines[0] == "| method | 10 % | 25 % | time / slice |"
    assert lines[2].startswith("| ZF | 20.00<br>[")  # the CI on a second line of the cell: the table fits a page
    assert lines[3].startswith("| Net | 25.50<br>[") and "| — |" in lines[3]
    assert all(" " not in cell.split("<br>")[1] for cell in lines[2].split(" | ")[1:-1])  # a CI never splits
    assert len(lines) == 4
    assert "15 %" in table(payload, experiment="untrained_ratio")
    assert table(payload, metric="ssim").splitlines()[2].startswith("| ZF | 0.900")
    with pytest.raises(ValueError, match="no rows with experiment='table9'"):
        table(payload, experiment="table9")


def test_table_refuses_two_settings_in_one_cell_and_a_row_needs_its_task():
    single = results_row("TV", ROWS, task="a", dataset="b", split="test", mask="c", ratio=0.1, parameters=0)
    multi = results_row("TV", ROWS, task="b", dataset="b", split="test", mask="c", ratio=0.1, parameters=0, coils=16)
    other_contrast = results_row("TV", ROWS, task="a", dataset="b", split="test", mask="c", ratio=0.1,
                                 parameters=0, contrast="T2w")
    for second, differ in ((multi, "task"), (other_contrast, "contrast")):
        with pytest.raises(ValueError, match=f"would share a cell.*{differ}"):
            table([single, second])
    assert table([single]).count("| TV |") == 1
    with pytest.raises(ValueError, match="task must be the name of a task"):
        results_row("TV", ROWS, task="", dataset="b", split="test", mask="c", ratio=0.1, parameters=0)


def test_load_all_merges_chapters_and_refuses_a_row_in_two_files(monkeypatch, tmp_path):
    monkeypatch.setenv("MRILAB_RESULTS", str(tmp_path))
    tv = results_row("TV", ROWS, task="t", dataset="b", split="test", mask="c", ratio=0.1, parameters=0)
    net = results_row("Net", ROWS, task="t", dataset="b", split="test", mask="c", ratio=0.1, parameters=10)
    write_results("first", [tv], profile="smoke", device="cpu")
    write_results("second", [net], profile="smoke", device="cuda")
    merged = load_all("smoke")
    assert [(r["method"], r["chapter"], r["device"]) for r in merged["rows"]] == [
        ("TV", "first", "cpu"), ("Net", "second", "cuda")]
    write_results("third", [tv], profile="smoke", device="cpu")
    with pytest.raises(ValueError, match="in both first and third"):
        load_all("smoke")
    with pytest.raises(FileNotFoundError, match="no results files"):
        load_all("demo")


def test_atomic_writes_honour_the_umask(tmp_path):
    import os

    from mrilab.io import atomic_write

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "a" / "file.json", "{}")
    finally:
        os.umask(old)
    assert path.read_text() == "{}" and (path.stat().st_mode & 0o777) == 0o644
    assert not list(tmp_path.rglob("*.tmp"))
