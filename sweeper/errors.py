"""The one exception root of sweeper.

Library code raises these; only ``sweeper.cli`` turns them into an exit code and a one-line message.
A message states what was wrong, the value that was given and what is allowed.
"""

from __future__ import annotations

import shlex
import signal


class SweeperError(Exception):
    """Root of every error sweeper raises on purpose (a user's mistake or an unusable input)."""


class ConfigError(SweeperError):
    """The sweep spec (YAML) or a command-line option is invalid."""


class RegistryError(SweeperError):
    """A name is unknown to a registry, or registered twice."""


class DataError(SweeperError):
    """A dataset cannot be built or read."""


class SweepError(SweeperError):
    """A sweep cannot start, or its folder is not a sweep."""


class SweepInterrupted(SweepError):
    """The sweep stopped before its end (Ctrl-C); what ran is kept and ``sweeper resume`` continues it."""

    def __init__(self, sweep_dir: object, interrupted: int, signum: int = signal.SIGINT) -> None:
        self.sweep_dir = sweep_dir
        self.signum = signum
        running = "it stopped between two trials"
        if interrupted:
            running = f"{interrupted} running trials were stopped and recorded as interrupted"
        by = "" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
        super().__init__(
            f"interrupted{by}: {running}; every result so far is kept. Continue with: sweeper resume "
            + shlex.quote(str(sweep_dir))
        )


class Stopped(KeyboardInterrupt):
    """A stop signal other than Ctrl-C (SIGTERM) where Ctrl-C would raise KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class TrainingDiverged(SweeperError):
    """A trial's loss or objective became NaN or infinite: the trial fails with this reason and is never ranked."""
