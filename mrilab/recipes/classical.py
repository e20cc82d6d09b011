"""The classical baselines: zero filling, FISTA with a Haar wavelet prior, FISTA-TV, and IFR-CS (IFR chapters).

Their λ is chosen per sampling ratio on validation slices (:func:`tune_lambda`), and every chapter uses the same grids,
iterations and tuning slices (:data:`LAMBDA_GRID`, :data:`CLASSICAL`), so a baseline's numbers do not depend on which
chapter computed them. :func:`write_lambda_record` commits the choices for every setting the chapters use
(:data:`LAMBDA_SETTINGS`) to ``mrilab/records/classical_{profile}.json`` (``make select``), which :func:`tuned` reads,
and :func:`check_lambda_record` re-scores them. IFR-CS has a second parameter, the descriptor's ``V``:
:func:`tune_ifr_cs` chooses ``λ`` and then ``V`` on validation slices, and :func:`write_ifr_cs_record` commits the
choices of every setting the chapters use to ``mrilab/records/ifr_cs_{profile}.json`` (``make select``), which
:func:`ifr_cs_parameters` reads.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .. import classical, coils
from ..classical.proximal_gradient import resolve_lambda
from ..data import SliceDataset
from ..evaluation import evaluate
from ..io import atomic_write
from ..masks import calibration_size
from ..ops import MRIOperator, ifft2c
from ..runtime import machine_info, pick
from ..stats import summarize
from ..tasks import TASKS, Task, get_task

#: Relative λ grids (``λ = rel · max|A^H y|``) searched on validation slices for the classical baselines
#: (``smoke`` only checks that the code runs, so it tries one value).
LAMBDA_GRID = {
    "smoke": {"fista": (2e-3,), "tv": (3e-3,)},
    "demo": {"fista": (1e-3, 3e-3, 1e-2), "tv": (1e-3, 3e-3, 1e-2)},
    "full": {"fista": (5e-4, 1e-3, 2e-3, 5e-3, 1e-2), "tv": (5e-4, 1e-3, 3e-3, 1e-2)},
}


#: Iterations of the classical solvers and validation slices for tuning their λ, per profile. Every chapter that
#: reports FISTA-wavelet or TV uses these, so their numbers do not depend on which chapter computed them.
CLASSICAL = {
    "smoke": {"iterations": 20, "tuning_slices": 2},
    "demo": {"iterations": 50, "tuning_slices": 12},
    "full": {"iterations": 200, "tuning_slices": 48},
}

#: IFR-CS per profile: iterations, the fixed splitting penalty ρ, and the grids of relative λ and of V that
#: :func:`tune_ifr_cs` searches (``V`` is on the images' intensity scale, about [0, 1]).
IFR_CS = {
    "smoke": {"iterations": 10, "rho": 0.5, "lambda_grid": (1e-2,), "V_grid": (1e-2,)},
    "demo": {"iterations": 60, "rho": 0.5, "lambda_grid": (5e-3, 1e-2, 2e-2), "V_grid": (3e-3, 1e-2, 3e-2)},
    "full": {"iterations": 200, "rho": 0.5, "lambda_grid": (2.5e-3, 5e-3, 1e-2, 2e-2),
             "V_grid": (1e-3, 3e-3, 1e-2, 3e-2)},
}

#: The IFR-CS settings the IFR chapters evaluate: ``(mask, ratio, refine)``.
IFR_CS_SETTINGS = tuple(
    [("radial", r, refine) for refine in (True, False) for r in (0.1, 0.2, 0.3, 0.4)]
    + [(m, 0.25, True) for m in ("cartesian", "random2d", "radial")]
)

#: The ``(method, task, ratio, maps)`` of FISTA-wavelet and TV whose λ is committed (:func:`write_lambda_record`):
#: every task and ratio of the benchmark (:mod:`mrilab.benchmark`), and the extra single-coil ratios the chapters
#: compare with (the IFR chapters' Cartesian 25 %). ``maps`` is ``None`` for single-coil tasks; on multi-coil tasks
#: the SENSE solvers run with maps ``"estimated"`` from the calibration region, or with the ``"true"`` maps (oracle).
LAMBDA_SETTINGS = tuple(
    [(m, task.name, r, maps) for task in TASKS.values() for r in task.ratios for m in ("fista", "tv")
     for maps in ((None,) if not task.multi_coil else ("estimated", "true"))]
    + [("tv", "singlecoil-t1w-cartesian", 0.25, None)]
)

RECORDS = Path(__file__).resolve().parent.parent / "records"

#: How many times :func:`tune_lambda` extends its grid past an edge where the best λ lies.
MAX_GRID_EXTENSIONS = 4

#: The classical baselines: display name → method of :func:`classical_reconstructor`.
CLASSICAL_METHODS = {"Zero-filling": "zero_filled", "FISTA-wavelet": "fista", "TV": "tv"}


#: How a SENSE solver gets its coil maps on multi-coil data: from the calibration region, or the true maps (oracle).
MAPS = ("estimated", "true")


def classical_reconstructor(method: str, lam: float, *, iterations: int = 100, maps: str | None = None,
                            **options: object) -> Callable[[dict], torch.Tensor]:
    """Return ``batch -> image`` for ``"zero_filled"``, ``"fista"`` (Haar wavelets), ``"tv"`` or ``"ifr_cs"``.

    ``lam`` is relative (``λ = lam · max|A^H y|``); ``options`` go to :func:`mrilab.classical.ifr_cs` (``rho``,
    ``V``, ``refine``). Single-coil data use ``A = M F``. On multi-coil data zero filling returns the
    root-sum-of-squares of the zero-filled coil images, and the solvers use the SENSE operator ``A = M F S`` with
    ``maps``: ``"estimated"`` from the fully sampled calibration block of the mask
    (:func:`mrilab.coils.estimate_sensitivities`) or ``"true"`` (the batch's ``sens``, an oracle no scanner has).
    """
    if maps is not None and maps not in MAPS:
        raise ValueError(f"maps must be None, 'estimated' or 'true', got {maps!r}")

    def reconstruct(batch: dict) -> torch.Tensor:
        y, mask = batch["kspace"], batch["mask"]
        if method == "zero_filled":
            images = MRIOperator(mask).adjoint(y)
            return images if images.shape[1] == 1 else coils.rss(images).unsqueeze(1)
        op = MRIOperator(mask, coil_maps(batch, maps))
        if method == "fista":
            return classical.fista(op, y, resolve_lambda(op, y, None, lam), iterations=iterations,
                                   track_objective=False)[0]
        if method == "tv":
            return classical.tv_reconstruction(op, y, resolve_lambda(op, y, None, lam), iterations=iterations,
                                               inner_iterations=5,
                                               track_objective=False)[0]
        if method == "ifr_cs":
            return classical.ifr_cs(op, y, resolve_lambda(op, y, None, lam), iterations=iterations, **options)[0]
        raise ValueError(f"method must be 'zero_filled', 'fista', 'tv' or 'ifr_cs', got {method!r}")

    return reconstruct


def coil_maps(batch: dict, maps: str | None) -> torch.Tensor | None:
    """Return the sensitivities a SENSE solver uses on ``batch`` (``None`` for single-coil data)."""
    n_coils = batch["kspace"].shape[1]
    if n_coils == 1:
        return None
    if maps == "true":
        if batch.get("sens") is None:
            raise ValueError("maps='true' needs the batch's sens (the task gives no maps; this is the oracle)")
        return batch["sens"]
    if maps == "estimated":
        mask = batch["mask"]
        calib = calibration_size(mask if mask.ndim == 2 else mask.all(dim=0)[0])
        return coils.estimate_sensitivities(ifft2c(batch["kspace"]), calib)
    raise ValueError(f"{n_coils}-coil data need maps='estimated' or maps='true' for a SENSE solver, got {maps!r}")


def tune_lambda(method: str, dataset: torch.utils.data.Dataset, grid: Sequence[float], *, iterations: int = 100,
                device: str = "cpu", label: str = "", options: dict | None = None) -> tuple[float, dict]:
    """Return the relative λ with the best mean PSNR on ``dataset``, and ``{λ: PSNR}`` of every λ tried.

    The search starts on ``grid`` (increasing); when the best λ lies on an edge of what was tried, it warns and
    extends the grid past that edge by the grid's own outer ratio, up to :data:`MAX_GRID_EXTENSIONS` times, so the
    chosen λ is an interior optimum (or the warning says it is not). ``label`` (e.g. the ratio) starts each warning;
    ``options`` go to :func:`classical_reconstructor`.
    """
    grid = sorted(float(g) for g in grid)
    if not grid or any(g <= 0 for g in grid):
        raise ValueError(f"grid must hold positive relative λ values, got {grid!r}")

    def score(lam: float) -> float:
        reconstruct = classical_reconstructor(method, lam, iterations=iterations, **(options or {}))
        return summarize(evaluate(reconstruct, dataset, device=device), metrics=("psnr",))["psnr_mean"]

    scores = {lam: score(lam) for lam in grid}
    for _ in range(MAX_GRID_EXTENSIONS if len(grid) > 1 else 0):
        tried = sorted(scores)
        best = max(scores, key=scores.get)
        if tried[0] < best < tried[-1]:
            break
        step = tried[1] / tried[0] if best == tried[0] else tried[-1] / tried[-2]
        new = best / step if best == tried[0] else best * step
        warnings.warn(f"{label}tune_lambda({method!r}): best λ {best:g} lies on the edge of {tried}; "
                      f"trying {new:g}", stacklevel=2)
        scores[new] = score(new)
    else:
        best = max(scores, key=scores.get)
        tried = sorted(scores)
        if len(tried) > 1 and best in (tried[0], tried[-1]):
            warnings.warn(f"{label}tune_lambda({method!r}): best λ {best:g} is still on the edge of {tried}",
                          stacklevel=2)
    return max(scores, key=scores.get), dict(sorted(scores.items()))


def classical_baselines(profile: str, test_sets: dict, *, task: str | Task = "singlecoil-t1w-cartesian",
                        device: str = "cpu") -> tuple[dict, dict]:
    """Take λ of FISTA-wavelet and TV per ratio from validation slices of ``task``, then evaluate every baseline.

    ``test_sets`` maps each ratio to its test dataset. λ is read or chosen by :func:`tuned`, starting from
    ``LAMBDA_GRID[profile]``, on the first ``CLASSICAL[profile]["tuning_slices"]`` validation slices at that ratio
    (validation masks, never the test set's); every solver runs ``CLASSICAL[profile]["iterations"]`` iterations.
    Returns ``(lambdas, rows)``: ``lambdas[method, ratio]`` the relative λ (``method`` ``"fista"`` or ``"tv"``) and
    ``rows[name, ratio]`` the per-slice rows of :func:`~mrilab.evaluation.evaluate` for every name in
    :data:`CLASSICAL_METHODS`. Single-coil tasks only (multi-coil baselines: :mod:`mrilab.methods`).
    """
    task = get_task(task)
    if task.multi_coil:
        raise ValueError(f"task must be single-coil for classical_baselines, got {task.name!r}")
    lambdas, rows = {}, {}
    for ratio, test_set in test_sets.items():
        for name, method in CLASSICAL_METHODS.items():
            lam, reconstruct = tuned(method, profile, task, ratio, device=device)
            if method != "zero_filled":
                lambdas[method, ratio] = lam
            rows[name, ratio] = evaluate(reconstruct, test_set, device=device)
    return lambdas, rows


def tuned(method: str, profile: str, task: str | Task, ratio: float, *, maps: str | None = None,
          device: str = "cpu") -> tuple[float, Callable[[dict], torch.Tensor]]:
    """Return ``(λ, reconstructor)`` of a classical method with λ chosen on validation slices of ``task`` at ``ratio``.

    λ (relative to ``max|Aᴴy|``; 0 for ``"zero_filled"``) is read from the committed record
    (:func:`write_lambda_record`) when it holds this setting with the profile's current grid, iterations and tuning
    slices; otherwise it is chosen now by :func:`tune_lambdas_on_validation`. The reconstructor runs
    ``CLASSICAL[profile]["iterations"]`` iterations; ``maps`` is that of :func:`classical_reconstructor`.
    """
    settings = pick(CLASSICAL, profile)
    task = get_task(task)
    lam = 0.0
    if method != "zero_filled":
        entry = _recorded_lambda(profile, method, task.name, ratio, maps)
        lam = entry["lambda"] if entry is not None else tune_lambdas_on_validation(
            method, profile, task, ratio, maps=maps, device=device)[0]
    return lam, classical_reconstructor(method, lam, iterations=settings["iterations"], maps=maps)


def tune_lambdas_on_validation(method: str, profile: str, task: str | Task, ratio: float, *,
                               maps: str | None = None, device: str = "cpu") -> tuple[float, dict]:
    """Return ``(λ, {λ: PSNR})`` of :func:`tune_lambda` on validation slices of ``task``, from ``LAMBDA_GRID[profile]``.

    The slices are the first ``CLASSICAL[profile]["tuning_slices"]`` of the task's validation split at ``ratio``.
    """
    settings, task = pick(CLASSICAL, profile), get_task(task)
    tuning = task.dataset(profile, "val", ratios=(ratio,), max_slices=settings["tuning_slices"])
    return tune_lambda(method, tuning, pick(LAMBDA_GRID, profile)[method], iterations=settings["iterations"],
                       device=device, label=f"{task.name} {ratio:g}: ", options={"maps": maps} if maps else None)


def lambda_record_path(profile: str) -> Path:
    """Return ``mrilab/records/classical_{profile}.json``."""
    return RECORDS / f"classical_{profile}.json"


def _lambda_key(method: str, task: str, ratio: float, maps: str | None) -> str:
    return f"{method}_{task}_{round(100 * ratio)}" + (f"_{maps}" if maps else "")


def _lambda_settings(profile: str) -> dict:
    return json.loads(json.dumps({"grid": pick(LAMBDA_GRID, profile), **pick(CLASSICAL, profile)}))


def _recorded_lambda(profile: str, method: str, task: str, ratio: float, maps: str | None) -> dict | None:
    path = lambda_record_path(profile)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record["settings"] != _lambda_settings(profile):
        return None
    return record["entries"].get(_lambda_key(method, task, ratio, maps))


def write_lambda_record(profile: str, *, device: str = "cpu", keep: bool = True) -> dict:
    """Tune λ for every setting of :data:`LAMBDA_SETTINGS` on validation slices, write the record; return it.

    Each entry holds the chosen relative λ, the mean validation PSNR of every λ tried (the grid and its extensions
    past an edge, :func:`tune_lambda`) and whether the choice is still on an edge of what was tried. With ``keep``
    an entry of the existing record made with the same settings is kept rather than tuned again (the same
    computation); :func:`check_lambda_record` re-scores every entry either way.
    """
    path = lambda_record_path(profile)
    old = json.loads(path.read_text()) if keep and path.exists() else None
    kept = old["entries"] if old is not None and old["settings"] == _lambda_settings(profile) else {}
    entries = {}
    for method, task, ratio, maps in LAMBDA_SETTINGS:
        key = _lambda_key(method, task, ratio, maps)
        if key in kept:
            entries[key] = kept[key]
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the record says where the grid was extended
            lam, scores = tune_lambdas_on_validation(method, profile, task, ratio, maps=maps, device=device)
        entries[key] = {"method": method, "task": task, "ratio": ratio, "maps": maps, "lambda": lam,
                        "scores": {str(k): v for k, v in scores.items()}, "on_edge": lam in (min(scores), max(scores))}
    record = {"profile": profile, "settings": _lambda_settings(profile),
              "rule": "highest mean validation PSNR; the grid is extended past an edge where the best λ lies",
              "machine": machine_info(), "entries": entries}
    atomic_write(path, json.dumps(record, indent=1))
    return record


def check_lambda_record(profile: str, *, tolerance_db: float = 0.01, device: str = "cpu") -> list[str]:
    """Re-score every recorded λ on its validation slices; return a problem per entry that no longer matches.

    A missing record, one made with other grids, iterations or tuning slices, a setting of :data:`LAMBDA_SETTINGS`
    it lacks, or a recorded PSNR that the chosen λ no longer reproduces to ``tolerance_db`` is a problem: rerun
    ``python selection/tune_classical.py --profile PROFILE`` (``make select``).
    """
    path = lambda_record_path(profile)
    if not path.exists():
        return [f"no λ record {path}: run `python selection/tune_classical.py --profile {profile}`"]
    record = json.loads(path.read_text())
    if record["settings"] != _lambda_settings(profile):
        return [f"{path} was tuned with other settings than LAMBDA_GRID/CLASSICAL[{profile!r}]: tune again"]
    problems, settings = [], pick(CLASSICAL, profile)
    for method, task, ratio, maps in LAMBDA_SETTINGS:
        entry = record["entries"].get(_lambda_key(method, task, ratio, maps))
        label = f"{method} {task} {ratio:g}" + (f" ({maps} maps)" if maps else "")
        if entry is None:
            problems.append(f"{path} lacks {label}: tune again")
            continue
        tuning = get_task(task).dataset(profile, "val", ratios=(ratio,), max_slices=settings["tuning_slices"])
        reconstruct = classical_reconstructor(method, entry["lambda"], iterations=settings["iterations"], maps=maps)
        measured = summarize(evaluate(reconstruct, tuning, device=device), metrics=("psnr",))["psnr_mean"]
        recorded = entry["scores"][str(entry["lambda"])]
        if abs(measured - recorded) > tolerance_db:
            problems.append(f"{label}: λ {entry['lambda']:g} now scores {measured:.3f} dB on "
                            f"validation, the record says {recorded:.3f} dB: tune again")
    return problems


def tune_ifr_cs(profile: str, ratio: float, *, mask: str = "radial", refine: bool = True, contrast: str = "T1w",
                device: str = "cpu") -> dict:
    """Choose IFR-CS's relative λ, then its ``V``, on validation slices; return the choice and every score.

    λ is tuned by :func:`tune_lambda` at the middle ``V`` of ``IFR_CS[profile]["V_grid"]``; then ``V`` is the best of
    that grid at the chosen λ (``refine=False`` has no ``V``). Same validation slices as the other baselines.
    """
    settings = pick(IFR_CS, profile)
    tuning = SliceDataset(profile, "val", contrast, mask=mask, ratios=(ratio,),
                          max_slices=pick(CLASSICAL, profile)["tuning_slices"])
    V_grid = settings["V_grid"]
    options = {"rho": settings["rho"], "V": V_grid[len(V_grid) // 2], "refine": refine}
    lam, lambda_scores = tune_lambda("ifr_cs", tuning, settings["lambda_grid"], iterations=settings["iterations"],
                                     device=device, label=f"{mask} {ratio:g}: ", options=options)
    V_scores = {}
    if refine:
        for V in V_grid:
            reconstruct = classical_reconstructor("ifr_cs", lam, iterations=settings["iterations"],
                                                  **{**options, "V": V})
            V_scores[V] = summarize(evaluate(reconstruct, tuning, device=device), metrics=("psnr",))["psnr_mean"]
        options["V"] = max(V_scores, key=V_scores.get)
    return {"lambda": lam, **options, "iterations": settings["iterations"],
            "lambda_scores": {str(k): v for k, v in lambda_scores.items()},
            "V_scores": {str(k): v for k, v in V_scores.items()}}


def _ifr_cs_key(mask: str, ratio: float, refine: bool) -> str:
    return f"{mask}_{round(100 * ratio)}_{'refine' if refine else 'plain'}"


def ifr_cs_record_path(profile: str) -> Path:
    """Return ``mrilab/records/ifr_cs_{profile}.json``."""
    return RECORDS / f"ifr_cs_{profile}.json"


def write_ifr_cs_record(profile: str, *, device: str = "cpu") -> dict:
    """Tune IFR-CS for every setting of :data:`IFR_CS_SETTINGS` and write the record; return it."""
    entries = {_ifr_cs_key(m, r, refine): tune_ifr_cs(profile, r, mask=m, refine=refine, device=device)
               for m, r, refine in IFR_CS_SETTINGS}
    record = {"profile": profile, "settings": pick(IFR_CS, profile),
              "rule": "highest mean validation PSNR: λ at the middle V, then V at that λ", "machine": machine_info(),
              "entries": entries}
    atomic_write(ifr_cs_record_path(profile), json.dumps(record, indent=1))
    return record


def ifr_cs_parameters(profile: str, ratio: float, *, mask: str = "radial", refine: bool = True) -> dict:
    """Return the tuned IFR-CS parameters (``lambda``, ``rho``, ``V``, ``refine``, ``iterations`` and the scores).

    Read from the committed record when it holds this setting with the profile's current grids; otherwise tuned
    now by :func:`tune_ifr_cs` (``smoke`` always, a few seconds).
    """
    path = ifr_cs_record_path(profile)
    if path.exists():
        record = json.loads(path.read_text())
        entry = record["entries"].get(_ifr_cs_key(mask, ratio, refine))
        if entry is not None and record["settings"] == json.loads(json.dumps(pick(IFR_CS, profile))):
            return entry
    return tune_ifr_cs(profile, ratio, mask=mask, refine=refine)


def ifr_cs_reconstructor(parameters: dict) -> Callable[[dict], torch.Tensor]:
    """Return ``batch -> image`` running IFR-CS with parameters of :func:`ifr_cs_parameters`."""
    return classical_reconstructor("ifr_cs", parameters["lambda"], iterations=parameters["iterations"],
                                   rho=parameters["rho"], V=parameters["V"], refine=parameters["refine"])
