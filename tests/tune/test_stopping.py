"""What a full disk leaves on stderr besides sweeper's own line: one line per failure from Ray Tune, Ray and MLflow,
no traceback (``sweeper.tune.stopping.DiskFullTraceback``). The real full disk is ``test_disk_full.py``."""

from __future__ import annotations

import errno
import logging
import os

from sweeper.tune.stopping import DiskFullTraceback, is_disk_full


def _record(msg: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord("ray.tune.execution.tune_controller", logging.ERROR, __file__, 1, msg, None, exc_info)


def test_a_full_disk_leaves_a_line_per_failure_and_no_traceback() -> None:
    full = DiskFullTraceback()
    trial = _record("Trial task failed for trial t1", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert full.filter(trial) and trial.exc_info is None
    assert trial.getMessage() == "Trial task failed for trial t1 [Errno 28] No space left on device"
    store = _record("SQLAlchemy database error. The following exception is caught.\n(sqlite3.OperationalError) "
                    "database or disk is full\n[SQL: UPDATE tags SET value=?]")  # fmt: skip
    assert full.filter(store)
    assert store.getMessage() == (
        "SQLAlchemy database error. The following exception is caught. (sqlite3.OperationalError) database or disk "
        "is full"
    )
    other = _record("Trial task failed for trial t2", ValueError("a bug"))
    assert full.filter(other) and other.exc_info is not None and other.getMessage() == "Trial task failed for trial t2"


def test_sqlite_full_counts_as_a_full_disk() -> None:
    assert is_disk_full("(sqlite3.OperationalError) database or disk is full")
    assert not is_disk_full("(sqlite3.OperationalError) database is locked")
