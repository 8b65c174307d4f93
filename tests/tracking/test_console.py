"""The terminal progress of a sweep: a line per ended trial everywhere, and a live status line on a terminal."""

from __future__ import annotations

import io
import pickle

from rich.console import Console

from sweeper.tracking import TrialRecord, TrialStatus
from sweeper.tracking.console import ConsoleProgress


def _trial(trial_id: str, status: TrialStatus, score: float | None, fusion: str) -> TrialRecord:
    epochs = [{"epoch": 2.0, "val/f1": score}] if score is not None else []
    return TrialRecord(trial_id=trial_id, params={"fusion": fusion}, epochs=epochs, status=status)


def _progress(terminal: bool) -> tuple[ConsoleProgress, io.StringIO]:
    out = io.StringIO()
    progress = ConsoleProgress(4, "val/f1")
    progress.__dict__["console"] = Console(file=out, force_terminal=terminal, width=200)
    return progress, out


def test_a_terminal_gets_a_live_status_line_with_counts_best_and_eta() -> None:
    progress, out = _progress(terminal=True)
    progress.on_sweep_start()
    assert progress.live is not None
    for trial_id in ("a", "b"):
        progress.on_trial_start(_trial(trial_id, TrialStatus.RUNNING, None, ""))
    progress.on_trial_end(_trial("a", TrialStatus.PRUNED, 0.6, "gated"))
    progress.on_trial_end(_trial("b", TrialStatus.COMPLETED, 0.8, "low_rank"))
    progress.on_trial_start(_trial("c", TrialStatus.RUNNING, None, ""))
    progress.on_trial_end(_trial("c", TrialStatus.FAILED, None, "concat"))
    line = progress.status_line()
    assert line.startswith("3/4 done, 0 running, 1 pruned, 1 failed; best val/f1=0.8000 (low_rank); elapsed 0:0")
    assert "ETA 0:0" in line
    assert pickle.loads(pickle.dumps(progress)).live is None  # Tune pickles its callbacks
    progress.on_sweep_end([])
    assert progress.live is None
    assert "low_rank" in out.getvalue()


def test_piped_output_gets_one_line_per_trial_and_no_live_display() -> None:
    progress, out = _progress(terminal=False)
    progress.on_sweep_start()
    assert progress.live is None
    progress.on_trial_end(_trial("a", TrialStatus.COMPLETED, 0.7, "gated"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[  1/4] a completed") and "val/f1=0.7000" in lines[0]
