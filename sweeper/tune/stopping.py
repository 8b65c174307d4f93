"""Stopping a Tune stage gracefully from outside its loop: at SIGTERM or SIGHUP, or when the disk fills up.

Tune stops a stage gracefully on Ctrl-C and SIGUSR1 only: its handler sets an event its loop reads, and the running
trials end as interrupted, resumable. ``StopRequest`` hands other reasons to that same handler.
"""

from __future__ import annotations

import errno
import logging
import os
import shlex
import shutil
import signal
import stat
from pathlib import Path
from typing import Any

from sweeper.errors import Stopped

# how a full disk prints: an OSError, and SQLite's SQLITE_FULL (the MLflow and Optuna stores)
DISK_FULL = (f"[Errno {errno.ENOSPC}]", os.strerror(errno.ENOSPC), "database or disk is full")


class StopRequest:
    """SIGTERM, what `kill`, `timeout`, Slurm's `scancel`, Kubernetes and `docker stop` send to end a job, stops a
    sweep as Ctrl-C does: gracefully, its running trials recorded as interrupted, resumable. Ray's driver would
    exit at once instead (``ray.init`` installs ``sys.exit`` for it, and its C++ prints a stack trace first).

    SIGHUP, a closed terminal or ssh session, stops it the same way; what the driver would print to the terminal
    that is gone then goes nowhere (``detach_hung_up_output``).

    Within a Tune fit the request goes to Tune's own stop handler (the one Tune puts on SIGUSR1); outside a fit, or
    at a second SIGTERM, ``Stopped`` is raised, as a Ctrl-C there raises KeyboardInterrupt. A second SIGHUP is not
    a user insisting: a terminal that hangs up signals its session's leader, and a shell then signals its jobs.
    """

    received: int | None = None  # the stop signal this command received
    disk_full: str | None = None  # the error of a trial that found the disk full
    before_fit: Any = None  # SIGUSR1's handler before the Tune fit now running; None outside a fit

    @classmethod
    def on_signal(cls, signum: int, frame: Any) -> None:
        if signum == signal.SIGHUP:
            detach_hung_up_output()
            if cls.received is not None:  # a hang-up signals the session leader and then the job: not insisting
                return
        first, cls.received = cls.received is None, signum
        if not (first and cls.stop_fit(signum)):
            raise Stopped(signum)

    @classmethod
    def stop_fit(cls, signum: int = signal.SIGUSR1) -> bool:
        """Ask the running Tune fit to stop as at Ctrl-C; False if no fit runs (or Tune installed no handler)."""
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if cls.before_fit is None or not callable(tune_stop) or tune_stop is cls.before_fit:
            return False
        tune_stop(signum, None)
        return True

    @classmethod
    def on_disk_full(cls, error: str) -> bool:
        """A trial found the disk full: stop the stage (its other trials would fail the same way, and the sweep's
        own files could not be written); True if the stage stops."""
        cls.disk_full = cls.disk_full or error
        return cls.stop_fit()

    @classmethod
    def disk_full_message(cls, sweep_dir: Path) -> str:
        free = shutil.disk_usage(sweep_dir).free if sweep_dir.exists() else 0
        return (
            f"the disk ran out of space ({cls.disk_full}; {free / 2**20:.0f} MiB free where the sweep folder is): the "
            "sweep stopped, every result written so far is kept, and the trials it stopped are continued by "
            f"`sweeper resume {shlex.quote(str(sweep_dir))}` once there is room"
        )


def is_disk_full(error: str) -> bool:
    return any(mark in error for mark in DISK_FULL)


def detach_hung_up_output() -> None:
    """Standard output and error that went to a terminal now hung up fail every write (EIO), and the graceful stop
    would die of its first line; they go to the null device instead. A file, a pipe, or a terminal still open
    (``kill -HUP`` by hand) is kept: a hung-up terminal is the character device that is no longer a terminal."""
    for fd in (1, 2):
        try:
            hung_up = stat.S_ISCHR(os.fstat(fd).st_mode) and not os.isatty(fd)
        except OSError:  # closed
            continue
        if hung_up:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)


class DiskFullTraceback(logging.Filter):
    """A full disk fails many things at once, and each logs its traceback before sweeper's one line says what
    happened and what to do: every running trial's task (Ray Tune, and Ray's report of an unhandled task error), Tune's
    experiment-state snapshot, MLflow's SQLite store. 216 lines of stderr in ``tests/tune/test_disk_full.py``'s
    sweep. A record about a full disk keeps its first line and the error's line; the traceback goes. Anything else
    is left as it was logged."""

    LOGGERS = (
        "ray.tune.execution.tune_controller",
        "ray.tune.execution.experiment_state",
        "ray._private.worker",
        "mlflow.store.db.utils",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        text = record.getMessage()
        lines = [*str(error or "").splitlines(), *text.splitlines()]
        cause = next((line.strip() for line in lines if is_disk_full(line)), None)
        if cause is None:
            return True
        first = text.strip().splitlines()[0] if text.strip() else ""
        record.msg = first if cause in first else f"{first} {cause}".strip()
        record.args, record.exc_info, record.exc_text = None, None, None
        return True
