"""A sweep logs to a real MLflow tracking server when given its URI; nothing MLflow goes to the sweep folder."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from sweeper.errors import SweepError
from sweeper.recommend import recommend
from sweeper.testing import NO_CONFIRM, free_port, need, stop_process_group, tiny_spec
from sweeper.tracking import read_trials
from sweeper.tracking.mlflow_tracker import sync_sweep
from sweeper.tracking.runs_view import VIEW_ID
from sweeper.tune import run_sweep
from sweeper.tune.audit import audit_sweep


class MlflowServer:
    """A real `mlflow server` on loopback that a test can stop and start again (same port, same database): SQLite in
    ``folder`` unless given another backend store, such as PostgreSQL."""

    def __init__(self, folder: Path, backend_store_uri: str | None = None) -> None:
        self.folder = folder
        self.backend_store_uri = backend_store_uri or f"sqlite:///{folder / 'server.db'}"
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers",
            "1", "--backend-store-uri", self.backend_store_uri, "--artifacts-destination", str(self.folder / "art"),
        ]  # fmt: skip
        log = self.folder / "server.log"
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)
        deadline = time.monotonic() + 120  # a new database is migrated first: seconds on 2 busy cores
        while time.monotonic() < deadline and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{self.uri}/health", timeout=2).status == 200:
                    return
            time.sleep(0.5)
        pytest.fail(f"the MLflow server did not answer (exit code {self.proc.poll()}): {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None

    def runs(self, experiment: str) -> list[Any]:
        """Every run of ``experiment``, as a client of this server reads them."""
        return experiment_runs(self.uri, experiment)


def experiment_runs(uri: str, name: str) -> list[Any]:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, f"no experiment {name!r} in {uri}"
    return list(client.search_runs([experiment.experiment_id]))


class Postgres:
    """A throwaway PostgreSQL on loopback, as a team's MLflow server would use: initdb in ``folder``, the server in a
    process group of its own, one database ``mlflow``. PostgreSQL refuses to run as root; as root it runs as
    ``user`` (the ``postgres`` user that Debian's package creates), in a folder that user owns."""

    def __init__(self, bindir: Path, folder: Path, user: str | None) -> None:
        self.bindir, self.folder, self.user = bindir, folder, user
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.uri = f"postgresql+psycopg2://postgres:{self.password}@127.0.0.1:{self.port}/mlflow"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        owner: dict[str, Any] = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        password = self.folder / "password"
        password.write_text(self.password)
        if self.user:
            shutil.chown(password, self.user, self.user)
        data = str(self.folder / "data")
        initdb = [str(self.bindir / "initdb"), "-D", data, "-U", "postgres", "--auth=scram-sha-256", "--no-sync"]
        subprocess.run([*initdb, f"--pwfile={password}"], check=True, capture_output=True, **owner)
        server = [
            str(self.bindir / "postgres"), "-D", data, "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=", "-c", "fsync=off",  # TCP on loopback only; a throwaway database
        ]  # fmt: skip
        log = (self.folder / "postgres.log").open("ab")
        self.proc = subprocess.Popen(server, stdout=log, stderr=log, start_new_session=True, **owner)
        self.execute("CREATE DATABASE mlflow", database="postgres")

    def execute(self, sql: str, database: str = "mlflow") -> list[tuple[Any, ...]]:
        """Run one statement (waiting up to 60 s for the server to accept connections); returns its rows."""
        import psycopg2

        deadline = time.monotonic() + 60
        while True:
            try:
                connection = psycopg2.connect(
                    host="127.0.0.1", port=self.port, user="postgres", password=self.password, dbname=database
                )
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        try:
            connection.autocommit = True  # CREATE DATABASE runs outside a transaction
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None


def _postgres_bindir() -> Path | None:
    """Where initdb and postgres are: on PATH, or where pg_config says (Debian keeps them off PATH)."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    return None


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    bindir = _postgres_bindir()
    need(bindir, "postgresql", "PostgreSQL's initdb and postgres")
    need(importlib.util.find_spec("psycopg2"), "psycopg2-binary", "MLflow's PostgreSQL driver; pip install -e '.[dev]'")
    user = None
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        user = "postgres"
        need(_user_exists(user), "postgresql", "its postgres user, to run the server as")
    folder = Path(tempfile.mkdtemp(prefix="sweeper-postgres-"))  # 0700: the password file is the owner's alone
    if user:
        shutil.chown(folder, user, user)
    assert bindir is not None  # need() skipped otherwise
    server = Postgres(bindir, folder, user)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path / "server")
    server.folder.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_sweep_logs_to_a_tracking_server(ray_session: None, mlflow_server: MlflowServer, tmp_path: Path) -> None:
    uri = mlflow_server.uri
    spec = tiny_spec(name="served", budget={"num_samples": 3, "max_epochs": 2, "grace_period": 1, "max_concurrent": 2})
    run_sweep(spec, tmp_path / "served", tracking_uri=uri, quiet=True)
    assert not (tmp_path / "served" / "mlflow.db").exists()

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("served")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("sweeper.role") == "sweep")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    rows = read_trials(tmp_path / "served").to_pylist()
    assert len(children) == len(rows) and sum(r["stage"] == "search" for r in rows) == 3  # + confirmation runs
    confirm = next(r for r in children if r.data.tags.get("sweeper.stage") == "confirm")
    assert "predictions.parquet" in [a.path for a in client.list_artifacts(confirm.info.run_id)]
    assert "spec.yaml" in [a.path for a in client.list_artifacts(parent.info.run_id)]  # uploaded through the server
    view = json.loads(experiment.tags[f"mlflow.sharedViewState.{VIEW_ID}"])  # the team sees the trials' table too
    assert json.loads(view["state"])["orderByKey"] == f"metrics.`{parent.data.params['objective']}`"
    served = recommend(tmp_path / "served", source="mlflow", tracking_uri=uri)
    assert served.default_fusion == recommend(tmp_path / "served").default_fusion


@pytest.mark.slow
def test_a_sweep_logs_to_a_team_server_backed_by_postgresql(
    ray_session: None, postgres: Postgres, tmp_path: Path
) -> None:
    server = MlflowServer(tmp_path / "server", backend_store_uri=postgres.uri)
    server.folder.mkdir()
    server.start()
    try:
        budget = {"num_samples": 3, "max_epochs": 2, "grace_period": 1, "max_concurrent": 2}
        spec = tiny_spec(name="team", budget=budget, confirm=NO_CONFIRM)
        run_sweep(spec, tmp_path / "team", tracking_uri=server.uri, quiet=True)
        runs = server.runs("team")
    finally:
        server.stop()

    (parent,) = [r for r in runs if r.data.tags.get("sweeper.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = {r["trial_id"]: r for r in read_trials(tmp_path / "team").to_pylist()}
    assert len(children) == len(trials) == 3 and len(runs) == 4
    assert parent.info.status == "FINISHED" and parent.data.metrics["trials_failed"] == 0
    assert parent.data.metrics["trials_completed"] + parent.data.metrics["trials_pruned"] == 3
    objective = parent.data.params["objective"]
    for child in children:
        trial = trials[child.data.tags["sweeper.trial_id"]]
        name = child.info.run_name
        assert name.startswith(f"{trial['config/fusion']}-") and f"-lr{trial['config/lr']:.0e}" in name, name
        assert child.data.metrics[objective] == pytest.approx(trial["objective"])
        assert child.data.metrics["epoch"] == trial["epochs"] and child.info.status == "FINISHED"
    # the runs are rows of PostgreSQL's database, not of a store beside it
    assert postgres.execute("SELECT count(*) FROM runs WHERE lifecycle_stage = 'active'") == [(4,)]


def test_a_server_outage_mid_sweep_loses_nothing_and_sync_is_idempotent(
    ray_session: None, mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEPER_MLFLOW_RETRY_S", "2")
    budget = {"num_samples": 12, "max_epochs": 3, "grace_period": 1, "reduction_factor": 3, "max_concurrent": 1}
    # 2,000 samples: trials slow enough that the sweep outlasts the server's restart (seconds on 2 cores).
    spec = tiny_spec(name="outage", data={"n_samples": 2000, "seed": 0}, budget=budget, confirm={"enabled": False})
    sweep = tmp_path / "outage"
    done: list[BaseException | None] = []

    def run() -> None:
        try:
            run_sweep(spec, sweep, tracking_uri=mlflow_server.uri, quiet=True)
            done.append(None)
        except BaseException as exc:  # reported by the test thread
            done.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    _wait_for(lambda: _ended(sweep) >= 1, "a first trial")
    mlflow_server.stop()  # the tracking server goes away mid-sweep
    _wait_for(lambda: _ended(sweep) >= 2 or bool(done), "a trial during the outage")
    mlflow_server.start()  # ... and comes back while the sweep goes on
    assert not done, "the sweep ended during the outage; give it more trials"
    thread.join(timeout=600)
    assert done == [None]

    rows = read_trials(sweep).to_pylist()
    assert len(rows) == 12 and all(r["status"] in ("completed", "pruned") for r in rows)  # Parquet kept everything
    audit = audit_sweep(sweep, optuna=False)
    assert audit.ok, audit.details  # every trial has one run, every epoch once, nothing RUNNING

    first = sync_sweep(sweep)
    assert (first.created, first.epochs, first.deleted) == (0, 0, 0)  # already level: the replay was complete

    team = MlflowServer(tmp_path / "team-server")
    team.folder.mkdir()
    team.start()
    try:
        published = sync_sweep(sweep, team.uri)  # a sweep run on a laptop, published to a team server
        again = sync_sweep(sweep, team.uri)
        runs = team.runs("outage")
    finally:
        team.stop()
    assert published.created == 12 and published.epochs == sum(r["epochs"] for r in rows)
    assert (again.created, again.epochs, again.ended, again.artifacts) == (0, 0, 0, 0)
    assert sum(r.data.tags.get("sweeper.role") == "trial" for r in runs) == 12
    assert sum(r.data.tags.get("sweeper.role") == "sweep" for r in runs) == 1
    assert all(r.info.status == "FINISHED" for r in runs)


def _ended(sweep: Path) -> int:
    try:
        return sum(r["status"] in ("completed", "pruned", "failed") for r in read_trials(sweep).to_pylist())
    except SweepError:
        return 0


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")
