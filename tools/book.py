"""Build tooling of the book: MyST-markdown chapters (book/) <-> notebooks (notebooks/), execution, HTML build.

    python tools/book.py sync [chapters...]         # regenerate notebooks/*.ipynb from book/*.md (no outputs)
    python tools/book.py check                      # fail if a notebook twin is missing or out of date
    python tools/book.py execute --profile smoke    # run every chapter with papermill into _build/executed/
                                                    # (--jobs 2: two chapters at a time)
    python tools/book.py build [--student]          # build _build/html from the executed notebooks (no re-run)

The table of contents lists the notebooks (``notebooks/<part>/<chapter>``), so every page is an ``.ipynb`` that
exists in the repository and the Colab button opens it. The build stages ``_config.yml``, ``_toc.yml``,
``_static/`` (the book's CSS), ``book/`` and the *executed* notebooks into ``_build/stage`` and runs Jupyter Book
there with warnings as errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
# a fenced sphinx-exercise directive in a chapter's markdown (exercises and their solutions, plain or gated)
DIRECTIVE = re.compile(r"^(?P<ticks>`{3,})\{(?P<kind>exercise|solution|solution-start|solution-end)\}(?P<arg>[^\n]*)\n"
                       r"(?P<body>.*?)^(?P=ticks)[ \t]*$\n?", re.MULTILINE | re.DOTALL)  # fmt: skip


def chapters() -> list[str]:
    """Notebook paths (without suffix) listed in ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = []

    def walk(node):
        if isinstance(node, dict):
            if str(node.get("file", "")).startswith("notebooks/"):
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    return found


def source_of(chapter: str) -> Path:
    return ROOT / "book" / (chapter.removeprefix("notebooks/") + ".md")


