"""Train a method's runs from the command line: one process, or data-parallel on several GPUs, CPUs or nodes.

    python -m mrilab.train_cli ista_net --list                               # the method's runs, numbered
    python -m mrilab.train_cli ista_net --profile demo --runs 0 1            # two runs, one process
    torchrun --nproc_per_node=4 -m mrilab.train_cli cgpd_csnet --profile full --precision bfloat16

Every run is the recipe's own (:mod:`mrilab.recipes`): the same model, data, schedule, seeds and run folder
(``$MRILAB_RUNS/<profile>/<method>/<run>``) as ``make train`` and the chapters use, trained by the one
:class:`mrilab.train.Trainer`. The command trains; it never loads the committed weights instead (``--save`` writes
the result there). A run that finds its checkpoint resumes from it, so the same command continues a killed job.

Under ``torchrun`` each process takes an equal share of every global batch (the recipe's ``batch_size`` must be
divisible by the number of processes), ``DistributedDataParallel`` averages the gradients (NCCL on GPUs, Gloo on
CPUs), and rank 0 alone writes checkpoints, histories and logs; see :mod:`mrilab.distributed`. Several nodes run
the same command with a rendezvous endpoint, e.g. on two nodes of eight GPUs::

    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=$HEAD_NODE:29500
             --rdzv_id=$JOB_ID -m mrilab.train_cli cgpd_csnet --profile full

(the README has a SLURM script). Every node must see the same ``$MRILAB_RUNS`` (a shared file system), where
rank 0 writes the checkpoints that every process resumes from; ``$MRILAB_DATA`` may be shared or per node.

The options ``--precision``, ``--compile``, ``--steps``, ``--checkpoint-every``, ``--log-every`` and ``--device``
change how the runs execute, not what they are (:func:`mrilab.train.execution`); ``--precision`` changes the
numbers, so a checkpoint resumes only under the precision it was written with.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import distributed
from .data import DATASET_PROFILES, build_dataset
from .recipes import METHODS
from .train import PRECISIONS, execution

#: Command-line name (the folder of its runs and weights) → recipe module.
RECIPES = {module.METHOD: module for module in METHODS.values()}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(prog="python -m mrilab.train_cli", description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=sorted(RECIPES), help="which method's recipe")
    parser.add_argument("--profile", default="demo", choices=sorted(DATASET_PROFILES))
    parser.add_argument("--runs", type=int, nargs="+", default=None, help="numbers of the runs to train (--list)")
    parser.add_argument("--list", action="store_true", help="print the method's runs with their numbers and stop")
    parser.add_argument("--save", action="store_true", help="write the trained weights to mrilab/weights/<profile>/")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default=None)
    parser.add_argument("--compile", action="store_true", default=None, help="train through torch.compile")
    parser.add_argument("--steps", type=int, default=None, help="train every run to this many steps instead")
    parser.add_argument("--checkpoint-every", type=int, default=None)
    parser.add_argument("--log-every", type=int, default=None)
    parser.add_argument("--device", default=None, help="e.g. cpu, cuda:0 (default: each process's own GPU, or CPU)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train the chosen runs; return the exit status."""
    args = parse(argv)
    module = RECIPES[args.method]
    runs = module.runs(args.profile)
    if args.list:
        for number, options in enumerate(runs):
            print(f"{number:3d}  {options}")
        return 0
    chosen = range(len(runs)) if args.runs is None else args.runs
    bad = [n for n in chosen if not 0 <= n < len(runs)]
    if bad:
        raise SystemExit(f"--runs: {bad} not among the {len(runs)} runs of {args.method} (0 … {len(runs) - 1})")
    overrides = {name: value for name, value in (
        ("precision", args.precision), ("compile", args.compile), ("steps", args.steps),
        ("checkpoint_every", args.checkpoint_every), ("log_every", args.log_every), ("device", args.device),
    ) if value is not None}  # fmt: skip
    current = distributed.init()
    try:
        if current.is_main:  # one process builds the dataset, the others wait and find it
            build_dataset(args.profile)
        distributed.barrier()
        with execution(**overrides):
            for number in chosen:
                tic = time.perf_counter()
                model, history = module.train(args.profile, retrain=True, progress=current.is_main, save=args.save,
                                              **runs[number])
                if current.is_main:
                    print(f"{args.method} run {number} {runs[number]}: {history['step'][-1]} steps, final loss "
                          f"{history['loss'][-1]:.6g}, {time.perf_counter() - tic:.1f} s on {current.size} "
                          f"process(es)", flush=True)
    finally:
        distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
