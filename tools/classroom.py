"""The classroom edition: student notebooks with stubs and otter-grader checks, and the teacher's autograders.

    python tools/classroom.py sync                  # write classroom/<part>/<chapter>.ipynb (the student notebooks)
    python tools/classroom.py check                 # fail if a student notebook is missing or out of date
    python tools/classroom.py teacher               # _build/classroom/teacher: notebooks, tests, autograder zips
    python tools/classroom.py verify --profile smoke   # solved notebooks pass every check, stubbed ones fail every one
    python tools/classroom.py leaks _build/html-student   # fail if the student web edition holds a solution
    python tools/classroom.py leaks --notebooks classroom # ... or the student notebooks (set-up cells, checks/)
    python tools/classroom.py grade ifr/derive SUBMISSION.ipynb ...   # grade submissions, write grades.csv

A chapter's exercises are sphinx-exercise directives. A graded exercise's solution is a gated block
(``solution-start`` ... ``solution-end``) holding prose and a code cell tagged ``solution``; the code cell tagged
``checks`` after it holds the checks, functions decorated with ``mrilab.exercises.check``. The student notebook is
the chapter with every solution removed. Solution code becomes a stub: imports, signatures and docstrings stay,
bodies become ``raise NotImplementedError``, an answer assigned to a name the checks read becomes ``name = ...``,
and the rest goes. The prose of every solution and model answer is dropped, and each checks cell becomes
``grader.check("<label>")``. The checks themselves are written in otter-grader's exception-based test format: the
public ones into the student notebook (its set-up cell writes them to ``checks/``, so they run offline, in Colab
too), all of them into the teacher's autograder zip.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book import BUILD, DIRECTIVE, ROOT, chapters, comparable, twin  # noqa: E402

STUDENT = ROOT / "classroom"
TEACHER = BUILD / "classroom" / "teacher"
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
OPTION = re.compile(r"^:(?P<key>[a-z-]+):[ \t]*(?P<value>.*)$", re.MULTILINE)
# what the student notebooks install in Colab to run their checks, each without its dependencies (see
# _student_install): the otter-grader the teacher grades with, and what it imports that Colab does not have
OTTER_RUNTIME = ("otter-grader==7.0.0", "fica>=0.4.1", "ipylab>=1.0,<2", "python-frontmatter>=1.3", "dill>=0.3")
SETUP_TITLE = "# @title Set up the checks"


@dataclass(frozen=True)
class Check:
    """One check of a graded exercise, as its ``@check(...)`` decorator declares it."""

    name: str
    parameters: tuple[str, ...]  # the names it reads from the notebook
    hidden: bool
    points: float
    source: str  # the function, without its decorator


@dataclass
class Exercise:
    """One exercise of a chapter: its label and title, and its checks if it is graded."""

    label: str
    title: str
    checks: str = ""  # the source of the cell tagged ``checks``; empty for a discussion exercise
    solution: str = ""  # the source of its cells tagged ``solution``

    def parsed(self, *, hidden: bool = True) -> tuple[list[str], list[Check]]:
        """The checks cell split into its other statements (imports, helpers) and its checks.

        With ``hidden=False``, the public checks only, and only the statements they need: a helper (or an import)
        that only hidden checks use stays out of what the students get.
        """
        header, cases = [], []
        for node in ast.parse(self.checks).body:
            if not (isinstance(node, ast.FunctionDef) and node.decorator_list):
                header.append(node)
                continue
            decorator = node.decorator_list[0]
            if not (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "check"):
                raise ValueError(f"{self.label}: check {node.name} must be decorated with @check(...)")
            label = ast.literal_eval(decorator.args[0])
            if label != self.label:
                raise ValueError(f"the checks after {self.label} include {node.name}, a check of {label}")
            keywords = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords}
            cases.append(Check(node.name, tuple(a.arg for a in node.args.args), keywords.get("hidden", False),
                               keywords.get("points", 1), ast.get_source_segment(self.checks, node)))  # fmt: skip
        if not hidden:
            cases = [case for case in cases if not case.hidden]
            header = _needed(header, {name for case in cases for name in _uses(ast.parse(case.source))})
        return [ast.get_source_segment(self.checks, node) for node in header], cases

    @property
    def answers(self) -> set[str]:
        """The names the checks read from the notebook: the functions and values the student must define."""
        return {name for case in self.parsed()[1] for name in case.parameters}

    @property
    def points(self) -> float:
        """What all its checks, public and hidden, are worth together."""
        return float(sum(case.points for case in self.parsed()[1]))


def _uses(tree: ast.AST) -> set[str]:
    """The names a piece of code reads."""
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _defines(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _needed(statements: list[ast.stmt], names: set[str]) -> list[ast.stmt]:
    """The statements that bind what ``names`` read, directly or through each other, and those that bind nothing."""
    needed, keep = set(names), set()
    changed = True
    while changed:
        changed = False
        for number, node in enumerate(statements):
            if number not in keep and (not _defines(node) or _defines(node) & needed):
                keep.add(number)
                needed |= _uses(node)
                changed = True
    return [node for number, node in enumerate(statements) if number in keep]


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.metadata.get("tags", [])


def _directive(match: re.Match) -> tuple[str, dict[str, str], str]:
    """The argument, the options and the body of a fenced directive."""
    body = match["body"]
    options = {m["key"]: m["value"] for m in OPTION.finditer(body.split("\n\n", 1)[0])}
    text = OPTION.sub("", body, count=len(options)).strip() if options else body.strip()
    return match["arg"].strip(), options, text


def stub(source: str, label: str, answers: set[str] = frozenset()) -> str:
    """The student's version of a solution cell: imports, signatures and docstrings stay, the answers go.

    A top-level assignment to one of ``answers`` (the names the checks read) becomes ``name = ...``; any other
    statement that is not an import or a function demonstrates the answer and is dropped.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    kept = [f"# {label}: replace each `raise NotImplementedError` and each `...` by your answer"]
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            kept.append(ast.get_source_segment(source, node))
        elif isinstance(node, ast.FunctionDef):
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            body = node.body
            has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
            end = body[0].end_lineno if has_docstring else body[0].lineno - 1
            indent = " " * body[0].col_offset
            body = f'{indent}raise NotImplementedError("{label} is not answered yet")'
            kept.append("\n".join([*lines[first - 1:end], body]))
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id in answers for t in node.targets):
            kept.append(" = ".join(t.id for t in node.targets) + " = ...")
        # anything else (a loop, a print, a plot, another assignment) demonstrates the answer and goes
    return _join(kept)


