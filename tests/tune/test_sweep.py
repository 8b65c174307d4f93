"""A real tiny sweep end to end: Ray Tune, Optuna, ASHA, MLflow and Parquet must agree with each other."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from sweeper.testing import TINY
from sweeper.tracking import default_tracking_uri, read_epochs, read_trials
from sweeper.tune.runner import OPTUNA_DB


def _child_runs(sweep_dir: Path) -> tuple[MlflowClient, list]:
    client = MlflowClient(default_tracking_uri(sweep_dir))
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("sweeper.role") == "sweep"]
    assert len(parents) == 1
    assert "spec.yaml" in [a.path for a in client.list_artifacts(parents[0].info.run_id)]  # the sweep spec
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    return client, children


def _search_rows(sweep_dir: Path) -> list[dict]:
    return [t for t in read_trials(sweep_dir).to_pylist() if t["stage"] == "search"]


def test_every_trial_has_a_child_run_with_its_params_and_status(tiny_sweep: Path) -> None:
    trials = read_trials(tiny_sweep).to_pylist()
    _, children = _child_runs(tiny_sweep)
    assert len(_search_rows(tiny_sweep)) == TINY["budget"]["num_samples"]
    assert len(children) == len(trials)  # search trials and confirmation runs, under the one parent
    by_trial = {r.data.tags["sweeper.trial_id"]: r for r in children}
    for trial in trials:
        run = by_trial[trial["trial_id"]]
        assert run.data.tags["status"] == trial["status"]
        assert run.data.tags["fusion"] == trial["config/fusion"]
        assert run.data.params["fusion"] == trial["config/fusion"]
        assert float(run.data.params["lr"]) == pytest.approx(trial["config/lr"])
        assert ("heads" in run.data.params) == (trial["config/fusion"] == "cross_attention")
        assert run.info.status == "FINISHED"
        assert run.data.tags["sweeper.stage"] == trial["stage"]
        if trial["stage"] == "confirm":
            assert run.data.tags["sweeper.seed"] == str(trial["seed"])


def test_parquet_rows_match_mlflow_metric_history(tiny_sweep: Path) -> None:
    epochs = read_epochs(tiny_sweep).to_pylist()
    client, children = _child_runs(tiny_sweep)
    assert len(epochs) == sum(t["epochs"] for t in read_trials(tiny_sweep).to_pylist())
    for run in children:
        trial_id = run.data.tags["sweeper.trial_id"]
        rows = sorted((r for r in epochs if r["trial_id"] == trial_id), key=lambda r: r["epoch"])
        history = client.get_metric_history(run.info.run_id, "val/mean_macro_f1")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
            (r["epoch"], pytest.approx(r["val/mean_macro_f1"])) for r in rows
        ]


def test_asha_stopped_trials_reach_optuna_as_pruned(tiny_sweep: Path) -> None:
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tiny_sweep / OPTUNA_DB}")
    trials = _search_rows(tiny_sweep)  # confirmation runs are not Optuna's
    statuses = sorted(t["status"] for t in trials)
    states = sorted(t.state.name for t in study.trials)
    expected = {"completed": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}
    assert states == sorted(expected[s] for s in statuses)
    assert "PRUNED" in states and "COMPLETE" in states, f"the tiny sweep should both prune and complete: {states}"
    max_epochs = TINY["budget"]["max_epochs"]
    epochs = read_epochs(tiny_sweep).to_pylist()
    for ot_trial in study.trials:
        rows = sorted((r for r in epochs if r["trial_id"] == ot_trial.user_attrs["trial_id"]), key=lambda r: r["epoch"])
        # Every reported epoch reached Optuna as an intermediate value, the last one (the stopping one) included.
        assert ot_trial.intermediate_values == {r["epoch"]: pytest.approx(r["val/mean_macro_f1"]) for r in rows}
        assert ot_trial.value == pytest.approx(rows[-1]["val/mean_macro_f1"])
        if ot_trial.state is optuna.trial.TrialState.PRUNED:
            assert len(rows) < max_epochs
        if ot_trial.state is optuna.trial.TrialState.COMPLETE:
            assert len(rows) == max_epochs


def test_epochs_no_decision_waits_on_reach_tune_with_the_next_report(tiny_sweep: Path) -> None:
    """Tune hears from a trial at ASHA's milestones and its last epoch only (the tiny epochs are far shorter than
    report_every_s); the epochs in between still reach Parquet (and, above, MLflow and Optuna) one by one."""
    from sweeper.spec import parse_spec
    from sweeper.tune.reconcile import STATE_PREFIX, saved_trials
    from sweeper.tune.scheduler import decision_epochs

    decisions = decision_epochs(parse_spec(TINY, "tiny").budget)
    assert len(decisions) < TINY["budget"]["max_epochs"], "the tiny budget must leave epochs between decisions"
    saved = saved_trials(max((tiny_sweep / "ray").glob(f"{STATE_PREFIX}*.json")).read_text())
    completed = [t for t in _search_rows(tiny_sweep) if t["status"] == "completed"]
    assert completed
    for trial in completed:
        assert saved[trial["trial_id"]].last_result["training_iteration"] == len(decisions)  # reports to Tune
        assert trial["epochs"] == TINY["budget"]["max_epochs"]


def test_conditional_parameters_reach_optuna_only_where_they_apply(tiny_sweep: Path) -> None:
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tiny_sweep / OPTUNA_DB}")
    for ot_trial in study.trials:
        fusion = ot_trial.params["fusion"]
        assert ("heads" in ot_trial.params) == (fusion == "cross_attention")
        assert ("rank" in ot_trial.params) == (fusion == "low_rank")


def test_completed_trials_report_test_metrics_and_pruned_ones_do_not(tiny_sweep: Path) -> None:
    for trial in read_trials(tiny_sweep).to_pylist():
        has_test = trial.get("test/mean_macro_f1") is not None
        assert has_test == (trial["status"] == "completed"), trial["trial_id"]


def test_each_trial_left_a_checkpoint(tiny_sweep: Path) -> None:
    for trial in read_trials(tiny_sweep).to_pylist():
        experiment = "ray" if trial["stage"] == "search" else "ray-confirm"
        checkpoints = list((tiny_sweep / experiment / trial["trial_id"]).glob("checkpoint_*/state.pt"))
        assert len(checkpoints) == 1  # num_to_keep=1: the latest epoch only


def test_sweep_folder_is_refused_twice_without_overwrite(tiny_sweep: Path) -> None:
    from sweeper.errors import SweepError
    from sweeper.testing import tiny_spec
    from sweeper.tune import run_sweep

    with pytest.raises(SweepError, match="already holds a sweep; pass --overwrite"):
        run_sweep(tiny_spec(), tiny_sweep, quiet=True)
    assert len(_search_rows(tiny_sweep)) == TINY["budget"]["num_samples"]  # nothing lost


def test_a_search_time_limit_starts_no_trial_after_it_lets_running_ones_finish_and_is_not_an_interruption(
    ray_session: None, tmp_path: Path
) -> None:
    """budget.timeout_s, as Optuna's `timeout`: the search ends with the trials it started, all finished; MLflow's
    parent is FINISHED (not KILLED as a search stopped short is); a resume starts no more."""
    from sweeper.sweep_folder import read_tracking
    from sweeper.testing import NO_CONFIRM, tiny_spec
    from sweeper.tune.audit import audit_sweep
    from sweeper.tune.runner import resume_sweep, run_sweep

    budget = {**TINY["budget"], "num_samples": 40, "max_concurrent": 2, "timeout_s": 4}
    spec = tiny_spec(budget=budget, confirm=NO_CONFIRM, data={"n_samples": 2000, "seed": 0})
    outcome = run_sweep(spec, tmp_path / "timed", quiet=True)
    rows = _search_rows(tmp_path / "timed")
    assert 0 < len(rows) < 40 and all(r["status"] in ("completed", "pruned") for r in rows), rows
    last_start = max(r["started_at"] for r in rows)
    assert last_start < read_tracking(tmp_path / "timed")["search_deadline"] + 3.0  # none started well after it
    said = f"its time limit (budget.timeout_s: 4) ended it after {len(rows)} of 40 trials"
    untried = [f for f in TINY["parameters"]["fusion"]["values"] if f not in {r["config/fusion"] for r in rows}]
    assert outcome.timed_out == said + (f", before it tried {', '.join(untried)}" if untried else "")
    client = MlflowClient(default_tracking_uri(tmp_path / "timed"))
    assert client.get_run(read_tracking(tmp_path / "timed")["parent_run_id"]).info.status == "FINISHED"
    resume_sweep(tmp_path / "timed", quiet=True)
    assert len(_search_rows(tmp_path / "timed")) == len(rows)
    audit = audit_sweep(tmp_path / "timed")  # fewer trials than planned is no loss here
    assert audit.ok, audit.details
