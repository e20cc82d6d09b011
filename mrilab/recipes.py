"""Shared experiment recipes: the settings and training calls that several chapters reuse.

The ISTA chapter trains one ISTA-Net+ per sampling ratio and tunes the classical baselines; the two-grid chapter
compares against exactly those models, so both call the functions here. A chapter that runs after another
resumes from that chapter's checkpoints (see :func:`mrilab.profiles.runs_dir`) instead of training again.
"""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import torch

from . import classical
from .classical.proximal_gradient import resolve_lambda
from .data import SliceDataset
from .evaluation import evaluate
from .models import ISTANetPlus
from .ops import MRIOperator
from .profiles import pick, runs_dir
from .stats import summarize
from .train import TrainConfig, Trainer, seed_everything

#: The sampling ratios the ISTA chapter trains one ISTA-Net+ for, in training order.
ISTA_NET_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5)

#: Per-profile ISTA-Net+ model and training schedule. ``full`` is the paper's model (9 phases, 32 filters, its
#: initialisation), trained from scratch for every ratio. ``demo`` trains five models on two CPU cores in minutes: a
#: smaller model (5 phases, 16 filters) that starts as plain gradient steps (``init``), and a *warm-started series*:
#: the first ratio trains from scratch for ``first_steps``, every next ratio starts from the previous ratio's weights
#: and fine-tunes for ``steps``. Each model is still trained for its own ratio. The demo schedule was chosen on the
#: validation split (:mod:`mrilab.selection`, record in ``mrilab/records/``).
ISTA_NET = {
    "smoke": {"model": {"n_phases": 3, "n_filters": 8, "step_init": 1.0, "init": "gradient_steps"},
              "train": {"steps": 4, "batch_size": 2, "lr": 2e-3}, "first_steps": 8, "warm_start": True},
    "demo": {"model": {"n_phases": 5, "n_filters": 16, "step_init": 1.0, "init": "gradient_steps"},
             "train": {"steps": 600, "batch_size": 2, "lr": 2e-3}, "first_steps": 1200, "warm_start": True},
    "full": {"model": {"n_phases": 9, "n_filters": 32}, "train": {"steps": 20000, "batch_size": 8, "lr": 1e-4},
             "first_steps": 20000, "warm_start": False},
}  # fmt: skip

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

#: How many times :func:`tune_lambda` extends its grid past an edge where the best λ lies.
MAX_GRID_EXTENSIONS = 4

#: The classical baselines: display name → method of :func:`classical_reconstructor`.
CLASSICAL_METHODS = {"Zero-filling": "zero_filled", "FISTA-wavelet": "fista", "TV": "tv"}


