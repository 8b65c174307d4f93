"""MLflow's client is imported in a background thread while Ray starts; the thread must import, and never raise."""

from __future__ import annotations

import sys
import threading

import pytest

from sweeper.tracking import mlflow_tracker


def test_imports_the_modules_in_another_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.setattr(mlflow_tracker, "_CLIENT_MODULES", ("colorsys",))
    thread = mlflow_tracker.import_in_background()
    assert thread is not threading.current_thread() and thread.daemon
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "colorsys" in sys.modules


def test_a_failed_import_is_left_to_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    monkeypatch.setattr(mlflow_tracker, "_CLIENT_MODULES", ("sweeper_no_such_module", "colorsys"))
    thread = mlflow_tracker.import_in_background()
    thread.join(timeout=30)
    assert not thread.is_alive() and raised == []


def test_the_client_modules_exist() -> None:
    import importlib.util

    for name in mlflow_tracker._CLIENT_MODULES:
        assert importlib.util.find_spec(name) is not None, name
