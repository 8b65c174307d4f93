"""Helpers for tests that start real services (Ray nodes, an MLflow server, PostgreSQL, a browser) on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess


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
    import pytest

    if found:
        return
    message = f"needs the {package} package ({what})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, which CI installs (.ci/run)")
    pytest.skip(message)
