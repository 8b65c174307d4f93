"""Results as Parquet, the source of truth: one row per (trial, epoch) and one per trial, appended as results arrive.

Two append-only logs under ``results/`` (see ``results_log``): ``epochs/`` with one row per reported (trial, epoch)
and ``trials/`` with a trial's row each time its state changes (started, ended, interrupted, discarded). Every row
is on disk when its hook returns, so a crash loses nothing already reported; readers keep the last row per
(trial, epoch) and per trial, so a resumed trial that reports an epoch again is read once. ``results/trials.parquet``
is the trial table exported at the end of each stage, for people and tools that want one file.

Rows carry the stage that ran them (``search`` or ``confirm``, with ``seed``, ``fold`` and ``folds``). A trial that
a resume discarded (it ran after Ray Tune last saved its state, so Tune runs a new trial in its place) keeps a
``discarded`` row; readers leave it and its epochs out. Confirmation runs' per-sample predictions go to
``results/predictions/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sweeper.errors import SweepError
from sweeper.tracking._base import SweepCallback, TrialRecord, TrialStatus
from sweeper.tracking.predictions import PREDICTIONS_DIR, write_predictions
from sweeper.tracking.results_log import ResultsLog, read_log

EPOCHS_DIR = Path("results") / "epochs"
TRIALS_LOG_DIR = Path("results") / "trials"
TRIALS_FILE = Path("results") / "trials.parquet"
FETCHED_FROM = "fetched_from.txt"  # in a copy of a sweep fetched from storage (`sweeper recommend s3://...`): its URI
EPOCH_KEY = ("trial_id", "epoch")
TRIAL_KEY = ("trial_id",)


class ParquetResults(SweepCallback):
    """Writes ``results/`` under a sweep folder; ``param_names`` become ``config/<name>`` columns in every row."""

    def __init__(self, sweep_dir: Path, sweep: str, param_names: list[str], objective: str, mode: str) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.sweep = sweep
        self.param_names = param_names
        self.objective = objective
        self.mode = mode
        self.epochs = ResultsLog(self.sweep_dir / EPOCHS_DIR, EPOCH_KEY, rows_per_part=5000)
        self.trials = ResultsLog(self.sweep_dir / TRIALS_LOG_DIR, TRIAL_KEY, rows_per_part=1000)

    def on_predictions(self, trial: TrialRecord, table: pa.Table) -> None:
        write_predictions(table, self.sweep_dir / PREDICTIONS_DIR / f"{trial.trial_id}.parquet")

    def on_trial_start(self, trial: TrialRecord) -> None:
        self.trials.append(self._summary(trial))

    def on_epoch(self, trial: TrialRecord, metrics: dict[str, float]) -> None:
        row = {
            "sweep": self.sweep,
            "trial_id": trial.trial_id,
            **_run_columns(trial),
            **self._config(trial),
            **metrics,
            "epoch": int(metrics["epoch"]),
        }
        self.epochs.append(row)

    def on_trial_end(self, trial: TrialRecord) -> None:
        self.trials.append(self._summary(trial))

    def on_sweep_end(self, trials: list[TrialRecord]) -> None:
        self.epochs.compact(full=True)
        self.trials.compact(full=True)
        table = read_log(self.sweep_dir / TRIALS_LOG_DIR, TRIAL_KEY)
        if table is not None:
            _write_atomic(_without_discarded(table), self.sweep_dir / TRIALS_FILE)

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
            "retries": trial.retries,
            **{k: trial.location.get(k) for k in ("node_id", "node_ip", "hostname", "device")},
            **{k: v for k, v in last.items() if k not in ("epoch", "time/epoch_s", "time/train_s")},
        }


def _run_columns(trial: TrialRecord) -> dict[str, Any]:
    run = trial.run
    return {
        "stage": run.get("stage", "search"),
        "experiment": run.get("experiment"),
        "seed": run.get("seed"),
        "fold": run.get("fold"),
        "folds": run.get("folds"),
        "source_trial": run.get("source_trial"),
    }


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _without_discarded(trials: pa.Table) -> pa.Table:
    return trials.filter(pc.not_equal(trials["status"], TrialStatus.DISCARDED.value))


def _trial_log(sweep_dir: Path) -> pa.Table | None:
    return read_log(Path(sweep_dir) / TRIALS_LOG_DIR, TRIAL_KEY)


def read_epochs(sweep_dir: str | Path) -> pa.Table:
    """Every (trial, epoch) row written so far, once each, columns unified (missing values are null)."""
    sweep_dir = Path(sweep_dir)
    table = read_log(sweep_dir / EPOCHS_DIR, EPOCH_KEY)
    if table is None:
        raise SweepError(f"no results in {str(sweep_dir)!r}: expected Parquet files under {EPOCHS_DIR}/")
    trials = _trial_log(sweep_dir)
    if trials is not None:
        gone = trials.filter(pc.equal(trials["status"], TrialStatus.DISCARDED.value))["trial_id"]
        if len(gone):
            table = table.filter(pc.invert(pc.is_in(table["trial_id"], value_set=gone)))
    return table


def read_trials(sweep_dir: str | Path, *, discarded: bool = False) -> pa.Table:
    """The trial table: one row per trial with its status, configuration and latest metrics.

    Trials a resume discarded are left out unless ``discarded``.
    """
    sweep_dir = Path(sweep_dir)
    table = _trial_log(sweep_dir)
    if table is None:
        path = sweep_dir / TRIALS_FILE  # a table written whole (hand-built sweeps)
        if not path.is_file():
            raise SweepError(f"{str(sweep_dir)!r} is not a sweep folder: {TRIALS_FILE} is missing")
        table = pq.read_table(path)
    return table if discarded else _without_discarded(table)


def read_experiment(
    sweep_dir: str | Path, experiment: str, *, discarded: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trial rows and the epoch rows of one Tune experiment of a sweep (``ray``, ``ray-confirm``, ...): what a
    resume continues; both empty for a new sweep."""
    try:
        rows = read_trials(sweep_dir, discarded=discarded).to_pylist()
        trials = [t for t in rows if t.get("experiment") == experiment]
        epochs = read_epochs(sweep_dir).to_pylist() if trials else []
    except SweepError:  # nothing written yet
        return [], []
    return trials, epochs


__all__ = ["ParquetResults", "TrialStatus", "read_epochs", "read_trials"]
