"""Ray Tune's OptunaSearch, telling Optuna the truth about trials the scheduler stopped.

Ray's OptunaSearch reports every intermediate value, but closes a trial that ASHA stopped early as COMPLETE with its
low-budget score, which misleads TPE (it then models an under-trained score as a final one). Here a trial that ended
without error before ``max_epochs`` is told to Optuna as PRUNED (Optuna then records its last intermediate value),
a trial that raised as FAIL, and only a trial that trained the full budget as COMPLETE.

Tune hands a trial's last result (the one that finished it, or the one on which ASHA stopped it) only to
``on_trial_complete``, never to ``on_trial_result``; so that last epoch is reported here as an intermediate value
too, and a pruned trial's value in Optuna is the score at which it was stopped.

Across a resume: every Optuna trial carries its Ray trial id from the moment it is suggested (user attribute
``trial_id``); a trial already told (it ended after Tune last saved the searcher) is not told again; and trials left
RUNNING by a driver that died, which the restored searcher does not know, are closed as FAIL with the reason
(``fail_orphans``), so the study holds no RUNNING leftovers.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from sweeper.tracking import TrialStatus
from sweeper.tune.trainable import USER_ERROR_KEY

logger = logging.getLogger(__name__)
ORPHAN_REASON = "the sweep was interrupted before Ray Tune saved this trial; a resume ran another in its place"
_OPTUNA_STATE = {
    TrialStatus.COMPLETED: TrialState.COMPLETE,
    TrialStatus.PRUNED: TrialState.PRUNED,
    TrialStatus.FAILED: TrialState.FAIL,
}


class PruningAwareOptunaSearch(OptunaSearch):
    """OptunaSearch whose early-stopped trials reach the study as PRUNED; ``max_epochs`` is the full budget.

    It reads Ray's private ``_ot_study``, ``_ot_trials``, ``_completed_trials`` and ``_metric``, and Optuna's
    private ``Trial._trial_id``; tests/tune/test_searcher_contract.py fails if an upgrade renames them.
    """

    def __init__(self, *args: Any, max_epochs: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_epochs = max_epochs

    def suggest(self, trial_id: str) -> dict | None:
        config = super().suggest(trial_id)
        if trial_id in self._ot_trials:
            self._ot_trials[trial_id].set_user_attr("trial_id", trial_id)  # the Ray trial id, as in Parquet and MLflow
        return config

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        super().restore_from_dir(checkpoint_dir)
        assert self._ot_study is not None
        known = {t.number for tid, t in self._ot_trials.items() if tid not in self._completed_trials}
        fail_orphans(self._ot_study, keep=known)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if USER_ERROR_KEY in result:  # a reported mistake carries no score
            return
        with warnings.catch_warnings():  # a trial retried from its checkpoint reports some epochs again
            warnings.filterwarnings("ignore", message="The reported value is ignored because this `step")
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and USER_ERROR_KEY in result:
            error, result = True, None
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        last_epoch = (result or {}).get("training_iteration")
        value = (result or {}).get(self._metric)
        status = TrialStatus.of(last_epoch, self.max_epochs, error=error)
        if status is TrialStatus.COMPLETED and value is None:
            status = TrialStatus.FAILED  # finished but never reported the objective
        state = _OPTUNA_STATE[status]
        assert self._ot_study is not None, "the study is created before any trial is suggested"
        ot_trial = self._ot_trials[trial_id]
        if self._ot_study._storage.get_trial(ot_trial._trial_id).state.is_finished():
            self._completed_trials.add(trial_id)  # told before Tune last saved the searcher's state
            return
        try:
            if last_epoch is not None and value is not None:
                ot_trial.report(value, last_epoch)  # Optuna ignores a step it already has
            self._ot_study.tell(ot_trial, value if state is TrialState.COMPLETE else None, state=state)
        except Exception as exc:  # Optuna refuses e.g. a NaN value; the trial must not take the sweep down
            logger.warning("Optuna did not accept trial %s: %s", trial_id, exc)
        self._completed_trials.add(trial_id)


def fail_orphans(study: optuna.Study, keep: set[int] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """Close as FAIL the RUNNING trials of ``study`` not in ``keep``: left by a driver that was killed."""
    orphans = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if t.number not in keep]
    for trial in orphans:
        study._storage.set_trial_user_attr(trial._trial_id, "sweeper.discarded", ORPHAN_REASON)
        study.tell(trial.number, state=TrialState.FAIL)
    return [t.number for t in orphans]
