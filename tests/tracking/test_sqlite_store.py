"""A new sweep's SQLite MLflow store is copied from a template, and is the store MLflow would have built."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweeper.tracking.sqlite_store import prepare_sqlite_store

pytestmark = pytest.mark.slow  # MLflow builds three stores the slow way (its migrations), seconds each


def _schema(path: Path) -> tuple[dict[str, list[str]], list[tuple[str]]]:
    """Each table's and index's definition, its lines sorted: MLflow's migrations write a table's constraints in
    an order that varies from one build to the next."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index')").fetchall()
        version = db.execute("SELECT version_num FROM alembic_version").fetchall()
    return {name: sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()) for name, sql in rows}, version


def test_a_copied_store_is_the_store_mlflow_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    copied, built = tmp_path / "copied" / "mlflow.db", tmp_path / "built" / "mlflow.db"
    prepare_sqlite_store(f"sqlite:///{copied}")
    assert copied.is_file() and list((tmp_path / "cache").glob("mlflow-*-empty.db"))
    built.parent.mkdir()
    stores = {}
    for path in (copied, built):
        client = MlflowClient(f"sqlite:///{path}")
        stores[path] = [(e.experiment_id, e.name, e.artifact_location) for e in client.search_experiments()]
        client.create_experiment("sweep")
    assert stores[copied] == stores[built]
    assert [name for _, name, _ in stores[copied]] == ["Default"]
    assert _schema(copied) == _schema(built)


def test_an_existing_store_is_left_alone_and_a_broken_cache_leaves_it_to_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "mlflow.db"
    existing.write_bytes(b"kept")
    prepare_sqlite_store(f"sqlite:///{existing}")
    assert existing.read_bytes() == b"kept"

    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("SWEEPER_CACHE_DIR", str(tmp_path / "not-a-folder"))  # the template cannot be made here
    fresh = tmp_path / "fresh" / "mlflow.db"
    prepare_sqlite_store(f"sqlite:///{fresh}")
    assert not fresh.exists()  # nothing half-made: MLflow builds it on first use
    assert MlflowClient(f"sqlite:///{fresh}").get_experiment("0").name == "Default"


def test_a_store_in_a_folder_named_with_a_hash_is_made_there(tmp_path: Path) -> None:
    """The path of a sqlite:/// URI runs to a "?" (SQLAlchemy's options), not to a "#": read as a URL, the store
    was copied to a file named after the folder's name up to the "#", beside the folder."""
    store = tmp_path / "sweeps #1" / "demo" / "mlflow.db"
    prepare_sqlite_store(f"sqlite:///{store}")
    assert store.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["sweeps #1"]
    assert MlflowClient(f"sqlite:///{store}").get_experiment("0").name == "Default"
