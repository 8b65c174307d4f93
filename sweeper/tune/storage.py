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

import os
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs


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
