"""MLflow tracking from the driver: one parent run per sweep, one child run per trial.

Trial results reach the driver through Ray, so workers need no MLflow access. The default store is SQLite inside
the sweep folder (``sqlite:///<sweep>/mlflow.db``) with artifacts beside it; a server URI can be given instead.

A tracking server that goes away does not stop the sweep: the tracker says so once, lets Parquet keep everything,
and every ``retry_s`` seconds tries to replay what MLflow missed from Parquet (``sync.Mirror.sync``). A sweep that
ends with the server still away says how to replay it later (``sweeper sync``).

After the start, writes go through one writer thread, in order: Ray Tune runs its callbacks in its event loop, and a
trial waits there for its report to be handled before it trains on, so an MLflow round trip per epoch (20 ms on a
local SQLite store, more to a server) would hold every trial. ``on_sweep_end`` waits for the writes still queued.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sweeper.errors import SweepError
from sweeper.sweep_folder import (
    SPEC_FILE,
    TRACKING_FILE,
    default_tracking_uri,
    load_sweep_spec,
    read_tracking,
    search_timed_out,
)
from sweeper.tracking._base import SweepCallback, TrialRecord, TrialStatus, ended_of_planned
from sweeper.tracking.sync import Mirror, SyncCounts, parent_run

# A tracking server that does not answer must not hold the sweep for minutes (MLflow's defaults: 7 retries with
# exponential backoff, 120 s timeout); the tracker retries by itself, from Parquet.
_HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    # A server store prints two "View run ... at" lines to stdout for every run ended; sweeper prints its own lines.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


# What the tracker's start imports (2 s on a 2-core machine), and `import_in_background` imports early.
_CLIENT_MODULES = ("mlflow.tracking", "mlflow.store.tracking.sqlalchemy_store")


def import_in_background() -> threading.Thread:
    """Import MLflow's client in a daemon thread, while the driver waits on something else (Ray starting).

    Python's import lock makes a later ``import mlflow`` wait for this one or find it done, so this only moves the
    work earlier. A failed import here is ignored: the tracker's own import raises it where it can be reported.
    """

    def run() -> None:
        import importlib

        for name in _CLIENT_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # reported by the tracker's own import
                return

    thread = threading.Thread(target=run, name="sweeper-import-mlflow", daemon=True)
    thread.start()
    return thread


_TRACKING_SCHEMES = ("", "http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks")


def check_tracking_uri(uri: str, timeout_s: float = 5.0) -> str:
    """Fail fast on a URI MLflow cannot use, or a tracking server nothing listens on (MLflow would retry for
    minutes). Returns the URI to use, without credentials (``take_credentials``)."""
    uri = take_credentials(uri)
    parsed = urlparse(uri)
    if parsed.scheme.split("+")[0] not in _TRACKING_SCHEMES:  # postgresql+psycopg2:// names a driver
        raise SweepError(
            f"unsupported MLflow tracking URI {redact(uri)!r}; expected http(s)://host:port, sqlite:///path/mlflow.db, "
            "a database URI (postgresql://, mysql://, mssql://), file:///path or a folder"
        )
    if parsed.scheme not in ("http", "https"):
        return uri
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "", port), timeout=timeout_s).close()
    except OSError as exc:
        raise SweepError(f"cannot reach the MLflow tracking server at {uri!r}: {exc.strerror or exc}") from None
    return uri


def take_credentials(uri: str) -> str:
    """A tracking server's ``user:password@`` moves to MLFLOW_TRACKING_USERNAME/PASSWORD (MLflow reads them) for this
    process, so the URI that is printed, logged and kept in ``tracking.json`` holds no secret. A resume in another
    process needs them again: from those variables, or from the URI given again."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not (parsed.username or parsed.password):
        return uri
    if parsed.username:
        os.environ["MLFLOW_TRACKING_USERNAME"] = unquote(parsed.username)
    if parsed.password:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = unquote(parsed.password)
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()


def redact(uri: str) -> str:
    """The URI with any password replaced by ``***`` (a database URI keeps its credentials, as MLflow needs them)."""
    parsed = urlparse(uri)
    if not parsed.password:
        return uri
    user = f"{parsed.username}:" if parsed.username else ":"
    return parsed._replace(netloc=f"{user}***@{parsed.netloc.rpartition('@')[2]}").geturl()


