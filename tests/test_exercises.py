"""The exercise checks (mrilab.exercises) and the classroom edition's generator (tools/classroom.py)."""

import sys
from pathlib import Path

import pytest
import torch

from mrilab.exercises import assert_close, check

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import classroom  # noqa: E402

SOLUTION = '''import torch


def double(x):
    """Twice x."""
    y = 2 * x
    return y


answer = 42
print(answer)
'''
CHECKS = '''import torch
from mrilab.exercises import assert_close, check


@check("ex-toy-double")
def test_double(double):
    assert_close(double(torch.ones(2)), 2 * torch.ones(2), "double(torch.ones(2))")


@check("ex-toy-double", hidden=True, points=2)
def test_double_of_zero(double):
    assert_close(double(torch.zeros(3)), torch.zeros(3), "double(torch.zeros(3))")
'''


def test_check_runs_at_once_with_the_callers_names():
    namespace = {"check": check, "double": lambda x: 2 * x, "seen": []}
    exec("@check('ex-toy-double')\ndef test_it(double, seen):\n    seen.append(double(3))", namespace)
    assert namespace["seen"] == [6]


def test_check_fails_when_the_answer_is_wrong_or_missing():
    namespace = {"check": check, "double": lambda x: x}
    with pytest.raises(AssertionError, match="expected 4, got 2"):
        exec("@check('ex-toy-double')\ndef test_it(double):\n    assert double(2) == 4, f'expected 4, got {double(2)}'",
             namespace)
    with pytest.raises(NameError, match="needs \\['triple'\\]"):
        exec("@check('ex-toy-double')\ndef test_it(triple):\n    pass", {"check": check})


@pytest.mark.parametrize("label", ["ifr-xstep", "ex_ifr", "EX-IFR", ""])
def test_check_names_a_bad_label(label):
    with pytest.raises(ValueError, match="exercise must be a label"):
        check(label)


def test_assert_close_says_what_was_expected_and_got():
    assert_close(torch.ones(3), torch.ones(3), "f()")
    with pytest.raises(AssertionError, match=r"f\(\): expected 2, got 3"):
        assert_close(3.0, 2.0, "f()")
    with pytest.raises(AssertionError, match=r"expected shape \(3,\), got \(2,\)"):
        assert_close(torch.ones(2), torch.ones(3), "f()")
    with pytest.raises(AssertionError, match="got None .is the exercise answered"):
        assert_close(None, torch.ones(3), "f()")
    with pytest.raises(AssertionError, match="largest difference from the expected values is 0.5"):
        assert_close(torch.tensor([1.0, 1.5]), torch.ones(2), "f()")
    with pytest.raises(AssertionError, match=r"f\(\): expected 2.0, got 'two'"):
        assert_close("two", 2.0, "f()")
    with pytest.raises(AssertionError, match=r"f\(\): expected 2, got nan"):
        assert_close(float("nan"), 2.0, "f()")


def test_stub_keeps_imports_signatures_and_docstrings_and_drops_the_answer():
    stub = classroom.stub(SOLUTION, "ex-toy-double")
    assert "import torch" in stub and 'def double(x):\n    """Twice x."""' in stub
    assert 'raise NotImplementedError("ex-toy-double is not answered yet")' in stub
    assert "2 * x" not in stub and "42" not in stub and "print" not in stub and "answer =" not in stub
    assert "answer = ...\n" in classroom.stub(SOLUTION, "ex-toy-double", {"double", "answer"})
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError):
        namespace["double"](1)


def test_test_file_is_otters_format_with_or_without_the_hidden_checks():
    from otter.test_files.exception_test import ExceptionTestFile

    exercise = classroom.Exercise("ex-toy-double", "Doubling", CHECKS)
    public, full = (classroom.test_file(exercise, hidden=h) for h in (False, True))
    assert "test_double_of_zero" not in public and "test_double_of_zero" in full
    for source, cases in ((public, 1), (full, 2)):
        test = ExceptionTestFile.from_string(source, path="ex-toy-double.py")
        assert test.name == "ex-toy-double" and len(test.test_cases) == cases
        test.run({"double": lambda x: 2 * x})
        assert test.grade == 1.0
        test.run({"double": lambda x: x + 3})
        assert test.grade == 0.0


def test_grade_names_a_missing_submission(tmp_path):
    with pytest.raises(SystemExit, match="submissions must be .ipynb files that exist"):
        classroom.grade("ifr/derive", [tmp_path / "missing.ipynb"], tmp_path / "grades.csv")
    with pytest.raises(SystemExit, match="chapter must be one of"):
        classroom.grade("ifr/derivation", [], tmp_path / "grades.csv")


def test_every_chapter_has_three_graded_exercises_and_its_student_notebook_no_solution():
    for chapter in classroom.chapters():
        graded = [e for e in classroom.exercises(classroom.twin(chapter)) if e.checks]
        assert len(graded) >= 3, chapter
        student = "\n".join(c.source for c in classroom.edition(chapter).cells)
        for fragment in classroom.solution_fragments(chapter):
            assert fragment not in student, (chapter, fragment)
        for exercise in graded:
            assert f'grader.check("{exercise.label}")' in student
