"""The book's build tooling (tools/book.py): which chapters run first when several run side by side."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import book  # noqa: E402


def test_the_longest_recorded_chapters_start_first_and_unrecorded_ones_before_them(tmp_path, monkeypatch):
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "chapters.json").write_text(json.dumps(
        {"seconds": {"demo": {"a/short": 5.0, "a/long": 300.0, "b/middle": 40.0}}}))
    monkeypatch.setattr(book, "ROOT", tmp_path)
    chapters = ["notebooks/a/short", "notebooks/a/long", "notebooks/b/new", "notebooks/b/middle"]
    assert book.longest_first(chapters, "demo") == ["notebooks/b/new", "notebooks/a/long", "notebooks/b/middle",
                                                     "notebooks/a/short"]
    assert book.longest_first(chapters, "full") == chapters  # nothing recorded: the book's order


def test_execute_names_a_bad_jobs_count(tmp_path):
    for jobs in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be a positive integer"):
            book.execute("smoke", tmp_path, jobs=jobs)
