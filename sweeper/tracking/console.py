"""A line on the terminal for every trial that ends, so a person sees a sweep progress; on a terminal, a live status
line under them: done/total, running, pruned, failed, the best so far with its fusion, elapsed time and ETA.
Piped or logged output (CI) gets the lines only."""

from __future__ import annotations

import functools
import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from sweeper.console import make_console
from sweeper.tracking._base import SweepCallback, TrialRecord, TrialStatus

_STYLE = {
    TrialStatus.COMPLETED: "green",
    TrialStatus.PRUNED: "yellow",
    TrialStatus.FAILED: "red",
    TrialStatus.INTERRUPTED: "magenta",
}


class ConsoleProgress(SweepCallback):
    def __init__(self, total: int, objective: str, *, quiet: bool = False, mode: str = "max") -> None:
        self.total = total
        self.objective = objective
        self.quiet = quiet
        self.mode = mode
        self.ended = 0
        self.running: set[str] = set()
        self.counts: dict[TrialStatus, int] = {}
        self.best: tuple[float, str] | None = None  # (objective, fusion)
        self.started = time.monotonic()
        self.live: Live | None = None

    @functools.cached_property
    def console(self) -> Console:
        return make_console(quiet=self.quiet)

    def __getstate__(self) -> dict:
        # Ray Tune pickles its callbacks with the experiment; a Console and a Live display hold locks.
        return {k: v for k, v in self.__dict__.items() if k not in ("console", "live")} | {"live": None}

    def on_sweep_start(self) -> None:
        self.started = time.monotonic()
        if self.console.is_terminal and not self.quiet:
            self.live = Live(self._status(), console=self.console, refresh_per_second=2, transient=True)
            self.live.start()

    def on_trial_start(self, trial: TrialRecord) -> None:
        self.running.add(trial.trial_id)
        self._refresh()

    def on_sweep_end(self, trials: list[TrialRecord]) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def status_line(self) -> str:
        """done/total, running, pruned, failed, the best so far, elapsed and ETA, as one line."""
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.ended * (self.total - self.ended) if self.ended else None
        best = f"best {self.objective}={self.best[0]:.4f} ({self.best[1]})" if self.best else "no score yet"
        return (
            f"{self.ended}/{self.total} done, {len(self.running)} running, "
            f"{self.counts.get(TrialStatus.PRUNED, 0)} pruned, {self.counts.get(TrialStatus.FAILED, 0)} failed; "
            f"{best}; elapsed {_clock(elapsed)}, ETA {_clock(eta) if eta is not None else '?'}"
        )

    def _status(self) -> Text:
        return Text(self.status_line(), style="bold")

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._status())

    def on_trial_end(self, trial: TrialRecord) -> None:
        self.running.discard(trial.trial_id)
        if trial.status is TrialStatus.DISCARDED:
            self._refresh()
            return
        self.ended += trial.status is not TrialStatus.INTERRUPTED
        self.counts[trial.status] = self.counts.get(trial.status, 0) + 1
        last = trial.epochs[-1] if trial.epochs else {}
        score = last.get(self.objective)
        if score is not None and score == score and trial.status is not TrialStatus.FAILED:  # NaN: not a score
            better = self.best is None or (score > self.best[0] if self.mode == "max" else score < self.best[0])
            if better:
                self.best = (float(score), str(trial.params.get("fusion", "")))
        run = {k: v for k, v in trial.run.items() if k in ("seed", "fold") and v is not None}
        params = ", ".join(f"{k}={_short(v)}" for k, v in {**trial.params, **run}.items())
        shown = f"{self.objective}={score:.4f}" if score is not None else (trial.error or "no result")
        style = _STYLE.get(trial.status, "white")
        self._refresh()  # the status line under it already counts this trial
        self.console.print(
            f"[{self.ended:>3}/{self.total}] {trial.trial_id} [{style}]{trial.status.value:<9}[/{style}] "
            f"epochs={int(last.get('epoch', 0))} {shown}  ({params})",
            highlight=False,
        )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
