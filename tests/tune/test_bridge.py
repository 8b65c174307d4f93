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


def _bridge(tmp_path: Path) -> tuple[TrackerBridge, Trial, str]:
    spec = tiny_spec()
    sweep = tmp_path / "tiny"
    sweep.mkdir()
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    write_tracking(sweep, tracking_uri=default_tracking_uri(sweep))
    bridge = TrackerBridge(sweep, "search", "ray", 1, quiet=True)
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
