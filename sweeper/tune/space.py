"""A YAML search space as an Optuna define-by-run function.

Parameters are sampled in the order they are declared; one whose ``when:`` condition is not met by the values
sampled so far is not sampled at all (so ``heads`` exists only in trials of attention fusions, and TPE models it
only there).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import optuna

from sweeper.params import ChoiceParam, FixedParam, FloatParam, IntParam
from sweeper.spec import SweepSpec


class DefineByRun:
    """Samples one configuration into an Optuna trial; returns the fixed values to add to it.

    A class rather than a closure because Ray Tune pickles the searcher, space included, to save experiment state.
    """

    def __init__(self, spec: SweepSpec) -> None:
        self.parameters = spec.parameters

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        values: dict[str, Any] = {}
        fixed: dict[str, Any] = {}
        for name, p in self.parameters.items():
            if not all(values.get(other, fixed.get(other)) in allowed for other, allowed in (p.when or {}).items()):
                continue
            if isinstance(p, FixedParam):
                fixed[name] = p.value
            elif isinstance(p, ChoiceParam):
                values[name] = trial.suggest_categorical(name, p.values)
            elif isinstance(p, IntParam):
                values[name] = trial.suggest_int(name, p.low, p.high, step=p.step, log=p.log)
            elif isinstance(p, FloatParam):
                values[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        return fixed


def define_by_run(spec: SweepSpec) -> Callable[[optuna.Trial], dict[str, Any]]:
    """The search space of ``spec`` as an Optuna define-by-run function."""
    return DefineByRun(spec)


def random_draws(sample: Callable[[optuna.Trial], dict[str, Any]], seed: int) -> Iterator[tuple[dict, dict]]:
    """Endless configurations of a define-by-run space drawn by Optuna's random sampler: (sampled, fixed) values."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    while True:
        trial = study.ask()
        fixed = sample(trial)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # no value: the random sampler learns nothing
        yield trial.params, fixed


def sample_configs(spec: SweepSpec, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` configurations drawn by Optuna's random sampler: what the space can produce, without Ray."""
    return [{**params, **fixed} for params, fixed in itertools.islice(random_draws(define_by_run(spec), seed), n)]
