"""Every data problem in a manifest is one ``DataError`` line naming the column, the row and what is expected."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sweeper.data.manifest import load_manifest, parse_manifest_section
from sweeper.errors import DataError
from sweeper.spec import parse_spec
from sweeper.tune import run_sweep

COLUMNS: dict[str, Any] = {
    "id": ["a", "b", "c", "d", "e", "f"],
    "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    "y": ["cat", "dog", "cat", "dog", "cat", "dog"],
    "split": ["train", "train", "val", "test", "train", "train"],
}
TABULAR = {"x": {"kind": "tabular", "columns": ["x"]}}


def _error(tmp_path: Path, columns: dict[str, Any], modalities: dict[str, Any] = TABULAR, **section: Any) -> str:
    """The one-line message of loading a 6-row manifest with ``columns`` replacing the default ones."""
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({**COLUMNS, **columns}), path)
    spec = {"path": str(path), "id": "id", "modalities": modalities, "tasks": {"y": {"column": "y"}}}
    spec |= {"split": {"column": "split"}, "cache": False, **section}
    return _fails(tmp_path, spec)


def _fails(tmp_path: Path, section: dict[str, Any]) -> str:
    """The one-line DataError of loading ``section``; a sweep on it fails the same way and writes nothing."""
    with pytest.raises(DataError) as info:
        load_manifest(parse_manifest_section(section))
    message = str(info.value)
    assert "\n" not in message
    sweep = parse_spec({"name": "s", "data": section, "parameters": {"lr": 0.01}})
    with pytest.raises(DataError) as again:
        run_sweep(sweep, tmp_path / "sweeps" / "s", quiet=True)
    assert str(again.value) == message
    assert not (tmp_path / "sweeps").exists(), "a data error must leave no sweep folder behind"
    return message


def _png(path: Path, mode: str) -> str:
    Image.new(mode, (4, 4)).save(path)
    return path.name


def test_a_missing_parquet_file_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "x.parquet"
    message = _fails(tmp_path, {"path": str(missing), "modalities": TABULAR, "tasks": {"y": {"column": "y"}}})
    assert message == f"cannot read '{missing}' as Parquet: no such file or folder"


def test_a_corrupt_parquet_file_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"this is not parquet at all")
    message = _fails(tmp_path, {"path": str(path), "modalities": TABULAR, "tasks": {"y": {"column": "y"}}})
    assert message.startswith(f"cannot read '{path}' as Parquet: ") and len(message) > len(str(path)) + 30
    assert "\n" not in message


def test_an_empty_folder_is_not_a_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    message = _fails(tmp_path, {"path": str(folder), "modalities": TABULAR, "tasks": {"y": {"column": "y"}}})
    assert "holds no .parquet files; expected a Parquet file or a folder of them" in message


def test_a_missing_column_lists_the_available_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, {}, {"v": {"kind": "tabular", "columns": ["x", "tmp"]}})
    assert message == f"column 'tmp' is missing from '{tmp_path / 'm.parquet'}'; available: id, x, y, split"


@pytest.mark.parametrize("kind", ["image", "volume"])
def test_a_missing_file_names_the_path_as_written_and_as_resolved(tmp_path: Path, kind: str) -> None:
    suffix = ".png" if kind == "image" else ".npy"
    names = [f"f{i}{suffix}" for i in range(6)]
    for name in names[:4]:
        if kind == "image":
            _png(tmp_path / name, "L")
        else:
            np.save(tmp_path / name, np.zeros((2, 2, 2), dtype=np.float32))
    size = [2, 2] if kind == "image" else [2, 2, 2]
    message = _error(tmp_path, {"p": names}, {"p": {"kind": kind, "column": "p", "size": size}})
    assert message == (
        f"column 'p', row 4: file 'f4{suffix}' does not exist (resolved to '{tmp_path / ('f4' + suffix)}'); "
        f"expected an existing {kind} file"
    )


def test_a_truncated_image_or_a_broken_volume_names_the_row(tmp_path: Path) -> None:
    names = [_png(tmp_path / f"{i}.png", "RGB") for i in range(6)]
    (tmp_path / "1.png").write_bytes((tmp_path / "0.png").read_bytes()[:-30])
    message = _error(tmp_path, {"p": names}, {"p": {"kind": "image", "column": "p", "size": [4, 4]}})
    assert message.startswith("column 'p', row 1: cannot read image '1.png': ")
    assert message.endswith("; expected a readable image")
    volumes = [f"{i}.npy" for i in range(6)]
    for name in volumes:
        np.save(tmp_path / name, np.zeros((2, 2, 2), dtype=np.float32))
    (tmp_path / "4.npy").write_bytes(b"\x93NUMPY garbage")
    message = _error(tmp_path, {"v": volumes}, {"v": {"kind": "volume", "column": "v", "size": [2, 2, 2]}})
    assert message.startswith("column 'v', row 4: cannot read volume '4.npy': ")
    np.save(tmp_path / "4.npy", np.zeros((2, 2), dtype=np.float32))
    message = _error(tmp_path, {"v": volumes}, {"v": {"kind": "volume", "column": "v", "size": [2, 2, 2]}})
    assert message == "column 'v', row 4: volume has shape (2, 2); expected (D, H, W) or (C, D, H, W)"


def test_an_unreadable_image_file_or_bytes_names_the_row(tmp_path: Path) -> None:
    names = [_png(tmp_path / f"{i}.png", "RGB") for i in range(6)]
    (tmp_path / "2.png").write_bytes(b"not a png")
    message = _error(tmp_path, {"p": names}, {"p": {"kind": "image", "column": "p", "size": [4, 4]}})
    assert message == (
        "column 'p', row 2: cannot read image '2.png': not a recognised image format; expected a readable image"
    )
    blobs = [(tmp_path / "0.png").read_bytes()] * 6
    blobs[5] = b"\x89PNG broken"
    message = _error(tmp_path, {"p": blobs}, {"p": {"kind": "image", "column": "p", "size": [4, 4]}})
    assert message == (
        "column 'p', row 5: cannot read the encoded bytes: not a recognised image format; expected a readable image"
    )


@pytest.mark.parametrize(
    ("columns", "modality", "expected"),
    [
        (
            {"t": [1, 2, 3, 4, 5, 6]},
            {"kind": "text", "column": "t"},
            "column 't': has type int64; expected strings for text modality 'm'",
        ),
        (
            {"v": ["1.5", "2", "3", "4", "5", "6"]},
            {"kind": "tabular", "columns": ["v"]},
            "column 'v': has type string; expected numbers (integers, floats or booleans)",
        ),
        (
            {"v": [["a"]] * 6},
            {"kind": "features", "column": "v"},
            "column 'v': has type list<string>; expected lists of numbers",
        ),
        (
            {"v": [1.0] * 6},
            {"kind": "signal", "column": "v"},
            "column 'v': has type double; expected a list of numbers in every row",
        ),
        (
            {"v": [1, 2, 3, 4, 5, 6]},
            {"kind": "image", "column": "v", "size": [2, 2]},
            "column 'v': has type int64; expected file paths (strings) or encoded image (binary)",
        ),
    ],
)
def test_a_column_of_the_wrong_type_says_what_it_has_and_what_is_expected(
    tmp_path: Path, columns: dict[str, Any], modality: dict[str, Any], expected: str
) -> None:
    assert _error(tmp_path, columns, {"m": modality}) == expected


def test_labels_of_the_wrong_type_and_split_values_of_the_wrong_type(tmp_path: Path) -> None:
    message = _error(tmp_path, {"y": [[1]] * 6})
    assert message == "column 'y': has type list<int64>; expected one scalar label per row " + (
        "(strings, integers, floats or booleans)"
    )
    message = _error(tmp_path, {"split": [0, 0, 1, 2, 0, 0]})
    assert message == "column 'split': has type int64; expected one of train, val, test (strings) in every row"


def test_a_task_with_a_single_class_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, {"y": ["cat"] * 6})
    assert message == "column 'y': has a single class 'cat' in all 6 rows; expected 2 or more"


def test_a_class_seen_in_val_or_test_but_not_in_train_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, {"y": ["cat", "dog", "cat", "bird", "cat", "dog"]})
    assert (
        message
        == "column 'y', row 3: class 'bird' is in the test split but not in train; expected every class in train"
    )


@pytest.mark.parametrize("missing", [None, math.nan])
def test_a_null_label_is_an_error(tmp_path: Path, missing: float | None) -> None:
    labels = [1.0, 2.0, 1.0, 2.0, missing, 2.0]
    assert _error(tmp_path, {"y": labels}) == "column 'y', row 4: value is null; expected a label in every row"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("kind", ["tabular", "signal", "features"])
def test_non_finite_numbers_are_errors(tmp_path: Path, kind: str, bad: float) -> None:
    if kind == "tabular":
        columns, modality = {"v": [1.0, 2.0, 3.0, bad, 5.0, 6.0]}, {"kind": "tabular", "columns": ["v"]}
    else:
        rows = [[0.0, 1.0, 2.0, 3.0] for _ in range(6)]
        rows[3][2] = bad
        columns, modality = {"v": rows}, {"kind": kind, "column": "v"}
    message = _error(tmp_path, columns, {"m": modality})
    assert message == f"column 'v', row 3: value {bad} is not finite; expected finite numbers"


def test_a_null_number_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, {"v": [1.0, None, 3.0, 4.0, 5.0, 6.0]}, {"m": {"kind": "tabular", "columns": ["v"]}})
    assert message == "column 'v', row 1: value is null; expected a number in every row"


def test_signal_rows_of_different_lengths_are_an_error(tmp_path: Path) -> None:
    rows = [[0.0] * 8] * 5 + [[0.0] * 6]
    message = _error(tmp_path, {"s": rows}, {"m": {"kind": "signal", "column": "s", "channels": 2}})
    assert message == "column 's', row 5: 6 values; expected 8 in every row like row 0"
    nested = [[[0.0] * 4] * 2] * 6
    nested[4] = [[0.0] * 4, [0.0] * 3]
    message = _error(tmp_path, {"s": nested}, {"m": {"kind": "signal", "column": "s"}})
    assert message == "column 's', row 4: 3 values; expected 4 in every row like row 0"


def test_signal_values_that_do_not_split_into_the_channels_are_an_error(tmp_path: Path) -> None:
    rows = [[0.0] * 10] * 6
    message = _error(tmp_path, {"s": rows}, {"m": {"kind": "signal", "column": "s", "channels": 4}})
    assert message == "column 's', row 0: 10 values do not split into 4 channels; expected a multiple"
    nested = [[[0.0] * 5] * 2] * 6
    message = _error(tmp_path, {"s": nested}, {"m": {"kind": "signal", "column": "s", "channels": 4}})
    assert message == "column 's', row 0: has 2 channels; expected channels: 4 as the modality says"


def test_images_with_different_channels_suggest_setting_channels(tmp_path: Path) -> None:
    names = [_png(tmp_path / f"{i}.png", "L" if i != 3 else "RGB") for i in range(6)]
    message = _error(tmp_path, {"p": names}, {"photo": {"kind": "image", "column": "p", "size": [4, 4]}})
    assert message == (
        "column 'p', row 3: image has 3 channels but row 0 has 1; expected the same in every row "
        "(set channels: 1 or 3 on modality 'photo' to convert every image)"
    )


@pytest.mark.parametrize("empty", ["", "   ", "\t\n"])
def test_an_empty_text_is_an_error(tmp_path: Path, empty: str) -> None:
    texts = ["red", "green", "blue", "cyan", empty, "pink"]
    message = _error(tmp_path, {"t": texts}, {"note": {"kind": "text", "column": "t"}})
    assert message == f"column 't', row 4: text {empty!r} is empty; expected at least one word"


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    message = _error(tmp_path, {"id": ["a", "b", "c", "d", "b", "f"]})
    assert message == "column 'id', rows 1 and 4: duplicate id 'b'; expected unique ids"
    message = _error(tmp_path, {"id": [1, 2, 3, 3, 5, 6]})
    assert message == "column 'id', rows 2 and 3: duplicate id 3; expected unique ids"


def test_split_values_other_than_train_val_test_are_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, {"split": ["train", "train", "validation", "test", "train", "train"]})
    assert message == "column 'split', row 2: unknown split 'validation'; expected one of train, val, test"
    message = _error(tmp_path, {"split": ["train", "train", "val", None, "train", "train"]})
    assert message == "column 'split', row 3: value is null; expected one of train, val, test in every row"


def test_an_empty_split_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, {"split": ["train", "train", "val", "val", "train", "train"]})
    assert message == "column 'split': split 'test' has no rows (train 4, val 2, test 0); expected rows in every split"
    message = _error(tmp_path, {}, split={"by": "random", "val": 0.2, "test": 0.05})
    assert message == (
        "split by random (val=0.2, test=0.05 of 6 rows): split 'test' has no rows (train 5, val 1, test 0); "
        "expected rows in every split"
    )


def test_a_stratify_task_that_is_not_a_task_is_a_config_error() -> None:
    from sweeper.errors import ConfigError

    section = {"path": "m.parquet", "modalities": TABULAR, "tasks": {"y": {"column": "y"}}}
    with pytest.raises(ConfigError) as info:
        parse_manifest_section({**section, "split": {"by": "stratified", "stratify": "z"}})
    assert str(info.value) == "data: split.stratify: unknown task 'z'; tasks: y"
