"""Mutation testing of the modules that implement the book's equations, summarised per module.

Runs mutmut (configured in pyproject.toml, ``[tool.mutmut]``) on the fast unit tests and writes, per mutated module,
how many mutants there were and how many the tests killed, how many survived and how many timed out, to
``benchmarks/results/mutants.json`` (one entry per ``--label``; other labels in the file are kept)::

    python tools/mutants.py                        # the working tree: label "current", in ./mutants
    python tools/mutants.py --commit HEAD --label before
                                                   # the package and tests of a commit (git archive into a scratch
                                                   # directory, with today's [tool.mutmut]): no checkout, no stash
    python tools/mutants.py --tests /path/tests    # the working tree's package against another tests directory
    python tools/mutants.py --report               # summarise the last run again without running anything

A surviving mutant listed in :data:`EQUIVALENT` (with the reason it cannot change a result) is reported as
equivalent; every other survivor is a gap in the tests. The modules are the ``only_mutate`` patterns of the
configuration, so a new module needs one line there and nothing here.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

try:
    from tomllib import loads as toml_loads
except ModuleNotFoundError:  # Python 3.10: mutmut depends on `toml` there
    from toml import loads as toml_loads

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "mutants.json"

#: Surviving mutants that cannot change what the code computes, each with the reason. Names are mutmut's
#: (``mutmut show NAME`` prints the change); a name that no longer survives is simply not reported.
EQUIVALENT: dict[str, str] = {
    # ISTA-Net+
    "mrilab.models.ista_net.xǁ_Phaseǁ__init____mutmut_6": "Conv2d(bias=None) builds no bias, as bias=False does",
    "mrilab.models.ista_net.xǁISTANetPlusǁunroll__mutmut_3": "symmetry=None is falsy: the same branch as False",
    "mrilab.models.ista_net.xǁISTANetPlusǁunroll__mutmut_8":
        "symmetry=True also computes F̃(F(D r)) − D r, which unroll discards; x is the same",
    "mrilab.models.ista_net.xǁISTANetPlusǁtraining_loss__mutmut_15": "keep=None is falsy: the same branch as False",
    "mrilab.models.ista_net.xǁISTANetPlusǁtraining_loss__mutmut_20":
        "keep=True records the stages, which training_loss discards; the loss is the same",
    # CGPD-CSNet
    "mrilab.models.cgpd_csnet.xǁResBlockǁ__init____mutmut_18": "ReLU(inplace=None): out of place, the same values",
    "mrilab.models.cgpd_csnet.xǁResBlockǁ__init____mutmut_19": "ReLU(inplace=False): out of place, the same values",
    "mrilab.models.cgpd_csnet.xǁConditionModuleǁ__init____mutmut_17": "ReLU(inplace=None): the same values",
    "mrilab.models.cgpd_csnet.xǁConditionModuleǁ__init____mutmut_18": "ReLU(inplace=False): the same values",
    "mrilab.models.cgpd_csnet.xǁConditionModuleǁ__init____mutmut_23": "ReLU(inplace=None): the same values",
    "mrilab.models.cgpd_csnet.xǁConditionModuleǁ__init____mutmut_24": "ReLU(inplace=False): the same values",
    "mrilab.models.cgpd_csnet.xǁSolutionOperatorǁ__init____mutmut_34":
        "kaiming_normal_'s default nonlinearity, leaky_relu with slope 0, has ReLU's gain √2",
    "mrilab.models.cgpd_csnet.xǁGeometricPriorDistillationǁ__init____mutmut_30":
        "kaiming_normal_'s default nonlinearity, leaky_relu with slope 0, has ReLU's gain √2",
    "mrilab.models.cgpd_csnet.xǁConditionModuleǁforward__mutmut_4":
        "unsqueeze(1) is unsqueeze(-1) for the 1-D ratio (B,), the only input",
    "mrilab.models.cgpd_csnet.xǁCGPDCSNetǁunroll__mutmut_5": "y is 4-D: y.shape[2:] is y.shape[-2:]",
    "mrilab.models.cgpd_csnet.xǁCGPDCSNetǁunroll__mutmut_45":
        "β comes out of CM as float32, the dtype of h's real part: .to(None) changes nothing",
    "mrilab.models.cgpd_csnet.xǁCGPDCSNetǁtraining_loss__mutmut_36": "target is 4-D: shape[2] is shape[-2]",
    # multigrid
    "mrilab.multigrid.x__check_system__mutmut_13": "A was just checked square: shape[1] is shape[0]",
    "mrilab.multigrid.x_coarse_operator__mutmut_24": "A was just checked square: shape[1] is shape[0]",
    "mrilab.multigrid.x_two_grid_cycle__mutmut_37": "A was checked square by _check_system: shape[1] is shape[0]",
    "mrilab.multigrid.x__check_system__mutmut_21": "f only meets float64 arrays (f − A u): any real dtype promotes "
                                                   "exactly",
    "mrilab.multigrid.x__check_system__mutmut_23": "f only meets float64 arrays (f − A u): any real dtype promotes "
                                                   "exactly",
    "mrilab.multigrid.x_coarse_operator__mutmut_5": "A only meets the float64 transfer matrices (R A P): exact "
                                                    "promotion",
    "mrilab.multigrid.x_coarse_operator__mutmut_7": "A only meets the float64 transfer matrices (R A P): exact "
                                                    "promotion",
    **{f"mrilab.multigrid.x_{function}__mutmut_{k}":
       "an even n is refused with the same message further down (two_grid_matrix, restriction)"
       for function, ks in (("convergence_factor", (9, 12, 15)), ("two_grid_matrix", (8, 11, 14))) for k in ks},
    # IFR
    "mrilab.ifr.x_dct_shrinkage__mutmut_17": "the tests run on the CPU, where .to(None) and .to(x.device) are equal",
    "mrilab.ifr.x_dct_shrinkage__mutmut_20": "dct_bases' default size is 3",
    "mrilab.ifr.x_dct_shrinkage__mutmut_4": "finite=None is falsy: no finiteness scan, as finite=False",
    "mrilab.ifr.x_dct_shrinkage__mutmut_72": "the bases are 4-D: dimension 2 is dimension −2",
    "mrilab.ifr.xǁ_PiecewiseLinearǁforward__mutmut_28":
        "broadcasting aligns from the right: channel offsets (C, 1, …) and (1, C, 1, …) meet α's channel axis alike",
    "mrilab.ifr.xǁ_PiecewiseLinearǁbackward__mutmut_6":
        "autograd casts a returned gradient to its input's dtype itself",
    "mrilab.ifr.xǁ_PiecewiseLinearǁbackward__mutmut_45":
        "autograd casts a returned gradient to its input's dtype itself",
    "mrilab.ifr.xǁ_PiecewiseLinearǁbackward__mutmut_23": "the tests run on the CPU, where device=None is the CPU",
    "mrilab.ifr.xǁ_PiecewiseLinearǁbackward__mutmut_26": "the tests run on the CPU, where device=None is the CPU",
    **{f"mrilab.multigrid.x_{name}":
       "only Poisson matrices reach it, for which the Galerkin and rediscretised coarse operators are equal "
       "(Briggs ch. 5, tested): the default coarse operator gives the same result"
       for name in ("convergence_factor__mutmut_30", "convergence_factor__mutmut_61", "two_grid_matrix__mutmut_53")},
}

#: mutmut's exit-code statuses, folded into the columns of the report.
COLUMNS = {
    "killed": "killed",
    "caught by type check": "killed",
    "survived": "survived",
    "timeout": "timeout",
    "no tests": "no_tests",
    "not checked": "not_checked",
}


def config(root: Path) -> dict:
    """Return the ``[tool.mutmut]`` table of ``root``'s pyproject.toml."""
    return toml_loads((root / "pyproject.toml").read_text())["tool"]["mutmut"]


