"""The evidence a recommendation rests on: a sweep's confirmation runs, aligned for paired comparison.

Per fusion family, the confirmed configuration (with ``confirm.per_fusion > 1``, the one whose runs score best on
validation), its runs' per-sample predictions stacked as ``stats.Predictions`` (family x run x sample x class), and
what the family costs. Validation runs are seeds; with cross-validation a seed's folds together predict every
train+val sample once (out-of-fold), so a run is still one seed. Test runs are (seed, fold) pairs, grouped by seed
for the intervals. Only seeds that every family completed are used, so comparisons stay paired by seed, fold and
sample; a family whose few finished seeds leave the families fewer than 3 in common is left out (``failed`` says
so) if at least two others then share 3, rather than taking every family down to its seeds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sweeper.recommend.sources import params_of
from sweeper.recommend.stats import MIN_SEEDS, Predictions
from sweeper.tracking import TrialStatus
from sweeper.tracking.predictions import read_predictions

ATTENTION = "val/attention/"  # an attention fusion's per-modality metric prefix (sweeper.train.metrics)


@dataclass
class Cost:
    parameters: int | None  # model parameters
    train_s_per_epoch: float | None  # mean over runs of training seconds per epoch
    infer_ms: float | None  # mean over runs of milliseconds per batch of inference (last split evaluated)
    fusion_parameters: int | None = None  # the fusion module's own parameters
    infer_us_per_sample: float | None = None  # mean over runs of inference microseconds per sample
    peak_memory_mb: float | None = None  # mean over runs of the memory a run added at its peak
    attention: dict[str, float] = field(default_factory=dict)  # modality -> mean validation attention it received


@dataclass
class Evidence:
    families: list[str]  # compared families, in first-confirmed order
    configs: dict[str, dict[str, Any]]  # family -> {"source_trial", "params", "search_status"}
    val: Predictions | None
    test: Predictions | None
    costs: dict[str, Cost]
    seeds: list[int]  # seeds common to every family
    folds: int | None
    failed: dict[str, str] = field(default_factory=dict)  # family -> why it has no usable confirmed run
    dropped_runs: int = 0  # completed runs left out because another family lacks that seed
    test_groups: list[int] | None = None  # the seed of each test run (runs are (seed, fold) pairs)
    choices: dict[str, int] = field(default_factory=dict)  # family -> configurations it had confirmed
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # family -> its confirm rows


def load_evidence(predictions_dir: Path, rows: list[dict[str, Any]], metric: str, sign: float) -> Evidence:
    """``rows``: the sweep's trial rows with a ``fusion`` key, excluded families already removed;
    ``predictions_dir``: where each confirmation run's ``<trial_id>.parquet`` predictions are."""
    confirm = [r for r in rows if r.get("stage") == "confirm"]
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in confirm:
        by_family[row["fusion"]].append(row)
    chosen: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, str] = {}
    choices: dict[str, int] = {}
    for family, family_rows in by_family.items():
        done = [r for r in family_rows if r["status"] == TrialStatus.COMPLETED.value and _finite(r.get(metric))]
        if not done:
            failed[family] = _why_none_done(family_rows, metric)
            continue
        chosen[family], choices[family] = _best_source(done, metric, sign)
    predictions = read_predictions(predictions_dir, [r["trial_id"] for rs in chosen.values() for r in rs])
    for family, family_rows in list(chosen.items()):
        with_predictions = [r for r in family_rows if r["trial_id"] in predictions]
        if not with_predictions:
            failed[family] = "its confirmation runs left no predictions"
            del chosen[family]
        else:
            chosen[family] = with_predictions
    folds = next((int(r["folds"]) for rs in chosen.values() for r in rs if r.get("folds")), None)
    seeds, short = _common_seeds(chosen, folds)
    failed.update(short)
    used = {f: [r for r in rs if r["seed"] in seeds] for f, rs in chosen.items() if f not in short}
    if not seeds and used:  # nothing to pair: every family's runs are at seeds (or folds) another lacks
        failed.update({f: _unpaired(chosen, used, folds) for f in used})
        used = {}
    families = list(used)
    return Evidence(
        families=families,
        configs={f: _config(rs[0]) for f, rs in used.items()},
        val=_stack(families, used, predictions, "val", seeds, by_seed=True) if families else None,
        test=_stack(families, used, predictions, "test", seeds, by_seed=False) if families else None,
        costs={f: _cost(rs) for f, rs in used.items()},
        seeds=seeds,
        folds=folds,
        failed=failed,
        dropped_runs=sum(len(rs) for f, rs in chosen.items() if f not in short) - sum(len(rs) for rs in used.values()),
        rows=used,
        test_groups=[int(r["seed"]) for r in _run_order(used[families[0]])] if families else None,
        choices={f: choices[f] for f in families},
    )


