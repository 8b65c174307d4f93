"""The private Ray and Optuna attributes the searcher and the resumable ASHA rely on: an upgrade that renames them
fails here."""

from __future__ import annotations

import math
from pathlib import Path

import optuna

from sweeper.testing import tiny_spec
from sweeper.tune.scheduler import ResumableASHA, decision_epochs
from sweeper.tune.searcher import PruningAwareOptunaSearch, fail_orphans
from sweeper.tune.space import define_by_run
from sweeper.tune.trainable import EARLIER_EPOCHS_KEY, USER_ERROR_KEY


def test_ray_optuna_search_still_has_the_attributes_the_searcher_uses() -> None:
    spec = tiny_spec()
    searcher = PruningAwareOptunaSearch(
        space=define_by_run(spec),
        metric=spec.objective.metric,
        mode=spec.objective.mode,
        sampler=optuna.samplers.TPESampler(seed=0),
        max_epochs=spec.budget.max_epochs,
    )
    assert searcher._metric == spec.objective.metric
    assert isinstance(searcher._ot_study, optuna.Study)
    assert isinstance(searcher._ot_trials, dict) and isinstance(searcher._completed_trials, set)
    config = searcher.suggest("t1")  # a suggested trial is tracked where on_trial_complete looks for it
    assert config and "t1" in searcher._ot_trials
    searcher.on_trial_complete("t1", {"epoch": 1.0, spec.objective.metric: 0.5})
    assert "t1" in searcher._completed_trials
    assert searcher._ot_study.trials[0].state is optuna.trial.TrialState.PRUNED  # stopped before max_epochs
    assert searcher._ot_study.trials[0].user_attrs["trial_id"] == "t1"  # set when suggested, kept across a resume
    searcher._completed_trials.discard("t1")  # as if restored from a state saved before it ended
    searcher.on_trial_complete("t1", {"epoch": 3.0, spec.objective.metric: 0.9})
    assert searcher._ot_study.trials[0].state is optuna.trial.TrialState.PRUNED  # told once, not told again


def test_fail_orphans_closes_running_trials_nothing_will_finish() -> None:
    study = optuna.create_study()
    kept, orphan = study.ask(), study.ask()
    assert fail_orphans(study, keep={kept.number}) == [orphan.number]
    states = {t.number: t.state.name for t in study.trials}
    assert states == {kept.number: "RUNNING", orphan.number: "FAIL"}
    assert study.trials[orphan.number].user_attrs["sweeper.discarded"].startswith("the sweep was interrupted")


def test_ray_asha_still_has_the_rungs_the_resumable_scheduler_fills(tmp_path: Path) -> None:
    scheduler = ResumableASHA(
        sweep_dir=tmp_path, experiment="ray", time_attr="epoch", max_t=9, grace_period=1, reduction_factor=3
    )
    scheduler.set_search_properties("val/f1", "max")
    assert scheduler._metric_op == 1.0
    trials = [{"trial_id": "a", "status": "pruned"}, {"trial_id": "b", "status": "running"}]
    epochs = [{"trial_id": "a", "epoch": 1, "val/f1": 0.4}, {"trial_id": "b", "epoch": 1, "val/f1": 0.6},
              {"trial_id": "b", "epoch": 3, "val/f1": 0.7}]  # fmt: skip
    scheduler.restore_rungs((trials, epochs))
    rungs = {milestone: recorded for milestone, recorded in scheduler._brackets[0]._rungs}
    assert rungs[1] == {"a": 0.4, "b": 0.6} and rungs[3] == {"b": 0.7} and rungs[9] == {}
    assert scheduler.ended == {"a"}


def test_a_result_reports_the_epochs_it_held_back_to_optuna_at_their_epochs() -> None:
    spec = tiny_spec()
    metric = spec.objective.metric
    searcher = PruningAwareOptunaSearch(
        space=define_by_run(spec), metric=metric, mode="max", sampler=optuna.samplers.TPESampler(seed=0), max_epochs=9
    )
    searcher.suggest("t1")
    searcher.on_trial_result("t1", {"epoch": 1.0, metric: 0.3, "training_iteration": 1})
    held = [{"epoch": 2.0, metric: 0.4}, {"epoch": 3.0, metric: 0.5}]
    searcher.on_trial_result("t1", {"epoch": 4.0, metric: 0.6, "training_iteration": 2, EARLIER_EPOCHS_KEY: held})
    assert searcher._ot_study.trials[0].intermediate_values == {1: 0.3, 2: 0.4, 3: 0.5, 4: 0.6}
    # A mistake found at epoch 6 hands over epoch 5 with its error, and carries no score of its own.
    searcher.on_trial_result("t1", {metric: float("nan"), USER_ERROR_KEY: "diverged", EARLIER_EPOCHS_KEY: [
        {"epoch": 5.0, metric: 0.55}]})  # fmt: skip
    assert searcher._ot_study.trials[0].intermediate_values == {1: 0.3, 2: 0.4, 3: 0.5, 4: 0.6, 5: 0.55}


def test_trials_report_at_once_the_epochs_asha_decides_at_and_the_last() -> None:
    budget = tiny_spec().budget.model_copy(update={"max_epochs": 20, "grace_period": 2, "reduction_factor": 2})
    assert decision_epochs(budget) == {2, 4, 8, 16, 20}
    budget = budget.model_copy(update={"max_epochs": 10, "grace_period": 1, "reduction_factor": 1.5})
    scheduler = ResumableASHA(sweep_dir=Path("."), experiment="ray", time_attr="epoch", max_t=10, grace_period=1,
                              reduction_factor=1.5)  # fmt: skip
    milestones = sorted(m for m, _ in scheduler._brackets[0]._rungs)  # 1, 1.5, 2.25, 3.375, ...: fractional
    assert decision_epochs(budget) == {math.ceil(m) for m in milestones} | {10}
