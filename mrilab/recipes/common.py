"""What every method's recipe shares: run names from recipe hashes, and committed pretrained weights.

A *run* is one training of one model: its trainer is built by a recipe module from the profile's settings and
named ``<prefix>-<hash>`` by :func:`run_name`, the hash covering everything the training depends on (model,
training config, data, seed). A changed recipe therefore never resumes a stale checkpoint, and the same recipe
always finds its finished run.

Pretrained weights. The trained ``demo`` models are committed with the package, in
``mrilab/weights/<profile>/<method>/<run>.pt`` (the state dict only, loadable with ``weights_only=True``) next to
``<run>.json`` (model name and config, the recipe, its full hash, steps, training wall time, machine, and the
training history for the loss curves). :func:`fit` loads a committed model when the hash of the current recipe
equals the committed one and trains (or resumes) otherwise; ``retrain=True`` forces training.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from ..io import atomic_path, atomic_write, load_weights
from ..models.registry import build_model
from ..runtime import machine_info, runs_dir
from ..train import Run, TrainConfig, Trainer

#: Where the committed weights live (inside the package, so that an installed package has them).
WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
#: The training distribution (``contrast`` of the recipes' training files) of every model the recipes train, chosen
#: on the shifted validation set by :func:`mrilab.selection.select_training_data` (``make select``; the record is
#: ``mrilab/records/training_data_demo.json``, and a unit test keeps the two equal).
TRAINING_DATA = "T1w"
#: The two candidate distributions the data chapter compares: the book's T1-weighted generator alone, and the
#: domain-randomised slices (:mod:`mrilab.data.randomise`).
NARROW, BROAD = "T1w", "broad"
#: The other of the two. The *twins* of a recipe module (``twins(profile)``) are its models of the 10–30 % Cartesian
#: comparison trained on it (and on :data:`TWIN_DATAS`), with the same model, schedule and seed as the chosen ones.
TWIN_DATA = BROAD if TRAINING_DATA == NARROW else NARROW
#: A third candidate: the narrow slices mixed with as many zoomed in until tissue fills the field of view
#: (:data:`mrilab.data.randomise.ZOOMED`), which ``transfer/zoomed.py`` compares with the narrow models.
ZOOMED = f"{NARROW}+zoomed"
#: Every candidate but the chosen one, :data:`TWIN_DATA` first: a recipe's twins are trained on each.
TWIN_DATAS = tuple(dict.fromkeys(d for d in (TWIN_DATA, NARROW, BROAD, ZOOMED) if d != TRAINING_DATA))
#: The sampling ratios at which the twins are compared with their broadly trained models.
TWIN_RATIOS = (0.1, 0.2, 0.3)
#: The training-step times measured on a GPU by ``make gpu-check`` (``benchmarks/gpu_check.py`` writes it).
GPU_STEPS = Path(__file__).resolve().parent.parent / "records" / "gpu_steps.json"


def recipe_hash(recipe: dict) -> str:
    """Return the SHA-256 of a recipe's canonical JSON."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()


def run_name(prefix: str, recipe: dict) -> str:
    """Return ``prefix-<first 10 hex digits of the recipe hash>``."""
    return f"{prefix}-{recipe_hash(recipe)[:10]}"


def make_trainer(profile: str, method: str, prefix: str, recipe: dict, model: torch.nn.Module,
                 dataset: torch.utils.data.Dataset, config: TrainConfig,
                 validation: torch.utils.data.Dataset | None = None, *, start_from: object = None) -> Trainer:
    """Return the (not yet fitted) trainer of one run in ``runs_dir(profile, method, run_name(prefix, recipe))``.

    Its :class:`~mrilab.train.Run` (``trainer.run``: ``profile``, ``method``, the run's ``name``, ``recipe`` and
    ``start_from``, the model a warm-started run starts from) is what :func:`fit`, :func:`committed` and
    :func:`export` use.
    """
    name = run_name(prefix, recipe)
    run = Run(profile=profile, method=method, name=name, recipe=recipe, start_from=start_from)
    return Trainer(model, dataset, runs_dir(profile, method, name), config, validation=validation, run=run)


def recipe_run(trainer: Trainer) -> Run:
    """Return ``trainer.run``, or raise ``ValueError`` for a trainer that was not built by a recipe."""
    if trainer.run is None:
        raise ValueError("the trainer has no Run: build it with a recipe's trainer() (mrilab.recipes.common."
                         "make_trainer), or pass Trainer(..., run=Run(...))")
    return trainer.run


def weights_path(profile: str, method: str, run: str) -> Path:
    """Return the path of a run's committed weights (``.pt``; its manifest is the ``.json`` beside it)."""
    return WEIGHTS / profile / method / f"{run}.pt"