class MlflowTracker(SweepCallback):
    """Mirrors a sweep into MLflow: the experiment is named after the sweep; the parent run carries the spec.

    Every stage of a sweep (search, confirmation, a resume) logs under the same parent run. On start the tracker
    first brings MLflow level with the Parquet results already in the sweep folder, so a resumed sweep continues its
    runs instead of duplicating them.
    """

    def __init__(
        self,
        sweep_dir: Path,
        sweep: str,
        tracking_uri: str | None,
        spec_file: Path,
        sweep_params: dict[str, Any],
        default_fusion: str = "concat",
        *,
        objective: str,
        param_names: list[str],
        stage: str = "search",
        planned: int = 0,
        retry_s: float | None = None,
    ) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.sweep = sweep
        self.tracking_uri = tracking_uri or default_tracking_uri(self.sweep_dir)
        self.spec_file = spec_file
        self.sweep_params = sweep_params
        self.default_fusion = default_fusion  # the fusion of trials whose space does not sample one
        self.objective = objective
        self.param_names = param_names
        self.stage = stage
        self.planned = planned  # trials this stage runs: fewer ended at its end means it stopped short (Ctrl-C)
        # How often to try a store that went away: SWEEPER_MLFLOW_RETRY_S seconds (15 by default).
        self.retry_s = retry_s if retry_s is not None else float(os.environ.get("SWEEPER_MLFLOW_RETRY_S", "15"))
        self.mirror: Mirror | None = None
        self.down_since: float | None = None  # when the store stopped answering; None while it answers
        self._last_try = 0.0
        self._queue: queue.SimpleQueue[Any] | None = None  # writes waiting for the writer thread
        self._writer: threading.Thread | None = None

    @property
    def parent_run_id(self) -> str | None:
        return self.mirror.parent_run_id if self.mirror else None

    def __getstate__(self) -> dict:
        # Ray Tune pickles its callbacks with the experiment; the client is made again in on_sweep_start.
        return {**self.__dict__, "mirror": None, "_queue": None, "_writer": None}

    def on_sweep_start(self) -> None:
        """Connect, and bring MLflow level with Parquet. A new sweep fails here if the store refuses it; a sweep
        that has logged before (a resume, a later stage) goes on without MLflow and replays later."""
        for name in ("alembic", "mlflow.store.db.utils"):  # schema migrations of a new SQLite store
            logging.getLogger(name).setLevel(logging.WARNING)
        for key, value in _HTTP_SETTINGS.items():
            os.environ.setdefault(key, value)
        from mlflow.exceptions import MlflowException

        try:
            self._connect()
        except MlflowException as exc:
            if read_tracking(self.sweep_dir).get("parent_run_id"):
                self._went_away(exc)
                return
            message = str(exc.message).splitlines()[0]  # a refusing server or store: the user's setting
            raise SweepError(f"MLflow at {redact(self.tracking_uri)!r} refused the sweep: {message}") from None

    def _connect(self) -> None:
        from mlflow.tracking import MlflowClient

        from sweeper.tracking.sqlite_store import prepare_sqlite_store

        prepare_sqlite_store(self.tracking_uri)  # a new sweep's own store: copied, not migrated (1.4 s saved)
        client = MlflowClient(self.tracking_uri)
        experiment_id, parent_id, _ = parent_run(
            client, self.sweep_dir, self.sweep, self.tracking_uri, self.sweep_params, self.spec_file
        )
        mirror = Mirror(client, experiment_id, parent_id, self.sweep, self.objective, self.default_fusion)
        mirror.load_runs()
        mirror.sync(self.sweep_dir, self.param_names)  # a resumed sweep, or after an outage: what MLflow missed
        client.update_run(parent_id, status="RUNNING")
        self.mirror = mirror

    # Each write takes what it needs from the record now: it runs later, on the writer thread.
    def on_trial_start(self, trial: TrialRecord) -> None:
        trial_id, params, run = trial.trial_id, dict(trial.params), dict(trial.run)

        def start(mirror: Mirror) -> None:
            mirror.start_run(trial_id, params, run, TrialStatus.RUNNING.value)
            mirror.reopen_run(trial_id)

        self._write(start)

    def on_predictions(self, trial: TrialRecord, table: Any) -> None:
        from sweeper.tracking.predictions import PREDICTIONS_DIR

        # ParquetResults (first in line) has written the file; MLflow gets the same bytes.
        trial_id, path = trial.trial_id, self.sweep_dir / PREDICTIONS_DIR / f"{trial.trial_id}.parquet"
        self._write(lambda mirror: mirror.log_predictions(trial_id, path))

    def on_epoch(self, trial: TrialRecord, metrics: dict[str, float]) -> None:
        # Metric names are kept as reported ('val/agree/acc'), so Parquet and MLflow columns match. A resumed trial
        # that reports an epoch again is not logged twice.
        trial_id, epoch, location = trial.trial_id, dict(metrics), dict(trial.location)

        def log(mirror: Mirror) -> None:
            mirror.log_epochs(trial_id, [epoch])
            mirror.tag_location(trial_id, location)

        self._write(log)

    def on_trial_end(self, trial: TrialRecord) -> None:
        trial_id, params, run, status, error = (
            trial.trial_id,
            dict(trial.params),
            dict(trial.run),
            trial.status,
            trial.error,
        )

        def end(mirror: Mirror) -> None:
            if status is TrialStatus.DISCARDED:
                mirror.delete_run(trial_id)
                return
            mirror.start_run(trial_id, params, run, status.value)  # failed before it started
            mirror.end_run(trial_id, status, error)

        self._write(end)

    def on_sweep_end(self, trials: list[TrialRecord]) -> None:
        self.flush()
        if self.down_since is not None:
            self._catch_up(force=True)
        short = ended_of_planned(t.status for t in trials) < self.planned
        short = short and not (self.stage == "search" and search_timed_out(self.sweep_dir))  # ended by its time limit
        self._apply(lambda mirror: mirror.close_parent(self.sweep_dir, [self.stage], stopped_short=short))
        if self.down_since is not None:
            _warn(
                f"MLflow at {redact(self.tracking_uri)!r} is still unreachable; the results are complete in Parquet. "
                f"Replay them with: sweeper sync {self.sweep_dir}"
            )

    def _write(self, action: Any) -> None:
        """Queue one MLflow write for the writer thread (started with the first write)."""
        if self._writer is None or not self._writer.is_alive():
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._drain, args=(self._queue,), name="sweeper-mlflow", daemon=True)
            self._writer.start()
        assert self._queue is not None
        self._queue.put(action)

    def flush(self) -> None:
        """Wait until every queued write is done, and stop the writer thread."""
        if self._writer is not None and self._queue is not None:
            self._queue.put(None)
            self._writer.join()
        self._writer = self._queue = None

    def _drain(self, writes: queue.SimpleQueue[Any]) -> None:
        while (action := writes.get()) is not None:
            self._apply(action)

    def _apply(self, action: Any) -> None:
        """Do one MLflow write; while the store is away, try to replay from Parquet every ``retry_s`` instead."""
        if self.down_since is not None:
            self._catch_up()
            return
        assert self.mirror is not None, "on_sweep_start must run first"
        try:
            action(self.mirror)
        except Exception as exc:  # an unreachable or failing store must not stop the sweep
            self._went_away(exc)

    def _went_away(self, exc: Exception) -> None:
        self.down_since = self._last_try = time.time()
        _warn(
            f"MLflow at {redact(self.tracking_uri)!r} failed ({_first_line(exc)}); the sweep goes on, Parquet keeps "
            "every result, and they are replayed to MLflow once it answers"
        )

    def _catch_up(self, *, force: bool = False) -> None:
        if not force and time.time() - self._last_try < self.retry_s:
            return
        self._last_try = time.time()
        try:
            self._connect()  # finds the parent and child runs again, and syncs what they lack
        except Exception:  # still away
            return
        away = time.time() - (self.down_since or time.time())
        self.down_since = None
        _warn(f"MLflow at {redact(self.tracking_uri)!r} answers again after {away:.0f} s; what it missed is replayed")


