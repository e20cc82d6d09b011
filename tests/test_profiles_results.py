import json

import pytest

from mrilab.profiles import pick, resolve_profile, runs_dir
from mrilab.results import SCHEMA, markdown_table, read_results, results_row, write_results

ROWS = [{"index": i, "position": f"axial {i}", "psnr": 30.0 + i, "ssim": 0.9, "hfen": 0.2, "nmse": 0.01,
         "seconds": 0.01} for i in range(3)]


def test_environment_overrides_the_parameter(monkeypatch):
    monkeypatch.setenv("MRILAB_PROFILE", "smoke")
    assert resolve_profile("full") == "smoke"
    monkeypatch.delenv("MRILAB_PROFILE")
    assert resolve_profile("demo") == "demo"
    assert resolve_profile("auto") in ("demo", "full")


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
    row = results_row("TV", ROWS, dataset="brain", split="test", mask="cartesian", ratio=0.2, parameters=0,
                      lambda_relative=0.003)
    path = write_results("chapter", [row], profile="smoke", device="cpu")
    assert path == tmp_path / "smoke" / "chapter.json"
    payload = read_results("chapter", "smoke")
    assert payload["schema"] == SCHEMA and payload["rows"] == [row]
    assert json.loads(path.read_text())["machine"]["cpu_count"] >= 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_results_reject_incomplete_and_duplicate_rows(monkeypatch, tmp_path):
    monkeypatch.setenv("MRILAB_RESULTS", str(tmp_path))
    with pytest.raises(ValueError, match="missing keys"):
        write_results("chapter", [{"method": "TV"}], profile="smoke", device="cpu")
    bad = results_row("TV", ROWS, dataset="b", split="test", mask="c", ratio=0.1, parameters=0) | {"psnr_mean": "x"}
    with pytest.raises(ValueError, match="psnr_mean must be a number"):
        write_results("chapter", [bad], profile="smoke", device="cpu")
    good = results_row("TV", ROWS, dataset="b", split="test", mask="c", ratio=0.1, parameters=0)
    with pytest.raises(ValueError, match="unique"):
        write_results("chapter", [good, good], profile="smoke", device="cpu")
    with pytest.raises(FileNotFoundError, match="run the chapter"):
        read_results("other", "smoke")


def test_markdown_table_has_one_row_per_method_and_a_column_per_ratio():
    def row(method, ratio, psnr, **extra):
        rows = [r | {"psnr": psnr + r["index"] - 1} for r in ROWS]
        return results_row(method, rows, dataset="b", split="test", mask="c", ratio=ratio, parameters=0, **extra)

    payload = {"chapter": "c", "rows": [row("ZF", 0.1, 20.0), row("Net", 0.1, 25.5), row("ZF", 0.25, 22.0),
                                        row("Net", 0.15, 1.0, experiment="untrained_ratio")]}
    lines = markdown_table(payload).splitlines()
    assert lines[0] == "| method | 10 % | 25 % | time / slice |"
    assert lines[2].startswith("| ZF | 20.00\u00a0[")  # a no-break space keeps a cell on one line
    assert lines[3].startswith("| Net | 25.50\u00a0[") and "| — |" in lines[3]
    assert len(lines) == 4
    assert "15 %" in markdown_table(payload, experiment="untrained_ratio")
    assert markdown_table(payload, metric="ssim").splitlines()[2].startswith("| ZF | 0.900")
    with pytest.raises(ValueError, match="no rows with experiment='table9'"):
        markdown_table(payload, experiment="table9")
