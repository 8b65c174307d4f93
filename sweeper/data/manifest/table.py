"""Reading a manifest with pyarrow: one Parquet file or a folder of them, only the columns the section names.

Rows are numbered from 0 across the whole manifest (a folder's files in name order), and every problem found in a
column is one ``DataError`` line: ``column 'name', row 7: what is wrong; expected what is allowed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sweeper.errors import DataError


def column_error(column: str, problem: str, row: int | None = None) -> DataError:
    """The one-line error for a problem in ``column`` (at ``row`` when one row is to blame)."""
    where = f"column {column!r}" if row is None else f"column {column!r}, row {row}"
    return DataError(f"{where}: {problem}")


@dataclass(frozen=True)
class Manifest:
    """The columns a section needs, the Parquet files they came from and the folder relative paths start from."""

    table: pa.Table
    files: tuple[Path, ...]  # in the order their rows appear
    root: Path  # image and volume paths are relative to this folder

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> pa.Array:
        """One column as a single array, dictionary-encoded values decoded (e.g. pandas categoricals)."""
        array = self.table.column(name).combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        return array


def parquet_files(path: str | Path) -> tuple[tuple[Path, ...], Path]:
    """The Parquet files at ``path`` (a file, or a folder's ``*.parquet`` in name order) and their folder."""
    path = Path(path)
    if path.is_dir():
        files = tuple(sorted(p for p in path.glob("*.parquet") if p.is_file()))
        if not files:
            raise DataError(f"folder '{path}' holds no .parquet files; expected a Parquet file or a folder of them")
        return files, path
    if not path.is_file():
        raise DataError(f"cannot read '{path}' as Parquet: no such file or folder")
    return (path,), path.parent


def read_manifest(path: str | Path, columns: list[str]) -> Manifest:
    """Read ``columns`` of the manifest at ``path``; a missing column is an error listing the available ones."""
    files, root = parquet_files(path)
    tables = []
    for file in files:
        try:
            available = pq.read_schema(file).names
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cannot read '{file}' as Parquet: {_first_line(exc)}") from None
        for name in columns:
            if name not in available:
                raise DataError(f"column {name!r} is missing from '{file}'; available: {', '.join(available)}")
        try:
            tables.append(pq.read_table(file, columns=columns))
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cannot read '{file}' as Parquet: {_first_line(exc)}") from None
    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise DataError(f"the Parquet files in '{root}' have different column types: {_first_line(exc)}") from None
    if table.num_rows == 0:
        raise DataError(f"manifest '{path}' has no rows; expected one row per sample")
    return Manifest(table=table, files=files, root=root)


def first_true(mask: pa.Array | np.ndarray) -> int | None:
    """The index of the first true value of a boolean mask (nulls count as false), or None."""
    values = mask.to_numpy(zero_copy_only=False) if isinstance(mask, pa.Array) else mask
    hits = np.flatnonzero(np.asarray(values, dtype=bool))
    return int(hits[0]) if len(hits) else None


def check_no_nulls(array: pa.Array, column: str, expected: str, *, nan_is_null: bool = True) -> None:
    """Every row must hold a value (NaN counts as none unless told); ``expected`` says what, e.g. "a label"."""
    nan = nan_is_null and pa.types.is_floating(array.type) and bool(pc.any(pc.is_nan(array)).as_py())
    if array.null_count or nan:
        row = first_true(pc.is_null(array, nan_is_null=nan_is_null))
        raise column_error(column, f"value is null; expected {expected}", row)


def list_rows(array: pa.Array, column: str, expected: str) -> np.ndarray:
    """The row of each item of a list column, in order (``array.flatten()``'s); an empty list is an error."""
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)  # (N,)
    empty = first_true(lengths == 0)
    if empty is not None:
        raise column_error(column, f"list is empty; expected at least one {expected}", empty)
    return np.repeat(np.arange(len(array)), lengths)


def type_error(column: str, array: pa.Array, expected: str) -> DataError:
    return column_error(column, f"has type {type_name(array.type)}; expected {expected}")


def type_name(data_type: pa.DataType) -> str:
    """A column type as a user reads it: list<int64> rather than pyarrow's list<element: int64>."""
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type) or pa.types.is_fixed_size_list(data_type):
        return f"list<{type_name(data_type.value_type)}>"
    return str(data_type)


def is_list(data_type: pa.DataType) -> bool:
    return pa.types.is_list(data_type) or pa.types.is_large_list(data_type)


def is_numeric(data_type: pa.DataType) -> bool:
    return pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_boolean(data_type)


def is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def is_bytes(data_type: pa.DataType) -> bool:
    return pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