def _join(blocks: list[str]) -> str:
    """Imports and assignments one per line, a blank line pair around each function (PEP 8)."""
    out = ""
    for block in blocks:
        if out:
            out += "\n\n\n" if block.startswith(("def ", "@")) or out.rstrip().split("\n")[-1].startswith(" ") else "\n"
        out += block
    return out + "\n"


def test_file(exercise: Exercise, *, hidden: bool) -> str:
    """Otter-grader's exception-based test file of an exercise: its public checks, or all of them."""
    header, cases = exercise.parsed(hidden=hidden)
    return "\n".join([
        f'"""Checks of {exercise.label} ({exercise.title}), in otter-grader\'s exception-based format."""',
        "from otter.test_files import test_case", *header, "",
        "OK_FORMAT = False", f'name = "{exercise.label}"', "", "",
        "\n\n\n".join(f'@test_case(name="{c.name}", points={c.points}, hidden={c.hidden})\n{c.source}'
                     for c in cases), ""])  # fmt: skip


def exercises(notebook: nbformat.NotebookNode) -> list[Exercise]:
    """The chapter's exercises in order, each graded one with the source of its checks."""
    found: list[Exercise] = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for match in DIRECTIVE.finditer(cell.source):
                if match["kind"] == "exercise":
                    title, options, _ = _directive(match)
                    if "label" not in options:
                        raise ValueError(f"exercise {title!r} has no :label:")
                    found.append(Exercise(options["label"], title))
        elif "checks" in _tags(cell):
            if not found or found[-1].checks:
                raise ValueError("a checks cell must follow the solution of its exercise:\n" + cell.source[:200])
            found[-1].checks = cell.source
            found[-1].parsed()  # validates the labels and decorators
        elif "solution" in _tags(cell) and found:
            found[-1].solution += cell.source + "\n"
    return found


