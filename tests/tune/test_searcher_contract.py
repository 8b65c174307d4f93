"""The private Ray attributes `PruningAwareOptunaSearch` relies on: a Ray upgrade that renames them fails here."""

from __future__ import annotations

import optuna
from conftest import tiny_spec

from sweeper.tune.searcher import PruningAwareOptunaSearch
from sweeper.tune.space import define_by_run


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
    searcher.on_trial_complete("t1", {"training_iteration": 1, spec.objective.metric: 0.5})
    assert "t1" in searcher._completed_trials
    assert searcher._ot_study.trials[0].state is optuna.trial.TrialState.PRUNED  # stopped before max_epochs
