"""The bridge from Ray Tune's driver-side callback hooks to sweeper's trackers (Parquet, MLflow)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from sweeper.tracking import SweepCallback, TrialRecord, TrialStatus
from sweeper.tune.trainable import CONFIRM_KEY


class TrackerBridge(Callback):
    """Turns Ray's per-trial events into ``SweepCallback`` hooks, in order, with the trial's final status."""

    def __init__(self, trackers: list[SweepCallback], param_names: list[str], max_epochs: int) -> None:
        self.trackers = trackers
        self.param_names = param_names
        self.max_epochs = max_epochs
        self.records: dict[str, TrialRecord] = {}

    def start(self) -> None:
        """Start the trackers; called before Tune starts, so a bad tracking URI fails before any trial runs."""
        for tracker in self.trackers:
            tracker.on_sweep_start()

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._record(trial)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        record = self._record(trial)
        metrics = {k: float(v) for k, v in result.items() if ("/" in k or k == "epoch") and _is_number(v)}
        record.epochs.append(metrics)
        record.wall_s = float(result.get("time_total_s", 0.0))
        for tracker in self.trackers:
            tracker.on_epoch(record, metrics)

    def on_checkpoint(self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any, **info: Any) -> None:
        import pyarrow.parquet as pq

        from sweeper.tracking.predictions import PREDICTIONS_FILE

        if CONFIRM_KEY not in trial.config:
            return
        with checkpoint.as_directory() as folder:
            path = Path(folder) / PREDICTIONS_FILE
            if not path.is_file():  # only the last epoch's checkpoint holds predictions
                return
            table = pq.read_table(path)
        record = self._record(trial)
        for tracker in self.trackers:
            tracker.on_predictions(record, table)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._end(trial, error=None)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._end(trial, error=_error_text(trial))

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        for tracker in self.trackers:
            tracker.on_sweep_end(list(self.records.values()))

    def _record(self, trial: Trial) -> TrialRecord:
        if trial.trial_id not in self.records:
            run = trial.config.get(CONFIRM_KEY)
            config = run["params"] if run else trial.config
            params = {k: v for k, v in config.items() if k in self.param_names}
            record = TrialRecord(trial.trial_id, params, started_at=time.time())
            if run:
                record.run = {"stage": "confirm", **{k: run.get(k) for k in ("seed", "fold", "folds", "source_trial")}}
            self.records[trial.trial_id] = record
            for tracker in self.trackers:
                tracker.on_trial_start(record)
        return self.records[trial.trial_id]

    def _end(self, trial: Trial, error: str | None) -> None:
        record = self._record(trial)
        if record.status is not TrialStatus.RUNNING:
            return
        last_epoch = int(record.epochs[-1]["epoch"]) if record.epochs else None
        record.status = TrialStatus.of(last_epoch, self.max_epochs, error=error is not None)
        record.ended_at = time.time()
        record.error = error
        for tracker in self.trackers:
            tracker.on_trial_end(record)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _error_text(trial: Trial) -> str:
    path = trial.error_file
    if path and Path(path).is_file():
        lines = Path(path).read_text().strip().splitlines()
        return lines[-1] if lines else "unknown error"
    return "unknown error"
