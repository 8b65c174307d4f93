"""New rows are read exactly as training read its data: the row reader gives the dataset's own tensors back."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from sweeper.data import make_synthetic
from sweeper.data.manifest import load_manifest, parse_manifest_section
from sweeper.data.manifest.testing import example_section, write_example_manifest
from sweeper.data.rows import RowReader, sample_rows
from sweeper.errors import DataError


def _same(read: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert read.keys() == expected.keys()
    for name, values in expected.items():
        torch.testing.assert_close(read[name], values.float() if values.is_floating_point() else values, equal_nan=True)


@pytest.mark.parametrize("scenario", ["default", "wound", "lesion"])  # images, text, multi-view images
def test_built_in_rows_read_back_as_the_dataset_holds_them(scenario: str) -> None:
    dataset = make_synthetic(120, scenario=scenario, seed=3)
    reader = RowReader.from_json(RowReader.for_dataset(dataset, None).to_json())  # as a logged model holds it
    rows = dataset.splits["test"]
    table, root = sample_rows(dataset, reader, rows)
    _same(reader.read(table, root), dataset.batch_of(rows).inputs)


def test_manifest_rows_get_the_training_scalers_and_tokenizer(tmp_path: Path) -> None:
    manifest = write_example_manifest(tmp_path, n_rows=40)
    section = parse_manifest_section(example_section(manifest))
    dataset = load_manifest(section)
    reader = RowReader.from_json(RowReader.for_dataset(dataset, section).to_json())
    rows = dataset.splits["test"]
    table = pq.read_table(manifest).take(rows.numpy()).drop_columns(["wound_type", "severity", "split"])
    _same(reader.read(table, manifest.parent), dataset.batch_of(rows).inputs)

    with pytest.raises(DataError, match="rows lack column 'age'; expected the columns"):
        reader.read(table.drop_columns(["age"]), manifest.parent)


def test_a_built_in_cell_of_the_wrong_size_is_one_line() -> None:
    dataset = make_synthetic(60, seed=0)
    reader = RowReader.for_dataset(dataset, None)
    table, root = sample_rows(dataset, reader, dataset.splits["test"][:2])
    image = next(m for m in dataset.spec.modalities if m.kind == "image")
    short = table.set_column(table.column_names.index(image.name), image.name, pa.array([[0.0] * 5, [0.0] * 5]))
    with pytest.raises(DataError, match=rf"column '{image.name}', row 0: 5 values; expected \d+, the image shape"):
        reader.read(short, root)
