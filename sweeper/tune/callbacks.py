"""The bridge from Ray Tune's driver-side callback hooks to sweeper's trackers (Parquet, MLflow, the terminal).

The bridge is built from the sweep folder alone (its ``spec.yaml`` and ``tracking.json``), so the copy that Ray Tune
pickles into ``tuner.pkl`` and gives back on ``Tuner.restore`` works the same as the first: it starts its trackers in
``setup`` and reads back from Parquet the trials of its Tune experiment that ran before. On a resume it then
reconciles, at the first step, what Parquet holds with what Tune restored:
- a trial Parquet has but Tune does not (it ran after Tune last saved) is discarded: Tune runs a new trial in its
  place, so the sweep still ends with ``num_samples`` trials;
- a trial that Parquet says ended is not reported again (ASHA stops it at once if Tune resumes it);
- an epoch reported again (a trial resumed from an earlier checkpoint) replaces the earlier report.
When the experiment ends with trials still running (Ctrl-C, or an error in Tune itself), they are recorded as
interrupted, and ``sweeper resume`` continues them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from sweeper.sweep_folder import SPEC_FILE, default_tracking_uri, load_sweep_spec, read_tracking
from sweeper.tracking import MlflowTracker, ParquetResults, SweepCallback, TrialRecord, TrialStatus
from sweeper.tracking.console import ConsoleProgress
from sweeper.tracking.mlflow_tracker import sweep_params
from sweeper.tune.relocation import restoring
from sweeper.tune.stopping import StopRequest, is_disk_full
from sweeper.tune.storage import StorageMirror, sweep_storage
from sweeper.tune.trainable import CONFIRM_KEY, DEVICE_KEY, NODE_ID_KEY, USER_ERROR_KEY, reported_epochs
from sweeper.tune.workers import prestart_workers

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec

LOCATION_KEYS = (NODE_ID_KEY, "node_ip", "hostname", DEVICE_KEY)  # node_ip and hostname: Tune fills them in


class TrackerBridge(Callback):
    """Turns Ray's per-trial events into ``SweepCallback`` hooks, in order, with the trial's final status.

    ``experiment`` is the Tune experiment's folder name under the sweep (``ray`` for the search); ``total`` is the
    number of trials it runs, for the progress lines.
    """

    def __init__(self, sweep_dir: Path, stage: str, experiment: str, total: int, *, quiet: bool = False) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.stage = stage
        self.experiment = experiment
        self.total = total
        self.quiet = quiet
        self.trackers: list[SweepCallback] = []
        self.records: dict[str, TrialRecord] = {}
        self.param_names: list[str] = []
        self.max_epochs = 0
        self._started = False
        self._reconciled = False

    def __getstate__(self) -> dict:
        # Pickled into tuner.pkl before the sweep starts; the restored copy rebuilds everything in setup.
        return {**self.__dict__, "trackers": [], "records": {}, "_started": False, "_reconciled": False}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.sweep_dir = restoring() or self.sweep_dir  # the folder as it is now, if it was moved since

    def setup(self, *args: Any, **info: Any) -> None:
        self.start()  # Tune calls this on a new experiment and on a restored one alike

    def start(self) -> None:
        """Build and start the trackers; done before Tune starts, so a bad tracking URI fails before any trial."""
        if self._started:
            return
        spec = load_sweep_spec(self.sweep_dir)
        self.param_names = list(spec.parameters)
        self.max_epochs = spec.budget.max_epochs
        self.records = earlier_records(self.sweep_dir, self.experiment)
        self.trackers = make_trackers(spec, self.sweep_dir, self.stage, self.total, quiet=self.quiet)
        progress = self.trackers[-1]
        progress.ended = sum(r.status.ended for r in self.records.values())  # type: ignore[attr-defined]
        for tracker in self.trackers:
            tracker.on_sweep_start()
        self._started = True

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if self._reconciled:
            return
        self._reconciled = True
        known = {t.trial_id for t in trials}
        for record in list(self.records.values()):
            if record.trial_id not in known and record.status is not TrialStatus.DISCARDED:
                record.status, record.ended_at = TrialStatus.DISCARDED, time.time()
                for tracker in self.trackers:
                    tracker.on_trial_end(record)

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        record = self.records.get(trial.trial_id)
        if record is not None and not record.status.ended:  # resumed: running again
            record.status = TrialStatus.RUNNING
            for tracker in self.trackers:
                tracker.on_trial_start(record)
        self._record(trial)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        record = self._record(trial)
        if record.status.ended:
            return
        if USER_ERROR_KEY in result:  # a mistake in the configuration: the trial ends as failed, not retried
            record.error = str(result[USER_ERROR_KEY])
        else:
            record.location = {k: str(result[k]) for k in LOCATION_KEYS if result.get(k) is not None}
            record.wall_s = float(result.get("time_total_s", 0.0))
        for reported in reported_epochs(result):
            metrics = {k: float(v) for k, v in reported.items() if _is_metric(k, v)}
            epoch = metrics.get("epoch", 0.0)
            record.epochs = [e for e in record.epochs if e.get("epoch", 0.0) < epoch] + [metrics]
            for tracker in self.trackers:
                tracker.on_epoch(record, metrics)

    def on_checkpoint(self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any, **info: Any) -> None:
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        from sweeper.tracking.predictions import PREDICTIONS_FILE

        record = self._record(trial)
        if CONFIRM_KEY not in trial.config or record.status.ended:
            return
        # Read in place: as_directory() copies a checkpoint on a filesystem other than pyarrow's LocalFileSystem (the
        # sweep's storage is one) to a temp folder, under a lock in <tmp>/_ray_lockfiles, which another user of the
        # machine may own (ray-project/ray#32776): the copy then fails, and the run's predictions were lost.
        path = f"{checkpoint.path}/{PREDICTIONS_FILE}"
        if checkpoint.filesystem.get_file_info(path).type != pafs.FileType.File:
            return  # only the last epoch's checkpoint holds predictions
        table = pq.read_table(path, filesystem=checkpoint.filesystem)
        for tracker in self.trackers:
            tracker.on_predictions(record, table)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        record = self._record(trial)
        self._end(trial, error=record.error)  # set by a reported mistake in its configuration

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        record = self._record(trial)  # its worker died; Tune restarts it from its last checkpoint
        record.retries += 1
        if is_disk_full(error := _error_text(trial)):  # a retry would fail the same way: stop, to resume later
            StopRequest.on_disk_full(error)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        if is_disk_full(error := _error_text(trial)):
            StopRequest.on_disk_full(error)
        self._end(trial, error=error)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        for record in self.records.values():
            if record.status is TrialStatus.RUNNING:  # still running when the experiment stopped: Ctrl-C
                record.status, record.ended_at = TrialStatus.INTERRUPTED, time.time()
                for tracker in self.trackers:
                    tracker.on_trial_end(record)
        for tracker in self.trackers:
            tracker.on_sweep_end(list(self.records.values()))

    def _record(self, trial: Trial) -> TrialRecord:
        if trial.trial_id not in self.records:
            run = trial.config.get(CONFIRM_KEY)
            config = run["params"] if run else trial.config
            params = {k: v for k, v in config.items() if k in self.param_names}
            record = TrialRecord(trial.trial_id, params, started_at=time.time())
            record.run = {"stage": self.stage, "experiment": self.experiment}
            if run:
                record.run |= {k: run.get(k) for k in ("seed", "fold", "folds", "source_trial")}
            self.records[trial.trial_id] = record
            for tracker in self.trackers:
                tracker.on_trial_start(record)
        return self.records[trial.trial_id]

    def _end(self, trial: Trial, error: str | None) -> None:
        record = self._record(trial)
        if record.status.ended:
            return
        last_epoch = int(record.epochs[-1]["epoch"]) if record.epochs else None
        record.status = TrialStatus.of(last_epoch, self.max_epochs, error=error is not None)
        record.ended_at = time.time()
        record.error = error
        for tracker in self.trackers:
            tracker.on_trial_end(record)


def earlier_records(sweep_dir: Path, experiment: str) -> dict[str, TrialRecord]:
    """The trials of Tune experiment ``experiment`` already in Parquet, with their epochs: what a resume continues."""
    from sweeper.tracking.parquet import read_experiment

    rows, epochs = read_experiment(sweep_dir, experiment, discarded=True)
    by_trial: dict[str, list[dict[str, Any]]] = {}
    for e in epochs:
        by_trial.setdefault(e["trial_id"], []).append({k: v for k, v in e.items() if _is_metric(k, v)})
    records = {}
    for row in rows:
        params = {k.removeprefix("config/"): v for k, v in row.items() if k.startswith("config/") and v is not None}
        record = TrialRecord(row["trial_id"], params, status=TrialStatus(row["status"]), error=row.get("error"))
        record.run = {k: row.get(k) for k in ("stage", "experiment", "seed", "fold", "folds", "source_trial")}
        record.wall_s, record.retries = row.get("wall_s") or 0.0, row.get("retries") or 0
        record.location = {k: row[k] for k in LOCATION_KEYS if row.get(k) is not None}
        record.started_at, record.ended_at = row.get("started_at"), row.get("ended_at")
        record.epochs = sorted(by_trial.get(record.trial_id, []), key=lambda e: e["epoch"])
        records[record.trial_id] = record
    return records


def _is_metric(key: str, value: Any) -> bool:
    """A reported metric ('val/loss', 'epoch'), not one of Tune's bookkeeping fields."""
    return ("/" in key or key == "epoch") and isinstance(value, int | float) and not isinstance(value, bool)


