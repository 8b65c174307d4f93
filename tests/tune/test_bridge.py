"""The tracker bridge turns Tune's results into per-epoch rows, held-back epochs included."""

from __future__ import annotations

from pathlib import Path

import yaml
from ray.tune.experiment import Trial

from sweeper.sweep_folder import default_tracking_uri, write_tracking
from sweeper.testing import tiny_spec
from sweeper.tracking import read_epochs, read_trials
from sweeper.tune.callbacks import TrackerBridge
from sweeper.tune.trainable import EARLIER_EPOCHS_KEY, USER_ERROR_KEY


def _bridge(tmp_path: Path, planned: int = 1) -> tuple[TrackerBridge, Trial, str]:
    spec = tiny_spec()
    sweep = tmp_path / "tiny"
    sweep.mkdir()
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    write_tracking(sweep, tracking_uri=default_tracking_uri(sweep))
    bridge = TrackerBridge(sweep, "search", "ray", planned, quiet=True)
    bridge.start()
    trial = Trial("train_trial", config={"fusion": "concat", "lr": 0.001}, trial_id="t1", stub=True)
    bridge.on_trial_start(0, [trial], trial)
    return bridge, trial, spec.objective.metric


def test_epochs_held_back_before_a_mistake_are_kept(tmp_path: Path) -> None:
    """A trial that trained two epochs without reporting them, then hit a mistake (a diverging learning rate),
    hands them over with its error: the failed trial keeps them."""
    bridge, trial, metric = _bridge(tmp_path)
    held = [{"epoch": 1.0, metric: 0.4}, {"epoch": 2.0, metric: 0.5}]
    error = {metric: float("nan"), USER_ERROR_KEY: "TrainingDiverged: train/loss became nan at epoch 3"}
    bridge.on_trial_result(0, [trial], trial, {**error, EARLIER_EPOCHS_KEY: held})
    bridge.on_trial_complete(0, [trial], trial)
    bridge.on_experiment_end([trial])

    (row,) = read_trials(bridge.sweep_dir).to_pylist()
    assert (row["status"], row["epochs"]) == ("failed", 2)
    assert row["error"].startswith("TrainingDiverged")
    assert [(e["epoch"], e[metric]) for e in read_epochs(bridge.sweep_dir).to_pylist()] == [(1, 0.4), (2, 0.5)]


def _one_trial_ended(tmp_path: Path, planned: int) -> tuple[TrackerBridge, str]:
    """One trial of ``planned`` ends, then the experiment; the MLflow parent's status."""
    from mlflow.tracking import MlflowClient

    from sweeper.sweep_folder import read_tracking

    bridge, trial, metric = _bridge(tmp_path, planned=planned)
    bridge.on_trial_result(0, [trial], trial, {metric: 0.5, "epoch": 1.0})
    bridge.on_trial_complete(0, [trial], trial)
    bridge.on_experiment_end([trial])
    tracking = read_tracking(bridge.sweep_dir)
    return bridge, MlflowClient(tracking["tracking_uri"]).get_run(tracking["parent_run_id"]).info.status


def test_a_stage_that_ended_short_of_its_planned_trials_leaves_the_mlflow_parent_killed(tmp_path: Path) -> None:
    """Ctrl-C that Tune handles after one trial ended and before the next started leaves no trial running; the
    parent run is KILLED all the same, live and when replayed by `sweeper sync`."""
    from mlflow.tracking import MlflowClient

    from sweeper.tracking.mlflow_tracker import sync_sweep

    bridge, status = _one_trial_ended(tmp_path, planned=2)
    assert status == "KILLED"

    other = MlflowClient(f"sqlite:///{tmp_path / 'other.db'}")  # replayed elsewhere: still short of num_samples
    sync_sweep(bridge.sweep_dir, other.tracking_uri)
    experiments = [e.experiment_id for e in other.search_experiments()]
    (parent,) = other.search_runs(experiments, "tags.`sweeper.role` = 'sweep'")
    assert parent.info.status == "KILLED"


def test_a_stage_whose_planned_trials_all_ended_leaves_the_mlflow_parent_finished(tmp_path: Path) -> None:
    assert _one_trial_ended(tmp_path, planned=1)[1] == "FINISHED"