def _student_install(code: str) -> str:
    """The chapter's install cell, which runs in Colab only, with otter-grader added after the line installing mrilab.

    otter-grader is installed without its dependencies: they include ipywidgets 8, which would replace Colab's
    ipywidgets 7 and widgetsnbextension 3 (and break the chapters' widgets there). What its checks import
    (``import otter``, ``otter.Notebook``, ``grader.check``) is either preinstalled in Colab (IPython, ipywidgets,
    nbconvert, nbformat, pandas, Jinja2, PyYAML, wrapt) or in ``OTTER_RUNTIME``, which needs nothing else.
    """
    lines = code.splitlines()
    statements = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.stmt)
                  and not hasattr(node, "body") and "mrilab @ git+" in ast.get_source_segment(code, node)]  # fmt: skip
    if len(statements) != 1:
        raise ValueError("the install cell must have one statement that installs `mrilab @ git+...`:\n" + code[:300])
    at = [statements[0].end_lineno - 1]  # the statement's last line
    indent = " " * statements[0].col_offset
    packages = ", ".join(f'"{package}"' for package in OTTER_RUNTIME)
    note = "otter-grader runs the checks; --no-deps keeps Colab's ipywidgets 7 (otter's own requirements want 8)"
    added = [f"{indent}# {note}",
             f'{indent}subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",',
             f"{indent}                {packages}], check=True)"]
    return "\n".join([*lines[:at[0] + 1], *added, *lines[at[0] + 1:]]) + ("\n" if code.endswith("\n") else "")


def _setup_cell(graded: list[Exercise]) -> nbformat.NotebookNode:
    tests = {e.label: test_file(e, hidden=False) for e in graded}
    for label, source in tests.items():
        if "'''" in source or "\\" in source:
            raise ValueError(f"the public checks of {label} may not contain ''' or backslashes (they are embedded)")
    lines = [f"{SETUP_TITLE} (run this cell once, before the exercises)",
             "# The public checks of the exercises, in otter-grader's format, are written to checks/ so that they",
             "# run without a network; the teacher grades with more (hidden) checks.",
             "from pathlib import Path", "", "import otter", "", "CHECKS = {"]  # fmt: skip
    for label, source in tests.items():
        lines.append(f"    \"{label}\": r'''{source}''',")
    # not tests/, where otter's autograder keeps every check while it grades the notebook
    lines += ["}", 'Path("checks").mkdir(exist_ok=True)', "for label, source in CHECKS.items():",
              '    Path("checks", f"{label}.py").write_text(source)', 'grader = otter.Notebook(tests_dir="checks")']
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["cellView"] = "form"  # Colab shows the title, not the code
    return cell


def edition(chapter: str, *, solved: bool = False) -> nbformat.NotebookNode:
    """The student notebook of a chapter; ``solved=True`` keeps the solution code (to test the checks with)."""
    source = twin(chapter)
    found = {e.label: e for e in exercises(source)}
    graded = [e for e in found.values() if e.checks]
    cells, in_solution, current, setup_done = [], False, None, False
    part = chapter.removeprefix("notebooks/")

    def markdown(text: str) -> None:
        text = text.replace(f"/blob/main/{chapter}.ipynb", f"/blob/main/classroom/{part}.ipynb").strip()
        if text:
            cells.append(nbformat.v4.new_markdown_cell(text))

    for cell in source.cells:
        if cell.cell_type == "markdown":
            text, position = cell.source, 0
            for match in DIRECTIVE.finditer(text):
                if not in_solution:
                    markdown(text[position:match.start()])
                position = match.end()
                kind = match["kind"]
                arg, options, body = _directive(match)
                if kind == "exercise":
                    current = found[options["label"]]
                    if not setup_done and graded:
                        cells.append(nbformat.v4.new_markdown_cell(
                            "Run the next cell once before the exercises: it sets up the checks. After each graded "
                            "exercise, the `grader.check` cell says which checks pass and, for those that fail, what "
                            "was expected and what was got."))  # fmt: skip
                        cells.append(_setup_cell(graded))
                        setup_done = True
                    kind_note = "graded" if current.checks else "discussion: write your answer below"
                    markdown(f"**Exercise ({current.label}, {kind_note}): {arg}**\n\n{body}")
                    if not current.checks:
                        cells.append(nbformat.v4.new_markdown_cell("*Your answer:* "))
                elif kind == "solution-start":
                    in_solution = True
                elif kind == "solution-end":
                    in_solution = False
                # a plain {solution} is a model answer: the teacher edition has it, the student edition does not
            if not in_solution:
                markdown(text[position:])
        elif "solution" in _tags(cell):
            if not in_solution or current is None:
                raise ValueError(f"{chapter}: a cell tagged 'solution' outside a solution-start/-end block")
            code = cell.source if solved else stub(cell.source, current.label, current.answers)
            cells.append(nbformat.v4.new_code_cell(code))
        elif "checks" in _tags(cell):
            cells.append(nbformat.v4.new_code_cell(f'grader.check("{current.label}")'))
        elif in_solution:
            raise ValueError(f"{chapter}: code in a solution must be tagged 'solution':\n{cell.source[:200]}")
        else:
            code = _student_install(cell.source) if "google.colab" in cell.source else cell.source
            new = nbformat.v4.new_code_cell(code)
            new.metadata["tags"] = [t for t in _tags(cell) if t in ("parameters",)]
            cells.append(new)
    if graded:
        cells.append(nbformat.v4.new_markdown_cell("## Check everything\n\nThe public checks of every exercise:"))
        cells.append(nbformat.v4.new_code_cell("grader.check_all()"))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=dict(source.metadata))
    for number, cell in enumerate(notebook.cells):
        cell.id = f"{Path(chapter).name}-student-{number}"
    return notebook


