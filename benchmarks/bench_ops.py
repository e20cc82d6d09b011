"""Cost of MRIOperator forward + adjoint against a bare torch.fft pair doing the same centred work.

Contenders, on the same tensors:

* ``operator``: ``op.adjoint(op.forward(x))`` with ``op = MRIOperator(mask, sens)``;
* ``bare_centred``: coil multiply, ifftshift / fft2 / fftshift (``norm="ortho"``), mask, ifftshift / ifft2 /
  fftshift, conjugate-coil multiply and sum, written directly with torch.fft. This is the least any centred
  implementation must do, so ``operator / bare_centred`` is what the operator's own overhead costs (argument checks,
  a second mask multiply, mask promotion);
* ``bare_unshifted``: the same without the shifts, as extra information on what centring itself costs.

Method, and why:

* one torch thread, so the timings do not depend on how a shared two-core machine schedules torch's thread pool;
* glibc's allocator returns large blocks (such as the complex k-space tensors here) to the kernel and page-faults
  them back in on the next call, which makes timings bimodal. ``MALLOC_MMAP_THRESHOLD_`` and
  ``MALLOC_TRIM_THRESHOLD_`` set high keep those blocks in the heap. glibc reads them only at process start, so when
  they are not set the script re-executes itself with them set; the values used are written to the JSON;
* every contender is warmed up, then the contenders are interleaved: each round runs each of them once in a
  shuffled order (fixed seed), so drift in the machine's load hits all of them alike. Reported per contender: the
  median and interquartile range; and the operator / bare_centred ratio both as a ratio of medians and as the
  median (and IQR) of per-round ratios.

Run from the repository root: ``python benchmarks/bench_ops.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import resource

import torch
from common import ensure_allocator_settings, quartiles, time_interleaved, write_result

from mrilab.coils import birdcage_maps
from mrilab.masks import cartesian_mask
from mrilab.ops import MRIOperator

SIZES = (128, 256)
BATCH = {1: 8, 8: 4}  # batch per coil count: keeps each call at the millisecond scale
DIMS = (-2, -1)


def fft2(x: torch.Tensor, centred: bool) -> torch.Tensor:
    if not centred:
        return torch.fft.fft2(x, norm="ortho")
    return torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(x, dim=DIMS), norm="ortho"), dim=DIMS)


def ifft2(k: torch.Tensor, centred: bool) -> torch.Tensor:
    if not centred:
        return torch.fft.ifft2(k, norm="ortho")
    return torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(k, dim=DIMS), norm="ortho"), dim=DIMS)


def bare_pair(x: torch.Tensor, mask: torch.Tensor, sens: torch.Tensor | None, centred: bool) -> torch.Tensor:
    """``S^H F^H M F S x`` written directly with torch.fft."""
    coil_images = x if sens is None else x * sens
    images = ifft2(fft2(coil_images, centred) * mask, centred)
    return images if sens is None else (images * sens.conj()).sum(1, keepdim=True)


def bench(size: int, n_coils: int, rounds: int, warmup: int, seed: int) -> dict:
    batch = BATCH[n_coils]
    mask = cartesian_mask((size, size), 0.25, seed=0)
    sens = None if n_coils == 1 else birdcage_maps(n_coils, (size, size))
    op = MRIOperator(mask, sens)
    x = torch.randn(batch, 1, size, size, dtype=torch.complex64, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(op.adjoint(op.forward(x)), bare_pair(x, mask, sens, True))

    contenders = {
        "operator": lambda: op.adjoint(op.forward(x)),
        "bare_centred": lambda: bare_pair(x, mask, sens, True),
        "bare_unshifted": lambda: bare_pair(x, mask, sens, False),
    }
    # page faults over warm-up and rounds: near zero when the allocator settings keep freed blocks in the heap
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    timed = time_interleaved(contenders, rounds=rounds, warmup=warmup, seed=seed)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    ours, bare = timed["operator"], timed["bare_centred"]
    per_round = [a / b for a, b in zip(ours["samples_ms"], bare["samples_ms"], strict=True)]
    return {
        "size": size,
        "coils": n_coils,
        "batch": batch,
        **{f"{name}_ms": {k: v for k, v in t.items() if k != "samples_ms"} for name, t in timed.items()},
        "ratio_of_medians": ours["median"] / bare["median"],
        "ratio_per_round": quartiles(per_round),
        "ratio_vs_unshifted": ours["median"] / timed["bare_unshifted"]["median"],
        "slices_per_s": batch / (ours["median"] / 1e3),
        "minor_page_faults_per_round": faults / (rounds + warmup),
    }


def iqr(q: dict, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(q['median'])} [{fmt.format(q['p25'])}-{fmt.format(q['p75'])}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="interleaved rounds per case")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up calls per contender")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the per-round order")
    args = parser.parse_args()
    allocator = ensure_allocator_settings()
    torch.set_num_threads(1)

    print(f"threads {torch.get_num_threads()}, allocator {allocator}, {args.rounds} rounds; ms as median [p25-p75]")
    print(f"{'case':<20} {'operator':<26} {'bare centred':<26} {'bare unshifted':<26} {'ratio':>6}  per-round ratio")
    rows = []
    for size in SIZES:
        for n_coils in BATCH:
            row = bench(size, n_coils, args.rounds, args.warmup, args.seed)
            rows.append(row)
            case = f"{size}^2 C={n_coils} B={row['batch']}"
            print(
                f"{case:<20} {iqr(row['operator_ms']):<26} {iqr(row['bare_centred_ms']):<26} "
                f"{iqr(row['bare_unshifted_ms']):<26} {row['ratio_of_medians']:>6.3f}  "
                f"{iqr(row['ratio_per_round'])}"
            )
    write_result(
        "ops",
        {
            "method": "one torch thread; interleaved rounds in shuffled order after warm-up; see bench_ops.py",
            "threads": torch.get_num_threads(),
            "allocator": allocator,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "seed": args.seed,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
