"""Stopping a Tune stage gracefully from outside its loop: at SIGTERM or SIGHUP, or when the disk fills up.

Tune stops a stage gracefully on Ctrl-C and SIGUSR1 only: its handler sets an event its loop reads, and the running
trials end as interrupted, resumable. ``StopRequest`` hands other reasons to that same handler.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import signal
import stat
from pathlib import Path
from typing import Any

from sweeper.errors import Stopped

DISK_FULL = (f"[Errno {errno.ENOSPC}]", os.strerror(errno.ENOSPC))  # how an OSError for a full disk prints


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
