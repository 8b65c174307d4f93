"""Shared fixtures: one local Ray for the whole session, and one real tiny sweep that several tests inspect."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sweeper.config import SweepSpec, parse_spec
from sweeper.testing import TINY

# Prepared datasets are cached by content; the tests keep theirs out of the user's cache folder.
os.environ.setdefault("SWEEPER_CACHE_DIR", tempfile.mkdtemp(prefix="sweeper-test-cache-"))

NO_CONFIRM: dict[str, Any] = {"enabled": False}  # for tests of the search stage alone


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start Ray or run a sweep are `slow`; `pytest -m "not slow"` is the inner loop's fast tier."""
    for item in items:
        if {"ray_session", "tiny_sweep", "mlflow_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    """A loopback port nothing listens on (once this returns)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process_group(proc: subprocess.Popen) -> None:
    """Stop a process started with start_new_session=True and every process it started (servers, workers)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group did not stop on SIGTERM


def need(found: object, package: str, what: str) -> None:
    """Skip a test when ``package`` (which provides ``what``) is missing; in CI (CI=true), which installs every
    package the tests use, fail instead, so that a test never goes quietly untested there."""
    if found:
        return
    message = f"needs the {package} package ({what})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, which CI installs (.ci/run)")
    pytest.skip(message)


def tiny_spec(**overrides: Any) -> SweepSpec:
    """The tiny sweep spec, with top-level sections replaced by ``overrides``."""
    return parse_spec({**TINY, **overrides}, "tiny")


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local Ray started once per test session (starting Ray costs seconds on 2 cores)."""
    import ray

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    # address="local": a Ray of its own, even where a test left `ray start` cluster state that ray.init() would join
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_sweep(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished real sweep: Ray Tune + Optuna + ASHA + MLflow (SQLite) + Parquet, in a temporary folder."""
    from sweeper.tune import run_sweep

    sweep_dir = tmp_path_factory.mktemp("sweeps") / "tiny"
    run_sweep(tiny_spec(), sweep_dir, quiet=True)
    return sweep_dir