def _graded(chapter: str) -> list[Exercise]:
    return [e for e in exercises(twin(chapter)) if e.checks]


def sync() -> int:
    for chapter in chapters():
        path = STUDENT / (chapter.removeprefix("notebooks/") + ".ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(edition(chapter), path)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


def check() -> int:
    """The committed student notebooks must be current, and every chapter must have three graded exercises."""
    problems = []
    for chapter in chapters():
        path = STUDENT / (chapter.removeprefix("notebooks/") + ".ipynb")
        if not path.exists() or comparable(nbformat.read(path, as_version=4)) != comparable(edition(chapter)):
            problems.append(f"{path.relative_to(ROOT)} is out of date: run `python tools/classroom.py sync`")
        if len(_graded(chapter)) < 3:
            problems.append(f"{chapter} has {len(_graded(chapter))} graded exercises; every chapter needs three")
    listed = {STUDENT / (c.removeprefix("notebooks/") + ".ipynb") for c in chapters()}
    problems += [f"{p.relative_to(ROOT)} is not a chapter's student notebook" for p in STUDENT.rglob("*.ipynb")
                 if p not in listed and ".ipynb_checkpoints" not in p.parts]  # fmt: skip
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{len(chapters())} student notebooks are current, "
          f"{sum(len(_graded(c)) for c in chapters())} graded exercises")  # fmt: skip
    return 0


def autograder(chapter: str, out: Path) -> Path:
    """Write a chapter's checks (all of them) to ``out/tests`` and pack them into otter's autograder zip."""
    tests = out / "tests"
    shutil.rmtree(tests, ignore_errors=True)
    tests.mkdir(parents=True)
    for exercise in _graded(chapter):
        (tests / f"{exercise.label}.py").write_text(test_file(exercise, hidden=True))
    requirements = out / "requirements.txt"  # for otter grade's Docker image; otter run uses the current Python
    requirements.write_text(f"mrilab[classroom] @ git+{REPOSITORY}\n")
    zip_path = out / "autograder.zip"
    zip_path.unlink(missing_ok=True)
    command = ["generate", "-t", str(tests), "-r", str(requirements), "-o", str(zip_path)]
    subprocess.run([sys.executable, "-m", "otter", *command], check=True, cwd=out, stdout=subprocess.DEVNULL)
    return zip_path


def teacher(out: Path) -> int:
    """The teacher edition: each chapter with its solutions, model answers and checks, its tests and autograder."""
    shutil.rmtree(out, ignore_errors=True)
    for chapter in chapters():
        part = chapter.removeprefix("notebooks/")
        (out / part).mkdir(parents=True)
        nbformat.write(twin(chapter), out / part / (Path(part).name + ".ipynb"))
        autograder(chapter, out / part)
        print(f"wrote {(out / part).relative_to(ROOT)}: notebook, tests/, autograder.zip")
    return 0


