"""What a sweep folder holds, by name, and how to read its two small files: the spec it was started with and
``tracking.json`` (the sweep's id, MLflow tracking URI and parent run id). Below both tune/ and tracking/, which
both read them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeper.errors import SweepError

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec

SPEC_FILE = "spec.yaml"
TRACKING_FILE = "tracking.json"  # the sweep's id, tracking URI and parent run id
MLFLOW_DB = "mlflow.db"  # the embedded MLflow store (SQLite), when no tracking server is given
ARTIFACTS_DIR = "mlartifacts"  # its artifacts


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
    """What the sweep saved about its tracking: ``sweep_id``, ``tracking_uri``, ``parent_run_id`` (may be empty)."""
    path = Path(sweep_dir) / TRACKING_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_tracking(sweep_dir: Path, **values: Any) -> dict[str, Any]:
    info = {**read_tracking(sweep_dir), **values}
    info.setdefault("sweep_id", uuid.uuid4().hex)
    path = Path(sweep_dir) / TRACKING_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(path)
    return info


def default_tracking_uri(sweep_dir: Path) -> str:
    """The embedded MLflow store of a sweep folder."""
    return f"sqlite:///{(Path(sweep_dir) / MLFLOW_DB).resolve()}"
