"""Task labels and sample ids: labels of any scalar type become class indices, ids must be unique.

A task's classes are its column's sorted unique values; their names (as strings) are kept in index order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sweeper.data.manifest.table import Manifest, check_no_nulls, column_error, first_true, type_error
from sweeper.errors import DataError


def encode_labels(manifest: Manifest, column: str) -> tuple[np.ndarray, list[str]]:
    """Class indices (N,) int64 into the sorted unique labels, and those labels as strings."""
    array = manifest.column(column)
    if pa.types.is_nested(array.type) or pa.types.is_null(array.type):
        raise type_error(column, array, "one scalar label per row (strings, integers, floats or booleans)")
    check_no_nulls(array, column, "a label in every row")
    unique = pc.unique(array)
    classes = unique.take(pc.sort_indices(unique))
    names = [str(value) for value in classes.to_pylist()]
    if len(names) < 2:
        raise column_error(column, f"has a single class {names[0]!r} in all {len(array)} rows; expected 2 or more")
    labels = pc.index_in(array, value_set=classes).to_numpy(zero_copy_only=False).astype(np.int64)  # (N,)
    return labels, names


def check_classes_in_train(column: str, labels: np.ndarray, names: list[str], split_codes: np.ndarray) -> None:
    """Every class seen in val or test must also be in train, or a model could never learn it."""
    in_train = np.zeros(len(names), dtype=bool)
    in_train[labels[split_codes == 0]] = True
    row = first_true(~in_train[labels])
    if row is not None:
        split = ("train", "val", "test")[int(split_codes[row])]
        name = names[int(labels[row])]
        problem = f"class {name!r} is in the {split} split but not in train; expected every class in train"
        raise column_error(column, problem, row)


def check_unique_ids(manifest: Manifest, column: str) -> None:
    """Sample ids must be present and unique; a duplicate names both rows."""
    array = manifest.column(column)
    if pa.types.is_nested(array.type):
        raise type_error(column, array, "one scalar id per row")
    check_no_nulls(array, column, "an id in every row")
    if pc.count_distinct(array).as_py() == len(array):
        return
    first_row: dict[object, int] = {}
    for row, value in enumerate(array.to_pylist()):
        if value in first_row:
            raise DataError(
                f"column {column!r}, rows {first_row[value]} and {row}: duplicate id {value!r}; expected unique ids"
            )
        first_row[value] = row