def sweep_params(spec: Any) -> dict[str, object]:
    """What the parent run shows of a SweepSpec: the objective, the budget and the resources per trial."""
    budget = {f"budget.{k}": v for k, v in spec.budget.model_dump().items()}
    resources = {f"resources.{k}": v for k, v in spec.resources.model_dump().items()}
    return {"objective": spec.objective.metric, "mode": spec.objective.mode, **budget, **resources}


def _warn(message: str) -> None:
    from sweeper.console import make_console

    make_console(stderr=True).print(f"warning: {message}", style="yellow", highlight=False, soft_wrap=True)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


__all__ = ["TRACKING_FILE", "MlflowTracker", "check_tracking_uri", "default_tracking_uri", "read_tracking"]


def sync_sweep(sweep_dir: Path, tracking_uri: str | None = None) -> SyncCounts:
    """Push a sweep's Parquet results into an MLflow store (default: the sweep's own); running it again adds nothing."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from sweeper.tracking.parquet import read_trials

    spec = load_sweep_spec(sweep_dir)
    sweep_dir = Path(sweep_dir).resolve()
    uri = tracking_uri or read_tracking(sweep_dir).get("tracking_uri") or default_tracking_uri(sweep_dir)
    uri = check_tracking_uri(uri)
    rows = read_trials(sweep_dir).to_pylist()
    try:
        client = MlflowClient(uri)
        experiment_id, parent_id, _ = parent_run(
            client, sweep_dir, spec.name, uri, sweep_params(spec), sweep_dir / SPEC_FILE
        )
        fusion = spec.trial_config(spec.default_point()).model.fusion
        mirror = Mirror(client, experiment_id, parent_id, spec.name, spec.objective.metric, fusion)
        mirror.load_runs()
        counts = mirror.sync(sweep_dir, list(spec.parameters))
        search = ended_of_planned(TrialStatus(r["status"]) for r in rows if r["stage"] == "search")
        stages = sorted({r["stage"] for r in rows}, key=["search", "confirm"].index)
        short = search < spec.budget.num_samples and not search_timed_out(sweep_dir)
        mirror.close_parent(sweep_dir, stages, stopped_short=short)
    except MlflowException as exc:
        raise SweepError(f"MLflow at {redact(uri)!r} refused the sync: {str(exc.message).splitlines()[0]}") from None
    return counts