def run_otter(zip_path: Path, submission: Path, out: Path) -> dict[str, tuple[float, float]]:
    """Grade one submission with ``otter run`` (no Docker); returns each exercise's (score, possible)."""
    out.mkdir(parents=True, exist_ok=True)
    command = ["run", "-a", str(zip_path), "-o", str(out), str(submission)]
    subprocess.run([sys.executable, "-m", "otter", *command], check=True, stdout=subprocess.DEVNULL)
    results = json.loads((out / "results.json").read_text())
    return {t["name"]: (float(t["score"]), float(t["max_score"])) for t in results["tests"] if "max_score" in t}


def verify(profile: str, only: list[str] | None = None) -> int:
    """Grade each chapter's solved and stubbed student notebooks: the first must score full marks, the second zero."""
    os.environ.update(MRILAB_PROFILE=profile, TQDM_DISABLE="1", MRILAB_STATIC="1")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for chapter in chapters():
            if only and not any(name in chapter for name in only):
                continue
            work = Path(tmp) / chapter.removeprefix("notebooks/")
            zip_path = autograder(chapter, work)
            for solved in (True, False):
                name = "solved" if solved else "stubbed"
                notebook = work / f"{name}.ipynb"
                nbformat.write(edition(chapter, solved=solved), notebook)
                scores = run_otter(zip_path, notebook, work / name)
                points = {e.label: e.points for e in _graded(chapter)}
                wrong = {label: score for label, (score, possible) in scores.items()
                         if score != (possible if solved else 0.0) or possible != points[label]}  # fmt: skip
                expected = set(points)
                if wrong or set(scores) != expected:
                    failures += 1
                    print(f"{chapter} ({name}): FAILED {wrong or sorted(expected ^ set(scores))}")
                else:
                    print(f"{chapter} ({name}): {'every check passes' if solved else 'every check fails'} "
                          f"({len(scores)} exercises)")  # fmt: skip
    return failures


def grade(chapter: str, submissions: list[Path], out: Path) -> int:
    """Grade student notebooks of one chapter with all its checks; write one row per submission to ``out``."""
    matches = [c for c in chapters() if c.removeprefix("notebooks/") == chapter]
    if not matches:
        names = [c.removeprefix("notebooks/") for c in chapters()]
        raise SystemExit(f"chapter must be one of {names}, got {chapter!r}")
    wrong = [str(s) for s in submissions if s.suffix != ".ipynb" or not s.is_file()]
    if wrong or not submissions:
        raise SystemExit(f"submissions must be .ipynb files that exist, got {wrong or 'none'}")
    labels = [e.label for e in _graded(matches[0])]
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = autograder(matches[0], Path(tmp))
        rows = []
        for number, submission in enumerate(submissions):
            scores = run_otter(zip_path, submission.resolve(), Path(tmp) / f"submission-{number}")
            row = {"submission": str(submission)} | {label: scores.get(label, (0.0, 0.0))[0] for label in labels}
            row["total"] = sum(row[label] for label in labels)
            row["possible"] = sum(scores.get(label, (0.0, 0.0))[1] for label in labels)
            rows.append(row)
            print(f"{submission}: {row['total']:g} / {row['possible']:g}")
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"grades written to {out}")
    return 0