def mutated_files(root: Path, cfg: dict) -> list[str]:
    """Return the source files (relative to ``root``) that mutmut mutates, in a stable order."""
    files = []
    for source in cfg["source_paths"]:
        for path in sorted((root / source).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if any(fnmatch.fnmatch(name, pattern) for pattern in cfg["only_mutate"]):
                files.append(name)
    return files


def scratch_root(commit: str | None, tests: Path | None, where: Path) -> Path:
    """Build a directory to run mutmut in: the package and tests of ``commit`` (or of the working tree, with
    ``tests`` in place of tests/), the files the tests read, and today's pyproject.toml."""
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    cfg = config(ROOT)
    paths = [*cfg["source_paths"], "tests", *cfg.get("also_copy", [])]
    if commit:
        archive = subprocess.run(["git", "archive", "--format=tar", commit, *paths], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(where, filter="data")
    else:
        for name in paths:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, where / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.is_file():
                shutil.copy2(source, where / name)
    if tests is not None:
        shutil.rmtree(where / "tests", ignore_errors=True)
        shutil.copytree(tests, where / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(ROOT / "pyproject.toml", where / "pyproject.toml")
    return where


def run_mutmut(root: Path, max_children: int, fresh: bool, names: list[str]) -> float:
    """Run ``mutmut run`` in ``root`` and return its wall time in seconds."""
    if fresh and (root / "mutants").exists():
        shutil.rmtree(root / "mutants")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # one core per child: the tests are small, the machine shared
    env.setdefault("MRILAB_RUNS", tempfile.mkdtemp(prefix="mrilab-mutants-runs-"))
    env.setdefault("PYTHONHASHSEED", "0")
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut) if mutmut.exists() else "mutmut", "run", "--max-children", str(max_children), *names]
    start = time.perf_counter()
    code = subprocess.run(command, cwd=root, env=env).returncode
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"mutmut run failed with exit code {code} in {root}")
    return seconds


