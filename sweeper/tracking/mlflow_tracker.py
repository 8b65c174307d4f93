"""MLflow tracking from the driver: one parent run per sweep, one child run per trial.

Trial results reach the driver through Ray, so workers need no MLflow access. The default store is SQLite inside
the sweep folder (``sqlite:///<sweep>/mlflow.db``) with artifacts beside it; a server URI can be given instead.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sweeper.errors import SweepError
from sweeper.tracking._base import SweepCallback, TrialRecord, TrialStatus

MLFLOW_DB = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
TRACKING_FILE = "tracking.json"  # the sweep's tracking URI and parent run id, so a later stage logs under it
_RUN_STATUS = {
    TrialStatus.COMPLETED: "FINISHED",
    TrialStatus.PRUNED: "FINISHED",
    TrialStatus.FAILED: "FAILED",
}


def default_tracking_uri(sweep_dir: Path) -> str:
    return f"sqlite:///{(Path(sweep_dir) / MLFLOW_DB).resolve()}"


def check_tracking_uri(uri: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a tracking server nothing listens on; MLflow's client would retry for minutes."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "", port), timeout=timeout_s).close()
    except OSError as exc:
        raise SweepError(f"cannot reach the MLflow tracking server at {uri!r}: {exc.strerror or exc}") from None


class MlflowTracker(SweepCallback):
    """Mirrors a sweep into MLflow: the experiment is named after the sweep; the parent run carries the spec."""

    def __init__(
        self,
        sweep_dir: Path,
        sweep: str,
        tracking_uri: str | None,
        spec_file: Path,
        sweep_params: dict[str, Any],
        default_fusion: str = "concat",
        *,
        stage: str = "search",
    ) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.sweep = sweep
        self.tracking_uri = tracking_uri or default_tracking_uri(self.sweep_dir)
        self.spec_file = spec_file
        self.sweep_params = sweep_params
        self.default_fusion = default_fusion  # the fusion of trials whose space does not sample one
        self.stage = stage  # search: a new parent run; a later stage (confirm) logs under the saved one
        self.parent_run_id: str | None = None
        self._runs: dict[str, str] = {}  # trial_id -> MLflow run id

    def __getstate__(self) -> dict:
        # Ray Tune pickles its callbacks with the experiment; the client is made again in on_sweep_start.
        return {k: v for k, v in self.__dict__.items() if k != "client"}

    def on_sweep_start(self) -> None:
        for name in ("alembic", "mlflow.store.db.utils"):  # schema migrations of a new SQLite store
            logging.getLogger(name).setLevel(logging.WARNING)
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            self.client = MlflowClient(self.tracking_uri)
            self.experiment_id = self._experiment()
            saved = read_tracking(self.sweep_dir)
            if self.stage != "search" and saved.get("parent_run_id"):
                self.parent_run_id = str(saved["parent_run_id"])
                self.client.update_run(self.parent_run_id, status="RUNNING")
                return
            parent = self.client.create_run(
                self.experiment_id,
                run_name=self.sweep,
                tags={"sweeper.role": "sweep", "sweeper.sweep": self.sweep},
            )
            self.parent_run_id = parent.info.run_id
            self._log_params(self.parent_run_id, self.sweep_params)
            self.client.log_artifact(self.parent_run_id, str(self.spec_file))
            info = {"tracking_uri": self.tracking_uri, "parent_run_id": self.parent_run_id}
            (self.sweep_dir / TRACKING_FILE).write_text(json.dumps(info, indent=2))
        except MlflowException as exc:  # a refusing server or store: the user's setting, said in one line
            message = str(exc.message).splitlines()[0]
            raise SweepError(f"MLflow at {self.tracking_uri!r} refused the sweep: {message}") from None

    def _experiment(self) -> str:
        """The id of the experiment named after the sweep, created (artifacts beside a SQLite store) if new."""
        experiment = self.client.get_experiment_by_name(self.sweep)
        if experiment is not None:
            return str(experiment.experiment_id)
        artifacts = None
        if self.tracking_uri.startswith("sqlite:"):
            artifacts = (self.sweep_dir / ARTIFACTS_DIR).resolve().as_uri()
        return str(self.client.create_experiment(self.sweep, artifact_location=artifacts))

    def on_trial_start(self, trial: TrialRecord) -> None:
        assert self.parent_run_id is not None, "on_sweep_start must run first"
        run = self.client.create_run(
            self.experiment_id,
            run_name=trial.trial_id,
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "sweeper.role": "trial",
                "sweeper.sweep": self.sweep,
                "sweeper.trial_id": trial.trial_id,
                "fusion": str(trial.params.get("fusion", self.default_fusion)),
                "status": TrialStatus.RUNNING.value,
                **{f"sweeper.{k}": str(v) for k, v in trial.run.items() if v is not None},
            },
        )
        self._runs[trial.trial_id] = run.info.run_id
        self._log_params(run.info.run_id, trial.params)

    def on_predictions(self, trial: TrialRecord, table: Any) -> None:
        import tempfile

        from sweeper.tracking.predictions import PREDICTIONS_FILE, write_predictions

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / PREDICTIONS_FILE
            write_predictions(table, path)
            self.client.log_artifact(self._runs[trial.trial_id], str(path))

    def on_epoch(self, trial: TrialRecord, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        step = int(metrics["epoch"])
        now = int(time.time() * 1000)
        # Metric names are kept as reported ('val/agree/acc'), so Parquet and MLflow columns match.
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if k != "epoch"]
        self.client.log_batch(self._runs[trial.trial_id], metrics=batch)

    def on_trial_end(self, trial: TrialRecord) -> None:
        run_id = self._runs.get(trial.trial_id)
        if run_id is None:  # failed before it started
            self.on_trial_start(trial)
            run_id = self._runs[trial.trial_id]
        self.client.set_tag(run_id, "status", trial.status.value)
        if trial.error:
            self.client.set_tag(run_id, "error", trial.error[:5000])
        self.client.set_terminated(run_id, status=_RUN_STATUS.get(trial.status, "FINISHED"))

    def on_sweep_end(self, trials: list[TrialRecord]) -> None:
        if self.parent_run_id is None:
            return
        counts = {s.value: sum(t.status is s for t in trials) for s in TrialStatus}
        prefix = "trials" if self.stage == "search" else self.stage
        self.client.log_batch(
            self.parent_run_id,
            metrics=[_metric(f"{prefix}_{k}", v) for k, v in counts.items()],
        )
        results = self.sweep_dir / "results" / "trials.parquet"
        if results.is_file():
            self.client.log_artifact(self.parent_run_id, str(results))
        self.client.set_terminated(self.parent_run_id, status="FINISHED")

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])


def read_tracking(sweep_dir: Path) -> dict[str, Any]:
    """What the search stage saved: the tracking URI and the parent run id (empty for an older sweep)."""
    path = Path(sweep_dir) / TRACKING_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _metric(key: str, value: float) -> Any:
    from mlflow.entities import Metric

    return Metric(key, float(value), int(time.time() * 1000), 0)
