"""Make an MLflow store mirror a sweep's Parquet results: idempotent, so it can run any number of times.

Parquet is the source of truth; MLflow is its mirror. This one reconciliation serves three callers:
- ``sweeper sync SWEEP_DIR [--tracking-uri URI]`` publishes a sweep to a store (a team server, say) or repairs one;
- the live tracker replays what a tracking-server outage kept from MLflow once the server answers again;
- ``sweeper resume`` brings MLflow level with Parquet before the sweep goes on.

What makes it idempotent: the parent run is found again by the sweep's id (a tag), each child run by its trial id
(a tag), and only epochs after the last one a run holds are logged: every epoch's metrics go in one ``log_batch``
with ``epoch`` among them (value = step), so a run's latest ``epoch`` says how far it got, without reading a
metric history per run. Params are logged once, when a run is created; a trial that a resume discarded has its run
deleted.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeper.errors import SweepError
from sweeper.sweep_folder import ARTIFACTS_DIR, write_tracking
from sweeper.tracking._base import TrialStatus

RUN_STATUS = {
    TrialStatus.COMPLETED: "FINISHED",
    TrialStatus.PRUNED: "FINISHED",
    TrialStatus.FAILED: "FAILED",
    TrialStatus.INTERRUPTED: "KILLED",
}
_BATCH = 1000  # MLflow's limit of metrics per log_batch
_LOCATION = ("node_id", "node_ip", "hostname", "device")  # where a trial ran: Parquet columns, sweeper.* tags


@dataclass
class SyncCounts:
    """What one reconciliation changed."""

    created: int = 0
    epochs: int = 0
    ended: int = 0
    deleted: int = 0
    artifacts: int = 0

    def __str__(self) -> str:
        return (
            f"{self.created} runs created, {self.epochs} epochs logged, {self.ended} runs ended, "
            f"{self.deleted} discarded runs deleted, {self.artifacts} artifacts logged"
        )


@dataclass
class Mirror:
    """A sweep's parent run in one MLflow store and what its child runs hold: the state a tracker writes from."""

    client: Any  # MlflowClient
    experiment_id: str
    parent_run_id: str
    sweep: str
    objective: str
    default_fusion: str
    runs: dict[str, str] = field(default_factory=dict)  # trial_id -> run id
    steps: dict[str, int] = field(default_factory=dict)  # trial_id -> the last epoch logged
    status: dict[str, str] = field(default_factory=dict)  # trial_id -> the MLflow run status
    location: dict[str, dict[str, str]] = field(default_factory=dict)  # trial_id -> its sweeper.node_* tags

    def load_runs(self) -> None:
        """The parent's child runs, from the store. A trial with two runs (a create whose answer was lost when the
        server went away, then replayed) keeps the one with more epochs; the other is deleted."""
        from mlflow.entities import ViewType

        self.runs, self.steps, self.status, self.location = {}, {}, {}, {}
        query = f"tags.`mlflow.parentRunId` = '{self.parent_run_id}'"
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], query, run_view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token
            )
            for run in page:
                trial_id = run.data.tags.get("sweeper.trial_id")
                if not trial_id:
                    continue
                steps = int(run.data.metrics.get("epoch", 0))  # the latest epoch logged, without reading histories
                if not steps and self.objective in run.data.metrics:  # logged by an older sweeper, without 'epoch'
                    history = self.client.get_metric_history(run.info.run_id, self.objective)
                    steps = max((m.step for m in history), default=0)
                if trial_id in self.runs:
                    if steps <= self.steps.get(trial_id, 0):
                        self.client.delete_run(run.info.run_id)
                        continue
                    self.client.delete_run(self.runs[trial_id])
                self.runs[trial_id], self.steps[trial_id] = run.info.run_id, steps
                self.status[trial_id] = run.info.status
                tags = run.data.tags
                self.location[trial_id] = {k: v for k, v in tags.items() if k.removeprefix("sweeper.") in _LOCATION}
            token = page.token
            if not token:
                return

    def start_run(self, trial_id: str, params: dict[str, Any], run: dict[str, Any], status: str) -> str:
        """The child run of ``trial_id``, created with its tags and params if the store has none."""
        from mlflow.entities import Param

        if trial_id in self.runs:
            return self.runs[trial_id]
        created = self.client.create_run(
            self.experiment_id,
            run_name=run_name({"fusion": self.default_fusion, **params}, run),
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "sweeper.role": "trial",
                "sweeper.sweep": self.sweep,
                "sweeper.trial_id": trial_id,
                "fusion": str(params.get("fusion", self.default_fusion)),
                "status": status,
                **{f"sweeper.{k}": str(v) for k, v in run.items() if v is not None},
            },
        )
        run_id = str(created.info.run_id)
        if params:
            self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
        self.runs[trial_id] = run_id
        self.status[trial_id] = "RUNNING"
        return run_id

    def log_epochs(self, trial_id: str, epochs: list[dict[str, Any]]) -> int:
        """Log the epochs the run does not hold yet; returns how many were logged."""
        from mlflow.entities import Metric

        done = self.steps.get(trial_id, 0)
        new = [e for e in epochs if int(e["epoch"]) > done]
        if not new:
            return 0
        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, int(e["epoch"]))
            for e in new
            for k, v in e.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        for i in range(0, len(metrics), _BATCH):
            self.client.log_batch(self.runs[trial_id], metrics=metrics[i : i + _BATCH])
        self.steps[trial_id] = max(int(e["epoch"]) for e in new)
        return len(new)

    def tag_location(self, trial_id: str, location: dict[str, str]) -> None:
        """Where the trial ran (node id and IP, host, device), as ``sweeper.*`` tags; set again if it moved."""
        from mlflow.entities import RunTag

        wanted = {f"sweeper.{k}": v for k, v in location.items()}
        if wanted and self.location.get(trial_id) != wanted:
            self.client.log_batch(self.runs[trial_id], tags=[RunTag(k, v) for k, v in wanted.items()])
            self.location[trial_id] = wanted

    def end_run(self, trial_id: str, status: TrialStatus, error: str | None) -> bool:
        """Set the run's final status (and error); False if it already had it."""
        wanted = RUN_STATUS.get(status)
        if wanted is None or self.status.get(trial_id) == wanted:
            return False
        run_id = self.runs[trial_id]
        self.client.set_tag(run_id, "status", status.value)
        if error:
            self.client.set_tag(run_id, "error", error[:5000])
        self.client.set_terminated(run_id, status=wanted)
        self.status[trial_id] = wanted
        return True

    def reopen_run(self, trial_id: str) -> None:
        """A run that a resume continues is RUNNING again."""
        if trial_id in self.runs and self.status.get(trial_id) != "RUNNING":
            self.client.update_run(self.runs[trial_id], status="RUNNING")
            self.client.set_tag(self.runs[trial_id], "status", TrialStatus.RUNNING.value)
            self.status[trial_id] = "RUNNING"

    def delete_run(self, trial_id: str) -> bool:
        run_id = self.runs.pop(trial_id, None)
        if run_id is None:
            return False
        self.client.delete_run(run_id)
        return True

    def sync(self, sweep_dir: Path, param_names: list[str]) -> SyncCounts:
        """Bring every child run level with the sweep's Parquet results."""
        from sweeper.tracking.parquet import read_epochs, read_trials
        from sweeper.tracking.predictions import PREDICTIONS_DIR, PREDICTIONS_FILE

        counts = SyncCounts()
        try:
            trials = read_trials(sweep_dir, discarded=True).to_pylist()
        except SweepError:  # a sweep with no trial yet has nothing to mirror
            return counts
        try:
            epochs = read_epochs(sweep_dir).to_pylist()
        except SweepError:  # no epoch reported yet
            epochs = []
        by_trial: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in sorted(epochs, key=lambda r: (r["trial_id"], r["epoch"])):
            by_trial[row["trial_id"]].append({k: v for k, v in row.items() if "/" in k or k == "epoch"})
        for row in trials:
            trial_id = row["trial_id"]
            status = TrialStatus(row["status"])
            if status is TrialStatus.DISCARDED:
                counts.deleted += self.delete_run(trial_id)
                continue
            if trial_id not in self.runs:
                params = {n: row[f"config/{n}"] for n in param_names if row.get(f"config/{n}") is not None}
                run = {k: row.get(k) for k in ("stage", "seed", "fold", "folds", "source_trial")}
                self.start_run(trial_id, params, run, status.value)
                counts.created += 1
            counts.epochs += self.log_epochs(trial_id, by_trial.get(trial_id, []))
            self.tag_location(trial_id, {k: str(row[k]) for k in _LOCATION if row.get(k) is not None})
            predictions = Path(sweep_dir) / PREDICTIONS_DIR / f"{trial_id}.parquet"
            if predictions.is_file() and not self._has_artifact(trial_id, PREDICTIONS_FILE):
                self.log_predictions(trial_id, predictions)
                counts.artifacts += 1
            counts.ended += self.end_run(trial_id, status, row.get("error"))
        return counts

    def close_parent(self, sweep_dir: Path, stages: list[str], *, stopped_short: bool = False) -> None:
        """The parent's counts per stage and the trial table; FINISHED, or KILLED while trials are interrupted or
        the stage ``stopped_short`` of its planned trials (Ctrl-C between two trials)."""
        from mlflow.entities import Metric

        from sweeper.tracking.parquet import TRIALS_FILE, read_trials

        rows = read_trials(sweep_dir).to_pylist()
        now = int(time.time() * 1000)
        metrics, open_trials = [], 0
        for stage in stages:
            ours = [r for r in rows if r["stage"] == stage]
            prefix = "trials" if stage == "search" else stage
            for status in (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.FAILED, TrialStatus.INTERRUPTED):
                count = sum(r["status"] == status.value for r in ours)
                metrics.append(Metric(f"{prefix}_{status.value}", float(count), now, 0))
            open_trials += sum(not TrialStatus(r["status"]).ended for r in ours)
        self.client.log_batch(self.parent_run_id, metrics=metrics)
        if (Path(sweep_dir) / TRIALS_FILE).is_file():
            self.client.log_artifact(self.parent_run_id, str(Path(sweep_dir) / TRIALS_FILE))
        self.client.set_terminated(self.parent_run_id, status="KILLED" if open_trials or stopped_short else "FINISHED")

    def log_predictions(self, trial_id: str, path: Path) -> None:
        import shutil
        import tempfile

        from sweeper.tracking.predictions import PREDICTIONS_FILE

        with tempfile.TemporaryDirectory() as folder:
            named = Path(folder) / PREDICTIONS_FILE
            shutil.copyfile(path, named)
            self.client.log_artifact(self.runs[trial_id], str(named))

    def _has_artifact(self, trial_id: str, name: str) -> bool:
        return any(f.path == name for f in self.client.list_artifacts(self.runs[trial_id]))


