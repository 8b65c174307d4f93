"""Shared fixtures: one local Ray for the whole session, and one real tiny sweep that several tests inspect.

Helpers (ports, process groups, the tiny spec) are in ``sweeper.testing``, not here: tests import them from there."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeper.testing import tiny_spec

# Prepared datasets are cached by content; the tests keep theirs out of the user's cache folder.
os.environ.setdefault("SWEEPER_CACHE_DIR", tempfile.mkdtemp(prefix="sweeper-test-cache-"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start Ray or run a sweep are `slow`; `pytest -m "not slow"` is the inner loop's fast tier."""
    for item in items:
        if {"ray_session", "tiny_sweep", "mlflow_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
