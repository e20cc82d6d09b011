"""Data-parallel training with ``torch.distributed``: who this process is, and how a global batch is shared.

The book trains data-parallel with PyTorch's own engine: ``torchrun`` starts one process per device (and per node,
with a rendezvous endpoint), :func:`init` joins them into a process group (NCCL on GPUs, Gloo on CPUs) and
:class:`mrilab.train.Trainer` wraps the loss in ``DistributedDataParallel``, which averages the gradients. Without
``torchrun`` (no ``WORLD_SIZE`` in the environment) everything here describes a single process and changes nothing.

Sharding. The trainer's batch of step ``s`` is a pure function of ``(seed, s)`` (see :mod:`mrilab.train`): ``B``
slice indices with a mask draw per position. With ``W`` processes, process ``r`` takes positions
``r·B/W … (r+1)·B/W − 1`` of that global batch (:func:`shard`), so the ``W`` processes together see exactly the batch
one process would see, each sample with the same mask. Every loss of the book is a mean over the batch, so the mean
of the ``W`` local losses, and DDP's average of their gradients, equal those of the global batch: two processes
reproduce one process up to the order of floating-point sums.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """A process's place among the training processes: ``rank`` of ``size``, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, histories and logs (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process."""
        return self.size > 1


def world() -> World:
    """Return this process's :class:`World` (one process when no process group is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def init() -> World:
    """Join the process group that ``torchrun`` describes in the environment; return this process's :class:`World`.

    Uses NCCL when CUDA is available (and makes ``cuda:LOCAL_RANK`` this process's device), Gloo otherwise. Without
    ``torchrun`` (``WORLD_SIZE`` unset or 1) it does nothing.
    """
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 or dist.is_initialized():
        return world()
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return world()


def shutdown() -> None:
    """Leave the process group (after a barrier, so that no process exits while another still needs it)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process (no-op for one process)."""
    if world().distributed:
        dist.barrier()


def shard(batch_size: int, current: World) -> range:
    """Return the positions of the global batch that process ``current`` computes (contiguous, equal shares)."""
    if batch_size % current.size:
        raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes {current.size} "
                         "(every process takes an equal share of the global batch)")
    share = batch_size // current.size
    return range(current.rank * share, (current.rank + 1) * share)


def mean_over_processes(value: torch.Tensor) -> torch.Tensor:
    """Return the mean of a scalar tensor over all processes (the value itself for one process)."""
    if not world().distributed:
        return value
    total = value.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / world().size


def device_for(device: str, current: World) -> str:
    """Return ``device``, with ``"auto"`` meaning this process's own GPU (``cuda:LOCAL_RANK``) when it has one."""
    if device == "auto" and current.distributed and torch.cuda.is_available():
        return f"cuda:{current.local_rank}"
    return device