def sweep_experiment(client: Any, sweep_dir: Path, sweep: str, tracking_uri: str) -> str:
    """The id of the experiment named after the sweep, made if missing (artifacts beside a SQLite store)."""
    experiment = client.get_experiment_by_name(sweep)
    if experiment is not None:
        return str(experiment.experiment_id)
    artifacts = None
    if tracking_uri.startswith("sqlite:"):
        artifacts = (Path(sweep_dir) / ARTIFACTS_DIR).resolve().as_uri()
    return str(client.create_experiment(sweep, artifact_location=artifacts))


def parent_run(
    client: Any, sweep_dir: Path, sweep: str, tracking_uri: str, sweep_params: dict[str, Any], spec_file: Path
) -> tuple[str, str, bool]:
    """(experiment id, parent run id, created) of the sweep in this store: found by its saved id or tag, else new.

    The experiment is named after the sweep (artifacts beside a SQLite store). ``tracking.json`` keeps the parent's
    id for the sweep's own store; in another store (``sweeper sync --tracking-uri``) the parent is found by tag.
    """
    from mlflow.entities import Param
    from mlflow.exceptions import MlflowException

    from sweeper.tracking.runs_view import save_runs_view

    info = write_tracking(sweep_dir)  # makes sure the sweep has an id
    experiment_id = sweep_experiment(client, sweep_dir, sweep, tracking_uri)
    saved = info.get("parent_run_id") if info.get("tracking_uri") == tracking_uri else None
    if saved:
        try:
            run = client.get_run(saved)
            if run.info.lifecycle_stage == "active":
                return experiment_id, str(saved), False
        except MlflowException:
            pass  # the store no longer holds it (a fresh server database): found by tag or made again below
    query = f"tags.`sweeper.role` = 'sweep' and tags.`sweeper.sweep_id` = '{info['sweep_id']}'"
    found = client.search_runs([experiment_id], query, max_results=1)
    if found:
        parent_id, created = str(found[0].info.run_id), False
    else:
        parent = client.create_run(
            experiment_id,
            run_name=sweep,
            tags={"sweeper.role": "sweep", "sweeper.sweep": sweep, "sweeper.sweep_id": info["sweep_id"]},
        )
        parent_id, created = str(parent.info.run_id), True
        client.log_batch(parent_id, params=[Param(k, str(v)) for k, v in sweep_params.items()])
        save_runs_view(client, client.get_run(parent_id))  # in every store, a team server's too, not only by `ui`
        if Path(spec_file).is_file():
            client.log_artifact(parent_id, str(spec_file))
    if info.get("tracking_uri") in (None, tracking_uri):  # the sweep's own store; a published copy is found by tag
        write_tracking(sweep_dir, tracking_uri=tracking_uri, parent_run_id=parent_id)
    return experiment_id, parent_id, created


_SHORT = {"fusion_layers": "L", "heads": "h", "rank": "r", "lr": "lr"}  # the name's parts, in this order


def run_name(params: dict[str, Any], run: dict[str, Any] | None = None) -> str:
    """A child run's readable name from its configuration, e.g. ``gated-L1-lr2e-03`` (confirmation runs add
    ``-seed1000-fold0``); the trial id stays in the ``sweeper.trial_id`` tag."""
    parts = [str(params.get("fusion", "concat"))]
    for key, short in _SHORT.items():
        value = params.get(key)
        if value is not None:
            parts.append(f"{short}{value:.0e}" if isinstance(value, float) else f"{short}{value}")
    for key in ("seed", "fold"):
        if run and run.get(key) is not None:
            parts.append(f"{key}{run[key]}")
    return "-".join(parts)