def _why_none_done(rows: list[dict[str, Any]], metric: str) -> str:
    """Why a family has no finished confirmation run to rank."""
    errors = [str(r["error"]) for r in rows if r.get("error")]
    if errors:
        return f"its confirmation runs failed: {errors[0]}"
    bad = [r.get(metric) for r in rows if r.get(metric) is not None and not _finite(r.get(metric))]
    if bad:
        return f"{metric} is {bad[0]}"
    running = sum(r["status"] == TrialStatus.RUNNING.value for r in rows)
    if running:
        return f"no confirmation run has finished yet ({running} running)"
    if any(r["status"] == TrialStatus.INTERRUPTED.value for r in rows):
        return "its confirmation runs were interrupted; `sweeper resume <sweep folder>` finishes them"
    return "no confirmation run finished"


def _finite(value: Any) -> bool:
    return value is not None and bool(np.isfinite(value))


def _best_source(done: list[dict[str, Any]], metric: str, sign: float) -> tuple[list[dict[str, Any]], int]:
    """The runs of the configuration with the best mean validation score, and how many configurations there were."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in done:
        groups[str(row.get("source_trial"))].append(row)
    return max(groups.values(), key=lambda rs: sign * float(np.mean([r[metric] for r in rs]))), len(groups)


def _common_seeds(chosen: dict[str, list[dict[str, Any]]], folds: int | None) -> tuple[list[int], dict[str, str]]:
    """Seeds for which every family has every fold (or its single run), and the families left out to keep them.

    While the families share fewer than MIN_SEEDS seeds, the one whose absence leaves the others the most seeds is
    left out (one that failed most of its runs, say), if the others then share at least MIN_SEEDS and at least two
    of them remain. Otherwise everyone stays, and the comparison is provisional.
    """
    need = folds or 1
    complete: dict[str, set[int]] = {}
    for family, rows in chosen.items():
        per_seed: dict[int, set] = defaultdict(set)
        for r in rows:
            per_seed[int(r["seed"])].add(r.get("fold"))
        complete[family] = {s for s, fs in per_seed.items() if len(fs) >= need}

    def common(families: list[str]) -> set[int]:
        return set.intersection(*(complete[f] for f in families)) if families else set()

    left_out: dict[str, str] = {}
    while len(complete) - len(left_out) > 2:  # leaving one out must still leave a comparison
        kept = [f for f in complete if f not in left_out]
        shared = common(kept)
        if len(shared) >= MIN_SEEDS:
            break
        others = {f: common([g for g in kept if g != f]) for f in kept}
        short = max(kept, key=lambda f: (len(others[f]), -len(complete[f])))
        if len(others[short]) < MIN_SEEDS:  # it would not make the others' comparison decisive: keep everyone
            break
        left_out[short] = (
            f"its finished confirmation seeds ({', '.join(map(str, sorted(complete[short])))}) leave the families "
            f"{len(shared)} in common; without it the others share {len(others[short])} (a paired comparison needs "
            "the same seeds)"
        )
    return sorted(common([f for f in complete if f not in left_out])), left_out


def _unpaired(chosen: dict[str, list[dict[str, Any]]], kept: dict[str, Any], folds: int | None) -> str:
    finished = "; ".join(f"{f}: {', '.join(map(str, sorted({int(r['seed']) for r in chosen[f]})))}" for f in kept)
    whole = f" with all {folds} folds" if folds else ""
    return (
        f"no confirmation seed finished{whole} for every family (seeds finished: {finished}), and the comparison is "
        "paired (the same seeds for every family); add seeds: `sweeper confirm <sweep folder> --seeds N`, N above "
        "the seeds run so far"
    )


def _run_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A family's runs in the order ``_stack`` stacks them: by seed, then fold."""
    return sorted(rows, key=lambda r: (int(r["seed"]), r.get("fold") or 0))


