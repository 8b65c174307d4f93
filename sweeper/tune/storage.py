"""Where Ray Tune keeps a stage's experiment state and checkpoints: a local folder whose files appear whole.

Tune writes ``experiment_state-*.json`` to a staging folder and then copies it to the storage path with
``pyarrow.fs.copy_files``, in a background thread, straight over the previous copy. A driver killed during that copy
leaves an empty or cut file, and ``Tuner.restore`` then logs "Failed to restore the run state" and starts the
experiment over (seen in CI: a SIGKILL mid-sweep lost 5 of 6 trials). The same holds for the searcher's and
callbacks' state and for trial checkpoints.

``atomic_local_fs`` is the local filesystem with one change: a file being written goes to a hidden temporary name
beside it and is renamed over the target when closed, so a reader sees the old file or the new one, never a part.
Object stores (``s3://``, ``gs://``) already behave that way: an object appears when its upload completes.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.fs as pafs

from sweeper.errors import SweepError
from sweeper.sweep_folder import read_tracking
from sweeper.tracking import SweepCallback, TrialRecord
from sweeper.tracking.mlflow_tracker import redact
from sweeper.tracking.parquet import FETCHED_FROM

logger = logging.getLogger(__name__)


class _AtomicFile:
    """A file object written under a temporary name and renamed onto ``path`` when closed."""

    def __init__(self, path: str) -> None:
        folder, name = os.path.split(path)
        self._path = path
        self._tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed by close(), which pyarrow calls
        self.closed = False

    def write(self, data: Any) -> int:
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def tell(self) -> int:
        return self._file.tell()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._file.flush()
        os.fsync(self._file.fileno())  # the rename must not reach the disk before the bytes do (a power cut)
        self._file.close()
        os.replace(self._tmp, self._path)


class AtomicLocalHandler(pafs.FileSystemHandler):
    """``pyarrow.fs.LocalFileSystem`` whose output streams are written whole or not at all."""

    def __init__(self) -> None:
        self._fs = pafs.LocalFileSystem()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AtomicLocalHandler)

    def __hash__(self) -> int:
        return hash(type(self))

    def __reduce__(self) -> tuple[Any, ...]:  # sent to Ray workers with the storage context
        return (AtomicLocalHandler, ())

    def get_type_name(self) -> str:
        return "sweeper-atomic-local"

    def normalize_path(self, path: str) -> str:
        return self._fs.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self._fs.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self._fs.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self._fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self._fs.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self._fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise OSError("refusing to delete the contents of the root folder")

    def delete_file(self, path: str) -> None:
        self._fs.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self._fs.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        with self._fs.open_input_stream(src) as source, self.open_output_stream(dest, None) as target:
            while chunk := source.read(64 * 1024 * 1024):
                target.write(chunk)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self._fs.open_input_stream(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        return self._fs.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        return pa.PythonFile(_AtomicFile(path), mode="w")

    def open_append_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        return self._fs.open_append_stream(path)


def atomic_local_fs() -> pafs.FileSystem:
    """The local filesystem for Tune's ``storage_filesystem``, with whole-file writes (see the module's text)."""
    return pafs.PyFileSystem(AtomicLocalHandler())


# Schemes pyarrow opens itself (as Ray Tune does); a plain path is a folder every node mounts at the same place.
REMOTE_SCHEMES = ("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")
STORAGE_KEY = "storage_uri"  # in the sweep's tracking.json: where Tune and the results mirror go, without secrets
MIRRORED = ("spec.yaml", "data", "results", "teacher")  # what the storage gets of the driver's sweep folder


def check_storage_uri(uri: str) -> str:
    """Check a ``--storage`` URI and make its folder; returns it without credentials (``take_storage_credentials``)."""
    uri = take_storage_credentials(uri)
    fs, path = open_storage(uri)
    try:
        fs.create_dir(path, recursive=True)
        info = fs.get_file_info(path)
    except OSError as exc:
        raise SweepError(f"cannot use --storage {uri!r}: {_first_line(exc)}") from None
    if info.type is not pafs.FileType.Directory:
        raise SweepError(f"--storage {uri!r} is not a folder")
    return uri


def take_storage_credentials(uri: str) -> str:
    """Check a storage URI's form; returns it without credentials.

    ``s3://KEY:SECRET@bucket/path`` moves the key pair to AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for this process
    (and a local Ray it starts), so that nothing printed, logged or saved holds the secret. Query parameters that
    pyarrow understands pass through, e.g. ``?endpoint_override=host:port&scheme=http`` for an S3-compatible server.
    """
    parsed = urlsplit(uri)
    scheme = parsed.scheme.lower()
    if scheme and scheme not in (*REMOTE_SCHEMES, "file"):
        raise SweepError(
            f"unsupported --storage {redact(uri)!r}; expected s3://bucket/path, gs://bucket/path, file:///path "
            "or a folder every node mounts (an absolute path)"
        )
    if not scheme and not Path(uri).is_absolute():
        raise SweepError(
            f"--storage {uri!r} is a relative path; a shared folder must be absolute, as every node resolves it"
        )
    if parsed.username or parsed.password:
        if scheme != "s3":
            raise SweepError(
                f"--storage {redact(uri)!r} holds credentials; for {scheme}:// give them in the environment"
            )
        os.environ["AWS_ACCESS_KEY_ID"] = unquote(parsed.username or "")
        os.environ["AWS_SECRET_ACCESS_KEY"] = unquote(parsed.password or "")
        uri = urlunsplit(parsed._replace(netloc=parsed.netloc.rpartition("@")[2]))
    return uri


def open_storage(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path in it of a storage URI or shared folder (local ones write files whole)."""
    if not urlsplit(uri).scheme:
        return atomic_local_fs(), str(Path(uri))
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise SweepError(f"cannot open --storage {redact(uri)!r}: {_first_line(exc)}") from None
    if isinstance(fs, pafs.LocalFileSystem):
        return atomic_local_fs(), path
    return fs, path.rstrip("/")


