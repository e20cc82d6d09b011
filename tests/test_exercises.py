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


def test_written_without_passes_an_answer_and_fails_one_that_delegates():
    from functools import partial

    from mrilab.classical import soft_threshold
    from mrilab.exercises import written_without
    from mrilab.models import ISTANetPlus
    from mrilab.ops import MRIOperator, fft2c, ifft2c

    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[:, ::2] = True
    x = torch.randn(1, 1, 8, 8, dtype=torch.complex64)
    y = fft2c(x) * mask

    def x_step(x_t, y, mask, rho):
        return ifft2c((mask * y + rho * fft2c(x_t)) / (mask + rho))

    def helper(x_t, y, mask, rho):
        return MRIOperator(mask).soft_dc(x_t, y, rho)

    def indirect(x_t, y, mask, rho):
        return helper(x_t, y, mask, rho)

    before = sys.getprofile()
    assert_close(written_without(x_step, MRIOperator.soft_dc)(x, y, mask, 0.5), MRIOperator(mask).soft_dc(x, y, 0.5),
                 "x_step", atol=1e-5)
    assert sys.getprofile() is before  # the hook is gone once the answer returns
    for delegate, args in ((MRIOperator(mask).soft_dc, (x, y, 0.5)), (indirect, (x, y, mask, 0.5)),
                           (lambda *a: helper(*a), (x, y, mask, 0.5)),
                           (partial(MRIOperator.soft_dc, MRIOperator(mask)), (x, y, 0.5))):
        with pytest.raises(AssertionError, match=r"calls mrilab\.ops\.MRIOperator\.soft_dc, which the exercise"):
            written_without(delegate, MRIOperator.soft_dc)(*args)
        assert sys.getprofile() is before
    with pytest.raises(AssertionError, match="soft_threshold"):
        written_without(lambda v: soft_threshold(v, 0.1), soft_threshold)(x)
    with pytest.raises(AssertionError, match="fft2"):
        written_without(lambda v: torch.fft.fft2(v), torch.fft.fft2)(x)
    with pytest.raises(AssertionError, match="ISTANetPlus"):  # a class stands for its constructor
        written_without(lambda: ISTANetPlus(n_phases=1, n_filters=2), ISTANetPlus)()
    with pytest.raises(AssertionError, match="is the exercise answered"):
        written_without(..., MRIOperator.soft_dc)
    with pytest.raises(NotImplementedError):  # a stub fails as it is, and the hook is removed
        written_without(classroom_stub(), MRIOperator.soft_dc)(x)
    assert sys.getprofile() is before


def classroom_stub():
    namespace = {}
    exec(classroom.stub(SOLUTION, "ex-toy-double"), namespace)
    return namespace["double"]


def test_public_checks_leave_out_what_only_hidden_checks_use():
    checks = CHECKS.replace("\n\n@check", '''

def reference(x):
    return 2 * x


@check''', 1)
    checks = checks.replace("torch.zeros(3), torch.zeros(3)", "torch.zeros(3), reference(torch.zeros(3))")
    exercise = classroom.Exercise("ex-toy-double", "Doubling", checks)
    public, full = (classroom.test_file(exercise, hidden=h) for h in (False, True))
    assert "def reference" not in public and "def reference" in full
    assert "import torch" in public and "assert_close" in public


def test_the_student_install_leaves_colabs_widgets_alone():
    cell = ('import sys\n\nif "google.colab" in sys.modules:\n    import subprocess\n\n'
            '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "mrilab @ git+https://x/y"],\n'
            '                   check=True)\n')
    code = classroom._student_install(cell)
    assert '"mrilab @ git+https://x/y"' in code and "mrilab[classroom]" not in code
    assert '"--no-deps",' in code and '"otter-grader==' in code
    assert "ipywidgets\"" not in code and "widgetsnbextension" not in code
    compile(code, "install", "exec")
    for chapter in classroom.chapters():
        install = [c.source for c in classroom.edition(chapter).cells if "google.colab" in c.source]
        assert len(install) == 1 and '"--no-deps",' in install[0], chapter


def copy_of_the_student_notebooks(tmp_path):
    import shutil

    shutil.copytree(classroom.STUDENT, tmp_path / "classroom", ignore=shutil.ignore_patterns("checks"))
    return tmp_path / "classroom"


def plant(folder, chapter, text):
    """Put `text` into the first check file that the set-up cell of `chapter`'s student notebook writes."""
    import nbformat

    path = folder / (chapter + ".ipynb")
    notebook = nbformat.read(path, as_version=4)
    setup = next(c for c in notebook.cells if c.source.startswith(classroom.SETUP_TITLE))
    assert "\nOK_FORMAT = False\n" in setup.source
    setup.source = setup.source.replace("\nOK_FORMAT = False\n", f"\n{text}\nOK_FORMAT = False\n", 1)
    nbformat.write(notebook, path)


def test_the_student_notebooks_give_nothing_away():
    found, looked_for = classroom.notebook_leaks(classroom.STUDENT)
    assert looked_for > 100
    assert found == []


def test_the_notebook_scan_catches_a_planted_solution_line(tmp_path):
    folder = copy_of_the_student_notebooks(tmp_path)
    chapter = "notebooks/foundations/masks_metrics"
    line = next(f for f in classroom.solution_fragments(chapter) if "foreground_mask" in f)
    plant(folder, "foundations/masks_metrics", f"# {line}")
    found, _ = classroom.notebook_leaks(folder)
    assert found and all("foundations/masks_metrics.ipynb, checks/" in f for f in found)
    assert any(line.strip() in f for f in found)


def test_the_notebook_scan_catches_a_hidden_check_and_a_lookalike_helper(tmp_path):
    folder = copy_of_the_student_notebooks(tmp_path)
    exercise = next(e for e in classroom._graded("notebooks/two_grid/derive") if e.label == "ex-tg-neumann")
    hidden = next(case for case in exercise.parsed()[1] if case.hidden)
    plant(folder, "two_grid/derive", hidden.source)
    plant(folder, "ifr/train", "def expected(stages):\n    return None\n")  # kept_fraction(stages)
    found, _ = classroom.notebook_leaks(folder)
    assert any(f.startswith("two_grid/derive.ipynb") and hidden.name in f for f in found)
    assert any(f.startswith("ifr/train.ipynb") and "def expected(stages): the parameters of kept_fraction" in f
               for f in found)


def test_the_notebook_scan_reads_checks_folders_on_disk(tmp_path):
    folder = copy_of_the_student_notebooks(tmp_path)
    (folder / "ista" / "checks").mkdir()
    line = next(f for f in classroom.solution_fragments("notebooks/ista/derive") if "per_phase" in f)
    (folder / "ista" / "checks" / "ex-ista-count.py").write_text(f"x = 1\n{line}\n")
    found, _ = classroom.notebook_leaks(folder)
    # the folder lies beside both ISTA chapters, so it counts for each
    assert found and all(", ista/checks/ex-ista-count.py: per_phase = " in f for f in found)
    assert any(f.startswith("ista/derive.ipynb") for f in found)
