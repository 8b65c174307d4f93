"""ASHA that survives a resume: its rungs are rebuilt from the sweep's Parquet results.

Ray Tune's ``Tuner.restore`` restores trials and the searcher but not the scheduler: ``TuneController.__getstate__``
leaves ``_scheduler_alg`` out, and the ASHA in ``tuner.pkl`` is the one made before the first trial. A resumed sweep
would compare its trials against empty rungs and let through trials an uninterrupted sweep would stop. Here, when
Tune adds the first trial, the rungs are filled with the score every earlier trial of this experiment reached at
each milestone, read from Parquet (the source of truth, so no second copy of the state to keep consistent).

A trial that Parquet says has ended but that Tune's last saved state still shows running (it ended after Tune last
saved) is stopped at its first result, so it is not trained past where it ended; the tracker bridge ignores that
result.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from sweeper.tracking.parquet import read_experiment

if TYPE_CHECKING:
    from sweeper.spec import BudgetSection

TIME_ATTR = "epoch"  # ASHA counts epochs, not Tune's training_iteration: a trial need not report every epoch


class ResumableASHA(ASHAScheduler):
    """ASHA (one bracket) whose rung state is read back from ``sweep_dir``'s results for Tune experiment
    ``experiment``.

    It reads ASHA's private ``_brackets[0]._rungs`` and ``_metric_op``; tests/tune/test_searcher_contract.py fails if
    a Ray upgrade renames them.
    """

    def __init__(self, *, sweep_dir: Path, experiment: str, **kwargs: Any) -> None:
        super().__init__(brackets=1, **kwargs)
        self.sweep_dir = Path(sweep_dir)
        self.experiment = experiment
        self.ended: set[str] = set()
        self._loaded = False

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        if not self._loaded:
            self._loaded = True
            self.restore_rungs(read_experiment(self.sweep_dir, self.experiment))
        super().on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        if trial.trial_id in self.ended:
            return str(TrialScheduler.STOP)
        return str(super().on_trial_result(tune_controller, trial, result))

    def restore_rungs(self, earlier: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        """Fill the rungs from earlier (trials, epochs) rows: each trial's score at each milestone it reached."""
        trials, epochs = earlier
        self.ended = {t["trial_id"] for t in trials if t["status"] in ("completed", "pruned", "failed")}
        scores = {(e["trial_id"], int(e["epoch"])): e.get(str(self._metric)) for e in epochs}
        for milestone, recorded in self._brackets[0]._rungs:
            for trial in trials:
                score = scores.get((trial["trial_id"], math.ceil(milestone)))  # ASHA decides at epoch >= milestone
                if score is not None:
                    recorded[trial["trial_id"]] = self._metric_op * score


def asha_settings(budget: BudgetSection) -> dict[str, Any]:
    """ASHA's settings for a sweep's budget: the search's scheduler is built from these."""
    return {
        "time_attr": TIME_ATTR, "max_t": budget.max_epochs, "grace_period": budget.grace_period,
        "reduction_factor": budget.reduction_factor,
    }  # fmt: skip


def decision_epochs(budget: BudgetSection) -> frozenset[int]:
    """The epochs at which the search's ASHA decides whether a trial goes on, and the last epoch: a trial reports
    these to Tune as soon as they end."""
    asha = ASHAScheduler(brackets=1, **asha_settings(budget))
    milestones = {math.ceil(milestone) for milestone, _ in asha._brackets[0]._rungs}
    return frozenset({m for m in milestones if m <= budget.max_epochs} | {budget.max_epochs})