def _error_text(trial: Trial) -> str:
    path = trial.error_file
    if path and Path(path).is_file():
        lines = Path(path).read_text().strip().splitlines()
        return lines[-1] if lines else "unknown error"
    return "unknown error"


def make_trackers(spec: SweepSpec, sweep_dir: Path, stage: str, total: int, *, quiet: bool) -> list[SweepCallback]:
    """Parquet first (the source of truth, written before anything else), then MLflow, the copy to the storage if
    the sweep has one, then the terminal (last: the bridge reads the progress tracker as ``trackers[-1]``)."""
    tracking_uri = read_tracking(sweep_dir).get("tracking_uri") or default_tracking_uri(sweep_dir)
    return [
        ParquetResults(sweep_dir, spec.name, list(spec.parameters), spec.objective.metric, spec.objective.mode),
        MlflowTracker(
            sweep_dir,
            spec.name,
            tracking_uri,
            sweep_dir / SPEC_FILE,
            sweep_params(spec),
            default_fusion=spec.trial_config(spec.default_point()).model.fusion,
            objective=spec.objective.metric,
            param_names=list(spec.parameters),
            stage=stage,
            planned=total,
        ),
        *([StorageMirror(sweep_dir, storage)] if (storage := sweep_storage(sweep_dir)).uri else []),
        ConsoleProgress(total, spec.objective.metric, quiet=quiet, mode=spec.objective.mode),
    ]


class WarmNextStage(Callback):
    """Once every trial of this stage has started, has Ray start a worker for each slot a finished trial frees.

    ``planned``: the trials of this stage; ``slots``: how many run at once. Tune's trial actors, and the workers
    they hold, end with the stage, so the next stage's first trial on each slot would start a new process; these
    workers start while the stage's last trials still run, on the cores they leave idle.
    """

    def __init__(self, planned: int, slots: int) -> None:
        self.planned = planned
        self.slots = slots
        self.started = 0

    def __getstate__(self) -> dict:
        return {**self.__dict__, "started": 0}  # a restored stage runs in a new Ray

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._free_slot(trials, trial)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._free_slot(trials, trial)

    def _free_slot(self, trials: list[Trial], ended: Trial) -> None:
        if len(trials) < self.planned or any(t.status == Trial.PENDING for t in trials):
            return  # a trial of this stage will still take the slot
        running = sum(t.status == Trial.RUNNING for t in trials if t is not ended)
        wanted = self.slots - running - self.started
        if wanted > 0 and prestart_workers(wanted):
            self.started += wanted
