"""An append-only table on disk: rows land at once in a JSON-lines journal and are compacted into Parquet parts.

Why not one Parquet file per row, or one file rewritten per row: 10,000 trials x 50 epochs is half a million files,
and rewriting a growing file makes total work grow with the square of the rows. Here every row costs one short
line appended (and flushed, so a killed process loses nothing already written), and every ``rows_per_part`` rows
become one Parquet part. A reader takes the parts in order, then the journal, and keeps the last row per key: a row
written twice (a resumed trial reporting an epoch again, or a crash between writing a part and emptying the
journal) is read once.

Layout of a log folder: ``part-000001.parquet``, ``part-000002.parquet``, ..., ``journal.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

JOURNAL = "journal.jsonl"
PART_GLOB = "part-*.parquet"


class ResultsLog:
    """Rows keyed by ``key`` columns under ``folder``; ``append`` is durable once it returns (the OS holds it)."""

    def __init__(self, folder: Path, key: Sequence[str], *, rows_per_part: int = 2000) -> None:
        self.folder = Path(folder)
        self.key = list(key)
        self.rows_per_part = rows_per_part
        self._journal: IO[str] | None = None
        self._pending = 0

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_journal": None}  # an open file does not travel; it is reopened on append

    def append(self, row: dict[str, Any]) -> None:
        if self._journal is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / JOURNAL
            self._pending = _count_lines(path)
            self._journal = path.open("a", encoding="utf-8")
            if _ends_mid_line(path):  # a line cut short by a kill stays a line of its own, which readers skip
                self._journal.write("\n")
        self._journal.write(json.dumps(row, default=_plain) + "\n")
        self._journal.flush()
        self._pending += 1
        if self._pending >= self.rows_per_part:
            self.compact()

    def compact(self, *, full: bool = False) -> None:
        """Move the journal's rows into a new Parquet part, then empty the journal.

        ``full``: rewrite everything as one part holding one row per key (at the end of a stage), so the files
        on disk hold no row twice either.
        """
        parts = sorted(self.folder.glob(PART_GLOB))
        table = self.read() if full else None
        if not full:
            rows = _journal_rows(self.folder / JOURNAL)
            table = _table(rows) if rows else None
        if table is not None and table.num_rows:
            number = 1 + max((int(p.stem.split("-")[1]) for p in parts), default=0)
            path = self.folder / f"part-{number:06d}.parquet"
            tmp = path.with_name(path.name + ".tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, path)  # a crash from here to the truncate leaves rows twice; readers keep one
            if full:
                for old in parts:
                    old.unlink()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if (self.folder / JOURNAL).exists():
            (self.folder / JOURNAL).open("w").close()
        self._pending = 0

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def read(self) -> pa.Table | None:
        """Every row, the last one written per key; None if nothing was written."""
        return read_log(self.folder, self.key)


def read_log(folder: Path, key: Sequence[str]) -> pa.Table | None:
    """A log folder's rows, deduplicated by ``key`` (the last written wins, in write order); None if empty."""
    tables = [pq.read_table(p) for p in sorted(Path(folder).glob(PART_GLOB))]
    rows = _journal_rows(Path(folder) / JOURNAL)
    if rows:
        tables.append(_table(rows))
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="permissive")
    return last_per_key(table, key)


def last_per_key(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """The last row of ``table`` for every distinct ``key``, in the order those last rows appear."""
    order = "__row"
    indexed = table.append_column(order, pa.array(range(table.num_rows), pa.int64()))
    last = indexed.group_by(list(key), use_threads=False).aggregate([(order, "max")])[f"{order}_max"]
    return table.take(pc.take(last, pc.sort_indices(last)))


def _journal_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a kill mid-write: never reported as written
                continue
    return rows


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    columns = list(dict.fromkeys(k for row in rows for k in row))  # union, in first-seen order
    return pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])


def _plain(value: Any) -> Any:
    """numpy scalars and the like, as plain Python values for JSON."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
