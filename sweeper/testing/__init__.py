"""Reusable test material, for sweeper's tests and for tests of code built on it (as ``optuna.testing``):

- ``sweeps``: the tiny real sweep spec, and sweep folders written by hand to test recommendations without Ray;
- ``processes``: ports, process groups and optional system packages, for tests that start real services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweeper.testing.processes import free_port, need, stop_process_group
from sweeper.testing.sweeps import TINY, Family, Layout, confirmation_runs, write_sweep

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec

NO_CONFIRM: dict[str, Any] = {"enabled": False}  # a spec's confirm section for tests of the search stage alone


def tiny_spec(**overrides: Any) -> SweepSpec:
    """The tiny sweep spec, with top-level sections replaced by ``overrides``."""
    from sweeper.spec import parse_spec

    return parse_spec({**TINY, **overrides}, "tiny")


__all__ = [
    "NO_CONFIRM",
    "TINY",
    "Family",
    "Layout",
    "confirmation_runs",
    "free_port",
    "need",
    "stop_process_group",
    "tiny_spec",
    "write_sweep",
]
