"""Bring-your-own multi-view data: a manifest whose list column holds each row's image paths, one or more per row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from sweeper.data.manifest import load_manifest, parse_manifest_section, summary
from sweeper.errors import DataError
from sweeper.models import ModelConfig, build_model

COUNTS = [1, 3, 2, 1, 2, 3, 1, 2, 3, 2]  # views per row


def _manifest(tmp_path: Path, counts: list[int] = COUNTS) -> tuple[dict[str, Any], list[list[np.ndarray]]]:
    """A manifest of ``len(counts)`` rows with ``counts[i]`` gray 6x5 PNGs in row i; the data section and pixels."""
    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    paths, pixels = [], []
    for row, count in enumerate(counts):
        paths.append([f"photos/r{row}v{v}.png" for v in range(count)])
        pixels.append([rng.integers(0, 256, (6, 5), dtype=np.uint8) for _ in range(count)])
        for path, image in zip(paths[-1], pixels[-1], strict=True):
            Image.fromarray(image).save(tmp_path / path)
    n = len(counts)
    table = {
        "photos": pa.array(paths, pa.list_(pa.string())),
        "age": rng.normal(50, 10, n),
        "label": ["a", "b"] * (n // 2),
        "split": (["train"] * 6 + ["val", "val", "test", "test"])[:n],
    }
    pq.write_table(pa.table(table), tmp_path / "manifest.parquet")
    section = {
        "path": str(tmp_path / "manifest.parquet"),
        "modalities": {
            "views": {"kind": "image", "column": "photos", "size": [6, 5]},
            "history": {"kind": "tabular", "columns": ["age"]},
        },
        "tasks": {"label": {"column": "label"}},
        "split": {"column": "split"},
        "cache": False,
    }
    return section, pixels


def _error(section: dict[str, Any]) -> str:
    with pytest.raises(DataError) as info:
        load_manifest(parse_manifest_section(section))
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_list_column_of_png_paths_loads_as_a_multi_view_modality_and_batches(tmp_path: Path) -> None:
    section, pixels = _manifest(tmp_path)
    data = load_manifest(parse_manifest_section(section))
    (views, _) = data.spec.modalities
    assert (views.name, views.kind, views.shape, views.views) == ("views", "image", (1, 6, 5), 3)
    x = data.inputs["views"]
    assert isinstance(x, torch.Tensor) and x.shape == (10, 3, 1, 6, 5) and x.dtype == torch.float32
    for row, images in enumerate(pixels):
        for v in range(3):
            if v < len(images):  # a real view: the PNG scaled to [0, 1], as a single image would be
                torch.testing.assert_close(x[row, v, 0], torch.from_numpy(images[v] / np.float32(255.0)))
            else:
                assert x[row, v].isnan().all(), f"row {row} has {len(images)} views; view {v} must be padding"
    assert summary(data)["modalities"]["views"] == {"kind": "image", "shape": [1, 6, 5], "views": 3}

    batch = data.batch_of(data.splits["train"])
    torch.manual_seed(0)
    model = build_model(data.spec, ModelConfig(fusion="gated", hidden_dim=8, view_aggregation="attention")).eval()
    with torch.no_grad():
        logits = model(batch.inputs)["label"]
    assert logits.shape == (6, 2) and torch.isfinite(logits).all()


def test_a_cached_multi_view_dataset_keeps_its_views(tmp_path: Path) -> None:
    section, _ = _manifest(tmp_path)
    section["cache"] = True
    first, again = (load_manifest(parse_manifest_section(section), cache_dir=tmp_path / "cache") for _ in range(2))
    assert again.spec == first.spec and again.spec.modalities[0].views == 3
    assert torch.equal(first.inputs["views"].nan_to_num(7.0), again.inputs["views"].nan_to_num(7.0))


def test_an_empty_list_of_views_is_one_line(tmp_path: Path) -> None:
    section, _ = _manifest(tmp_path)
    table = pq.read_table(section["path"]).to_pydict()
    table["photos"][7] = []
    pq.write_table(pa.table(table), section["path"])
    assert _error(section) == (
        "column 'photos', row 7: list is empty; expected at least one image (a file path or encoded image)"
    )


def test_a_missing_file_in_a_list_names_its_row(tmp_path: Path) -> None:
    section, _ = _manifest(tmp_path)
    (tmp_path / "photos" / "r5v2.png").unlink()
    resolved = tmp_path / "photos" / "r5v2.png"
    assert _error(section) == (
        f"column 'photos', row 5: file 'photos/r5v2.png' does not exist (resolved to '{resolved}'); "
        "expected an existing image file"
    )


def test_an_unreadable_view_names_its_row(tmp_path: Path) -> None:
    section, _ = _manifest(tmp_path)
    (tmp_path / "photos" / "r8v1.png").write_text("not a picture")
    assert _error(section) == (
        "column 'photos', row 8: cannot read image 'photos/r8v1.png': not a recognised image format; "
        "expected a readable image"
    )


def test_a_list_of_numbers_is_not_a_list_of_views(tmp_path: Path) -> None:
    section, _ = _manifest(tmp_path)
    table = pq.read_table(section["path"]).to_pydict()
    table["photos"] = [[1, 2]] * len(COUNTS)
    pq.write_table(pa.table(table), section["path"])
    assert _error(section) == (
        "column 'photos': has type list<int64>; expected file paths (strings) or encoded image (binary) "
        "or lists of them"
    )


def test_streaming_refuses_multi_view_columns_in_one_line(tmp_path: Path) -> None:
    section, _ = _manifest(tmp_path)
    section["storage"] = "stream"
    assert _error(section) == (
        "modality 'views': column 'photos' holds several views per row, which cannot be streamed from disk yet; "
        "set storage: memory in the data section (storage: auto streams above stream_above_gb)"
    )