@dataclass(frozen=True)
class SweepStorage:
    """Where a sweep's Tune experiments (state and checkpoints) live: the sweep folder, or ``uri``/<sweep name>."""

    fs: pafs.FileSystem
    root: str
    uri: str | None = None  # None: the driver's sweep folder

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def exists(self, *parts: str) -> bool:
        return bool(self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound)

    def names(self, prefix: str = "", *parts: str) -> list[str]:
        """The names in the folder ``parts`` that start with ``prefix``."""
        selector = pafs.FileSelector(self.path(*parts), allow_not_found=True)
        return sorted(i.base_name for i in self.fs.get_file_info(selector) if i.base_name.startswith(prefix))

    def read_text(self, *parts: str) -> str:
        with self.fs.open_input_stream(self.path(*parts)) as stream:
            return bytes(stream.read()).decode()

    @property
    def where(self) -> str:
        """How to name it to a user (no credentials: they were taken out of the URI)."""
        return self.uri.rstrip("/") + "/" + self.root.rpartition("/")[2] if self.uri else self.root


def sweep_storage(sweep_dir: Path) -> SweepStorage:
    """The storage that ``sweep_dir``'s sweep was started with (its tracking.json says), else the folder itself."""
    uri = read_tracking(sweep_dir).get(STORAGE_KEY)
    if not uri:
        return SweepStorage(atomic_local_fs(), str(Path(sweep_dir).resolve()))
    fs, path = open_storage(uri)
    return SweepStorage(fs, f"{path}/{Path(sweep_dir).name}", uri)


def mirror_results(sweep_dir: Path, storage: SweepStorage) -> None:
    """Copy the spec, the data artifacts and the Parquet results of the driver's sweep folder to the storage."""
    for name in MIRRORED:
        local = Path(sweep_dir) / name
        if local.is_dir():
            storage.fs.create_dir(storage.path(name), recursive=True)
        if local.exists():
            pafs.copy_files(str(local), storage.path(name), destination_filesystem=storage.fs, use_threads=False)


def fetch_sweep(uri: str, into: Path) -> Path:
    """Download a sweep that a storage URI holds (``<storage>/<sweep name>``) into ``into``/<name>, for reading."""
    uri = take_storage_credentials(uri)
    fs, path = open_storage(uri)
    name = path.rstrip("/").rpartition("/")[2]
    local = into / name
    storage = SweepStorage(fs, path.rstrip("/"), uri)
    try:
        found = storage.exists("spec.yaml")
    except OSError as exc:
        raise SweepError(f"cannot read {uri!r}: {_first_line(exc)}") from None
    if not found:
        raise SweepError(f"{redact(uri)!r} holds no sweep (spec.yaml is missing); expected <--storage>/<name>")
    for item in MIRRORED:
        if storage.exists(item):
            target = local / item
            target.parent.mkdir(parents=True, exist_ok=True)
            if fs.get_file_info(storage.path(item)).type == pafs.FileType.Directory:
                target.mkdir(exist_ok=True)
            pafs.copy_files(storage.path(item), str(target), source_filesystem=fs)
    (local / FETCHED_FROM).write_text(uri + "\n")
    return local


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class StorageMirror(SweepCallback):
    """Copies the driver's Parquet results (and spec, data artifacts) to the sweep's storage as trials end, at most
    once every ``every_s`` seconds, and at the end of each stage; ``sweeper recommend <storage>/<name>`` reads them.

    It runs after the Parquet tracker, so a stage's last copy holds its compacted files. A failed copy is logged and
    tried again at the next one: the driver's folder stays the source of truth.
    """

    def __init__(self, sweep_dir: Path, storage: SweepStorage, every_s: float = 30.0) -> None:
        self.sweep_dir, self.storage, self.every_s = Path(sweep_dir), storage, every_s
        self._last = 0.0

    def on_sweep_start(self) -> None:
        self._copy()

    def on_trial_end(self, trial: TrialRecord) -> None:
        if time.monotonic() - self._last >= self.every_s:
            self._copy()

    def on_sweep_end(self, trials: list[TrialRecord]) -> None:
        self._copy()

    def _copy(self) -> None:
        self._last = time.monotonic()
        try:
            mirror_results(self.sweep_dir, self.storage)
        except OSError as exc:
            logger.warning("could not copy the results to %s (tried again later): %s", self.storage.where, exc)
