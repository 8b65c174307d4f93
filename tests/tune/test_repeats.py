"""The searcher does not train a configuration twice while the space has others left."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from sweeper.testing import TINY, tiny_spec
from sweeper.tune.searcher import REPEAT_REASON, PruningAwareOptunaSearch
from sweeper.tune.space import define_by_run

# 2 fusions, heads only for cross_attention (2 values), 2 learning rates: 6 configurations.
CHOICES: dict[str, Any] = {
    "fusion": {"type": "choice", "values": ["concat", "cross_attention"]},
    "heads": {"type": "choice", "values": [1, 2], "when": {"fusion": ["cross_attention"]}},
    "lr": {"type": "choice", "values": [1e-3, 1e-2]},
}
SPACE_SIZE = 6


def _searcher(parameters: dict[str, Any], seed: int = 0) -> PruningAwareOptunaSearch:
    spec = tiny_spec(parameters=parameters)
    return PruningAwareOptunaSearch(
        space=define_by_run(spec),
        metric=spec.objective.metric,
        mode=spec.objective.mode,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=2),
        max_epochs=spec.budget.max_epochs,
        seed=seed,
    )


def _run(searcher: PruningAwareOptunaSearch, n: int, metric: str, max_epochs: int) -> list[dict[str, Any]]:
    """``n`` trials one at a time, each scored by its configuration alone (as seeded training would)."""
    configs = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        assert config is not None
        configs.append(config)
        score = 0.5 + 0.3 * (config["fusion"] == "concat") + 10 * config["lr"]  # TPE keeps proposing the best
        searcher.on_trial_complete(f"t{i}", {"epoch": float(max_epochs), metric: score})
    return configs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_configuration_is_tried_before_any_is_repeated(seed: int) -> None:
    spec = tiny_spec(parameters=CHOICES)
    searcher = _searcher(CHOICES, seed)
    configs = _run(searcher, SPACE_SIZE + 2, spec.objective.metric, spec.budget.max_epochs)

    keys = [tuple(sorted(c.items())) for c in configs]
    assert len(set(keys[:SPACE_SIZE])) == SPACE_SIZE  # all six, none twice
    trials = searcher._ot_study.trials  # type: ignore[union-attr]
    ran = [t for t in trials if "trial_id" in t.user_attrs]
    assert [t.user_attrs["trial_id"] for t in ran] == [f"t{i}" for i in range(SPACE_SIZE + 2)]
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in ran)
    repeats = [t for t in trials if "trial_id" not in t.user_attrs]  # proposed again, closed, never run
    assert all(t.number < ran[SPACE_SIZE - 1].number for t in repeats)  # once all were tried, repeats just run
    assert repeats and all(
        t.state is optuna.trial.TrialState.FAIL and t.user_attrs["sweeper.discarded"] == REPEAT_REASON for t in repeats
    )


def test_a_space_with_a_continuous_parameter_is_left_to_tpe() -> None:
    spec = tiny_spec()  # lr is a float: TPE's proposals do not repeat
    searcher = _searcher(TINY["parameters"])
    for i in range(8):
        searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"epoch": float(spec.budget.max_epochs), spec.objective.metric: 0.5})
    assert len(searcher._ot_study.trials) == 8  # type: ignore[union-attr]  # nothing discarded
