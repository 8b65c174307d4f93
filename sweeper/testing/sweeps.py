"""Reusable test material: a sweep folder written by hand, to test recommendations without Ray.

``write_sweep`` writes exactly what a real sweep leaves for ``sweeper recommend`` (spec.yaml, results/trials.parquet
and per-run predictions), with predictions drawn so that each family is right on a chosen fraction of samples.
Families given the same accuracy *and* the same ``twin`` name get identical predictions (one family under two
names): a tie by construction. ``confirmation_runs`` yields the same runs (predictions and the metrics they give)
for writing a sweep another way, e.g. through ``ParquetResults``'s hooks as ``benchmarks/results_scale.py`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sweeper.recommend import stats
from sweeper.tracking.parquet import TRIALS_FILE
from sweeper.tracking.predictions import PREDICTIONS_DIR, predictions_table, write_predictions

# The smallest real sweep spec that exercises everything: four fusion families, conditional parameters, ASHA, seeds
# and cross-validation. The tests' fixtures and benchmarks/chaos.py start from it.
TINY: dict[str, Any] = {
    "name": "tiny",
    "data": {"n_samples": 400, "seed": 0},
    "model": {"hidden_dim": 8},
    "train": {"batch_size": 64},
    "parameters": {
        "fusion": {"type": "choice", "values": ["concat", "gated", "cross_attention", "low_rank"]},
        "heads": {"type": "choice", "values": [1, 2], "when": {"fusion": ["cross_attention"]}},
        "rank": {"type": "int", "low": 2, "high": 8, "log": True, "when": {"fusion": ["low_rank"]}},
        "lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
    },
    # One trial at a time keeps ASHA's decisions deterministic (seeded data, model, sampler).
    "budget": {"num_samples": 8, "max_epochs": 3, "grace_period": 1, "reduction_factor": 3, "max_concurrent": 1},
    # Two seeds x two folds per family: the least that exercises seeds, cross-validation and paired intervals.
    "confirm": {"seeds": 2, "folds": 2},
}


@dataclass
class Family:
    accuracy: float  # chance that a prediction is right (per task, per sample, per seed)
    parameters: int = 1000
    train_s: float = 1.0
    fusion_parameters: int = 100
    peak_memory_mb: float = 10.0
    attention: dict[str, float] = field(default_factory=dict)  # modality -> mean attention (attention fusions)
    twin: str | None = None  # draw predictions exactly as this other family does
    search_status: str = "completed"  # how its search trial ended (completed or pruned)
    failed: str | None = None  # every confirmation run failed with this error


@dataclass
class Layout:
    n_val: int = 300
    n_test: int = 200
    seeds: int = 3
    tasks: dict[str, int] = field(default_factory=lambda: {"a": 2, "b": 3})  # task -> classes
    objective: str = "val/mean_macro_f1"
    mode: str = "max"
    seed: int = 0


@dataclass
class ConfirmationRun:
    """One confirmation run of a family: its predictions and the metrics they give, or the error it failed with."""

    family: str
    trial_id: str
    seed: int
    outputs: dict[str, dict[str, Any]] | None  # split -> {index, labels, probs} (``predictions_table``); None: failed
    metrics: dict[str, float]  # "<split>/<task>/<metric>", "<split>/mean_<metric>", "<split>/loss"
    error: str | None = None


def write_sweep(folder: Path, families: dict[str, Family], layout: Layout | None = None) -> Path:
    """A confirmed sweep named after ``folder``; returns ``folder``."""
    layout = layout or Layout()
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"name": folder.name, "objective": {"metric": layout.objective, "mode": layout.mode}, "parameters": {}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    rows: list[dict[str, Any]] = []
    for name, family in families.items():
        epochs = 4 if family.search_status == "completed" else 2
        rows.append({**_row(name, f"s-{name}", "search", family.search_status, epochs, None, family),
                     layout.objective: family.accuracy})  # fmt: skip
    for run in confirmation_runs(families, layout):
        family = families[run.family]
        if run.outputs is None:
            failed = _row(run.family, run.trial_id, "confirm", "failed", 1, run.seed, family)
            rows.append({**failed, "error": run.error})
            continue
        write_predictions(predictions_table(run.outputs), folder / PREDICTIONS_DIR / f"{run.trial_id}.parquet")
        rows.append(_row(run.family, run.trial_id, "confirm", "completed", 4, run.seed, family) | run.metrics)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    (folder / TRIALS_FILE).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows]), folder / TRIALS_FILE)
    return folder


def confirmation_runs(families: dict[str, Family], layout: Layout) -> Iterator[ConfirmationRun]:
    """``layout.seeds`` runs per family, family by family, seeds from 1000; trial ids ``c-<family>-<seed>``."""
    rng = np.random.default_rng(layout.seed)
    labels = {
        split: {t: rng.integers(0, c, size=n) for t, c in layout.tasks.items()}
        for split, n in (("val", layout.n_val), ("test", layout.n_test))
    }
    for name, family in families.items():
        for seed in range(1000, 1000 + layout.seeds):
            trial = f"c-{name}-{seed}"
            if family.failed:
                yield ConfirmationRun(name, trial, seed, None, {}, family.failed)
                continue
            draw = np.random.default_rng([layout.seed, seed, _key(family.twin or name)])
            outputs = {s: _outputs(draw, labels[s], family.accuracy, layout.tasks) for s in ("val", "test")}
            yield ConfirmationRun(name, trial, seed, outputs, _metrics(outputs, layout.tasks))


def _row(name: str, trial: str, stage: str, status: str, epochs: int, seed: int | None, family: Family) -> dict:
    return {
        "sweep": "hand", "trial_id": trial, "status": status, "stage": stage, "seed": seed, "fold": None,
        "folds": None, "source_trial": f"s-{name}" if stage == "confirm" else None, "epochs": epochs,
        "config/fusion": name, "config/lr": 0.003, "train_s": family.train_s * epochs, "error": None,
        "model/parameters": float(family.parameters), "time/infer_ms": 1.0,
        "model/fusion_parameters": float(family.fusion_parameters), "time/infer_us_per_sample": 20.0,
        "cost/peak_memory_mb": family.peak_memory_mb,
        **{f"val/attention/{m}": w for m, w in family.attention.items()},
    }  # fmt: skip


def _outputs(rng: np.random.Generator, labels: dict[str, np.ndarray], accuracy: float, tasks: dict) -> dict:
    n = len(next(iter(labels.values())))
    probs = {}
    for task, classes in tasks.items():
        right = rng.random(n) < accuracy
        other = (labels[task] + rng.integers(1, classes, size=n)) % classes
        predicted = np.where(right, labels[task], other)
        p = rng.dirichlet(np.ones(classes), size=n) * 0.4
        p[np.arange(n), predicted] += 0.6
        probs[task] = p.astype(np.float32)
    return {"index": np.arange(n), "labels": labels, "probs": probs}


def _metrics(outputs: dict, tasks: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for split, o in outputs.items():
        for m in ("acc", "macro_f1", "auroc", "loss"):
            values = [float(stats.metric_values(m, o["probs"][t], o["labels"][t], np.ones((1, len(o["index"]))))[0])
                      for t in tasks]  # fmt: skip
            for t, v in zip(tasks, values, strict=True):
                out[f"{split}/{t}/{m}"] = v
            out[f"{split}/loss" if m == "loss" else f"{split}/mean_{m}"] = sum(values) / (
                1 if m == "loss" else len(values)
            )
    return out


def _key(name: str) -> int:
    return sum((i + 1) * ord(ch) for i, ch in enumerate(name))
