"""One training loop for every model in the book.

* **Deterministic batches.** The batch of step ``s`` is a pure function of ``(seed, s)``: slice indices come from
  ``numpy.random.default_rng([seed, s])`` and every sample's mask is drawn by ``dataset[(index, draw)]`` with a
  draw number unique to that step and position. A run that is killed and resumed therefore sees exactly the batches
  an uninterrupted run sees, and reaches the same weights on the CPU.
* **Checkpoints** are self-describing dictionaries (model name, model config, weights, optimiser state, step,
  training config, history), written atomically every ``checkpoint_every`` steps and at the end, and loadable with
  ``torch.load(..., weights_only=True)`` (:func:`mrilab.io.load_weights`); :func:`load_model` rebuilds the model in
  one call.
* **Loss.** A model's own ``training_loss(batch)`` (the paper's loss) when it has one, otherwise the ℓ1 distance
  between the complex reconstruction and the target.
* **Precision.** ``precision="bfloat16"`` or ``"float16"`` runs the loss under :func:`torch.autocast` (float16 with a
  gradient scaler); the convolutions then run in the lower precision while the FFTs, which have no bfloat16 or
  float16 kernels for complex data, stay in complex64. The weights, the optimiser and the checkpoints stay float32.
* **Fast paths.** ``compile=True`` runs the loss through :func:`torch.compile`. The inputs' values are checked once
  per batch, outside the compiled region (:meth:`Trainer.compute_loss`), so the models' own checks of finiteness
  and of the ratio's range, which need the values on the host, do not break the graph.
* **Data-parallel.** Under ``torchrun`` (see :mod:`mrilab.distributed` and :mod:`mrilab.train_cli`) every process
  computes its share of each global batch, ``DistributedDataParallel`` averages the gradients, the logged loss is
  the mean over processes, and only rank 0 writes checkpoints, histories and plots; resuming reads rank 0's
  checkpoint on every process.
* **Which run.** A trainer built by a recipe (:mod:`mrilab.recipes`) carries a :class:`Run`: the profile, method,
  name and recipe that name its folder and its committed weights, and what a warm-started run starts from.
* **How to run, not what to train.** :func:`execution` sets options that change how a run is executed but not what
  it learns (device, precision, compile, checkpoint and log cadence, a longer or shorter schedule) for every
  trainer built inside it, so that a command line can apply them to the trainers the recipes build.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from .data.batching import collate, to_device
from .io import atomic_path, atomic_write, load_weights
from .models.base import check_values, reconstruct
from .models.registry import build_model
from .runtime import resolve_device

CHECKPOINT_FORMAT = "mrilab-checkpoint-v1"
#: ``TrainConfig.precision`` → the dtype autocast runs the loss in (``None``: no autocast).
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: Config fields that change how a run executes but not the weights it reaches; a checkpoint resumes under any values.
EXECUTION_FIELDS = ("steps", "device", "compile", "checkpoint_every", "log_every")
_execution: dict = {}


@dataclass
class TrainConfig:
    """Hyper-parameters of :class:`Trainer` (all plain values, stored in every checkpoint)."""

    steps: int = 1000
    batch_size: int = 4
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # "cosine" (to lr_min) or "constant"
    lr_min: float = 1e-5
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    checkpoint_every: int = 100
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    validate_every: int = 0  # steps between validation losses (0: none); needs Trainer(validation=...)
    precision: str = "float32"  # "float32", or autocast to "bfloat16" / "float16" (see the module docstring)
    compile: bool = False  # run the loss through torch.compile

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.validate_every, bool) or not isinstance(self.validate_every, int) or self.validate_every < 0:
            raise ValueError(f"validate_every must be a non-negative integer, got {self.validate_every!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {self.precision!r}")

    def learning_rate(self, step: int) -> float:
        """Learning rate at (0-based) ``step``: a pure function of the step, so resuming needs no scheduler state."""
        if self.lr_schedule == "constant":
            return self.lr
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1 + math.cos(math.pi * step / self.steps))


@contextlib.contextmanager
def execution(**options: object) -> Iterator[None]:
    """Within the block, every new :class:`Trainer` takes these :class:`TrainConfig` values.

    Only the fields that say how to execute a run may be set: ``steps``, ``device``, ``precision``, ``compile``,
    ``checkpoint_every`` and ``log_every``. Nested blocks combine, the inner one winning.
    """
    allowed = {*EXECUTION_FIELDS, "precision"}
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"execution() takes only {sorted(allowed)}, got {sorted(unknown)}")
    global _execution
    outer = _execution
    _execution = {**outer, **options}
    try:
        yield
    finally:
        _execution = outer


@dataclass(frozen=True)
class Run:
    """Which run of a recipe a :class:`Trainer` trains (``Trainer(..., run=Run(...))``; recipes build it).

    ``name`` is ``<prefix>-<hash of recipe>`` (:func:`mrilab.recipes.common.run_name`), the folder of the run in
    ``runs_dir(profile, method, name)`` and the file name of its committed weights; ``recipe`` is the dict whose hash
    a committed model must match. ``start_from`` says which trained model a run of a warm-started series starts from,
    in the recipe module's terms (ISTA-Net+: a ratio; IFR-Net: ``(mask, ratio)``), and is ``None`` for a run trained
    from scratch.
    """

    profile: str
    method: str
    name: str
    recipe: dict
    start_from: object = None


class _Loss(nn.Module):
    """The loss of a batch as a module, so that DDP and ``torch.compile`` wrap the whole of it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict, loss_fn: Callable[[nn.Module, dict], torch.Tensor]) -> torch.Tensor:
        return loss_fn(self.model, batch)


