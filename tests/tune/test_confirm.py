"""The confirmation stage on a real tiny sweep: every family re-trained over seeds and folds, predictions kept,
MLflow child runs under the sweep's parent, and `sweeper confirm` adding seeds without redoing any."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweeper.cli import app
from sweeper.recommend import stats
from sweeper.spec import parse_spec
from sweeper.testing import TINY
from sweeper.tracking import default_tracking_uri, read_trials
from sweeper.tracking.predictions import PREDICTIONS_DIR, read_predictions
from sweeper.tune.confirm import select_candidates

runner = CliRunner()


def test_every_family_with_a_score_is_confirmed_over_seeds_and_folds(tiny_sweep: Path) -> None:
    rows = read_trials(tiny_sweep).to_pylist()
    search = [r for r in rows if r["stage"] == "search" and r["status"] != "failed"]
    confirm = [r for r in rows if r["stage"] == "confirm"]
    families = {r["config/fusion"] for r in search}
    assert {r["config/fusion"] for r in confirm} == families  # pruned-only families too
    seeds, folds = TINY["confirm"]["seeds"], TINY["confirm"]["folds"]
    assert len(confirm) == len(families) * seeds * folds
    assert {(r["seed"], r["fold"]) for r in confirm} == {
        (s, f) for s in range(1000, 1000 + seeds) for f in range(folds)
    }
    assert all(r["status"] == "completed" and r["epochs"] == TINY["budget"]["max_epochs"] for r in confirm)
    by_id = {r["trial_id"]: r for r in search}
    for row in confirm:  # the configuration re-trained is its search trial's, with the confirmation seed
        source = by_id[row["source_trial"]]
        assert {k: v for k, v in row.items() if k.startswith("config/")} == {
            k: v for k, v in source.items() if k.startswith("config/")
        }


def test_predictions_reproduce_the_reported_metrics(tiny_sweep: Path) -> None:
    confirm = [r for r in read_trials(tiny_sweep).to_pylist() if r["stage"] == "confirm"]
    tables = read_predictions(tiny_sweep / PREDICTIONS_DIR, [r["trial_id"] for r in confirm])
    assert set(tables) == {r["trial_id"] for r in confirm}
    for row in confirm:
        table = tables[row["trial_id"]]
        for split in ("val", "test"):
            for task in ("agree", "grade"):
                part = table.filter(pc.and_(pc.equal(table["split"], split), pc.equal(table["task"], task)))
                probs = np.stack(part["probs"].to_numpy(zero_copy_only=False))
                labels = part["label"].to_numpy()
                value = stats.metric_values("macro_f1", probs, labels, np.ones((1, len(labels))))[0]
                assert value == pytest.approx(row[f"{split}/{task}/macro_f1"], abs=1e-6)


def test_confirmation_runs_are_child_runs_with_predictions_as_artifacts(tiny_sweep: Path) -> None:
    client = MlflowClient(default_tracking_uri(tiny_sweep))
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`sweeper.stage` = 'confirm'", max_results=1000)
    parent = client.search_runs([experiment.experiment_id], "tags.`sweeper.role` = 'sweep'")[0]
    assert runs and all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in runs)
    assert "predictions.parquet" in [a.path for a in client.list_artifacts(runs[0].info.run_id)]
    assert parent.data.metrics["confirm_completed"] == len(runs)


def test_a_family_that_asha_pruned_everywhere_is_confirmed_from_its_furthest_trial() -> None:
    spec = parse_spec(TINY)
    rows = [
        {"trial_id": "a", "stage": "search", "status": "completed", "epochs": 3, "config/fusion": "concat",
         "config/lr": 0.01, "val/mean_macro_f1": 0.6},
        {"trial_id": "b", "stage": "search", "status": "pruned", "epochs": 1, "config/fusion": "gated",
         "config/lr": 0.01, "val/mean_macro_f1": 0.9},
        {"trial_id": "c", "stage": "search", "status": "pruned", "epochs": 2, "config/fusion": "gated",
         "config/lr": 0.002, "val/mean_macro_f1": 0.5},
        {"trial_id": "d", "stage": "search", "status": "failed", "epochs": 0, "config/fusion": "low_rank",
         "config/lr": 0.01, "val/mean_macro_f1": None},
    ]  # fmt: skip
    candidates = {c.fusion: c for c in select_candidates(spec, rows, per_fusion=1)}
    assert set(candidates) == {"concat", "gated"}  # a family that only failed has nothing to confirm
    assert candidates["gated"].source_trial == "c" and candidates["gated"].status == "pruned"


def test_run_without_confirm_then_confirm_then_add_a_seed(ray_session: None, tmp_path: Path) -> None:
    spec = {
        **TINY, "name": "later",
        "parameters": {"fusion": {"type": "choice", "values": ["concat", "gated"]}, "lr": 0.005},
        "budget": {**TINY["budget"], "num_samples": 2, "max_epochs": 2, "max_concurrent": 2},
        "confirm": {"seeds": 1, "small_val": 0},  # the fixed validation split, no folds
    }  # fmt: skip
    (tmp_path / "later.yaml").write_text(yaml.safe_dump(spec))
    sweeps = tmp_path / "sweeps"
    run = runner.invoke(app, ["run", str(tmp_path / "later.yaml"), "--sweeps-dir", str(sweeps), "--no-confirm"])
    assert run.exit_code == 0, run.output
    assert "no confirmed recommendation" in run.output and "sweeper confirm" in run.output

    first = runner.invoke(app, ["confirm", str(sweeps / "later")])
    assert first.exit_code == 0, first.output
    assert "best default fusion: " in first.output
    confirmed = [r for r in read_trials(sweeps / "later").to_pylist() if r["stage"] == "confirm"]
    families = {r["config/fusion"] for r in confirmed}
    assert len(confirmed) == len(families) and {r["seed"] for r in confirmed} == {1000}

    second = runner.invoke(app, ["confirm", str(sweeps / "later"), "--seeds", "2"])
    assert second.exit_code == 0, second.output
    rows = [r for r in read_trials(sweeps / "later").to_pylist() if r["stage"] == "confirm"]
    assert sorted(r["seed"] for r in rows) == sorted([1000, 1001] * len(families))  # seed 1000 not redone
    assert (sweeps / "later" / "report" / "ranking.png").is_file()
    client = MlflowClient(default_tracking_uri(sweeps / "later"))
    experiment = client.get_experiment_by_name("later")
    assert experiment is not None
    parents = client.search_runs([experiment.experiment_id], "tags.`sweeper.role` = 'sweep'")
    assert len(parents) == 1  # confirmation logged under the search's parent run, with the report
    assert "report/recommendation.md" in [a.path for a in client.list_artifacts(parents[0].info.run_id, "report")]


def test_confirm_on_a_folder_that_is_not_a_sweep_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["confirm", str(tmp_path)])
    assert result.exit_code == 1 and "is not a sweep folder: spec.yaml is missing" in result.output
