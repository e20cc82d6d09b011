"""Beyond the training distribution: the shifted synthetic test set and the real scans, scored like the test split.

Every training chapter reports, beside its out-of-distribution rows, two test sets that no training, tuning or
selection ever sees:

* ``shifted``: the test planes, each slice with one named departure from the T1-weighted generator
  (:data:`mrilab.data.randomise.SHIFTS`: no scalp, fat suppressed, FLAIR-like, T2*-like, textured shapes, low SNR),
  stored in ``singlecoil_test/shifted.h5``;
* ``real``: the real MR images shipped inside the wheels the package depends on (:mod:`mrilab.data.real`), stored
  in ``singlecoil_real/real.h5``, one block per source's group of adjacent planes.

Both are scored as the test split is (noise-free target, head mask, blocks), with the book's masks and seeds. The
classical baselines keep the λ chosen on the T1w validation split: λ is relative to ``max|Aᴴy|``, so it moves with
the data's scale, and a reader who takes the book's settings to new images has no other λ.
:func:`compared_networks` returns the networks whose training distributions the data chapter and ``transfer/``
compare (ISTA-Net+ at 10–30 %, CGPD-CSNet, IFR-Net's Cartesian model), trained on a given distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from . import stats
from .data import SliceDataset
from .data.randomise import SHIFTS
from .evaluation import evaluate
from .results import results_row

#: The transfer test sets: ``{name: (split, file)}`` of :class:`~mrilab.data.SliceDataset`.
TRANSFER_SETS = {"shifted": ("test", "shifted"), "real": ("real", "real")}
#: The mask of the comparisons between training distributions (:func:`compared_networks`).
MASK = "cartesian"
#: How the chapters name them in tables.
TITLES = {"shifted": "shifted synthetic test set (one named shift per slice)",
          "real": "real scans (nibabel, pydicom and pydicom-data wheels)"}


def transfer_sets(profile: str, *, mask: str, ratios: tuple[float, ...]) -> dict[str, dict[float, SliceDataset]]:
    """Return ``{set name: {ratio: dataset}}`` of :data:`TRANSFER_SETS` with ``mask`` at every ratio."""
    return {name: {r: SliceDataset(profile, split, file, mask=mask, ratios=(r,)) for r in ratios}
            for name, (split, file) in TRANSFER_SETS.items()}


def evaluate_transfer(methods: Mapping[str, Mapping[float, Callable | object]],
                      sets: Mapping[str, Mapping[float, SliceDataset]], *,
                      device: object = "cpu") -> dict[tuple[str, str, float], list[dict]]:
    """Evaluate every method at every ratio on every set: ``{(set, method, ratio): per-slice rows}``.

    ``methods`` maps a method's name to ``{ratio: model or reconstructor}`` (the ratios of ``sets``).
    """
    results = {}
    for name, by_ratio in sets.items():
        for method, reconstructors in methods.items():
            missing = sorted(set(by_ratio) - set(reconstructors))
            if missing:
                raise ValueError(f"methods[{method!r}] has no reconstructor for ratios {missing}")
            for r, dataset in by_ratio.items():
                results[name, method, r] = evaluate(reconstructors[r], dataset, device=device)
    return results


def per_shift(rows: list[dict], dataset: SliceDataset, metric: str = "psnr") -> dict[str, float]:
    """Return the mean ``metric`` of the slices of each named shift (the shifted set's ``slice_shifts``).

    Shifts in :data:`~mrilab.data.randomise.SHIFTS` order; a shift without slices in ``rows`` is left out.
    """
    if dataset.slice_shifts is None:
        raise ValueError(f"dataset {dataset.path} stores no slice_shifts: per_shift needs the shifted set")
    values = {shift: [row[metric] for row in rows if dataset.slice_shifts[row["index"]] == shift] for shift in SHIFTS}
    return {shift: float(np.mean(v)) for shift, v in values.items() if v}


def transfer_rows(results: Mapping[tuple[str, str, float], list[dict]], *, dataset: str, task: str, mask: str,
                  parameters: Mapping[str, int] | None = None,
                  extra: Mapping[tuple[str, float], dict] | None = None) -> list[dict]:
    """Return the results rows of :func:`evaluate_transfer`'s output, ``experiment`` and ``contrast`` the set's name.

    ``task`` is the task the methods were built for (:mod:`mrilab.tasks`), the transfer sets' slices its inputs.

    ``parameters`` gives a method's trainable parameters (0 if absent); ``extra[method, ratio]`` extra keys of a row
    (e.g. TV's ``lambda_relative``).
    """
    parameters, extra = parameters or {}, extra or {}
    return [results_row(method, rows, task=task, dataset=dataset, split=TRANSFER_SETS[name][0],
                        contrast=TRANSFER_SETS[name][1], mask=mask, ratio=r, experiment=name,
                        parameters=parameters.get(method, 0), **extra.get((method, r), {}))
            for (name, method, r), rows in results.items()]


def shift_table(results: Mapping[tuple[str, str, float], list[dict]], dataset: SliceDataset, a: str, b: str, *,
                name: str = "shifted") -> str:
    """Markdown table of the mean PSNR difference ``a − b`` on each named shift (columns) at each ratio (rows).

    The slices of one shift are few (a sixth of the set), so these are means without intervals: they say where a
    difference comes from, the paired table of the whole set says whether it is resolved.
    """
    ratios = sorted({r for (place, method, r) in results if place == name and method == a})
    shifts = list(per_shift(results[name, a, ratios[0]], dataset))
    lines = [f"| {a} − {b} (dB) | " + " | ".join(shifts) + " |", "|---" * (len(shifts) + 1) + "|"]
    for r in ratios:
        mine, theirs = per_shift(results[name, a, r], dataset), per_shift(results[name, b, r], dataset)
        lines.append(f"| {100 * r:g} % | " + " | ".join(f"{mine[s] - theirs[s]:+.2f}" for s in shifts) + " |")
    return "\n".join(lines) + "\n"


def margins(results: Mapping[tuple[str, str, float], list[dict]], a: str, b: str,
            ratios: tuple[float, ...]) -> dict[str, dict[float, stats.PairedComparison]]:
    """Return ``{set name: {ratio: paired comparison a − b}}`` on every set of ``results`` (PSNR, by block)."""
    names = dict.fromkeys(place for place, _, _ in results)
    return {place: {r: stats.paired(results[place, a, r], results[place, b, r]) for r in ratios} for place in names}


def compared_networks(profile: str, contrast: str) -> dict[tuple[str, float], object]:
    """Return ``{(network, ratio): model}`` of the networks the training distributions are compared with.

    ISTA-Net+ at 10, 20 and 30 % (``TWIN_RATIOS``), the multi-ratio CGPD-CSNet at the same ratios and IFR-Net's
    Cartesian 25 % model, each trained on ``contrast`` (``TRAINING_DATA`` or one of ``TWIN_DATAS``): loaded from
    the committed weights, or trained.
    """
    from .recipes import cgpd_csnet, ifr_net, ista_net
    from .recipes.common import TWIN_RATIOS

    cgpd, _ = cgpd_csnet.train(profile, "multi_ratio", ratios=cgpd_csnet.RATIOS, contrast=contrast, progress=False)
    ifr, _ = ifr_net.train(profile, ifr_net.PATTERN_RATIO, mask=MASK, contrast=contrast, progress=False)
    models = {("ISTA-Net+", r): ista_net.train(profile, r, contrast=contrast, progress=False)[0] for r in TWIN_RATIOS}
    models |= {("CGPD-CSNet", r): cgpd for r in TWIN_RATIOS}
    models[f"IFR-Net ({MASK})", ifr_net.PATTERN_RATIO] = ifr
    return models