def _stack(
    families: list[str],
    used: dict[str, list[dict[str, Any]]],
    predictions: dict[str, pa.Table],
    split: str,
    seeds: list[int],
    *,
    by_seed: bool,
) -> Predictions | None:
    """(F, R, n, C) per task; validation runs are seeds (folds pooled), test runs are (seed, fold) pairs."""
    runs_of: dict[str, list[pa.Table]] = {}  # family -> one table per run (a seed's folds joined)
    for family in families:
        tables = [(int(r["seed"]), predictions[r["trial_id"]]) for r in _run_order(used[family])]
        tables = [(s, t.filter(pc.equal(t["split"], split))) for s, t in tables]
        if by_seed:
            runs_of[family] = [pa.concat_tables([t for s, t in tables if s == seed]) for seed in seeds]
        else:
            runs_of[family] = [t for _, t in tables]
    n_runs = {len(r) for r in runs_of.values()}
    if len(n_runs) != 1 or not next(iter(n_runs)):
        return None
    first = runs_of[families[0]][0]
    tasks = sorted(set(first["task"].to_pylist()))
    samples = np.unique(first.filter(pc.equal(first["task"], tasks[0]))["sample"].to_numpy())
    labels: dict[str, np.ndarray] = {}
    probs: dict[str, np.ndarray] = {}
    for task in tasks:
        stacked = []
        for family in families:
            per_run = []
            for run in runs_of[family]:
                table = run.filter(pc.equal(run["task"], task))
                order = np.argsort(table["sample"].to_numpy(), kind="stable")
                sample = table["sample"].to_numpy()[order]
                if not np.array_equal(sample, samples):
                    return None  # runs predicted different samples: not comparable
                p = table["probs"].combine_chunks()
                values = p.flatten().to_numpy(zero_copy_only=False).reshape(len(table), -1)[order]
                per_run.append(values.astype(np.float32))
                labels[task] = table["label"].to_numpy()[order].astype(np.int64)
            stacked.append(np.stack(per_run))  # (R, n, C)
        probs[task] = np.stack(stacked)  # (F, R, n, C)
    return Predictions(families=list(families), tasks=tasks, labels=labels, probs=probs)


def _config(row: dict[str, Any]) -> dict[str, Any]:
    return {"source_trial": row.get("source_trial"), "params": params_of(row)}


def _cost(rows: list[dict[str, Any]]) -> Cost:
    def mean(values: list[Any]) -> float | None:
        finite = [float(v) for v in values if v is not None and np.isfinite(v)]
        return float(np.mean(finite)) if finite else None

    parameters = mean([r.get("model/parameters") for r in rows])
    fusion_parameters = mean([r.get("model/fusion_parameters") for r in rows])
    per_epoch = mean([r["train_s"] / r["epochs"] for r in rows if r.get("train_s") and r.get("epochs")])
    return Cost(
        parameters=int(parameters) if parameters is not None else None,
        train_s_per_epoch=per_epoch,
        infer_ms=mean([r.get("time/infer_ms") for r in rows]),
        fusion_parameters=int(fusion_parameters) if fusion_parameters is not None else None,
        infer_us_per_sample=mean([r.get("time/infer_us_per_sample") for r in rows]),
        peak_memory_mb=mean([r.get("cost/peak_memory_mb") for r in rows]),
        attention={
            key.removeprefix(ATTENTION): value
            for key in dict.fromkeys(k for r in rows for k in r if k.startswith(ATTENTION))
            if (value := mean([r.get(key) for r in rows])) is not None
        },
    )
