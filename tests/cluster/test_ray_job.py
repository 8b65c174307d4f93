"""A sweep submitted as a Ray Job (`ray job submit --working-dir . -- sweeper run ...`) to a real cluster on this
machine, with the dashboard on loopback; `sweeper recommend` then reads the job's sweep folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweeper.local_cluster import LocalCluster
from sweeper.testing import TINY
from sweeper.tracking import read_trials

pytestmark = pytest.mark.slow


def test_a_sweep_submitted_as_a_ray_job_leaves_its_results_for_recommend(tmp_path: Path) -> None:
    pytest.importorskip("ray.dashboard.modules.job", reason="Ray Jobs need ray[default] (the `cluster` extra)")
    job = tmp_path / "job"  # the job's working directory, uploaded by Ray
    job.mkdir()
    spec = {**TINY, "name": "job", "confirm": {"seeds": 1, "small_val": 0},  # one run per family
            "budget": {**TINY["budget"], "num_samples": 2, "max_concurrent": 1}}  # fmt: skip
    (job / "spec.yaml").write_text(yaml.safe_dump(spec))
    sweeps = tmp_path / "sweeps"  # on a disk the head node writes (here: this machine)
    ray = str(Path(sys.executable).parent / "ray")
    with LocalCluster(workers=1, cpus_per_worker=1, dashboard=True) as cluster:
        assert cluster.dashboard is not None
        submitted = subprocess.run(
            [ray, "job", "submit", "--address", cluster.dashboard, "--working-dir", str(job), "--",
             sys.executable, "-m", "sweeper", "run", "spec.yaml", "--sweeps-dir", str(sweeps), "--no-recommend"],
            env=cluster.env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    assert submitted.returncode == 0, submitted.stdout[-3000:] + submitted.stderr[-3000:]
    assert "succeeded" in submitted.stdout + submitted.stderr

    trials = read_trials(sweeps / "job").to_pylist()
    assert sum(t["stage"] == "search" for t in trials) == 2 and sum(t["stage"] == "confirm" for t in trials) > 0
    recommended = subprocess.run(
        [sys.executable, "-m", "sweeper", "recommend", str(sweeps / "job"), "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert recommended.returncode == 0, recommended.stderr
    assert '"default_fusion"' in recommended.stdout