def summarise(root: Path) -> dict:
    """Read mutmut's results in ``root/mutants`` and return the per-module counts and surviving mutants."""
    from mutmut.stats import status_by_exit_code

    cfg = config(root)
    modules = {}
    for name in mutated_files(root, cfg):
        meta = root / "mutants" / f"{name}.meta"
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        row = {"mutants": len(codes), "killed": 0, "survived": 0, "timeout": 0, "no_tests": 0, "not_checked": 0,
               "other": 0}
        survivors, untested = [], []
        for mutant, code in sorted(codes.items()):
            column = COLUMNS.get(status_by_exit_code[code], "other")
            row[column] += 1
            if column == "survived":
                survivors.append(mutant)
            elif column == "no_tests":
                untested.append(mutant)
        row["equivalent"] = sum(mutant in EQUIVALENT for mutant in survivors)
        tested = row["mutants"] - row["no_tests"] - row["not_checked"]
        row["score"] = round((row["killed"] + row["timeout"]) / tested, 4) if tested else None
        row["survivors"] = [{"name": m, "equivalent": EQUIVALENT.get(m)} for m in survivors]
        row["no_tests_mutants"] = untested
        modules[name] = row
    return modules


def table(modules: dict) -> str:
    """Format the per-module counts as a text table: the score is (killed + timeout) / tested, and the last column
    the same with the equivalent survivors left out of the tested ones."""
    keys = ("mutants", "killed", "survived", "equivalent", "timeout", "no_tests", "not_checked")
    header = f"{'module':30} {'mutants':>7} {'killed':>7} {'survived':>8} {'(equiv.)':>8} {'timeout':>7} " \
             f"{'no tests':>8} {'not run':>7} {'score':>6} {'non-eq.':>7}"
    lines = [header, "-" * len(header)]
    total = dict.fromkeys(keys, 0)

    def line(name: str, row: dict) -> str:
        tested = row["mutants"] - row["no_tests"] - row["not_checked"]
        caught = row["killed"] + row["timeout"]
        score = f"{100 * caught / tested:.1f}%" if tested else "-"
        strict = f"{100 * caught / (tested - row['equivalent']):.1f}%" if tested > row["equivalent"] else "-"
        return (f"{name:30} {row['mutants']:7d} {row['killed']:7d} {row['survived']:8d} {row['equivalent']:8d} "
                f"{row['timeout']:7d} {row['no_tests']:8d} {row['not_checked']:7d} {score:>6} {strict:>7}")

    for name, row in modules.items():
        for key in keys:
            total[key] += row[key]
        lines.append(line(name, row))
    lines.append("-" * len(header))
    lines.append(line("total", total))
    return "\n".join(lines)


