"""The train/val/test split of a manifest: from a column, or drawn with a seed (optionally stratified by a task).

A split is first a code per row (0 train, 1 val, 2 test), then sorted int64 indices per split; every split must
hold at least one row, since training reports val metrics each epoch and test metrics at the end.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor

from sweeper.data.dataset import SPLITS
from sweeper.data.manifest.section import DrawnSplit
from sweeper.data.manifest.table import Manifest, check_no_nulls, column_error, first_true, is_text, type_error
from sweeper.errors import DataError


def column_split(manifest: Manifest, column: str) -> np.ndarray:
    """Split codes (N,) int8 read from a column of train / val / test values."""
    array = manifest.column(column)
    if not is_text(array.type):
        raise type_error(column, array, f"one of {', '.join(SPLITS)} (strings) in every row")
    check_no_nulls(array, column, f"one of {', '.join(SPLITS)} in every row")
    known = pa.array(SPLITS)
    row = first_true(pc.invert(pc.is_in(array, value_set=known)))
    if row is not None:
        raise column_error(column, f"unknown split {array[row].as_py()!r}; expected one of {', '.join(SPLITS)}", row)
    return pc.index_in(array, value_set=known).to_numpy(zero_copy_only=False).astype(np.int8)


def random_split(n_rows: int, drawn: DrawnSplit) -> np.ndarray:
    """Split codes (N,) int8 from a seeded permutation: round(N * val) val rows, round(N * test) test rows."""
    codes = np.zeros(n_rows, dtype=np.int8)
    _assign(codes, np.random.default_rng(drawn.seed).permutation(n_rows), drawn)
    return codes


def stratified_split(labels: np.ndarray, drawn: DrawnSplit) -> np.ndarray:
    """Split codes (N,) int8 keeping each class's share in every split; each class keeps at least one train row."""
    rng = np.random.default_rng(drawn.seed)
    codes = np.zeros(len(labels), dtype=np.int8)
    by_class = np.argsort(labels, kind="stable")
    ends = np.cumsum(np.bincount(labels))
    for start, end in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True):
        _assign(codes, rng.permutation(by_class[start:end]), drawn)
    return codes


def split_indices(codes: np.ndarray, source: str) -> dict[str, Tensor]:
    """Sorted int64 sample indices per split; an empty split is an error (``source`` says how it was made)."""
    splits = {name: torch.from_numpy(np.flatnonzero(codes == i).astype(np.int64)) for i, name in enumerate(SPLITS)}
    for name, index in splits.items():
        if len(index) == 0:
            counts = ", ".join(f"{k} {len(v)}" for k, v in splits.items())
            raise DataError(f"{source}: split {name!r} has no rows ({counts}); expected rows in every split")
    return splits


def _assign(codes: np.ndarray, order: np.ndarray, drawn: DrawnSplit) -> None:
    """Mark the first rows of ``order`` val, the next ones test; the rest, at least one, stay train (code 0)."""
    n_rows = len(order)
    n_val = min(round(n_rows * drawn.val), n_rows - 1)
    n_test = min(round(n_rows * drawn.test), n_rows - 1 - n_val)
    codes[order[:n_val]] = 1
    codes[order[n_val : n_val + n_test]] = 2
