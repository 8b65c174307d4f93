"""A sweep on a real three-node Ray cluster on this machine: trials spread over the worker nodes, say where they ran,
and survive the loss of a node."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from sweeper.errors import SweepError
from sweeper.local_cluster import LocalCluster
from sweeper.sweep_folder import read_tracking
from sweeper.testing import TINY
from sweeper.tracking import read_epochs, read_trials
from sweeper.tune.audit import audit_sweep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # Each worker node declares one GPU to Ray; this machine has none, as a GPU node whose torch lacks CUDA would.
    with LocalCluster(workers=2, cpus_per_worker=1, gpus_per_worker=1) as local:
        yield local


def _sweep(
    tmp_path: Path,
    cluster: LocalCluster,
    name: str,
    n_samples: int,
    resources: dict | None = None,
    max_epochs: int = 4,
) -> subprocess.Popen:
    spec = {
        "resources": resources or {"cpu": 1, "gpu": 0},
        **TINY,
        "name": name,
        "data": {"n_samples": n_samples, "seed": 0},
        # Two trials at a time, one CPU each: one per worker node (the head has no CPU).
        # report_every_s 0: every epoch reaches the driver at once, so the test sees a trial mid-run to kill.
        "budget": {
            "num_samples": 6,
            "max_epochs": max_epochs,
            "grace_period": max_epochs,
            "max_concurrent": 2,
            "report_every_s": 0,
        },
        "confirm": {"enabled": False},
        # Ray sees a killed node as dead only after its health checks fail (seconds); a retry placed on it in that
        # window fails once more and uses up a retry, hence 3.
        "failure": {"max_retries": 3},
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    command = [sys.executable, "-m", "sweeper", "run", str(tmp_path / "spec.yaml"), "--sweeps-dir", str(tmp_path),
               "--address", cluster.address, "--no-recommend"]  # fmt: skip
    log = (tmp_path / "driver.log").open("w")
    return subprocess.Popen(command, env=cluster.env, stdout=log, stderr=subprocess.STDOUT)


def test_trials_spread_over_the_nodes_and_say_where_they_ran(cluster: LocalCluster, tmp_path: Path) -> None:
    proc = _sweep(tmp_path, cluster, "spread", 400)
    assert proc.wait(timeout=600) == 0, (tmp_path / "driver.log").read_text()[-3000:]
    trials = read_trials(tmp_path / "spread").to_pylist()
    assert {t["node_ip"] for t in trials} == {"127.0.0.2", "127.0.0.3"}  # both worker nodes, never the head
    assert all(t["node_id"] and t["device"] == "cpu" for t in trials)

    client = MlflowClient(read_tracking(tmp_path / "spread")["tracking_uri"])
    experiment = client.get_experiment_by_name("spread")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`sweeper.role` = 'trial'")
    by_trial = {r.data.tags["sweeper.trial_id"]: r.data.tags for r in runs}
    for t in trials:
        assert by_trial[t["trial_id"]]["sweeper.node_ip"] == t["node_ip"]
        assert by_trial[t["trial_id"]]["sweeper.node_id"] == t["node_id"]


def test_a_node_lost_mid_sweep_costs_nothing(cluster: LocalCluster, tmp_path: Path) -> None:
    # Trials long enough (8 s here, more on a loaded machine) to be training when the node dies: the test sees where
    # a trial runs through MLflow, whose writes lag the trial by seconds on a loaded machine. Once, with 3 s trials,
    # the kill came after the trial on the node had ended, while Tune was handing its idle worker to the next trial;
    # Tune then failed that trial although it had retries left (the README, "On a cluster"; sweeper now retries it).
    proc = _sweep(tmp_path, cluster, "lost", 3000, max_epochs=12)
    sweep = tmp_path / "lost"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until a trial on the node 127.0.0.3 has reported an epoch
        try:
            rows = read_epochs(sweep).to_pylist()
        except SweepError:
            rows = []
        if rows and any(r.get("trial_id") for r in rows) and _on_node(sweep, "127.0.0.3"):
            break
        time.sleep(0.2)
    cluster.kill_worker(1)  # 127.0.0.3 dies with its trial
    assert proc.wait(timeout=600) == 0, (tmp_path / "driver.log").read_text()[-3000:]

    trials = read_trials(sweep).to_pylist()
    ended = [(t["trial_id"], t["status"], t["retries"], t["node_ip"], t.get("error")) for t in trials]
    assert len(trials) == 6 and all(t["status"] in ("completed", "pruned") for t in trials), ended
    moved = [t for t in trials if t["retries"]]
    assert moved and all(t["node_ip"] == "127.0.0.2" for t in moved)  # retried on the node that remained
    audit = audit_sweep(sweep)
    assert audit.ok, audit.details


def test_a_gpu_trial_on_a_node_whose_torch_sees_no_cuda_fails_in_one_line(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    proc = _sweep(tmp_path, cluster, "no-cuda", 400, resources={"cpu": 1, "gpu": 1})
    assert proc.wait(timeout=600) == 1
    log = (tmp_path / "driver.log").read_text()
    assert "every trial failed; the first with: SweepError: resources.gpu=1, but node " in log, log[-3000:]
    assert "has no usable CUDA device (torch " in log and "Traceback" not in log
    trials = read_trials(tmp_path / "no-cuda").to_pylist()
    assert trials and all(t["status"] == "failed" and t["retries"] == 0 for t in trials)  # not retried


def _on_node(sweep: Path, ip: str) -> bool:
    """Whether a running trial has reported from the node at ``ip`` (its trial row has the location once ended,
    so the epochs' trial ids are matched against the running trials' MLflow tags instead)."""
    client = MlflowClient(read_tracking(sweep).get("tracking_uri", ""))
    experiment = client.get_experiment_by_name(sweep.name)
    if experiment is None:
        return False
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.`sweeper.node_ip` = '{ip}' and attributes.status = 'RUNNING'"
    )
    return bool(runs)
