"""What Tune logs during a sweep: a benign race in its state copy is a debug line, not an ERROR with a traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.fs
import pytest

from sweeper.tune.runner import TempFileSyncRace, _quiet_tune

STATE_LOGGER = "ray.tune.execution.experiment_state"


def _copy_error(tmp_path: Path, name: str) -> FileNotFoundError:
    """The error pyarrow raises when a file it was asked to copy is gone (what Tune's syncer meets)."""
    try:
        pyarrow.fs.copy_files(str(tmp_path / name), str(tmp_path / "copy"))
    except FileNotFoundError as exc:
        return exc
    raise AssertionError("pyarrow copied a file that does not exist")


def _log_failed_sync(error: Exception) -> None:
    """As Tune does (ray/tune/execution/experiment_state.py, wait_for_sync)."""
    try:
        raise error
    except Exception:
        logging.getLogger(STATE_LOGGER).error("Saving experiment state to storage failed: ", exc_info=True)


def test_a_temp_file_renamed_under_the_state_copy_is_a_debug_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _quiet_tune()
    _quiet_tune()  # once per stage: the filter is added once
    assert sum(isinstance(f, TempFileSyncRace) for f in logging.getLogger(STATE_LOGGER).filters) == 1
    temp = ".86d8b31e-a0ab-4206-ab6d-2a59bbe7183d-tmp-searcher-state-2026-11-24_00-02-09.pkl"
    with caplog.at_level(logging.DEBUG, logger=STATE_LOGGER):
        _log_failed_sync(_copy_error(tmp_path, temp))
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG and record.exc_info is None
    assert temp in record.getMessage() and "next snapshot" in record.getMessage()

    caplog.clear()
    with caplog.at_level(logging.INFO, logger=STATE_LOGGER):
        _log_failed_sync(_copy_error(tmp_path, temp))
    assert not caplog.records  # below the level shown: nothing at all


@pytest.mark.parametrize("name", ["experiment_state-2026-11-24_00-02-09.json", "tmp-searcher-state.pkl"])
def test_any_other_failed_state_copy_is_still_an_error_with_its_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    _quiet_tune()
    with caplog.at_level(logging.DEBUG, logger=STATE_LOGGER):
        _log_failed_sync(_copy_error(tmp_path, name))
        _log_failed_sync(PermissionError(13, "Permission denied", str(tmp_path / ".x-tmp-y")))
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert all(r.exc_info for r in caplog.records)
