"""Choosing a training recipe on the validation split, with a committed record of what was tried.

A recipe that was picked among alternatives (a training length, a batch size) is picked here, by code that can be
rerun: every candidate is trained and scored on the **validation** split (never the test split), the rule
:data:`RULE` picks one, and the chosen candidate is retrained with other seeds to measure how much a retrain moves
the validation numbers. The record — candidates, scores, training times, the choice, the seed spread and the
machine — is written to ``mrilab/records/selection_{profile}_{method}.json``, where the chapters read and show it.

    python selection/select_recipe.py --profile demo            # every method, minutes each on 2 cores
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from .data import SliceDataset
from .data.randomise import SHIFTS
from .evaluation import evaluate
from .io import atomic_write
from .recipes import cgpd_csnet, d5c5, ifr_net, ima, ista_net, multicoil, multicontrast, pc_rnn, unet
from .runtime import machine_info, runs_dir
from .stats import summarize
from .tasks import TASKS, Task, single_coil_task

RECORDS = Path(__file__).resolve().parent / "records"
TOLERANCE_DB = 0.05
RULE = (f"the highest mean validation PSNR over the training ratios, except that a candidate within {TOLERANCE_DB} dB "
        "of it that trains in less time wins (a longer schedule must earn its cost)")
SEEDS = (1, 2)
#: The method whose record also measures the kernel-order shift (one cheap model stands for all: the effect is a
#: property of the CPU's kernels, not of the architecture).
KERNEL_ORDER_METHOD = "ista_net"

#: Candidate schedules per method and profile; each is a set of overrides of the method's recipe.
CANDIDATES = {
    "ista_net": {
        "demo": {
            "300 + 4 × 150 steps": {"first_steps": 300, "train": {"steps": 150}},
            "600 + 4 × 300 steps": {"first_steps": 600, "train": {"steps": 300}},
            "1200 + 4 × 600 steps": {"first_steps": 1200, "train": {"steps": 600}},
        },
        "smoke": {"8 + 4 × 4 steps": {"first_steps": 8, "train": {"steps": 4}}},
    },
    "cgpd_csnet": {
        "demo": {
            "480 steps × 2 slices": {"steps": 480, "batch_size": 2},
            "960 steps × 2 slices": {"steps": 960, "batch_size": 2},
        },
        "smoke": {"4 steps × 2 slices": {"steps": 4, "batch_size": 2}},
    },
    # IFR-Net's warm-started pseudo-radial series (10 % from scratch, then 20, 30, 40 %), scored on radial masks;
    # the Table V pattern models fine-tune from the 20 % model with the same per-ratio steps. Two candidates, the
    # schedule the demo weights were first trained with and one of half its length, keep the selection (with its
    # seed repeats) within an hour on two cores
    "ifr_net": {
        "demo": {
            "300 + 3 × 150 steps": {"first_steps": 300, "train": {"steps": 150}},
            "600 + 3 × 300 steps": {"first_steps": 600, "train": {"steps": 300}},
        },
        "smoke": {"8 + 3 × 4 steps": {"first_steps": 8, "train": {"steps": 4}}},
    },
    # the small CGPD-CSNet every ablation variant of the two-grid chapter starts from (its full variant (f))
    "cgpd_ablation": {
        "demo": {"40 steps × 4 slices": {"steps": 40}, "240 steps × 4 slices": {"steps": 240}},
        "smoke": {"2 steps × 2 slices": {"steps": 2}},
    },
}
#: The multi-coil recipes: their candidates are training lengths of the 4× model (the 6× model starts from it with
#: the recipe's steps), scored on the validation slices of their task.
MULTI_COIL = {"pc_rnn": pc_rnn, "u_net": unet, "d5c5": d5c5}
CANDIDATES |= {method: {"demo": {f"{n} steps": {"first_steps": n} for n in (600, 1200, 2400)},
                        "smoke": {"8 steps": {"first_steps": 8}}} for method in MULTI_COIL}
# the small PC-RNN every pyramid of the PC-RNN chapter's Table VII is trained as (its full pyramid, at 4×)
CANDIDATES["pc_rnn_ablation"] = {"demo": {f"{n} steps": {"train": {"steps": n}} for n in (150, 300, 600)},
                                 "smoke": {"2 steps": {"train": {"steps": 2}}}}
# IMA's 4× model on the pseudo-radial task (the 8× model starts from it), and the ablation-size model at 8×
CANDIDATES["ima"] = {"demo": {f"{n} steps": {"first_steps": n} for n in (400, 800, 1600)},
                     "smoke": {"8 steps": {"first_steps": 8}}}
CANDIDATES["ima_ablation"] = {"demo": {f"{n} steps": {"train": {"steps": n}} for n in (300, 600)},
                              "smoke": {"2 steps": {"train": {"steps": 2}}}}
#: The seeds the chosen recipe is retrained with. The multi-coil models and IMA's ablation-size model take minutes a
#: run, so one more seed; IMA's main model takes half an hour, and its seed spread is that of its ablation-size model
#: (two seeds of every Table 2(a) variant).
REPEAT_SEEDS = dict.fromkeys((*MULTI_COIL, "pc_rnn_ablation", "ima_ablation"), SEEDS[:1]) | {"ima": ()}
#: The training (and validation) ratios of the ablation-size model, as in the two-grid chapter.
ABLATION_RATIOS = (0.1, 0.3)
METHOD_NAMES = {"ista_net": "ISTA-Net+", "cgpd_csnet": "CGPD-CSNet", "cgpd_ablation": "CGPD-CSNet (ablation size)",
                "ifr_net": "IFR-Net", "pc_rnn_ablation": "PC-RNN (ablation size)", "ima": "IMA",
                "ima_ablation": "IMA (ablation size)"} | {
                    method: module.NAME for method, module in MULTI_COIL.items()}
#: The task each method is trained and validated on (default: single-coil T1w, 1-D random Cartesian).
VALIDATION_TASKS = {"ifr_net": single_coil_task(ifr_net.MASK)} | dict.fromkeys((*MULTI_COIL, "pc_rnn_ablation"),
                                                                               multicoil.task()) | {
    "ima": multicontrast.task(ima.ABLATION_MASK), "ima_ablation": multicontrast.task(ima.ABLATION_MASK)}


def record_path(method: str, profile: str) -> Path:
    """Return the path of the committed selection record of ``method`` in ``profile``."""
    return RECORDS / f"selection_{profile}_{method}.json"


def _models(method: str, profile: str, overrides: dict, seed: int,
            ratios: tuple = ista_net.RATIOS) -> tuple[dict, float]:
    """Return ``({ratio: model}, training seconds)`` of one candidate (trained, or loaded from its finished run).

    ISTA-Net+ and IFR-Net train their warm-started series up to the last of ``ratios`` (IFR-Net: its own
    pseudo-radial ratios, :data:`mrilab.recipes.ifr_net.RATIOS`).
    """
    if method == "pc_rnn_ablation":
        ratio = pc_rnn.ABLATION_RATIO
        model, history = pc_rnn.train(profile, ratio, setting="ablation", variant="s4_2_1", seed=seed,
                                      schedule=overrides, progress=False)
        return {ratio: model}, history["seconds"]
    if method in ("ima", "ima_ablation"):
        ratio, setting = (ima.RATIOS[0], "main") if method == "ima" else (ima.ABLATION_RATIO, "ablation")
        model, history = ima.train(profile, ratio, mask=ima.ABLATION_MASK, setting=setting, seed=seed,
                                   schedule=overrides, progress=False)
        return {ratio: model}, history["seconds"]
    if method in MULTI_COIL:
        ratio = multicoil.RATIOS[0]
        model, history = MULTI_COIL[method].train(profile, ratio, seed=seed, schedule=overrides, progress=False)
        return {ratio: model}, history["seconds"]
    if method == "ifr_net":
        trained = {r: ifr_net.train(profile, r, seed=seed, schedule=overrides, progress=False)
                   for r in ifr_net.RATIOS}
        return {r: m for r, (m, _) in trained.items()}, sum(h["seconds"] for _, h in trained.values())
    if method == "ista_net":
        trained = {r: ista_net.train(profile, r, seed=seed, schedule=overrides, progress=False) for r in ratios}
        return {r: m for r, (m, _) in trained.items()}, sum(h["seconds"] for _, h in trained.values())
    if method == "cgpd_ablation":
        model, history = cgpd_csnet.train(profile, "ablation_f", ratios=ABLATION_RATIOS, setting="ablation",
                                          seed=seed, progress=False, steps=overrides["steps"])
        return dict.fromkeys(ABLATION_RATIOS, model), history["seconds"]
    model, history = cgpd_csnet.train(profile, "multi_ratio", ratios=ista_net.RATIOS, seed=seed, progress=False,
                                      steps=overrides["steps"], train_overrides={"batch_size": overrides["batch_size"]})
    return dict.fromkeys(ratios, model), history["seconds"]


def validation_task(method: str) -> Task:
    """Return the task ``method`` is validated on (:data:`VALIDATION_TASKS`)."""
    return VALIDATION_TASKS.get(method, single_coil_task("cartesian"))


def validation_psnr(models: dict, profile: str, task: Task | None = None) -> dict[float, float]:
    """Return the mean validation PSNR (over blocks, clean target, head mask) of each ratio's model on ``task``.

    ``task`` defaults to the single-coil T1w task with 1-D random Cartesian masks.
    """
    task = task or single_coil_task("cartesian")
    return {r: summarize(evaluate(model, task.dataset(profile, "val", ratios=(r,)), device="cpu"),
                         metrics=("psnr",))["psnr_mean"] for r, model in models.items()}


def select(method: str, profile: str = "demo") -> dict:
    """Train every candidate of ``method``, choose by :data:`RULE`, retrain the choice with :data:`SEEDS`.

    The record is written to :func:`record_path` and returned.
    """
    if method not in CANDIDATES:
        raise ValueError(f"method must be one of {tuple(CANDIDATES)}, got {method!r}")
    candidates = CANDIDATES[method].get(profile)
    if not candidates:
        raise ValueError(f"no candidates for profile {profile!r}; known: {sorted(CANDIDATES[method])}")
    tried = []
    for name, overrides in candidates.items():
        models, seconds = _models(method, profile, overrides, seed=0)
        scores = validation_psnr(models, profile, validation_task(method))
        tried.append({"name": name, "overrides": overrides, "seed": 0, "train_seconds": round(seconds, 1),
                      "val_psnr": {str(r): round(v, 4) for r, v in scores.items()},
                      "val_psnr_mean": round(float(np.mean(list(scores.values()))), 4)})
    best = max(c["val_psnr_mean"] for c in tried)
    close = [c for c in tried if c["val_psnr_mean"] >= best - TOLERANCE_DB]
    chosen = min(close, key=lambda c: c["train_seconds"])
    repeats = []
    for seed in REPEAT_SEEDS.get(method, SEEDS):
        models, seconds = _models(method, profile, chosen["overrides"], seed=seed)
        scores = validation_psnr(models, profile, validation_task(method))
        repeats.append({"seed": seed, "train_seconds": round(seconds, 1),
                        "val_psnr": {str(r): round(v, 4) for r, v in scores.items()}})
    record = {"method": METHOD_NAMES[method], "profile": profile, "split": "val",
              "task": validation_task(method).name, "mask": validation_task(method).mask, "rule": RULE,
              "tolerance_db": TOLERANCE_DB, "candidates": tried, "chosen": chosen["name"], "seed_repeats": repeats,
              "kernel_order": kernel_order_repeat(method, profile, chosen) if method == KERNEL_ORDER_METHOD else None,
              "machine": machine_info(), "written": time.strftime("%Y-%m-%d")}
    atomic_write(record_path(method, profile), json.dumps(record, indent=1) + "\n")
    return record


def kernel_order_repeat(method: str, profile: str, chosen: dict, *, threads: int = 1) -> dict:
    """Retrain the chosen recipe's first model (seed 0) with ``threads`` CPU threads and score it on validation.

    Next to the original's PSNR this is the same seed with the kernels summing in another order, as on another
    processor.
    """
    ratio = ista_net.RATIOS[0]
    before, environment = torch.get_num_threads(), os.environ.get("MRILAB_RUNS")
    os.environ["MRILAB_RUNS"] = str(runs_dir(profile, "selection", f"threads{threads}"))
    torch.set_num_threads(threads)
    try:
        models, _ = _models(method, profile, chosen["overrides"], seed=0, ratios=(ratio,))
    finally:
        torch.set_num_threads(before)
        if environment is None:
            os.environ.pop("MRILAB_RUNS")
        else:
            os.environ["MRILAB_RUNS"] = environment
    psnr = validation_psnr(models, profile)[ratio]
    return {"ratio": ratio, "threads": threads, "original_threads": before,
            "val_psnr": round(psnr, 4), "original_val_psnr": chosen["val_psnr"][str(ratio)]}


def load_record(method: str, profile: str = "demo") -> dict:
    """Return the committed selection record of ``method`` (a key of :data:`CANDIDATES`) in ``profile``."""
    path = record_path(method, profile)
    if not path.exists():
        raise FileNotFoundError(f"no selection record {path}; run `python selection/select_recipe.py "
                                f"--profile {profile} --method {method}`")
    return json.loads(path.read_text())


def record_table(record: dict) -> str:
    """Render every candidate's validation PSNR per ratio, its training time and the choice as Markdown."""
    ratios = list(record["candidates"][0]["val_psnr"])
    lines = ["| candidate (seed 0) | " + " | ".join(f"{100 * float(r):g} %" for r in ratios)
             + " | mean | training (wall time) |", "|---" * (len(ratios) + 3) + "|"]
    for c in record["candidates"]:
        mark = " **(chosen)**" if c["name"] == record["chosen"] else ""
        lines.append(f"| {c['name']}{mark} | " + " | ".join(f"{c['val_psnr'][r]:.2f}" for r in ratios)
                     + f" | {c['val_psnr_mean']:.2f} | {c['train_seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def kernel_order_shift(record: dict | None = None) -> str:
    """Return one sentence on how far the same seed moved with another thread count.

    The measurement comes from the record of :data:`KERNEL_ORDER_METHOD` when ``record`` has none.
    """
    k = (record or {}).get("kernel_order") or load_record(KERNEL_ORDER_METHOD, "demo")["kernel_order"]
    return (f"ISTA-Net+ {100 * k['ratio']:g} % model, seed 0: validation PSNR {k['original_val_psnr']:.2f} dB with "
            f"{k['original_threads']} threads, {k['val_psnr']:.2f} dB with {k['threads']} "
            f"(a shift of {k['val_psnr'] - k['original_val_psnr']:+.2f} dB)")


def seed_spread(record: dict) -> dict[str, float]:
    """Return per ratio the range (max − min, dB) of the chosen recipe's validation PSNR over all its seeds."""
    chosen = next(c for c in record["candidates"] if c["name"] == record["chosen"])
    runs = [chosen["val_psnr"], *(r["val_psnr"] for r in record["seed_repeats"])]
    return {ratio: max(run[ratio] for run in runs) - min(run[ratio] for run in runs) for ratio in chosen["val_psnr"]}


#: The training distributions :func:`select_training_data` compares (``contrast`` of the recipes): the book's
#: T1-weighted generator alone, its domain-randomised slices (:mod:`mrilab.data.randomise`), and both together.
TRAINING_DATA = {"narrow": "T1w", "broad": "broad", "mixed": "T1w+broad"}
#: How far below the narrow candidate a candidate's in-distribution validation PSNR may fall.
IN_DISTRIBUTION_TOLERANCE_DB = 1.0
DATA_RULE = (f"the highest mean PSNR on the shifted validation set (over the proxy models and their ratios) among the "
             f"candidates whose mean in-distribution (T1w) validation PSNR is within {IN_DISTRIBUTION_TOLERANCE_DB:g} "
             "dB of the narrow candidate's")
#: The proxies every candidate trains: ISTA-Net+ at 10 % from scratch (the demo model, half its first schedule) and
#: the ablation-size CGPD-CSNet at 10 and 30 %, both on 1-D random Cartesian masks.
DATA_PROXIES = {"ISTA-Net+ 10 %": (0.1,), "CGPD-CSNet (ablation size)": ABLATION_RATIOS}


def _proxy(name: str, profile: str, contrast: str) -> tuple[torch.nn.Module, float]:
    """Return one proxy model trained on ``contrast`` (or resumed from its run) and its training seconds.

    ``retrain=True``: a committed model whose recipe matches is not loaded, so every candidate is trained by the
    code under selection.
    """
    if name == "ISTA-Net+ 10 %":
        first = ista_net.recipe(profile)["first_steps"] // 2
        model, history = ista_net.train(profile, 0.1, contrast=contrast, schedule={"first_steps": first},
                                        retrain=True, progress=False)
    else:
        model, history = cgpd_csnet.train(profile, "ablation_f", ratios=ABLATION_RATIOS, setting="ablation",
                                          contrast=contrast, retrain=True, progress=False)
    return model, history["seconds"]


def _mean_psnr(model: torch.nn.Module, dataset: SliceDataset) -> tuple[float, list[dict]]:
    rows = evaluate(model, dataset, device="cpu")
    return summarize(rows, metrics=("psnr",))["psnr_mean"], rows


def apply_data_rule(candidates: list[dict]) -> str:
    """Return the name of the candidate :data:`DATA_RULE` chooses.

    ``candidates``: dicts with ``name`` (one of them ``"narrow"``), ``val_mean`` (mean in-distribution validation
    PSNR) and ``shifted_mean`` (mean PSNR on the shifted validation slices).
    """
    narrow = next((c for c in candidates if c["name"] == "narrow"), None)
    if narrow is None:
        raise ValueError(f"candidates must include 'narrow', got {[c['name'] for c in candidates]}")
    eligible = [c for c in candidates if c["val_mean"] >= narrow["val_mean"] - IN_DISTRIBUTION_TOLERANCE_DB]
    return max(eligible, key=lambda c: c["shifted_mean"])["name"]


def select_training_data(profile: str = "demo") -> dict:
    """Train the proxies on every :data:`TRAINING_DATA` candidate, choose by :data:`DATA_RULE`, write the record.

    Every candidate is scored on validation slices only: the T1w validation split (in distribution) and the shifted
    validation set (``shifted.h5``, one named shift per slice, :data:`mrilab.data.randomise.SHIFTS`). The record,
    ``mrilab/records/training_data_{profile}.json``, holds per candidate and proxy the PSNR per ratio on both, per
    shift on the shifted set, and the training time.
    """
    tried, task = [], TASKS["singlecoil-t1w-cartesian"]
    for candidate, contrast in TRAINING_DATA.items():
        entry = {"name": candidate, "contrast": contrast, "proxies": {}, "train_seconds": 0.0}
        for proxy, ratios in DATA_PROXIES.items():
            model, seconds = _proxy(proxy, profile, contrast)
            entry["train_seconds"] += round(seconds, 1)
            scores = {}
            for ratio in ratios:
                same = task.dataset(profile, "val", ratios=(ratio,))
                shifted = task.dataset(profile, "val", ratios=(ratio,), contrast="shifted")
                in_distribution, _ = _mean_psnr(model, same)
                shifted_psnr, rows = _mean_psnr(model, shifted)
                shifts = shifted.slice_shifts
                per_shift = {s: float(np.mean([r["psnr"] for r in rows if shifts[r["index"]] == s])) for s in SHIFTS}
                scores[str(ratio)] = {"val": round(in_distribution, 4), "shifted": round(shifted_psnr, 4),
                                      "per_shift": {s: round(v, 4) for s, v in per_shift.items()}}
            entry["proxies"][proxy] = scores
        values = [s for proxy in entry["proxies"].values() for s in proxy.values()]
        entry["val_mean"] = round(float(np.mean([s["val"] for s in values])), 4)
        entry["shifted_mean"] = round(float(np.mean([s["shifted"] for s in values])), 4)
        tried.append(entry)
    chosen = next(c for c in tried if c["name"] == apply_data_rule(tried))
    record = {"profile": profile, "splits": ["val", "shifted val"], "mask": "cartesian", "rule": DATA_RULE,
              "tolerance_db": IN_DISTRIBUTION_TOLERANCE_DB, "proxies": {k: list(v) for k, v in DATA_PROXIES.items()},
              "candidates": tried, "chosen": chosen["name"], "chosen_contrast": chosen["contrast"],
              "machine": machine_info(), "written": time.strftime("%Y-%m-%d")}
    atomic_write(RECORDS / f"training_data_{profile}.json", json.dumps(record, indent=1) + "\n")
    return record
