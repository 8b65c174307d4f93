"""Ray Tune's OptunaSearch, telling Optuna the truth about trials the scheduler stopped.

Ray's OptunaSearch reports every intermediate value, but closes a trial that ASHA stopped early as COMPLETE with its
low-budget score, which misleads TPE (it then models an under-trained score as a final one). Here a trial that ended
without error before ``max_epochs`` is told to Optuna as PRUNED (Optuna then records its last intermediate value),
a trial that raised as FAIL, and only a trial that trained the full budget as COMPLETE.

Tune hands a trial's last result (the one that finished it, or the one on which ASHA stopped it) only to
``on_trial_complete``, never to ``on_trial_result``; so that last epoch is reported here as an intermediate value
too, and a pruned trial's value in Optuna is the score at which it was stopped.

Across a resume: every Optuna trial carries its Ray trial id from the moment it is suggested (user attribute
``trial_id``); a trial already told (it ended after Tune last saved the searcher) is not told again; the restored
searcher is aligned with the trials of Tune's experiment state, which may have been saved at another moment
(``sweeper.tune.reconcile``); trials left RUNNING by a driver that died, which the restored searcher does not
know, are closed as FAIL with the reason (``fail_orphans``), so the study holds no RUNNING leftovers; and a trial
Optuna was told had ended, but whose end never reached Parquet (Tune tells the searcher before the callbacks, and
the driver died in between), ends in Parquet as Optuna has it (``close_told_trials``), so a resume does not train it
again.
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from sweeper.tracking import ParquetResults, TrialStatus
from sweeper.tune.reconcile import STATE_PREFIX, SavedTrial, saved_trials
from sweeper.tune.trainable import USER_ERROR_KEY, reported_epochs

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec

logger = logging.getLogger(__name__)
ORPHAN_REASON = "the sweep was interrupted before Ray Tune saved this trial; a resume ran another in its place"
REPEAT_REASON = "a configuration already tried; the search asked for another in its place"
TIMEOUT_REASON = "queued, but the search's time limit (budget.timeout_s) came first"
_OPTUNA_STATE = {
    TrialStatus.COMPLETED: TrialState.COMPLETE,
    TrialStatus.PRUNED: TrialState.PRUNED,
    TrialStatus.FAILED: TrialState.FAIL,
}


class PruningAwareOptunaSearch(OptunaSearch):
    """OptunaSearch whose early-stopped trials reach the study as PRUNED; ``max_epochs`` is the full budget.

    It does not train a configuration twice while the space has others left: training is seeded, so a repeat scores
    what the first run did and teaches the search nothing, yet TPE proposes repeats on a space of choices alone. A
    repeated proposal is closed in the study as FAIL (user attribute ``sweeper.discarded`` says why) and TPE is asked
    again, up to ``ASK_AGAIN`` times; if it still repeats, a configuration not yet tried, drawn at random (seeded by
    ``seed``), is given to the trial instead. Once every configuration has been tried (``DRAWS`` random draws find
    none), a repeat runs as proposed, and nothing is closed.

    It reads Ray's private ``_ot_study``, ``_ot_trials``, ``_completed_trials``, ``_metric`` and ``_space``, and
    Optuna's private ``Trial._trial_id``; tests/tune/test_searcher_contract.py fails if an upgrade renames them.
    """

    ASK_AGAIN = 2  # TPE proposals after a repeat, before a random untried configuration
    DRAWS = 200  # random draws to find an untried configuration; none found: the space is taken as exhausted

    def __init__(
        self, *args: Any, max_epochs: int, seed: int = 0, deadline: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_epochs = max_epochs
        self.seed = seed
        self.deadline = deadline  # unix time after which no trial starts (budget.timeout_s); saved with the state

    def suggest(self, trial_id: str) -> dict | None:
        if self.deadline is not None and time.time() >= self.deadline and self._ot_trials:
            self._close_queue()
            # Tune starts no more trials and ends the stage once the running ones end (typed Optional[Dict] in Ray)
            return Searcher.FINISHED  # type: ignore[return-value]
        config = super().suggest(trial_id)
        if trial_id not in self._ot_trials:
            return config
        tried = self._tried(self._ot_trials[trial_id].number)
        if _key(self._ot_trials[trial_id].params) in tried and (untried := self._draw_untried(tried)) is not None:
            for _ in range(self.ASK_AGAIN):
                self._discard_repeat(trial_id)
                config = super().suggest(trial_id)
                if _key(self._ot_trials[trial_id].params) not in tried:
                    break
            else:
                self._discard_repeat(trial_id)
                assert self._ot_study is not None
                self._ot_study.enqueue_trial(untried)  # the next ask takes it
                config = super().suggest(trial_id)
        self._ot_trials[trial_id].set_user_attr("trial_id", trial_id)  # the Ray trial id, as in Parquet and MLflow
        return config

    def _close_queue(self) -> None:
        """Close as FAIL the points still queued (one per fusion family first) that the time limit left untried: the
        study would otherwise keep WAITING trials that nothing runs."""
        study = self._ot_study
        assert study is not None
        while study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            trial = study.ask()  # takes the next queued point
            study._storage.set_trial_user_attr(trial._trial_id, "sweeper.discarded", TIMEOUT_REASON)
            study.tell(trial, state=TrialState.FAIL)

    def _tried(self, number: int) -> set[frozenset]:
        """The configurations of the study's trials that trained, train now or failed (all but ``number``)."""
        assert self._ot_study is not None
        return {
            _key(t.params)
            for t in self._ot_study.get_trials(deepcopy=False)
            if t.number != number and t.state is not TrialState.WAITING and "sweeper.discarded" not in t.user_attrs
        }

    def _discard_repeat(self, trial_id: str) -> None:
        assert self._ot_study is not None
        ot_trial = self._ot_trials.pop(trial_id)
        self._ot_study._storage.set_trial_user_attr(ot_trial._trial_id, "sweeper.discarded", REPEAT_REASON)
        self._ot_study.tell(ot_trial, state=TrialState.FAIL)

    def _draw_untried(self, tried: set[frozenset]) -> dict[str, Any] | None:
        """A configuration not in ``tried``, drawn at random from the space; None if ``DRAWS`` draws found none."""
        from sweeper.tune.space import random_draws

        assert self._ot_study is not None and callable(self._space)
        draws = random_draws(self._space, self.seed + len(self._ot_study.get_trials(deepcopy=False)))
        return next((p for p, _ in itertools.islice(draws, self.DRAWS) if _key(p) not in tried), None)

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        super().restore_from_dir(checkpoint_dir)
        assert self._ot_study is not None
        states = sorted(Path(checkpoint_dir).glob(f"{STATE_PREFIX}*.json"))  # Tune downloads them here to restore
        if states:
            self._align(saved_trials(states[-1].read_text()))
        for trial_id, trial in self._ot_trials.items():
            if self._ot_study._storage.get_trial(trial._trial_id).state.is_finished():
                self._completed_trials.add(trial_id)  # told after Tune last saved: not reported to again
        known = {t.number for tid, t in self._ot_trials.items() if tid not in self._completed_trials}
        fail_orphans(self._ot_study, keep=known, requeue=True)

    def _align(self, trials: dict[str, SavedTrial]) -> None:
        """Know exactly the trials of Tune's experiment state, and tell Optuna those that ended."""
        assert self._ot_study is not None
        for trial_id in set(self._ot_trials) - set(trials):  # suggested after Tune saved its trials: never run
            del self._ot_trials[trial_id]
            self._completed_trials.discard(trial_id)
        unknown = set(trials) - set(self._ot_trials)  # saved by Tune after it saved the searcher
        if unknown:
            for frozen in self._ot_study.get_trials(deepcopy=False):
                if frozen.user_attrs.get("trial_id") in unknown:
                    self._ot_trials[frozen.user_attrs["trial_id"]] = optuna.Trial(self._ot_study, frozen._trial_id)
        for trial_id, trial in trials.items():
            if trial.ended and trial_id in self._ot_trials and trial_id not in self._completed_trials:
                self.on_trial_complete(trial_id, trial.last_result, error=trial.status == "ERROR")

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Every epoch the result stands for, as an intermediate value at its epoch (Ray's OptunaSearch would report
        only the result's own, at Tune's training_iteration, which counts reports)."""
        if trial_id not in self._completed_trials:  # a reported mistake carries no score, only its held-back epochs
            self._report(self._ot_trials[trial_id], result)

    def _report(self, ot_trial: optuna.Trial, result: dict) -> None:
        """Every epoch ``result`` stands for, as an intermediate value at that epoch."""
        with warnings.catch_warnings():  # a trial retried from its checkpoint reports some epochs again
            warnings.filterwarnings("ignore", message="The reported value is ignored because this `step")
            for reported in reported_epochs(result):
                if (value := reported.get(str(self._metric))) is not None and "epoch" in reported:
                    ot_trial.report(value, int(reported["epoch"]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and USER_ERROR_KEY in result:
            error, result = True, None
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        last_epoch = int(result["epoch"]) if result and "epoch" in result else None
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
            if result:
                self._report(ot_trial, result)  # the stopping result reaches no on_trial_result
            self._ot_study.tell(ot_trial, value if state is TrialState.COMPLETE else None, state=state)
        except Exception as exc:  # Optuna refuses e.g. a NaN value; the trial must not take the sweep down
            logger.warning("Optuna did not accept trial %s: %s", trial_id, exc)
        self._completed_trials.add(trial_id)


def fail_orphans(
    study: optuna.Study,
    keep: set[int] = frozenset(),  # type: ignore[assignment]
    *,
    requeue: bool = False,
) -> list[int]:
    """Close as FAIL the RUNNING trials of ``study`` not in ``keep``: left by a driver that was killed.

    ``requeue``: an orphan that held an enqueued point (``points_to_evaluate``) puts it back in the queue, so the
    trial that replaces it tries that point; for a restored searcher, which does not enqueue its points again.
    """
    orphans = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if t.number not in keep]
    for trial in orphans:
        study._storage.set_trial_user_attr(trial._trial_id, "sweeper.discarded", ORPHAN_REASON)
        study.tell(trial.number, state=TrialState.FAIL)
        if requeue and "fixed_params" in trial.system_attrs:
            study.enqueue_trial(trial.system_attrs["fixed_params"])
    return [t.number for t in orphans]


def close_told_trials(spec: SweepSpec, sweep_dir: Path, experiment: str, study: optuna.Study) -> list[str]:
    """End in Parquet, as Optuna has them, the trials Optuna was told had ended but Parquet still shows running.

    Tune tells the searcher that a trial ended before it tells its callbacks, so a driver killed in between leaves
    the trial finished in Optuna, and running in Parquet and (if Tune saved it) in Tune's experiment state. Ended in
    Parquet, it is stopped at its first result when Tune resumes it (``ResumableASHA``), and MLflow follows Parquet;
    its epochs were all written before (callbacks get each result before the trial is stopped). Run before Tune
    restores ``experiment``; returns the trial ids it ended.
    """
    from sweeper.tune.callbacks import earlier_records

    told = {
        t.user_attrs["trial_id"]: t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        if "trial_id" in t.user_attrs and "sweeper.discarded" not in t.user_attrs  # not an orphan a resume closed
    }
    records = earlier_records(sweep_dir, experiment)
    state_of = {v: k for k, v in _OPTUNA_STATE.items()}
    results = ParquetResults(sweep_dir, spec.name, list(spec.parameters), spec.objective.metric, spec.objective.mode)
    closed = []
    for trial_id, record in records.items():
        if record.status.ended or trial_id not in told:
            continue
        frozen = told[trial_id]
        record.status = state_of[frozen.state]
        record.ended_at = frozen.datetime_complete.timestamp() if frozen.datetime_complete else None
        if record.status is TrialStatus.FAILED:
            record.error = record.error or "the trial failed; the sweep was killed before its error was recorded"
        results.on_trial_end(record)
        closed.append(trial_id)
    return closed


def _key(params: dict[str, Any]) -> frozenset:
    return frozenset(params.items())
