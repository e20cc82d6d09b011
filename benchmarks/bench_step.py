"""How close each model's training step is to its convolutions, and what ``torch.compile`` buys, on the CPU.

For every method's ``demo`` model (batch of 4 complex 128 × 128 slices shaped like its task's data, one thread):

* ``step`` — one :meth:`mrilab.train.Trainer.train_step` (the model's own loss, backward, clipping, Adam);
* ``convolutions`` — the forward and backward of just the model's convolutions: every convolution the step calls,
  recorded once with its input (shape, dtype and memory layout) and replayed with a gradient of its output's shape;
  the ratio ``step / convolutions`` is the cost of everything else (FFTs, elementwise work, layout copies, the
  optimiser), relative to the work no implementation of the model can avoid;
* ``compiled`` — the same step with ``TrainConfig(compile=True)`` (``torch.compile``, inductor), after its
  compilation, whose seconds (with an empty compilation cache) are reported separately.

The three are timed in interleaved rounds (:func:`common.time_interleaved`): median and IQR in milliseconds.

    python benchmarks/bench_step.py [--rounds 30] [--no-compile] [--methods IFR-Net ...]

With ``--methods``, the entries of the other methods already in ``benchmarks/results/step.json`` are kept (each entry
says when it was measured).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch
from common import RESULTS, build_model, ensure_allocator_settings, random_batch, time_interleaved, write_result
from torch import nn

from mrilab.recipes import METHODS
from mrilab.train import TrainConfig, Trainer, parameter_count

SIZE, BATCH = 128, 4


def trainer_of(module: object, batch: dict, **options: object) -> Trainer:
    """A trainer of ``module``'s demo model on one fixed batch (seeded, so that every variant starts equal)."""
    torch.manual_seed(0)
    model = build_model(module, "demo")
    return Trainer(model, [batch], tempfile.mkdtemp(), TrainConfig(batch_size=BATCH, device="cpu", **options))


def convolution_replay(trainer: Trainer, batch: dict) -> tuple[callable, int]:
    """A closure running forward and backward of every convolution one step calls, and how many there are."""
    calls = []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        calls.append((module, inputs[0].detach().clone(memory_format=torch.preserve_format), output.shape))

    convolutions = [m for m in trainer.model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    handles = [m.register_forward_hook(record) for m in convolutions]
    trainer.compute_loss(batch)
    for handle in handles:
        handle.remove()
    generator = torch.Generator().manual_seed(0)
    replay = [(module, x.requires_grad_(), torch.randn(shape, generator=generator)) for module, x, shape in calls]

    def run() -> None:
        for module, x, grad in replay:
            module(x).backward(grad)

    return run, len(replay)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled step")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    allocator = ensure_allocator_settings()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp()  # a cold cache: compile_seconds is a first compile
    torch.set_num_threads(1)
    results = {"allocator": allocator, "size": SIZE, "batch_size": BATCH, "threads": 1, "models": {}}
    previous = RESULTS / "step.json"
    if previous.exists():  # keep the methods not measured now
        kept = json.loads(previous.read_text())["results"]["models"]
        results["models"] = {name: entry for name, entry in kept.items() if name not in args.methods}
    for name in args.methods:
        module = METHODS[name]
        batch = random_batch(module, SIZE, BATCH, torch.device("cpu"))
        eager = trainer_of(module, batch)
        convolutions, n_convolutions = convolution_replay(eager, batch)
        contenders = {"step": lambda eager=eager, batch=batch: eager.train_step(batch, 1e-5),
                      "convolutions": convolutions}
        entry = {"parameters": parameter_count(eager.model), "convolution_calls": n_convolutions,
                 "measured": time.strftime("%Y-%m-%d")}
        if not args.no_compile:
            compiled = trainer_of(module, batch, compile=True)
            tic = time.perf_counter()
            compiled.train_step(batch, 1e-5)
            entry["compile_seconds"] = round(time.perf_counter() - tic, 1)
            contenders["compiled"] = lambda compiled=compiled, batch=batch: compiled.train_step(batch, 1e-5)
        timings = time_interleaved(contenders, rounds=args.rounds)
        entry |= {key: {k: round(v, 2) for k, v in value.items() if k != "samples_ms"} for key, value in
                  timings.items()}
        entry["step_over_convolutions"] = round(timings["step"]["median"] / timings["convolutions"]["median"], 3)
        if "compiled" in timings:
            entry["compiled_speedup"] = round(timings["step"]["median"] / timings["compiled"]["median"], 3)
        results["models"][name] = entry
        print(name, {k: v for k, v in entry.items()}, flush=True)
    write_result("step", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
