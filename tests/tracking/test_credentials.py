"""Credentials in a tracking URI are never printed, logged or kept: they move to MLflow's environment variables."""

from __future__ import annotations

import pytest

from sweeper.tracking.mlflow_tracker import redact, take_credentials


def test_a_servers_user_and_password_move_to_mlflows_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # Set through monkeypatch first, so that what take_credentials writes is undone after the test.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "")
    clean = take_credentials("https://ana:s%40cret@mlflow.example:5000/base")
    assert clean == "https://mlflow.example:5000/base"
    import os

    assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("ana", "s@cret")


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql://ana:secret@db:5432/mlflow", "postgresql://ana:***@db:5432/mlflow"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
    ],
)
def test_a_password_is_never_shown(uri: str, shown: str) -> None:
    assert redact(uri) == shown
    assert take_credentials(uri) == uri  # a database keeps what its driver needs