def committed(trainer: Trainer) -> dict | None:
    """Return the manifest of the trainer's committed weights if its recipe hash matches, else ``None``."""
    run = recipe_run(trainer)
    manifest = weights_path(run.profile, run.method, run.name).with_suffix(".json")
    if not manifest.exists():
        return None
    entry = json.loads(manifest.read_text())
    return entry if entry["hash"] == recipe_hash(run.recipe) else None


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run folder ``directory`` (``.lock`` in it) while the block runs.

    Two processes that train the same run (two chapters executed side by side) then take turns: the second waits,
    then resumes the first one's finished checkpoint instead of training it again over the same files. The ranks of
    one data-parallel run must not take it (they train together; :func:`fit` leaves them out). Where the platform
    has no ``fcntl`` (Windows), the lock is a no-op.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fit(trainer: Trainer, *, retrain: bool = False, progress: bool = True, save: bool = False,
        load_only: bool = False) -> dict:
    """Load the run's committed weights when they match its recipe, else train (or resume); return the history.

    ``save=True`` (``make train``) writes the trained weights to the committed weights folder (:func:`export`).
    ``load_only=True`` never trains: the committed weights or a finished run in the runs folder (a chapter trained
    it) are loaded, and anything else raises ``LookupError`` (the benchmark runner evaluates, it does not train).
    """
    run = recipe_run(trainer)
    entry = None if retrain else committed(trainer)
    if entry is None and load_only and not (trainer.resume() and trainer.step >= trainer.config.steps):
        raise LookupError(f"{run.method} run {run.name} of profile {run.profile!r} has neither committed "
                          "weights nor a finished training run: run its chapter or `make train` first")
    if entry is None:
        # a second job on the same run waits, then resumes it; the ranks of one data-parallel run train together
        lock = contextlib.nullcontext() if trainer.world.distributed else run_lock(trainer.checkpoint_path.parent)
        with lock:
            history = trainer.fit(progress=progress)
        if save and trainer.world.is_main:
            export(trainer)
        return history
    trainer.model.load_state_dict(load_weights(weights_path(run.profile, run.method, run.name)))
    trainer.model.eval()
    trainer.history = entry["history"]
    return trainer.history


def fit_warm_started(trainer: Trainer, train_start: Callable[[object], torch.nn.Module], *, retrain: bool = False,
                     progress: bool = True, save: bool = False, load_only: bool = False) -> dict:
    """:func:`fit` one run of a warm-started series, first training (or loading) the model it starts from.

    When the run has to train (``start_from`` of its :class:`~mrilab.train.Run` is set, ``load_only`` is false, no
    checkpoint of it is there to resume, and ``retrain`` is set or no committed weights match its recipe),
    ``train_start(trainer.run.start_from)`` returns the trained model it starts from, whose weights it takes before
    training. Otherwise that model is never built: a run that loads, resumes, or may not train (``load_only``) does
    not need it. The other arguments are those of :func:`fit`.
    """
    run = recipe_run(trainer)
    if (run.start_from is not None and not load_only and not trainer.checkpoint_path.exists()
            and (retrain or committed(trainer) is None)):
        trainer.model.load_state_dict(train_start(run.start_from).state_dict())
    return fit(trainer, retrain=retrain, progress=progress, save=save, load_only=load_only)


def export(trainer: Trainer) -> Path:
    """Write a fitted trainer's weights and manifest to the committed weights folder; return the weights path."""
    run = recipe_run(trainer)
    path = weights_path(run.profile, run.method, run.name)
    state = {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    entry = {"method": run.method, "run": run.name, "model_name": type(trainer.model).__name__,
             "model_config": dict(trainer.model.config), "recipe": run.recipe,
             "hash": recipe_hash(run.recipe), "steps": trainer.step,
             "seconds": round(trainer.history["seconds"], 1), "machine": machine_info(), "history": trainer.history}
    atomic_write(path.with_suffix(".json"), json.dumps(entry, indent=1, default=str))
    return path


def load_committed(profile: str, method: str, run: str) -> tuple[torch.nn.Module, dict]:
    """Rebuild a committed model (eval mode) from its manifest and weights; return ``(model, manifest)``."""
    path = weights_path(profile, method, run)
    entry = json.loads(path.with_suffix(".json").read_text())
    model = build_model(entry["model_name"], entry["model_config"])
    model.load_state_dict(load_weights(path))
    return model.eval(), entry


def committed_runs(profile: str) -> dict[tuple[str, str], dict]:
    """Return every committed run of ``profile``: ``{(method, run): manifest}``."""
    folder = WEIGHTS / profile
    return {(p.parent.name, p.stem): json.loads(p.read_text()) for p in sorted(folder.glob("*/*.json"))}


def expected_training(module: object, profile: str, *, timed_steps: int = 2) -> str:
    """Return a sentence with the runs, steps and expected training time of a recipe module in ``profile``.

    The time is measured, not assumed: ``timed_steps`` forward and backward passes of the first run's model on
    this machine's device (after one warm-up), extrapolated to every step of every run (the ablation runs of a
    method are smaller, so for them it is an upper bound).
    """
    trainers = [module.trainer(profile, **options) for options in module.runs(profile)]
    steps = sum(t.config.steps for t in trainers)
    first = trainers[0]
    times = []
    for step in range(timed_steps + 1):
        tic = time.perf_counter()
        first.loss_fn(first.model, first.batch(step)).backward()
        if first.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tic)
    first.optimizer.zero_grad(set_to_none=True)
    hours = steps * min(times[1:]) / 3600
    return (f"{module.NAME}, profile {profile}: {len(trainers)} runs, {steps:,} training steps; at the "
            f"{1e3 * min(times[1:]):.0f} ms per step measured just now on {first.device}, about {hours:.1f} hours")


def gpu_training_estimate(module: object, profile: str = "full", *, precision: str = "float32") -> str:
    """Return a sentence: the runs and steps of a recipe module in ``profile`` and their time on the recorded GPU.

    The time is the steps of every run (:func:`run_steps` of the module) times the median training step of the
    profile's main model measured by ``make gpu-check`` (:data:`GPU_STEPS`, compute only: the batch is already on
    the GPU). The ablation runs are smaller models, so for them it is an upper bound.
    """
    record = json.loads(GPU_STEPS.read_text())
    runs = module.runs(profile)
    steps = sum(module.run_steps(profile, **options) for options in runs)
    milliseconds = record["steps_ms"][module.NAME][profile][precision]
    hours = steps * milliseconds / 3.6e6
    return (f"{module.NAME}, profile {profile}: {len(runs)} runs, {steps:,} training steps; at the "
            f"{milliseconds:.0f} ms per step ({precision}) measured on one {record['device']} "
            f"({record['measured'][:10]}), about {hours:.1f} GPU hours")
