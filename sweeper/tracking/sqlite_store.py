"""A new sweep's SQLite MLflow store, copied from an empty one that is built once per MLflow version.

MLflow builds a new SQLite store by running every schema migration it has (alembic): about 1.4 s on a 2-core
machine, paid by every new sweep. sweeper runs them once per MLflow and SQLAlchemy version into a template in the
cache folder (``$SWEEPER_CACHE_DIR``, see ``sweeper.data.manifest.cache``) and copies it. The template has no
Default experiment: MLflow makes that on first use, with the new store's own artifact root, as in a store it built.
Anything that goes wrong here leaves the store to MLflow, which builds it the slow way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)


def prepare_sqlite_store(tracking_uri: str) -> None:
    """If ``tracking_uri`` is a SQLite store whose file does not exist yet, make it from the template."""
    if not tracking_uri.startswith("sqlite:///"):
        return
    # As SQLAlchemy reads it: all up to a "?" (its options) is the path; urlparse would end it at a "#" as well
    path = Path(tracking_uri.removeprefix("sqlite:///").partition("?")[0])
    if path.exists():
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        template = _template()
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, partial)
        partial.rename(path)
    except (OSError, sqlite3.Error) as exc:  # a read-only cache, a full disk: MLflow builds the store itself
        logger.debug("no SQLite store template (%s); MLflow builds %s", exc, path)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)  # nothing half-copied is left beside the store


def _template() -> Path:
    import mlflow
    import sqlalchemy

    from sweeper.data.manifest.cache import default_cache_dir  # here: that module imports torch

    template = default_cache_dir() / f"mlflow-{mlflow.__version__}-sqlalchemy-{sqlalchemy.__version__}-empty.db"
    if template.is_file():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=template.parent) as scratch:
        built = Path(scratch) / "store.db"
        from mlflow.tracking import MlflowClient

        MlflowClient(f"sqlite:///{built}")  # runs MLflow's migrations; makes the Default experiment too
        with contextlib.closing(sqlite3.connect(built)) as db, db:
            db.execute("DELETE FROM experiments WHERE experiment_id = 0")  # made again, for the real store
        built.rename(template)  # atomic: a concurrent sweep sees the whole template or none
    return template
