"""Parquet results: written as each epoch arrives, readable at any moment, summarised per trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.errors import SweepError
from sweeper.tracking import ParquetResults, TrialRecord, TrialStatus, read_epochs, read_trials


def _epoch(epoch: int, score: float) -> dict[str, float]:
    return {"epoch": float(epoch), "val/mean_macro_f1": score, "train/loss": 1.0 / epoch, "time/train_s": epoch * 0.5}


def test_each_epoch_is_on_disk_before_the_trial_ends(tmp_path: Path) -> None:
    writer = ParquetResults(tmp_path, "s", ["fusion", "heads"], "val/mean_macro_f1", "max")
    writer.on_sweep_start()
    trial = TrialRecord("t1", {"fusion": "concat"})
    writer.on_trial_start(trial)
    for epoch, score in [(1, 0.5), (2, 0.6)]:
        metrics = _epoch(epoch, score)
        trial.epochs.append(metrics)
        writer.on_epoch(trial, metrics)
        # A crash right here must lose nothing already reported: the rows are readable now.
        rows = read_epochs(tmp_path).to_pylist()
        assert [r["epoch"] for r in rows] == list(range(1, epoch + 1))
    assert rows[-1]["config/fusion"] == "concat" and rows[-1]["config/heads"] is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_summary_has_status_final_and_best_objective(tmp_path: Path) -> None:
    writer = ParquetResults(tmp_path, "s", ["fusion", "heads"], "val/mean_macro_f1", "max")
    writer.on_sweep_start()
    done = TrialRecord("a", {"fusion": "cross_attention", "heads": 2})
    pruned = TrialRecord("b", {"fusion": "concat"})
    for trial, scores, status in [(done, [0.5, 0.7, 0.6], TrialStatus.COMPLETED), (pruned, [0.4], TrialStatus.PRUNED)]:
        writer.on_trial_start(trial)
        for epoch, score in enumerate(scores, 1):
            trial.epochs.append(_epoch(epoch, score))
            writer.on_epoch(trial, trial.epochs[-1])
        trial.status = status
        writer.on_trial_end(trial)
    rows = {r["trial_id"]: r for r in read_trials(tmp_path).to_pylist()}
    assert rows["a"]["status"] == "completed" and rows["b"]["status"] == "pruned"
    assert rows["a"]["objective"] == pytest.approx(0.6) and rows["a"]["best_objective"] == pytest.approx(0.7)
    assert rows["a"]["epochs"] == 3 and rows["b"]["epochs"] == 1
    assert rows["a"]["config/heads"] == 2 and rows["b"]["config/heads"] is None
    assert rows["a"]["train_s"] == pytest.approx(1.5)


def test_reading_a_folder_without_results_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="no results in"):
        read_epochs(tmp_path)
    with pytest.raises(SweepError, match="is not a sweep folder"):
        read_trials(tmp_path)


@pytest.mark.parametrize(
    ("last_epoch", "error", "expected"),
    [(5, False, TrialStatus.COMPLETED), (2, False, TrialStatus.PRUNED), (None, True, TrialStatus.FAILED)],
)
def test_status_follows_the_budget(last_epoch: int | None, error: bool, expected: TrialStatus) -> None:
    assert TrialStatus.of(last_epoch, 5, error=error) is expected