def twin(chapter: str) -> nbformat.NotebookNode:
    """The notebook generated from a chapter's markdown source: no outputs, stable metadata."""
    notebook = jupytext.read(source_of(chapter))
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for number, cell in enumerate(notebook.cells):
        cell.id = f"{Path(chapter).name}-{number}"  # stable ids: regenerating a twin changes nothing
        cell.metadata.pop("lines_to_next_cell", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def comparable(notebook) -> list:
    return [(c.cell_type, c.source, sorted(c.metadata.get("tags", []))) for c in notebook.cells]


def sync(only: list[str] | None = None) -> int:
    missing = 0
    for chapter in chapters():
        if only and not any(name in chapter for name in only):
            continue
        if not source_of(chapter).exists():
            print(f"missing source {source_of(chapter).relative_to(ROOT)}")
            missing += 1
            continue
        path = ROOT / (chapter + ".ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(twin(chapter), path)
        print(f"wrote {path.relative_to(ROOT)}")
    return int(missing > 0)


def check() -> int:
    stale = []
    for chapter in chapters():
        path = ROOT / (chapter + ".ipynb")
        if not source_of(chapter).exists():
            stale.append(f"{source_of(chapter).relative_to(ROOT)} (source missing)")
        elif not path.exists() or comparable(nbformat.read(path, as_version=4)) != comparable(twin(chapter)):
            stale.append(str(path.relative_to(ROOT)))
        elif any(c.get("outputs") for c in nbformat.read(path, as_version=4).cells):
            stale.append(f"{path.relative_to(ROOT)} (has outputs; commit notebooks without outputs)")
    listed = {ROOT / (c + ".ipynb") for c in chapters()}
    stale += [f"{p.relative_to(ROOT)} (not in _toc.yml)" for p in (ROOT / "notebooks").rglob("*.ipynb")
              if p not in listed and ".ipynb_checkpoints" not in p.parts]  # fmt: skip
    if stale:
        print("notebook twins out of date — run `python tools/book.py sync`:\n  " + "\n  ".join(stale))
        return 1
    print(f"{len(chapters())} notebook twins are current")
    return 0


def execute_one(chapter: str, profile: str, out: Path) -> tuple[str, str, float]:
    """Execute one chapter with papermill into ``out``: ``(chapter, status, seconds)``."""
    import papermill

    source, target = ROOT / (chapter + ".ipynb"), out / (chapter + ".ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source), str(target), parameters={"profile": profile}, cwd=str(source.parent),
            kernel_name="python3", progress_bar=False,
        )  # fmt: skip
        status = "ok"
    except papermill.PapermillExecutionError as error:
        status = f"FAILED: {error.ename}: {error.evalue}"
    return chapter, status, round(time.perf_counter() - tic, 1)


def longest_first(chapters_to_run: list[str], profile: str) -> list[str]:
    """The chapters, longest first by the committed times (``benchmarks/results/chapters.json``), unknown ones first.

    With several jobs this keeps the longest chapter from starting last and running alone.
    """
    path = ROOT / "benchmarks" / "results" / "chapters.json"
    try:
        recorded = json.loads(path.read_text())["seconds"][profile]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = {}
    if not isinstance(recorded, dict):
        recorded = {}
    return sorted(chapters_to_run, key=lambda c: -float(recorded.get(c.removeprefix("notebooks/"), float("inf"))))


def execute(profile: str, out: Path, only: list[str] | None = None, jobs: int = 1) -> int:
    """Execute chapters with papermill (parameter ``profile``) into ``out``; returns the number of failures.

    ``jobs`` chapters run side by side, each kernel with ``cpu_count // jobs`` threads (unless ``OMP_NUM_THREADS``
    is set): the chapters' small convolutions use a second thread poorly, so two one-thread kernels on two cores
    finish sooner than one two-thread kernel after the other. Two chapters that train the same run take turns
    (:func:`mrilab.recipes.common.run_lock`).
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    os.environ["MRILAB_PROFILE"] = profile
    os.environ["TQDM_DISABLE"] = "1"  # progress bars would be stored as widgets in the executed notebooks
    os.environ["MRILAB_STATIC"] = "1"  # no interactive widgets in batch runs (see mrilab.widgets)
    if jobs > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    selected = [c for c in chapters() if not only or any(name in c for name in only)]
    failures, seconds = 0, {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(execute_one, c, profile, out) for c in longest_first(selected, profile)]
        for future in as_completed(futures):
            chapter, status, elapsed = future.result()
            failures += status != "ok"
            seconds[chapter.removeprefix("notebooks/")] = elapsed
            print(f"{chapter}: {status} ({elapsed} s)", flush=True)
    ordered = {c.removeprefix("notebooks/"): seconds[c.removeprefix("notebooks/")] for c in selected}
    (out / "seconds.json").write_text(json.dumps(ordered, indent=1) + "\n")  # read by benchmarks/bench_chapters.py
    return failures


def build(executed: Path, *, student: bool = False) -> int:
    stage = BUILD / ("stage-student" if student else "stage")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    config = (ROOT / "_config.yml").read_text()
    if student:  # no solutions, and no button that leads to the repository's notebooks, which hold them
        config = config.replace("hide_solutions: false", "hide_solutions: true")
        config = config.replace("use_repository_button: true", "use_repository_button: false")
    (stage / "_config.yml").write_text(config)
    shutil.copy(ROOT / "_toc.yml", stage / "_toc.yml")
    shutil.copytree(ROOT / "_static", stage / "_static")  # the book's CSS (Jupyter Book includes _static/*.css)
    (stage / "benchmarks" / "results").mkdir(parents=True)  # measured chapter times, shown on the teachers' page
    shutil.copy(ROOT / "benchmarks" / "results" / "chapters.csv", stage / "benchmarks" / "results")
    shutil.copytree(ROOT / "book", stage / "book", ignore=shutil.ignore_patterns("*.md"))
    for page in (ROOT / "book").rglob("*.md"):
        if not any(source_of(c) == page for c in chapters()):  # plain pages (intro, references) are not notebooks
            shutil.copy(page, stage / page.relative_to(ROOT))
    missing = []
    for chapter in chapters():
        source = executed / (chapter + ".ipynb")
        if not source.exists():
            missing.append(str(source))
            continue
        (stage / chapter).parent.mkdir(parents=True, exist_ok=True)
        notebook = nbformat.read(source, as_version=4)
        for cell in notebook.cells:  # papermill's injected `profile = ...` cell is for the run, not the reader
            tags = cell.metadata.setdefault("tags", [])
            if "injected-parameters" in tags and "remove-cell" not in tags:
                tags.append("remove-cell")
        if student:  # hide_solutions alone fails on gated solutions (solution-start/-end), so they go here
            notebook.cells = without_gated_solutions(notebook.cells)
        nbformat.write(notebook, stage / (chapter + ".ipynb"))
    if missing:
        print("executed notebooks missing (run `python tools/book.py execute` first):\n  " + "\n  ".join(missing))
        return 1
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
         "build", str(stage), "--path-output", str(stage), "--warningiserror", "--keep-going"],
        cwd=ROOT,
    )  # fmt: skip
    if result.returncode:
        return result.returncode
    html = BUILD / ("html-student" if student else "html")
    shutil.rmtree(html, ignore_errors=True)
    shutil.copytree(stage / "_build" / "html", html)
    if student:
        point_to_student_notebooks(html)
    print(f"book written to {html}")
    return 0


def without_gated_solutions(cells: list) -> list:
    """The cells without the gated solutions (``solution-start`` ... ``solution-end``: prose and code) and checks."""
    kept, inside = [], False
    for cell in cells:
        if cell.cell_type != "markdown":
            if not inside and "checks" not in cell.metadata.get("tags", []):
                kept.append(cell)
            continue
        text, position, out = cell.source, 0, ""
        for match in DIRECTIVE.finditer(text):
            if match["kind"] not in ("solution-start", "solution-end"):
                continue
            if not inside:
                out += text[position:match.start()]
            inside, position = match["kind"] == "solution-start", match.end()
        if not inside:
            out += text[position:]
        if out.strip():
            cell.source = out
            kept.append(cell)
    return kept


def point_to_student_notebooks(html: Path) -> None:
    """Make the student edition's download buttons and Colab links serve the student notebooks (``classroom/``).

    Jupyter Book's download button serves the page's source from ``_sources/``, and its Colab links open
    ``notebooks/`` in the repository; both hold the solutions. The sources are replaced by the student notebooks and
    the links are pointed at their committed copies.
    """
    for chapter in chapters():
        part = chapter.removeprefix("notebooks/")
        student = ROOT / "classroom" / (part + ".ipynb")
        if not student.exists():
            raise FileNotFoundError(f"{student} is missing: run `python tools/classroom.py sync`")
        shutil.copy(student, html / "_sources" / (chapter + ".ipynb"))
    for page in html.rglob("*.html"):
        text = page.read_text()
        rewritten = text.replace("/blob/main/notebooks/", "/blob/main/classroom/")
        if rewritten != text:
            page.write_text(rewritten)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sync").add_argument("chapters", nargs="*", help="only chapters whose path contains one of these")
    sub.add_parser("check")
    run = sub.add_parser("execute")
    run.add_argument("--profile", default="smoke", choices=["smoke", "demo", "full"])
    run.add_argument("--out", type=Path, default=None)
    run.add_argument("--jobs", type=int, default=1, help="chapters executed side by side (one kernel each)")
    run.add_argument("chapters", nargs="*", help="only chapters whose path contains one of these")
    make = sub.add_parser("build")
    make.add_argument("--executed", type=Path, default=None)
    make.add_argument("--student", action="store_true", help="hide solutions (the student edition)")
    args = parser.parse_args()
    if args.command == "sync":
        return sync(args.chapters)
    if args.command == "check":
        return check()
    if args.command == "execute":
        return int(execute(args.profile, args.out or BUILD / "executed" / args.profile, args.chapters,
                           jobs=args.jobs) > 0)
    return build(args.executed or BUILD / "executed" / "demo", student=args.student)


if __name__ == "__main__":
    sys.exit(main())
