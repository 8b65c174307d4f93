"""A line on the terminal for every trial that ends, so a person sees a sweep progress."""

from __future__ import annotations

import functools

from rich.console import Console

from sweeper.console import make_console
from sweeper.tracking._base import SweepCallback, TrialRecord, TrialStatus

_STYLE = {
    TrialStatus.COMPLETED: "green",
    TrialStatus.PRUNED: "yellow",
    TrialStatus.FAILED: "red",
    TrialStatus.INTERRUPTED: "magenta",
}


class ConsoleProgress(SweepCallback):
    def __init__(self, total: int, objective: str, *, quiet: bool = False) -> None:
        self.total = total
        self.objective = objective
        self.quiet = quiet
        self.ended = 0

    @functools.cached_property
    def console(self) -> Console:
        return make_console(quiet=self.quiet)

    def __getstate__(self) -> dict:
        # Ray Tune pickles its callbacks with the experiment; a Console holds a lock and cannot be pickled.
        return {k: v for k, v in self.__dict__.items() if k != "console"}

    def on_trial_end(self, trial: TrialRecord) -> None:
        if trial.status is TrialStatus.DISCARDED:
            return
        self.ended += trial.status is not TrialStatus.INTERRUPTED
        last = trial.epochs[-1] if trial.epochs else {}
        score = last.get(self.objective)
        run = {k: v for k, v in trial.run.items() if k in ("seed", "fold") and v is not None}
        params = ", ".join(f"{k}={_short(v)}" for k, v in {**trial.params, **run}.items())
        shown = f"{self.objective}={score:.4f}" if score is not None else (trial.error or "no result")
        style = _STYLE.get(trial.status, "white")
        self.console.print(
            f"[{self.ended:>3}/{self.total}] {trial.trial_id} [{style}]{trial.status.value:<9}[/{style}] "
            f"epochs={int(last.get('epoch', 0))} {shown}  ({params})",
            highlight=False,
        )


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
