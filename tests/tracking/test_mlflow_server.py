"""A sweep logs to a real MLflow tracking server when given its URI; nothing MLflow goes to the sweep folder."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, stop_process_group, tiny_spec
from mlflow.tracking import MlflowClient

from sweeper.recommend import recommend
from sweeper.tracking import read_trials
from sweeper.tune import run_sweep


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", str(tmp_path / "art"),
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the MLflow server did not answer within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(proc)


def test_sweep_logs_to_a_tracking_server(ray_session: None, mlflow_server: str, tmp_path: Path) -> None:
    spec = tiny_spec(name="served", budget={"num_samples": 3, "max_epochs": 2, "grace_period": 1, "max_concurrent": 2})
    run_sweep(spec, tmp_path / "served", tracking_uri=mlflow_server, quiet=True)
    assert not (tmp_path / "served" / "mlflow.db").exists()

    client = MlflowClient(mlflow_server)
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
    served = recommend(tmp_path / "served", source="mlflow", tracking_uri=mlflow_server)
    assert served.default_fusion == recommend(tmp_path / "served").default_fusion