def solution_fragments(chapter: str) -> list[str]:
    """Pieces of text that only the solutions hold: code lines of the solutions, names of the hidden checks, and
    runs of plain words from the model answers (between any markup, which rendering would change)."""
    notebook, fragments, inside = twin(chapter), [], False
    graded = {e.label: e for e in exercises(notebook) if e.checks}
    student = _handed_out(edition(chapter))
    for cell in notebook.cells:
        if "solution" in _tags(cell):
            fragments += [line.strip() for line in cell.source.splitlines() if len(line.strip()) >= 16]
        elif cell.cell_type == "markdown":
            answers, position = [], 0
            for match in DIRECTIVE.finditer(cell.source):
                if inside:
                    answers.append(cell.source[position:match.start()])
                if match["kind"] == "solution":
                    answers.append(_directive(match)[2])
                inside = {"solution-start": True, "solution-end": False}.get(match["kind"], inside)
                position = match.end()
            if inside:
                answers.append(cell.source[position:])
            for answer in answers:
                runs = re.split(r"[$`*_\[\]{}()|\\<>#:]", answer)
                fragments += [run.strip() for run in runs if len(run.strip()) >= 40]
    for exercise in graded.values():
        fragments += [case.name for case in exercise.parsed()[1] if case.hidden]
    # what the student notebook holds anyway (the chapter's own code, a signature) is not a solution; its public
    # checks are not part of that: a line of a solution there gives the answer away
    return [f for f in fragments if re.sub(r"\s+", " ", f) not in student]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _is_setup(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(SETUP_TITLE)


def _handed_out(notebook: nbformat.NotebookNode) -> str:
    """A student notebook's text without its set-up cell (which holds the public checks), whitespace collapsed."""
    return _flat("\n".join(c.source for c in notebook.cells if not _is_setup(c)))


def written_checks(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The files a student notebook's set-up cell writes to ``checks/``, by name (read from its ``CHECKS`` dict)."""
    files = {}
    for cell in notebook.cells:
        if not _is_setup(cell):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CHECKS" for t in node.targets):
                files |= {f"{label}.py": source for label, source in ast.literal_eval(node.value).items()}
    return files


def reference_fragments(chapter: str) -> list[str]:
    """Code lines that only the hidden checks hold: the hidden checks and the helpers that only they use."""
    fragments = []
    for exercise in _graded(chapter):
        public = _flat(test_file(exercise, hidden=False))
        header, cases = exercise.parsed()
        kept = exercise.parsed(hidden=False)[0]
        hidden = [h for h in header if h not in kept] + [case.source for case in cases if case.hidden]
        fragments += [line.strip() for block in hidden for line in block.splitlines()
                      if len(line.strip()) >= 16 and _flat(line.strip()) not in public]  # fmt: skip
    return fragments


def answer_signatures(chapter: str) -> dict[str, tuple[str, ...]]:
    """The functions the graded exercises ask for, with the parameters a caller must pass them."""
    signatures = {}
    for exercise in _graded(chapter):
        for node in ast.parse(exercise.solution or "pass").body:
            if isinstance(node, ast.FunctionDef):
                positional = [a.arg for a in node.args.posonlyargs + node.args.args]
                signatures[node.name] = tuple(positional[:len(positional) - len(node.args.defaults)])
    return signatures


def lookalikes(source: str, signatures: dict[str, tuple[str, ...]]) -> list[str]:
    """The helpers of a checks file that take the parameters of an answer: reference versions of that answer."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.decorator_list:
            continue  # the checks themselves are decorated; they take the answers, not their parameters
        parameters = tuple(a.arg for a in node.args.posonlyargs + node.args.args)
        for answer, required in signatures.items():
            if required and parameters[:len(required)] == required:
                found.append(f"def {node.name}({', '.join(parameters)}): the parameters of {answer}, a reference "
                             "version of the answer")
    return found


def notebook_leaks(folder: Path = STUDENT) -> tuple[list[str], int]:
    """What the student notebooks under ``folder`` give away, cell by cell, with what their set-up cells write.

    Each chapter's notebook (``folder/<part>/<chapter>.ipynb``), the check files its set-up cell writes and any
    ``checks/`` folder beside it are searched for the pieces of a solution that ``solution_fragments`` lists (solution
    code, model answers, names of hidden checks), for the code of the hidden checks and of the helpers only they use,
    and for helpers in the checks that take an answer's parameters. Returns the problems and how many fragments
    were looked for.
    """
    handed_out = " ".join(_handed_out(edition(chapter)) for chapter in chapters())
    public = " ".join(_flat(test_file(e, hidden=False)) for chapter in chapters() for e in _graded(chapter))
    solution = {_flat(f) for chapter in chapters() for f in solution_fragments(chapter)} - {""}
    reference = {_flat(f) for chapter in chapters() for f in reference_fragments(chapter)}
    solution = {f for f in solution if f not in handed_out}
    reference = {f for f in reference if f not in handed_out and f not in public}
    signatures = {name: parameters for chapter in chapters() for name, parameters in answer_signatures(chapter).items()}
    problems = []
    for chapter in chapters():
        path = folder / (chapter.removeprefix("notebooks/") + ".ipynb")
        if not path.exists():
            continue
        notebook = nbformat.read(path, as_version=4)
        written = written_checks(notebook)
        # the set-up cell is searched as the files it writes, or as it is if they cannot be read from it
        files = {f"cell {number}": cell.source for number, cell in enumerate(notebook.cells)
                 if not (written and _is_setup(cell))}  # fmt: skip
        files |= {f"checks/{name}, written by its set-up cell": text for name, text in written.items()}
        files |= {str(on_disk.relative_to(folder)): on_disk.read_text(errors="ignore")
                  for on_disk in (path.parent / "checks").glob("*.py")}  # fmt: skip
        for where, text in files.items():
            flat = _flat(text)
            found = sorted(f for f in solution | reference if f in flat)
            if "checks/" in where or text.startswith(SETUP_TITLE):
                found += lookalikes(text, signatures)
            problems += [f"{path.relative_to(folder)}, {where}: {f}" for f in found]
    return problems, len(solution) + len(reference)


def leaks(html: Path) -> tuple[list[str], int]:
    """The solution fragments found anywhere in a built book (pages as text, sources, search index)."""
    import html as html_lib

    texts = []
    for path in html.rglob("*"):
        if path.suffix == ".html":
            texts.append(html_lib.unescape(re.sub(r"<[^>]+>", "", path.read_text(errors="ignore"))))
        elif path.suffix in (".ipynb", ".js", ".txt", ".md"):
            text = path.read_text(errors="ignore")
            if path.suffix == ".ipynb":
                text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
            texts.append(text)
    corpus = _flat("\n".join(texts))
    # a line of one chapter's solution may be ordinary code in another chapter, which the students have anyway
    handed_out = " ".join(_handed_out(edition(chapter)) for chapter in chapters())
    fragments = [_flat(f) for chapter in chapters() for f in solution_fragments(chapter)]
    fragments = [f for f in fragments if f not in handed_out]
    return [f for f in fragments if f in corpus], len(fragments)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sync")
    sub.add_parser("check")
    make = sub.add_parser("teacher")
    make.add_argument("--out", type=Path, default=TEACHER)
    run = sub.add_parser("verify")
    run.add_argument("--profile", default="smoke", choices=["smoke", "demo", "full"])
    run.add_argument("chapters", nargs="*", help="only chapters whose path contains one of these")
    scan = sub.add_parser("leaks", help="fail if a built student edition, or the student notebooks, hold any piece "
                                        "of a solution or of a hidden check")
    scan.add_argument("html", type=Path, nargs="?", help="a built book, e.g. _build/html-student")
    scan.add_argument("--notebooks", type=Path, metavar="FOLDER",
                      help="the student notebooks instead (e.g. classroom), with the checks their set-up cells write")
    scan.add_argument("--reading", action="store_true",
                      help="the reading edition instead: fail unless it holds the solutions (tests the scan itself)")
    marks = sub.add_parser("grade")
    marks.add_argument("chapter", help="a chapter as <part>/<chapter>, e.g. ifr/derive")
    marks.add_argument("submissions", nargs="+", type=Path)
    marks.add_argument("--out", type=Path, default=Path("grades.csv"))
    args = parser.parse_args()
    if args.command == "sync":
        return sync()
    if args.command == "check":
        return check()
    if args.command == "teacher":
        return teacher(args.out)
    if args.command == "verify":
        return int(verify(args.profile, args.chapters) > 0)
    if args.command == "leaks":
        if (args.html is None) == (args.notebooks is None):
            parser.error("leaks needs either a built book or --notebooks FOLDER")
        if args.notebooks is not None:
            found, total = notebook_leaks(args.notebooks)
            print(f"{len(found)} leaks in the student notebooks under {args.notebooks} ({total} fragments of "
                  "solutions and hidden checks looked for)" + "".join(f"\n  {f}" for f in found))
            return int(bool(found))
        found, total = leaks(args.html)
        if args.reading:
            print(f"{len(found)} of {total} solution fragments found in the reading edition {args.html}")
            return int(len(found) < 0.9 * total)
        print(f"{len(found)} of {total} solution fragments found in {args.html}" + "".join(f"\n  {f}" for f in found))
        return int(bool(found))
    return grade(args.chapter, args.submissions, args.out)


if __name__ == "__main__":
    sys.exit(main())