def write(label: str, summary: dict, out: Path) -> None:
    """Store ``summary`` under ``label`` in ``out``, keeping the other labels."""
    data = json.loads(out.read_text()) if out.exists() else {}
    data.setdefault("schema", "mrilab-mutants-v1")
    data.setdefault("runs", {})[label] = summary
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def pytest_collection_modifyitems(items: list) -> None:
    """Run the equation tests first, then the others fastest first: a pytest hook for mutmut's runs only.

    ``[tool.mutmut]`` loads this module as a pytest plugin (``-p tools.mutants``), and mutmut runs the tests in
    ``mutants/``, where it keeps the test durations it measured. A mutant is killed by its first failing test (``-x``),
    so the order decides how long a killed mutant takes, never whether it is killed.
    """
    stats = Path("mutmut-stats.json")
    durations = json.loads(stats.read_text()).get("duration_by_test", {}) if stats.exists() else {}
    items.sort(key=lambda item: (not item.nodeid.startswith("tests/test_equations_"), durations.get(item.nodeid, 0.0)))


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default=None, help="key of this run in the JSON (default: current or the commit)")
    parser.add_argument("--commit", help="mutate and test this commit's package and tests (git archive)")
    parser.add_argument("--tests", type=Path, help="run the working tree's package against this tests directory")
    parser.add_argument("--workdir", type=Path, help="scratch directory for --commit/--tests runs")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested in parallel (default 1)")
    parser.add_argument("--incremental", action="store_true", help="keep mutmut's cache from the last run")
    parser.add_argument("--report", action="store_true", help="only summarise the last run in the directory")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seconds", type=float, help="with --report: the run time to record (a run made in parts)")
    parser.add_argument("--note", help="a remark stored with the run")
    parser.add_argument("mutants", nargs="*", help="only these mutants (mutmut names or globs)")
    args = parser.parse_args()

    label = args.label or (args.commit if args.commit else "current")
    root = ROOT
    if args.commit or args.tests:
        root = args.workdir or Path(tempfile.gettempdir()) / f"mrilab-mutants-{label}"
        if not args.report:
            scratch_root(args.commit, args.tests, root)
    seconds = None
    if not args.report:
        seconds = run_mutmut(root, args.max_children, not args.incremental, args.mutants)
    modules = summarise(root)
    print(table(modules))
    if seconds is not None:
        print(f"mutmut run: {seconds:.0f} s with {args.max_children} child process(es)")
    commit = subprocess.run(["git", "rev-parse", args.commit or "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "tests": "working tree" if not (args.commit or args.tests) else str(args.tests or f"{args.commit}:tests"),
        "package": f"{args.commit}:mrilab" if args.commit else "working tree",
        "seconds": None if seconds is None else round(seconds, 1),
        "max_children": args.max_children,
        "only": args.mutants,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "modules": modules,
    }
    if args.report and args.out.exists():  # keep the recorded run time of the run being summarised again
        previous = json.loads(args.out.read_text()).get("runs", {}).get(label, {})
        summary["seconds"] = previous.get("seconds")
        summary["note"] = previous.get("note")
    if args.seconds is not None:
        summary["seconds"] = args.seconds
    if args.note:
        summary["note"] = args.note
    write(label, summary, args.out)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} [{label}]")


if __name__ == "__main__":
    main()
