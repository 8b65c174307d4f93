"""What a sweep folder holds, by name, and how to read its two small files: the spec it was started with and
``tracking.json`` (the sweep's id, MLflow tracking URI and parent run id). Below both tune/ and tracking/, which
both read them."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeper.errors import SweepError

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec

SPEC_FILE = "spec.yaml"
TRACKING_FILE = "tracking.json"  # the sweep's id, tracking URI and parent run id
MLFLOW_DB = "mlflow.db"  # the embedded MLflow store (SQLite), when no tracking server is given
ARTIFACTS_DIR = "mlartifacts"  # its artifacts
SEARCH_DEADLINE_KEY = "search_deadline"  # in TRACKING_FILE: unix time the search's time limit ends (budget.timeout_s)
LOCK_FILE = ".sweeper.lock"  # held by the process that runs, resumes or confirms the sweep (``hold_sweep_folder``)

logger = logging.getLogger(__name__)
_held: set[Path] = set()  # the sweep folders this process holds


def load_sweep_spec(sweep_dir: Path) -> SweepSpec:
    """The validated spec a sweep folder was started with."""
    from sweeper.spec import load_spec

    spec_file = Path(sweep_dir) / SPEC_FILE
    if not Path(sweep_dir).is_dir():
        raise SweepError(f"sweep folder {str(sweep_dir)!r} does not exist")
    if not spec_file.is_file():
        raise SweepError(f"{str(sweep_dir)!r} is not a sweep folder: {SPEC_FILE} is missing")
    return load_spec(spec_file)


def read_tracking(sweep_dir: Path) -> dict[str, Any]:
    """What the sweep saved about its tracking: ``sweep_id``, ``tracking_uri``, ``parent_run_id`` (may be empty).

    A sweep folder moved or copied elsewhere is followed: its own MLflow store is used where it now is (``_follow``).
    """
    info = _saved(sweep_dir)
    moved_from = _moved_from(Path(sweep_dir), info)
    return _follow(Path(sweep_dir), info, moved_from) if moved_from is not None else info


def _saved(sweep_dir: Path) -> dict[str, Any]:
    path = Path(sweep_dir) / TRACKING_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _moved_from(sweep_dir: Path, info: dict[str, Any]) -> Path | None:
    """The folder this sweep's embedded MLflow store was made in, if that is not where the sweep is now: the saved
    URI names another folder's ``mlflow.db``, this folder has its own, and the other folder is gone or is a copy of
    this same sweep (a store given with ``--tracking-uri`` is not followed)."""
    saved = info.get("tracking_uri")
    if not isinstance(saved, str) or not saved.startswith("sqlite:///") or not (sweep_dir / MLFLOW_DB).is_file():
        return None
    if saved == default_tracking_uri(sweep_dir):
        return None
    old_db = Path(saved.removeprefix("sqlite:///"))
    if old_db.name != MLFLOW_DB:
        return None
    if old_db.exists():
        other = old_db.parent / TRACKING_FILE
        same_sweep = other.is_file() and json.loads(other.read_text()).get("sweep_id") == info.get("sweep_id")
        if os.path.samefile(old_db, sweep_dir / MLFLOW_DB) or not same_sweep:
            return None
    return old_db.parent


def _follow(sweep_dir: Path, info: dict[str, Any], moved_from: Path) -> dict[str, Any]:
    """Point a moved sweep at its own MLflow store, and the store's artifact URIs at its own artifacts.

    MLflow keeps absolute artifact URIs in its store (experiments, runs, logged models, model versions) and has no
    way to change them (mlflow/mlflow#3144): they are rewritten here, by prefix, from the old folder to this one.
    Where the folder is read-only the store is still followed, for this command only; its artifacts then stay
    unreadable through MLflow (the Parquet results hold everything `sweeper recommend` needs)."""
    import sqlite3

    old_root = (moved_from / ARTIFACTS_DIR).as_uri()
    new_root = (sweep_dir.resolve() / ARTIFACTS_DIR).as_uri()
    here = default_tracking_uri(sweep_dir)
    try:
        with contextlib.closing(sqlite3.connect(sweep_dir / MLFLOW_DB)) as db, db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                columns = db.execute(f'PRAGMA table_info("{table}")').fetchall()
                for column in (c[1] for c in columns if "CHAR" in c[2].upper() or "TEXT" in c[2].upper()):
                    db.execute(
                        f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                        f'WHERE substr("{column}", 1, ?) = ?',
                        (new_root, len(old_root) + 1, len(old_root), old_root),
                    )
        info = write_tracking(sweep_dir, tracking_uri=here)
        logger.info("sweep folder moved from %s: its MLflow store and artifact URIs now point here", moved_from)
    except (OSError, sqlite3.Error) as exc:  # a folder this user may read but not write
        logger.warning(
            "sweep folder moved from %s and not writable here (%s): MLflow artifacts stay unreadable", moved_from, exc
        )
        info = {**info, "tracking_uri": here}
    return info


def write_tracking(sweep_dir: Path, **values: Any) -> dict[str, Any]:
    info = {**_saved(sweep_dir), **values}
    info.setdefault("sweep_id", uuid.uuid4().hex)
    path = Path(sweep_dir) / TRACKING_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(path)
    return info


def search_timed_out(sweep_dir: Path) -> bool:
    """Whether the search's time limit (``budget.timeout_s``) has passed: it then ends with fewer trials than planned,
    as it should."""
    deadline = read_tracking(sweep_dir).get(SEARCH_DEADLINE_KEY)
    return deadline is not None and time.time() >= float(deadline)


def default_tracking_uri(sweep_dir: Path) -> str:
    """The embedded MLflow store of a sweep folder."""
    return f"sqlite:///{(Path(sweep_dir) / MLFLOW_DB).resolve()}"


@contextlib.contextmanager
def hold_sweep_folder(sweep_dir: Path) -> Iterator[None]:
    """Hold ``sweep_dir`` (made if missing) for this process while the block runs; ``SweepError`` if another holds it.

    Two drivers of one sweep (a second terminal, a batch job started again while the first still runs) would both
    write its Optuna study, Tune state, MLflow runs and Parquet results: the first crashed, the second recorded the
    first's running trials as interrupted. The hold is a ``flock`` on ``LOCK_FILE``, which the system releases when
    the process ends, however it ends, so a killed sweep can be resumed at once. Where the filesystem has no locks,
    the sweep runs unheld.
    """
    sweep_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(sweep_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        holder = _lock(fd)
        if holder is not None:
            raise _in_use(sweep_dir, holder)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"sweeper (pid {os.getpid()} on {socket.gethostname()})".encode(), 0)
        _held.add(sweep_dir.resolve())
        yield
    finally:
        _held.discard(sweep_dir.resolve())
        os.close(fd)  # releases the lock


def check_not_held(sweep_dir: Path) -> None:
    """``SweepError`` if another process holds ``sweep_dir`` now: to fail before data and Ray start."""
    holder = held_by(sweep_dir)
    if holder is not None:
        raise _in_use(sweep_dir, holder)


def held_by(sweep_dir: Path) -> str | None:
    """Who runs, resumes or confirms ``sweep_dir`` now ("sweeper (pid N on host)"), if another process does."""
    if Path(sweep_dir).resolve() in _held:
        return None
    try:
        fd = os.open(Path(sweep_dir) / LOCK_FILE, os.O_RDONLY)  # flock needs no write access: readers can ask
    except OSError:  # no lock file: never held
        return None
    try:
        return _lock(fd)
    finally:
        os.close(fd)


def _in_use(sweep_dir: Path, holder: str) -> SweepError:
    return SweepError(
        f"sweep folder {str(sweep_dir)!r} is in use by {holder}; wait for it to end, or stop it (Ctrl-C) and resume"
    )


def _lock(fd: int) -> str | None:
    """Lock ``fd``'s file for this process; None if locked (or the filesystem has no locks), else who holds it."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
    except OSError as exc:  # no locks on this filesystem
        logger.debug("sweep folder lock not taken: %s", exc)
    return None
