"""What a sweep tells its trackers, independent of Ray: the hooks every tracker may implement.

Lifecycle: ``on_sweep_start`` once, then per trial ``on_trial_start``, ``on_epoch`` for each reported epoch
(``on_predictions`` after the last epoch of a confirmation run) and ``on_trial_end`` exactly once, then
``on_sweep_end``. All hooks run on the driver, in order, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TrialStatus(str, Enum):
    """How a trial ended. Only COMPLETED trials reached the full budget and are compared as finished."""

    RUNNING = "running"
    COMPLETED = "completed"  # trained for max_epochs
    PRUNED = "pruned"  # stopped early by the scheduler (ASHA)
    FAILED = "failed"  # raised an error
    INTERRUPTED = "interrupted"  # the sweep stopped (Ctrl-C) while it ran; `sweeper resume` continues it
    DISCARDED = "discarded"  # ran after Ray Tune last saved its state; a resume runs a new trial in its place

    @property
    def ended(self) -> bool:
        """Finished for good: a resume does not run it again."""
        return self in (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.FAILED, TrialStatus.DISCARDED)

    @classmethod
    def of(cls, last_epoch: int | None, max_epochs: int, *, error: bool) -> TrialStatus:
        """The status of a finished trial: failed if it raised, else completed iff it reached max_epochs."""
        if error:
            return cls.FAILED
        return cls.COMPLETED if (last_epoch or 0) >= max_epochs else cls.PRUNED


@dataclass
class TrialRecord:
    """One trial as the trackers see it."""

    trial_id: str
    params: dict[str, Any]  # the sampled hyperparameters (only those that applied to this trial)
    epochs: list[dict[str, float]] = field(default_factory=list)  # reported metrics, one dict per epoch
    status: TrialStatus = TrialStatus.RUNNING
    error: str | None = None
    wall_s: float = 0.0  # trial wall time as Ray measured it, overheads included
    started_at: float | None = None  # unix time the driver saw the trial start
    ended_at: float | None = None  # unix time the driver saw the trial end
    retries: int = 0  # restarts from a checkpoint after its worker process or node died
    # Where it ran last: {"node_id", "node_ip", "hostname", "device"} as the trial reported them.
    location: dict[str, str] = field(default_factory=dict)
    # Which stage ran it: {"stage": "search"}, or for a confirmation run {"stage": "confirm", "seed", "fold",
    # "folds", "source_trial"} (fold and folds are None without cross-validation).
    run: dict[str, Any] = field(default_factory=lambda: {"stage": "search"})


def ended_of_planned(statuses: Iterable[TrialStatus]) -> int:
    """How many of a stage's planned trials have ended: a discarded trial is not counted (another replaced it)."""
    return sum(status.ended and status is not TrialStatus.DISCARDED for status in statuses)


class SweepCallback:
    """No-op hooks; a tracker overrides the ones it needs."""

    def on_sweep_start(self) -> None:
        """Called once before any trial starts."""

    def on_trial_start(self, trial: TrialRecord) -> None:
        """A trial was given its configuration and started."""

    def on_epoch(self, trial: TrialRecord, metrics: dict[str, float]) -> None:
        """A trial reported one epoch's metrics (already appended to ``trial.epochs``)."""

    def on_predictions(self, trial: TrialRecord, table: Any) -> None:
        """A confirmation run's per-sample predictions (a pyarrow Table, see ``tracking.predictions``)."""

    def on_trial_end(self, trial: TrialRecord) -> None:
        """A trial ended; ``trial.status`` says how."""

    def on_sweep_end(self, trials: list[TrialRecord]) -> None:
        """Every trial has ended (or the sweep was interrupted)."""
