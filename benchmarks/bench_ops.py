"""Throughput of MRIOperator forward + adjoint against a bare torch.fft pair on the same tensors.

The bare pair is the least any implementation must do (FFT, mask, inverse FFT; coil multiply and sum for
multi-coil); the ratio shows what the operator's centring shifts and argument checks cost.
"""

from __future__ import annotations

import argparse

import torch
from common import time_call, write_result

from mrilab.coils import birdcage_maps
from mrilab.masks import cartesian_mask
from mrilab.ops import MRIOperator


def bench(size: int, batch: int, n_coils: int | None, repeats: int) -> dict:
    mask = cartesian_mask((size, size), 0.25, seed=0)
    sens = None if n_coils is None else birdcage_maps(n_coils, (size, size))
    op = MRIOperator(mask, sens)
    x = torch.randn(batch, 1, size, size, dtype=torch.complex64)
    y = op.forward(x)

    def operator_pair():
        op.adjoint(op.forward(x))

    def bare_pair():
        coil_images = x if sens is None else x * sens
        k = torch.fft.fft2(coil_images, norm="ortho") * mask
        images = torch.fft.ifft2(k, norm="ortho")
        return images if sens is None else (images * sens.conj()).sum(1, keepdim=True)

    assert y.shape[1] == (n_coils or 1)
    ours, bare = time_call(operator_pair, repeats=repeats), time_call(bare_pair, repeats=repeats)
    return {
        "size": size,
        "batch": batch,
        "coils": n_coils or 1,
        "operator_ms": ours["median_ms"],
        "bare_fft_ms": bare["median_ms"],
        "ratio": ours["median_ms"] / bare["median_ms"],
        "slices_per_s": batch / (ours["median_ms"] / 1e3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    results = []
    for size in (128, 256):
        for n_coils in (None, 8):
            row = bench(size, 8, n_coils, args.repeats)
            print(row)
            results.append(row)
    write_result("ops", results)


if __name__ == "__main__":
    main()
