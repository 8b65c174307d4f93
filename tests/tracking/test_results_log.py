"""The append-only results log: durable per row, compacted into Parquet parts, read back once per key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from sweeper.tracking.results_log import JOURNAL, PART_GLOB, ResultsLog, read_log


def _log(folder: Path, rows_per_part: int = 3) -> ResultsLog:
    return ResultsLog(folder, ("trial_id", "epoch"), rows_per_part=rows_per_part)


def test_every_row_is_readable_as_soon_as_it_is_appended_and_parts_form_every_n_rows(tmp_path: Path) -> None:
    log = _log(tmp_path)
    for epoch in range(1, 8):
        log.append({"trial_id": "a", "epoch": epoch, "val/f1": epoch / 10})
        table = read_log(tmp_path, log.key)
        assert table is not None and table["epoch"].to_pylist() == list(range(1, epoch + 1))
    assert len(list(tmp_path.glob(PART_GLOB))) == 2  # 7 rows, 3 per part: two parts and one row in the journal
    assert len((tmp_path / JOURNAL).read_text().splitlines()) == 1


def test_a_row_written_again_is_read_once_with_its_last_values(tmp_path: Path) -> None:
    log = _log(tmp_path)
    for epoch, score in [(1, 0.1), (2, 0.2), (3, 0.3), (2, 0.25), (3, 0.35), (4, 0.4)]:  # resumed from epoch 1
        log.append({"trial_id": "a", "epoch": epoch, "val/f1": score})
    table = read_log(tmp_path, log.key)
    assert table is not None
    assert sorted(zip(table["epoch"].to_pylist(), table["val/f1"].to_pylist(), strict=True)) == [
        (1, 0.1),
        (2, 0.25),
        (3, 0.35),
        (4, 0.4),
    ]


def test_a_line_cut_short_by_a_kill_is_ignored_and_the_next_append_goes_on(tmp_path: Path) -> None:
    log = _log(tmp_path, rows_per_part=100)
    log.append({"trial_id": "a", "epoch": 1})
    log.close()
    with (tmp_path / JOURNAL).open("a") as f:
        f.write('{"trial_id": "a", "epo')  # killed mid-write
    table = read_log(tmp_path, log.key)
    assert table is not None and table.num_rows == 1
    again = _log(tmp_path, rows_per_part=100)
    again.append({"trial_id": "b", "epoch": 1})
    table = read_log(tmp_path, again.key)
    assert table is not None and sorted(table["trial_id"].to_pylist()) == ["a", "b"]


def test_a_crash_between_writing_a_part_and_emptying_the_journal_reads_each_row_once(tmp_path: Path) -> None:
    log = _log(tmp_path, rows_per_part=100)
    for epoch in (1, 2):
        log.append({"trial_id": "a", "epoch": epoch})
    saved = tmp_path / "journal.copy"
    shutil.copy(tmp_path / JOURNAL, saved)
    log.compact()
    shutil.copy(saved, tmp_path / JOURNAL)  # as if killed before the journal was emptied
    saved.unlink()
    table = read_log(tmp_path, log.key)
    assert table is not None and table["epoch"].to_pylist() == [1, 2]


def test_full_compaction_leaves_one_part_with_one_row_per_key(tmp_path: Path) -> None:
    log = _log(tmp_path, rows_per_part=2)
    for epoch in (1, 2, 3, 2, 3, 4, 5):
        log.append({"trial_id": "a", "epoch": epoch, "note": f"e{epoch}"})
    log.compact(full=True)
    (part,) = tmp_path.glob(PART_GLOB)
    assert sorted(pq.read_table(part)["epoch"].to_pylist()) == [1, 2, 3, 4, 5]
    assert (tmp_path / JOURNAL).read_text() == ""


def test_columns_may_differ_between_rows(tmp_path: Path) -> None:
    log = _log(tmp_path, rows_per_part=2)
    log.append({"trial_id": "a", "epoch": 1, "val/f1": 0.5})
    log.append({"trial_id": "a", "epoch": 2, "val/f1": 0.6, "test/f1": 0.4})
    log.append({"trial_id": "b", "epoch": 1, "seed": 1000})
    table = read_log(tmp_path, log.key)
    assert table is not None
    rows = {(r["trial_id"], r["epoch"]): r for r in table.to_pylist()}
    assert rows[("a", 1)]["test/f1"] is None and rows[("b", 1)]["seed"] == 1000


def test_an_empty_folder_reads_as_nothing(tmp_path: Path) -> None:
    assert read_log(tmp_path, ("trial_id",)) is None
