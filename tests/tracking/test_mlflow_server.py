"""A sweep logs to a real MLflow tracking server when given its URI; nothing MLflow goes to the sweep folder."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import free_port, stop_process_group, tiny_spec
from mlflow.tracking import MlflowClient

from sweeper.errors import SweepError
from sweeper.recommend import recommend
from sweeper.tracking import read_trials
from sweeper.tracking.sync import sync_sweep
from sweeper.tune import run_sweep
from sweeper.tune.audit import audit_sweep


class MlflowServer:
    """A real `mlflow server` on loopback that a test can stop and start again (same port, same database)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers",
            "1", "--backend-store-uri", f"sqlite:///{self.folder / 'server.db'}", "--artifacts-destination",
            str(self.folder / "art"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{self.uri}/health", timeout=2).status == 200:
                    return
            time.sleep(0.5)
        pytest.fail("the MLflow server did not answer within 60 s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None


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
    served = recommend(tmp_path / "served", source="mlflow", tracking_uri=uri)
    assert served.default_fusion == recommend(tmp_path / "served").default_fusion


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
        client = MlflowClient(team.uri)
        experiment = client.get_experiment_by_name("outage")
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id])
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
