"""Results as Parquet, the source of truth: one row per (trial, epoch), appended as results arrive.

Every reported epoch is written at once as its own small Parquet file under ``results/epochs/``, so a crash loses
nothing already reported; ``read_epochs`` reads them back as one table. ``results/trials.parquet`` holds one row
per trial (status, configuration, final and best metrics) and is replaced atomically whenever a trial ends. Rows carry
the stage that ran them (``search`` or ``confirm``, with ``seed``, ``fold`` and ``folds``); a later stage keeps the
rows of earlier ones. Confirmation runs' per-sample predictions go to ``results/predictions/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sweeper.errors import SweepError
from sweeper.tracking._base import SweepCallback, TrialRecord, TrialStatus
from sweeper.tracking.predictions import PREDICTIONS_DIR, write_predictions

EPOCHS_DIR = Path("results") / "epochs"
TRIALS_FILE = Path("results") / "trials.parquet"


class ParquetResults(SweepCallback):
    """Writes ``results/`` under a sweep folder; ``param_names`` become ``config/<name>`` columns in every row."""

    def __init__(self, sweep_dir: Path, sweep: str, param_names: list[str], objective: str, mode: str) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.sweep = sweep
        self.param_names = param_names
        self.objective = objective
        self.mode = mode
        self._trials: dict[str, TrialRecord] = {}
        self._earlier: list[dict[str, Any]] = []  # rows of an earlier stage of this sweep, kept as they are

    def on_sweep_start(self) -> None:
        (self.sweep_dir / EPOCHS_DIR).mkdir(parents=True, exist_ok=True)
        if (self.sweep_dir / TRIALS_FILE).is_file():
            self._earlier = read_trials(self.sweep_dir).to_pylist()

    def on_predictions(self, trial: TrialRecord, table: pa.Table) -> None:
        write_predictions(table, self.sweep_dir / PREDICTIONS_DIR / f"{trial.trial_id}.parquet")

    def on_trial_start(self, trial: TrialRecord) -> None:
        self._trials[trial.trial_id] = trial

    def on_epoch(self, trial: TrialRecord, metrics: dict[str, float]) -> None:
        epoch = int(metrics["epoch"])
        row = {
            "sweep": self.sweep,
            "trial_id": trial.trial_id,
            **_run_columns(trial),
            **self._config(trial),
            **metrics,
            "epoch": epoch,
        }
        path = self.sweep_dir / EPOCHS_DIR / f"{trial.trial_id}-{epoch:04d}.parquet"
        _write_atomic(pa.Table.from_pylist([row]), path)

    def on_trial_end(self, trial: TrialRecord) -> None:
        self._trials[trial.trial_id] = trial
        self.write_summary()

    def on_sweep_end(self, trials: list[TrialRecord]) -> None:
        for trial in trials:
            self._trials.setdefault(trial.trial_id, trial)
        self.write_summary()

    def write_summary(self) -> None:
        ours = set(self._trials)
        earlier = [r for r in self._earlier if r["trial_id"] not in ours]
        rows = earlier + [self._summary(t) for t in self._trials.values()]
        if rows:
            columns = list(dict.fromkeys(k for row in rows for k in row))  # union, in first-seen order
            table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
            _write_atomic(table, self.sweep_dir / TRIALS_FILE)

    def _config(self, trial: TrialRecord) -> dict[str, Any]:
        return {f"config/{name}": trial.params.get(name) for name in self.param_names}

    def _summary(self, trial: TrialRecord) -> dict[str, Any]:
        last = trial.epochs[-1] if trial.epochs else {}
        scores = [e[self.objective] for e in trial.epochs if self.objective in e]
        best = (max if self.mode == "max" else min)(scores) if scores else None
        return {
            "sweep": self.sweep,
            "trial_id": trial.trial_id,
            "status": trial.status.value,
            **_run_columns(trial),
            "epochs": int(last.get("epoch", 0)),
            **self._config(trial),
            "objective": last.get(self.objective),
            "best_objective": best,
            "train_s": last.get("time/train_s"),
            "wall_s": trial.wall_s,
            "started_at": trial.started_at,
            "ended_at": trial.ended_at,
            "error": trial.error,
            **{k: v for k, v in last.items() if k not in ("epoch", "time/epoch_s", "time/train_s")},
        }


def _run_columns(trial: TrialRecord) -> dict[str, Any]:
    run = trial.run
    return {
        "stage": run.get("stage", "search"),
        "seed": run.get("seed"),
        "fold": run.get("fold"),
        "folds": run.get("folds"),
        "source_trial": run.get("source_trial"),
    }


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_epochs(sweep_dir: str | Path) -> pa.Table:
    """Every (trial, epoch) row written so far, columns unified across files (missing values are null)."""
    files = sorted((Path(sweep_dir) / EPOCHS_DIR).glob("*.parquet"))
    if not files:
        raise SweepError(f"no results in {str(sweep_dir)!r}: expected Parquet files under {EPOCHS_DIR}/")
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def read_trials(sweep_dir: str | Path) -> pa.Table:
    """The trial summary: one row per trial with its status, configuration and final metrics."""
    path = Path(sweep_dir) / TRIALS_FILE
    if not path.is_file():
        raise SweepError(f"{str(sweep_dir)!r} is not a sweep folder: {TRIALS_FILE} is missing")
    return pq.read_table(path)


__all__ = ["ParquetResults", "TrialStatus", "read_epochs", "read_trials"]