def run_name(prefix: str, recipe: dict) -> str:
    """``prefix-<hash>``: a run directory named by a hash of everything its training depends on, so that a changed
    recipe never resumes a stale checkpoint and the same recipe always finds its finished run."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()
    return f"{prefix}-{digest[:10]}"


def ista_net_recipe(profile: str, schedule: dict | None = None) -> dict:
    """``ISTA_NET[profile]`` with the top-level keys of ``schedule`` replaced (``"train"`` entries are merged)."""
    recipe = dict(pick(ISTA_NET, profile))
    for key, value in (schedule or {}).items():
        if key not in recipe:
            raise KeyError(f"schedule key {key!r} is not an ISTA_NET setting; known: {sorted(recipe)}")
        recipe[key] = {**recipe[key], **value} if isinstance(value, dict) else value
    return recipe


def ista_net_run(profile: str, ratio: float, *, contrast: str = "T1w", mask: str = "cartesian", seed: int = 0,
                 schedule: dict | None = None):
    """The :class:`~mrilab.train.Trainer` of one per-ratio ISTA-Net+ (not yet fitted), and the ratio whose trained
    model it starts from (``None``: from scratch). ``schedule`` overrides settings of ``ISTA_NET[profile]``."""
    recipe = ista_net_recipe(profile, schedule)
    previous = None
    steps = recipe["first_steps"]
    if recipe["warm_start"] and ratio in ISTA_NET_RATIOS[1:]:
        previous, steps = ISTA_NET_RATIOS[ISTA_NET_RATIOS.index(ratio) - 1], recipe["train"]["steps"]
    dataset = SliceDataset(profile, "train", contrast, mask=mask, ratios=(ratio,), seed=seed, target="noisy")
    seed_everything(seed)
    model = ISTANetPlus(**recipe["model"])
    config = TrainConfig(**{**recipe["train"], "steps": steps}, checkpoint_every=50, log_every=5, seed=seed)
    name = run_name(f"{contrast}_{mask}_{round(100 * ratio)}", {"recipe": recipe, "seed": seed})
    return Trainer(model, dataset, runs_dir(profile, "ista_net", name), config), previous


def train_ista_net(profile: str, ratio: float, *, progress: bool = True, **kwargs):
    """Train (or resume, or reload) the per-ratio ISTA-Net+ and return ``(model, history)``.

    In a warm-started series the models of the lower ratios are trained (or reloaded) first.
    """
    trainer, previous = ista_net_run(profile, ratio, **kwargs)
    if previous is not None and not trainer.checkpoint_path.exists():
        start, _ = train_ista_net(profile, previous, progress=progress, **kwargs)
        trainer.model.load_state_dict(start.state_dict())
    history = trainer.fit(progress=progress)
    return trainer.model.eval(), history


def classical_reconstructor(method: str, lam: float, *, iterations: int = 100):
    """``batch -> image`` for ``"zero_filled"``, ``"fista"`` (Haar wavelets) or ``"tv"`` with relative ``lam``."""

    def reconstruct(batch):
        op = MRIOperator(batch["mask"])
        y = batch["kspace"]
        if method == "zero_filled":
            return op.adjoint(y)
        if method == "fista":
            return classical.fista(op, y, resolve_lambda(op, y, None, lam), iterations=iterations,
                                   track_objective=False)[0]
        if method == "tv":
            return classical.tv_reconstruction(op, y, resolve_lambda(op, y, None, lam), iterations=iterations,
                                               inner_iterations=5,
                                               track_objective=False)[0]
        raise ValueError(f"method must be 'zero_filled', 'fista' or 'tv', got {method!r}")

    return reconstruct


def tune_lambda(method: str, dataset, grid, *, iterations: int = 100, device: str = "cpu",
                label: str = "") -> tuple[float, dict]:
    """The relative λ with the best mean PSNR on ``dataset``; returns ``(λ, {λ: PSNR})`` of every λ tried.

    The search starts on ``grid`` (increasing); when the best λ lies on an edge of what was tried, it warns and
    extends the grid past that edge by the grid's own outer ratio, up to :data:`MAX_GRID_EXTENSIONS` times, so the
    chosen λ is an interior optimum (or the warning says it is not). ``label`` (e.g. the ratio) starts each warning.
    """
    grid = sorted(float(g) for g in grid)
    if not grid or any(g <= 0 for g in grid):
        raise ValueError(f"grid must hold positive relative λ values, got {grid!r}")

    def score(lam):
        reconstruct = classical_reconstructor(method, lam, iterations=iterations)
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


def classical_baselines(profile: str, test_sets: dict, *, contrast: str = "T1w", mask: str = "cartesian",
                        device: str = "cpu") -> tuple[dict, dict]:
    """Tune λ of FISTA-wavelet and TV per ratio on validation slices, then evaluate all classical baselines.

    ``test_sets`` maps each ratio to its test dataset. λ is chosen by :func:`tune_lambda`, starting from
    ``LAMBDA_GRID[profile]``, on the first ``CLASSICAL[profile]["tuning_slices"]`` validation slices at that ratio
    (validation masks, never the test set's); every solver runs ``CLASSICAL[profile]["iterations"]`` iterations.
    Returns ``(lambdas, rows)``: ``lambdas[method, ratio]`` the relative λ (``method`` ``"fista"`` or ``"tv"``) and
    ``rows[name, ratio]`` the per-slice rows of :func:`~mrilab.evaluation.evaluate` for every name in
    :data:`CLASSICAL_METHODS`.
    """
    settings = pick(CLASSICAL, profile)
    lambdas, rows = {}, {}
    for ratio, test_set in test_sets.items():
        tuning = SliceDataset(profile, "val", contrast, mask=mask, ratios=(ratio,),
                              max_slices=settings["tuning_slices"])
        for name, method in CLASSICAL_METHODS.items():
            lam = 0.0
            if method != "zero_filled":
                lam, _ = tune_lambda(method, tuning, pick(LAMBDA_GRID, profile)[method],
                                     iterations=settings["iterations"], device=device, label=f"ratio {ratio:g}: ")
                lambdas[method, ratio] = lam
            reconstruct = classical_reconstructor(method, lam, iterations=settings["iterations"])
            rows[name, ratio] = evaluate(reconstruct, test_set, device=device)
    return lambdas, rows


# ---------------------------------------------------------------------------------------------------------------------
# CGPD-CSNet (the two-grid-cycle experiment chapter): one multi-ratio model, its ablations, noisy k-space
# ---------------------------------------------------------------------------------------------------------------------

#: Per-profile CGPD-CSNet settings. ``"main"`` is the multi-ratio model of the chapter's Table IV, ``"ablation"`` the
#: smaller, shorter-trained model every ablation variant (Tables I, II, V, VI, VII) starts from. ``full`` is the
#: paper's model (p = 32, k = 8, n_s = 13, four ResBlocks, Adam at 1e-4); the paper trains with batch size 1 for 500
#: epochs of 800 images, ``full`` with batch size 4 for 40 000 steps (160 000 samples, about 100 epochs of its 1 500
#: slices). ``demo`` is sized to train on two CPU cores in minutes; its main model's schedule was chosen on the
#: validation split (:mod:`mrilab.selection`, record in ``mrilab/records/``).
CGPD_CSNET = {
    "smoke": {
        "main": {"model": {"features": 4, "depth": 2, "n_stages": 2, "n_resblocks": 1},
                 "train": {"steps": 4, "batch_size": 2, "lr": 1e-3}},
        "ablation": {"model": {"features": 4, "depth": 2, "n_stages": 2, "n_resblocks": 1},
                     "train": {"steps": 2, "batch_size": 2, "lr": 1e-3}},
    },
    "demo": {
        "main": {"model": {"features": 16, "depth": 4, "n_stages": 5, "n_resblocks": 2},
                 "train": {"steps": 960, "batch_size": 2, "lr": 2e-3}},
        "ablation": {"model": {"features": 8, "depth": 3, "n_stages": 3, "n_resblocks": 1},
                     "train": {"steps": 240, "batch_size": 4, "lr": 3e-3}},
    },
    "full": {
        "main": {"model": {"features": 32, "depth": 8, "n_stages": 13, "n_resblocks": 4},
                 "train": {"steps": 40000, "batch_size": 4, "lr": 1e-4, "lr_min": 1e-6}},
        "ablation": {"model": {"features": 32, "depth": 8, "n_stages": 7, "n_resblocks": 4},
                     "train": {"steps": 10000, "batch_size": 4, "lr": 2e-4, "lr_min": 1e-6}},
    },
}  # fmt: skip


class NoisyKSpace(torch.utils.data.Dataset):
    """A dataset whose measured k-space carries extra complex Gaussian noise (the paper's Table VII).

    Every sample of ``dataset`` gets ``y ← y + M ⊙ n`` with ``n`` complex Gaussian, ``E|n|² = σ²`` and
    ``σ = level · RMS(x*)``, the root-mean-square of the fully sampled image (by Parseval, of the fully sampled
    k-space too). The noise is a pure function of ``(seed, index, draw)``: evaluation samples (``dataset[i]``) see the
    same noise on every run, training samples (``dataset[(i, draw)]``) fresh noise per draw. ``target`` stays clean.
    """

    def __init__(self, dataset, level: float, *, seed: int = 0):
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not level >= 0:
            raise ValueError(f"level must be a non-negative number (noise std / image RMS), got {level!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.dataset, self.level, self.seed = dataset, float(level), seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):  # ratios, shape, mask_kind, ... of the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, item) -> dict:
        sample = dict(self.dataset[item])
        index, draw = item if isinstance(item, tuple) else (item, -1)
        entropy = [self.seed, int(index), int(draw) + 1]
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence(entropy).generate_state(1)[0]))
        kspace = sample["kspace"]
        sigma = self.level * float(sample["target"].abs().pow(2).mean().sqrt())
        noise = torch.randn(*kspace.shape, 2, generator=generator) * (sigma / 2**0.5)
        sample["kspace"] = kspace + torch.view_as_complex(noise) * sample["mask"]
        return sample


def cgpd_run(profile: str, name: str, *, ratios, mask: str = "cartesian", noise: float | None = None,
             setting: str = "main", contrast: str = "T1w", seed: int = 0, steps: int | None = None,
             train_overrides: dict | None = None, **model_overrides) -> Trainer:
    """The :class:`~mrilab.train.Trainer` (not fitted) of one CGPD-CSNet in ``runs_dir(profile, "cgpd_csnet", name)``.

    ``ratios`` are the training sampling ratios: with several, every sample of every step draws one at random (the
    paper's multi-ratio training). ``setting`` picks ``CGPD_CSNET[profile]["main"]`` or ``["ablation"]``;
    ``model_overrides`` change single :class:`~mrilab.models.cgpd_csnet.CGPDCSNet` options (``correction=False``,
    ``condition="none"``, ``n_stages=3``, ``init="zero"``, ...); ``noise`` trains on :class:`NoisyKSpace` data at
    that relative level; ``steps`` and ``train_overrides`` override the recipe's step count and other
    :class:`~mrilab.train.TrainConfig` fields. The run directory is ``runs_dir(profile, "cgpd_csnet", name-<hash>)``,
    the hash covering everything the training depends on.
    """
    from .models.cgpd_csnet import CGPDCSNet

    recipe = pick(pick(CGPD_CSNET, profile), setting)
    ratios = (ratios,) if isinstance(ratios, (int, float)) else tuple(ratios)
    dataset = SliceDataset(profile, "train", contrast, mask=mask, ratios=ratios, seed=seed, target="noisy")
    if noise is not None:
        dataset = NoisyKSpace(dataset, noise, seed=seed)
    seed_everything(seed)
    model_config = {**recipe["model"], **model_overrides}
    model = CGPDCSNet(**model_config)
    train = {**recipe["train"], **(train_overrides or {}), **({} if steps is None else {"steps": steps})}
    identity = {"model": model_config, "train": train, "ratios": ratios, "mask": mask, "noise": noise,
                "contrast": contrast, "seed": seed}
    config = TrainConfig(**train, checkpoint_every=25, log_every=5, seed=seed)
    return Trainer(model, dataset, runs_dir(profile, "cgpd_csnet", run_name(name, identity)), config)


def train_cgpd(profile: str, name: str, *, progress: bool = True, **kwargs):
    """Train (or resume, or reload) a CGPD-CSNet (arguments of :func:`cgpd_run`); returns ``(model, history)``."""
    trainer = cgpd_run(profile, name, **kwargs)
    history = trainer.fit(progress=progress)
    return trainer.model.eval(), history