def default_loss(model: nn.Module, batch: dict) -> torch.Tensor:
    """Return the model's own ``training_loss`` if it defines one, else ℓ1 between output and target.

    A model whose ``output`` is ``"magnitude"`` is compared with the target's magnitude.
    """
    if hasattr(model, "training_loss"):
        return model.training_loss(batch)
    target = batch["target"]
    if getattr(model, "output", "complex") == "magnitude":
        target = target.abs()
    return (reconstruct(model, batch) - target).abs().mean()


def parameter_count(model: nn.Module) -> int:
    """Return the number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Trainer:
    """Train ``model`` on ``dataset`` with Adam; checkpoints, history and the loss curve go to ``out_dir``.

    ``dataset`` follows the book's contract: ``dataset[(index, draw)]`` returns a sample dict with a mask drawn for
    that ``draw``. If ``out_dir`` holds a checkpoint of the same model and training config (``steps`` may grow),
    :meth:`fit` resumes from it. ``run`` (a :class:`Run`, ``None`` for a trainer built by hand) says which recipe run
    this is; :mod:`mrilab.recipes.common` reads it to find, load and export the run's committed weights.
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: torch.utils.data.Dataset,
        out_dir: str | os.PathLike,
        config: TrainConfig | None = None,
        *,
        loss_fn: Callable[[nn.Module, dict], torch.Tensor] | None = None,
        validation: torch.utils.data.Dataset | None = None,
        run: Run | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not hasattr(model, "config"):
            raise TypeError("model must record its constructor arguments in `model.config` (see mrilab.models)")
        if len(dataset) == 0:
            raise ValueError("dataset is empty")
        self.config = replace(config or TrainConfig(), **_execution)
        self.world = distributed.world()
        self.device = resolve_device(distributed.device_for(self.config.device, self.world))
        self.shard = distributed.shard(self.config.batch_size, self.world)
        self.model = model.to(self.device)
        self.dataset = dataset
        self.out_dir = Path(out_dir)
        self.loss_fn = loss_fn or default_loss
        self.optimizer = torch.optim.Adam(model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.config.precision == "float16")
        self.loss_module: nn.Module = _Loss(self.model)
        if self.world.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.loss_module = nn.parallel.DistributedDataParallel(self.loss_module, device_ids=ids)
        if self.config.compile:
            self.loss_module = torch.compile(self.loss_module)
        if self.config.validate_every and (validation is None or len(validation) == 0):
            raise ValueError("validate_every > 0 needs a non-empty validation dataset (Trainer(validation=...))")
        self.validation = validation
        self.run = run
        self.step = 0
        self.history: dict = {"step": [], "loss": [], "lr": [], "seconds": 0.0}
        if self.config.validate_every:
            self.history |= {"val_step": [], "val_loss": []}

    @property
    def checkpoint_path(self) -> Path:
        """Path of the checkpoint, ``out_dir/checkpoint.pt``."""
        return self.out_dir / "checkpoint.pt"

    # -- batches -------------------------------------------------------------------------------------------------
    def batch(self, step: int) -> dict:
        """Return this process's share of the batch of ``step``, a pure function of ``(seed, step)``.

        One process gets the whole batch; under ``torchrun`` see :func:`mrilab.distributed.shard`.
        """
        size = self.config.batch_size
        indices = np.random.default_rng([self.config.seed, step]).integers(len(self.dataset), size=size)
        samples = [self.dataset[(int(indices[j]), step * size + j)] for j in self.shard]
        return to_device(collate(samples), self.device)

    def validation_loss(self) -> float:
        """Return the loss on every slice of the validation dataset (its fixed evaluation masks), without gradients."""
        batch = to_device(collate([self.validation[i] for i in range(len(self.validation))]), self.device)
        self.model.eval()
        with torch.no_grad():
            loss = float(self.loss_fn(self.model, batch))
        self.model.train()
        return loss

    def compute_loss(self, batch: dict) -> torch.Tensor:
        """Return this process's training loss of ``batch``, under autocast when ``config.precision`` asks for it.

        With ``compile``, the batch's values are checked here, before the compiled region.
        """
        if self.config.compile:
            check_values(batch)
        dtype = PRECISIONS[self.config.precision]
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            return self.loss_module(batch, self.loss_fn)

    def train_step(self, batch: dict, lr: float) -> torch.Tensor:
        """Take one optimiser step on ``batch`` at learning rate ``lr``; return the (detached) loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.compute_loss(batch)
        self.scaler.scale(loss).backward()
        loss = distributed.mean_over_processes(loss.detach())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {self.step}; lower the learning rate")
        if self.config.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def state(self) -> dict:
        """Return the checkpoint dictionary: model name, config and weights, optimiser state, step, history."""
        return {
            "format": CHECKPOINT_FORMAT,
            "model_name": type(self.model).__name__,
            "model_config": dict(self.model.config),
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "train_config": asdict(self.config),
            "history": self.history,
        }

    def save_checkpoint(self) -> Path:
        """Write :meth:`state` atomically to :attr:`checkpoint_path` and return that path."""
        if self.world.is_main:
            with atomic_path(self.checkpoint_path) as tmp:
                torch.save(self.state(), tmp)
        return self.checkpoint_path

    def resume(self) -> bool:
        """Load the checkpoint in ``out_dir`` if there is one; returns whether training resumed."""
        if not self.checkpoint_path.exists():
            return False
        state = load_checkpoint(self.checkpoint_path)
        if state["model_name"] != type(self.model).__name__ or state["model_config"] != dict(self.model.config):
            raise ValueError(
                f"{self.checkpoint_path} holds a different model ({state['model_name']}, {state['model_config']}); "
                "use another out_dir or delete it"
            )
        saved = {k: v for k, v in {**asdict(TrainConfig()), **state["train_config"]}.items()
                 if k not in EXECUTION_FIELDS}  # fields added since the checkpoint was written take their defaults
        current = {k: v for k, v in asdict(self.config).items() if k not in EXECUTION_FIELDS}
        if saved != current:
            raise ValueError(
                f"{self.checkpoint_path} was trained with a different config {saved}; use another out_dir or delete it"
            )
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = state["step"]
        self.history = state["history"]
        return True

    # -- the loop ------------------------------------------------------------------------------------------------
    def fit(self, *, progress: bool = True) -> dict:
        """Train until ``config.steps``; returns the history (also written to ``history.json``)."""
        self.resume()
        cfg = self.config
        self.model.train()
        quiet = not progress or os.environ.get("TQDM_DISABLE", "") not in ("", "0")  # batch runs set TQDM_DISABLE
        bar = tqdm(total=cfg.steps, initial=self.step, disable=quiet or not self.world.is_main,
                   desc=type(self.model).__name__)
        running, count = 0.0, 0
        while self.step < cfg.steps:
            start = time.perf_counter()
            torch.manual_seed(cfg.seed * 1_000_003 + self.step)
            batch = self.batch(self.step)
            lr = cfg.learning_rate(self.step)
            loss = self.train_step(batch, lr)
            self.step += 1
            self.history["seconds"] += time.perf_counter() - start
            running, count = running + loss.item(), count + 1
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                self.history["step"].append(self.step)
                self.history["loss"].append(running / count)
                self.history["lr"].append(lr)
                bar.set_postfix(loss=f"{running / count:.4g}")
                running, count = 0.0, 0
            if cfg.validate_every and self.world.is_main and (self.step % cfg.validate_every == 0
                                                              or self.step == cfg.steps):
                self.history["val_step"].append(self.step)
                self.history["val_loss"].append(self.validation_loss())
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self.save_checkpoint()
            bar.update(1)
        bar.close()
        self.model.eval()
        self.write_history()
        distributed.barrier()
        return self.history

    def write_history(self) -> None:
        """Write the history to ``history.json`` and, once a loss is logged, its curve to ``loss.png`` (rank 0)."""
        if not self.world.is_main:
            return
        atomic_write(self.out_dir / "history.json", json.dumps(self.history, indent=1))
        if self.history["step"]:
            from .plots import loss_curves

            fig = loss_curves({type(self.model).__name__: self.history}, title=type(self.model).__name__)
            fig.savefig(self.out_dir / "loss.png", dpi=100, bbox_inches="tight")
            import matplotlib.pyplot as plt

            plt.close(fig)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :class:`Trainer` (:func:`mrilab.io.load_weights`) and check its format."""
    path = Path(path)
    state = load_weights(path, map_location)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an mrilab checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    return state


def load_model(path: str | os.PathLike, device: str = "cpu") -> nn.Module:
    """Rebuild a trained model from its checkpoint in one call (eval mode)."""
    state = load_checkpoint(path)
    model = build_model(state["model_name"], state["model_config"])
    model.load_state_dict(state["state_dict"])
    return model.to(resolve_device(device)).eval()


def train_config_from_dict(values: dict) -> TrainConfig:
    """Build a :class:`TrainConfig` from a dict, rejecting unknown field names."""
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}; known fields: {sorted(known)}")
    return TrainConfig(**values)
