"""Restoring a Tune stage in a sweep folder that was moved or copied since it was saved.

Tune pickles the driver-side callbacks, the searcher and the search algorithm's experiment with the stage, and all
name the folder the sweep ran in: ``TrackerBridge`` its sweep folder, the Optuna storage the URL of the folder's
``optuna.db``, the experiment the storage new trials checkpoint to. Unpickled as they were, a moved folder's resume
failed (`sweep folder ... does not exist`, `unable to open database file`). A copy's resume, the original still in
place, wrote its new trials' checkpoints into the original (seen), and its bridge and Optuna storage named the
original's results and study. While ``restoring_in`` holds, they name the folder being restored.

Tune itself moves the trials it restores (``TuneController._restore_trials`` gives them the new storage,
ray-project/ray#40647) but not the experiment its search algorithm creates new trials from, so a trial started
after the restore checkpointed to the old folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_folder: Path | None = None  # the sweep folder being restored, while restoring_in holds


def restoring() -> Path | None:
    """The sweep folder whose Tune stage is being restored, if any: what an unpickled callback should write to."""
    return _folder


@contextlib.contextmanager
def restoring_in(sweep_dir: Path, optuna_url: str, storage_root: str, storage_fs: Any) -> Iterator[None]:
    """Unpickled meanwhile, a ``TrackerBridge`` writes to ``sweep_dir``, an Optuna SQLite storage of an ``optuna.db``
    opens ``optuna_url``, and a search algorithm's experiment creates trials in ``storage_root`` on ``storage_fs``.
    Optuna's ``RDBStorage`` (it reconnects to its saved URL in ``__setstate__``) and Tune's two search algorithms
    are patched for the duration: neither offers a hook."""
    import optuna
    from ray.tune.search.basic_variant import BasicVariantGenerator
    from ray.tune.search.search_generator import SearchGenerator

    global _folder
    rdb = optuna.storages.RDBStorage
    originals: dict[type, Any] = {rdb: rdb.__setstate__}
    name = "/" + optuna_url.rsplit("/", 1)[-1]

    def setstate(self: Any, state: dict[str, Any]) -> None:
        url = str(state.get("url", ""))
        if url.startswith("sqlite:///") and url.endswith(name):
            state = {**state, "url": optuna_url}
        originals[rdb](self, state)

    def generator_restored(self: SearchGenerator, dirpath: str) -> None:
        originals[SearchGenerator](self, dirpath)
        _move_storages(self, storage_root, storage_fs)

    def grid_restored(self: BasicVariantGenerator, dirpath: str) -> None:
        originals[BasicVariantGenerator](self, dirpath)
        _move_storages(self, storage_root, storage_fs)

    originals[SearchGenerator] = SearchGenerator.restore_from_dir
    originals[BasicVariantGenerator] = BasicVariantGenerator.restore_from_dir
    previous, _folder = _folder, Path(sweep_dir)
    rdb.__setstate__ = setstate  # type: ignore[method-assign]
    SearchGenerator.restore_from_dir = generator_restored  # type: ignore[method-assign]
    BasicVariantGenerator.restore_from_dir = grid_restored  # type: ignore[method-assign]
    try:
        yield
    finally:
        rdb.__setstate__ = originals[rdb]  # type: ignore[method-assign]
        SearchGenerator.restore_from_dir = originals[SearchGenerator]  # type: ignore[method-assign]
        BasicVariantGenerator.restore_from_dir = originals[BasicVariantGenerator]  # type: ignore[method-assign]
        _folder = previous


def _move_storages(root_object: Any, storage_root: str, storage_fs: Any) -> int:
    """Point every Tune ``StorageContext`` reachable from ``root_object`` through Ray's own objects, dicts, lists and
    tuples at ``storage_root`` on ``storage_fs``; returns how many. A search algorithm keeps copies of the experiment's
    spec, storage included, in places that differ between them (the experiment, each grid iterator's spec and its
    already generated variants), so they are found by walking rather than by name."""
    from ray.train._internal.storage import StorageContext

    seen: set[int] = set()
    todo = [root_object]
    moved = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, StorageContext):
            obj.storage_fs_path, obj.storage_filesystem = storage_root, storage_fs
            moved += 1
        elif isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            todo.extend(obj)
        elif type(obj).__module__.startswith("ray.") and hasattr(obj, "__dict__"):
            todo.extend(vars(obj).values())
    return moved
