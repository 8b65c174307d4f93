"""A trial that raises is recorded as failed everywhere, and the sweep carries on with the others."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from conftest import NO_CONFIRM, tiny_spec
from mlflow.tracking import MlflowClient

from sweeper.config import SweepSpec
from sweeper.errors import SweepError
from sweeper.params import FixedParam
from sweeper.tracking import default_tracking_uri, read_trials
from sweeper.tune import run_sweep
from sweeper.tune.runner import OPTUNA_DB


def _failing_spec(seed: int) -> SweepSpec:
    # lr=1e30 overflows at the first step: every cross_attention trial diverges and raises in its first epoch.
    return tiny_spec(
        name="fails",
        parameters={
            "fusion": {"type": "choice", "values": ["concat", "cross_attention"]},
            "lr": {"type": "fixed", "value": 1e30, "when": {"fusion": "cross_attention"}},
        },
        budget={"num_samples": 4, "max_epochs": 2, "grace_period": 2, "max_concurrent": 2, "seed": seed},
        confirm=NO_CONFIRM,
    )


def test_failed_trials_are_failed_in_parquet_mlflow_and_optuna(ray_session: None, tmp_path: Path) -> None:
    run_sweep(_failing_spec(seed=0), tmp_path / "fails", quiet=True)  # TPE seed 0 proposes both fusions
    trials = read_trials(tmp_path / "fails").to_pylist()
    by_status = {t["trial_id"]: t["status"] for t in trials}
    failed = [t for t in trials if t["config/fusion"] == "cross_attention"]
    assert failed, "the seeded sampler should propose cross_attention at least once"
    assert all(t["status"] == "failed" and "became nan at epoch 1 (lr=1e+30)" in (t["error"] or "") for t in failed)
    assert all(t["status"] == "completed" for t in trials if t["config/fusion"] == "concat")

    client = MlflowClient(default_tracking_uri(tmp_path / "fails"))
    experiment = client.get_experiment_by_name("fails")
    assert experiment is not None
    for run in client.search_runs([experiment.experiment_id], "tags.`sweeper.role` = 'trial'"):
        status = by_status[run.data.tags["sweeper.trial_id"]]
        assert run.data.tags["status"] == status
        assert run.info.status == ("FAILED" if status == "failed" else "FINISHED")

    study = optuna.load_study(study_name="fails", storage=f"sqlite:///{tmp_path / 'fails' / OPTUNA_DB}")
    states = {t.user_attrs["trial_id"]: t.state.name for t in study.trials}
    assert states == {tid: {"failed": "FAIL", "completed": "COMPLETE"}[s] for tid, s in by_status.items()}


def test_a_sweep_whose_every_trial_failed_says_why_and_keeps_its_records(ray_session: None, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"every trial failed; the first with: .*training diverged"):
        # cross_attention alone: every trial raises
        only = _failing_spec(seed=3).model_copy(
            update={
                "parameters": {
                    "fusion": FixedParam(type="fixed", value="cross_attention"),
                    "lr": FixedParam(type="fixed", value=1e30),
                }
            }
        )
        run_sweep(only, tmp_path / "fails", quiet=True)
    assert {t["status"] for t in read_trials(tmp_path / "fails").to_pylist()} == {"failed"}


def test_overwrite_refuses_a_folder_that_is_not_a_sweep(tmp_path: Path) -> None:
    from sweeper.tune.runner import check_sweep_dir

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match=r"holds files but no sweep \(spec.yaml is missing\); --overwrite only"):
        check_sweep_dir(tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_gpu_request_the_cluster_cannot_meet_is_one_line_and_writes_nothing(
    ray_session: None, tmp_path: Path
) -> None:
    spec = tiny_spec(resources={"cpu": 1, "gpu": 0.5})
    with pytest.raises(SweepError, match=r"resources.gpu=0.5 but the Ray cluster has 0 GPUs; set resources.gpu: 0"):
        run_sweep(spec, tmp_path / "gpu", quiet=True)
    assert not (tmp_path / "gpu").exists()
