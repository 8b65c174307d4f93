"""A sweep folder read where it is now: its embedded MLflow store and the artifact URIs in it follow a move or a
copy (``sweeper.sweep_folder.read_tracking``), and nothing else is taken for a move."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from sweeper.sweep_folder import ARTIFACTS_DIR, MLFLOW_DB, TRACKING_FILE, default_tracking_uri, read_tracking


def _sweep(folder: Path, tracking_uri: str | None = None, sweep_id: str = "abc") -> Path:
    """A folder as a sweep leaves it: tracking.json and an MLflow store holding artifact URIs into the folder."""
    folder.mkdir(parents=True)
    root = (folder.resolve() / ARTIFACTS_DIR).as_uri()
    with sqlite3.connect(folder / MLFLOW_DB) as db:
        db.execute("CREATE TABLE experiments (experiment_id INTEGER, artifact_location VARCHAR(256))")
        db.execute("CREATE TABLE runs (run_uuid VARCHAR(32), artifact_uri VARCHAR(200), metric FLOAT)")
        db.execute("INSERT INTO experiments VALUES (1, ?)", (root,))
        db.execute("INSERT INTO runs VALUES ('r1', ?, 0.5)", (f"{root}/r1/artifacts",))
        db.execute("INSERT INTO runs VALUES ('r2', ?, 0.5)", ("s3://bucket/elsewhere/r2/artifacts",))
    uri = tracking_uri or default_tracking_uri(folder)
    (folder / TRACKING_FILE).write_text(json.dumps({"tracking_uri": uri, "sweep_id": sweep_id}))
    return folder


def _uris(folder: Path) -> list[str]:
    with sqlite3.connect(folder / MLFLOW_DB) as db:
        rows = db.execute("SELECT artifact_location FROM experiments UNION ALL SELECT artifact_uri FROM runs")
        return [r[0] for r in rows]


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_moved_or_copied_sweep_follows_to_where_it_is(tmp_path: Path, how: str) -> None:
    first = _sweep(tmp_path / "sweeps" / "a")
    before = _uris(first)
    now = tmp_path / "other" / "b"
    now.parent.mkdir()
    (shutil.move if how == "moved" else shutil.copytree)(first, now)

    assert read_tracking(now)["tracking_uri"] == default_tracking_uri(now)
    new_root = (now.resolve() / ARTIFACTS_DIR).as_uri()
    assert _uris(now) == [new_root, f"{new_root}/r1/artifacts", "s3://bucket/elsewhere/r2/artifacts"]
    assert json.loads((now / TRACKING_FILE).read_text())["tracking_uri"] == default_tracking_uri(now)  # saved
    if how == "copied":
        assert _uris(first) == before and read_tracking(first)["tracking_uri"] == default_tracking_uri(first)


def test_a_store_given_with_tracking_uri_is_not_taken_for_a_move(tmp_path: Path) -> None:
    """A sweep logged to another SQLite store: that store is where its runs are, even if named mlflow.db."""
    team = _sweep(tmp_path / "team", sweep_id="other")  # a folder with its own mlflow.db and another sweep's id
    sweep = _sweep(tmp_path / "sweep", tracking_uri=default_tracking_uri(team))
    assert read_tracking(sweep)["tracking_uri"] == default_tracking_uri(team)
    assert read_tracking(tmp_path / "no-sweep-here") == {}
