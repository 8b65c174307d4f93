"""The terminal output of sweeper's commands (outside the tracking package, so ``sweeper --help`` stays light)."""

from __future__ import annotations

import sys

from rich.console import Console


def make_console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A rich Console that keeps tables readable when output is piped or logged (160 columns, not 80)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, quiet=quiet, width=None if stream.isatty() else 160)
