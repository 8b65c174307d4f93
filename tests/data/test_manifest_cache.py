"""The content-keyed dataset cache: a hit skips decoding, any changed input is a miss, bad entries are rewritten."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from sweeper.data import MultimodalDataset
from sweeper.data.manifest import default_cache_dir, images, load_manifest, parse_manifest_section
from sweeper.data.manifest.testing import example_section, write_example_manifest
from sweeper.errors import DataError


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SWEEPER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the images decoded (a cache hit decodes none)."""
    calls: list[int] = []
    decode = images.decode_image

    def counting(source: images.Source) -> np.ndarray:
        calls.append(1)
        return decode(source)

    monkeypatch.setattr(images, "decode_image", counting)
    return calls


def _load(path: Path, **overrides: Any) -> MultimodalDataset:
    return load_manifest(parse_manifest_section(example_section(path, cache=True, **overrides)))


def _same(a: MultimodalDataset, b: MultimodalDataset) -> bool:
    tensors = ("inputs", "targets", "splits")
    same_tensors = all(
        getattr(a, t).keys() == getattr(b, t).keys()
        and all(torch.equal(v, getattr(b, t)[k]) for k, v in getattr(a, t).items())
        for t in tensors
    )
    return same_tensors and a.spec == b.spec and a.tokenizers == b.tokenizers and a.classes == b.classes


def test_a_second_load_is_a_hit_that_decodes_nothing(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_example_manifest(tmp_path / "data")
    first = _load(path)
    assert len(list(cache_dir.glob("*.pt"))) == 1

    def broken(source: images.Source) -> np.ndarray:
        raise AssertionError("a cache hit must not decode images")

    monkeypatch.setattr(images, "decode_image", broken)
    again = _load(path)
    assert _same(first, again)
    assert again.spec.modalities[3].vocab_size == first.tokenizers["note"].vocab_size


def test_a_changed_parquet_file_is_a_miss(tmp_path: Path, cache_dir: Path, decoded: list[int]) -> None:
    path = write_example_manifest(tmp_path / "data")
    first = _load(path)
    table = pq.read_table(path)
    age = table.column("age").to_pylist()
    table = table.set_column(table.schema.get_field_index("age"), "age", pa.array([age[0] + 50.0, *age[1:]]))
    pq.write_table(table, path)
    decoded.clear()
    second = _load(path)
    assert decoded  # decoded again
    assert not torch.equal(first.inputs["vitals"][:, 0], second.inputs["vitals"][:, 0])
    assert torch.equal(first.inputs["photo"], second.inputs["photo"])
    assert len(list(cache_dir.glob("*.pt"))) == 2


def test_a_changed_image_file_or_section_is_a_miss(tmp_path: Path, cache_dir: Path, decoded: list[int]) -> None:
    path = write_example_manifest(tmp_path / "data")
    _load(path)
    decoded.clear()
    _load(path)
    assert not decoded
    image = path.parent / "images" / "s007.png"
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    _load(path)
    assert decoded
    decoded.clear()
    _load(path, split={"by": "random", "seed": 4})
    assert decoded


def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path: Path, cache_dir: Path, decoded: list[int]) -> None:
    path = write_example_manifest(tmp_path / "data")
    first = _load(path)
    (entry,) = cache_dir.glob("*.pt")
    entry.write_bytes(b"half a file")
    decoded.clear()
    assert _same(_load(path), first)
    assert decoded
    assert torch.load(entry, weights_only=True)["format"].startswith("sweeper.manifest_cache/")
    decoded.clear()
    _load(path)
    assert not decoded


def test_validation_errors_come_before_anything_is_cached(tmp_path: Path, cache_dir: Path) -> None:
    path = write_example_manifest(tmp_path / "data", n_rows=10)
    (path.parent / "images" / "s009.png").write_bytes(b"broken")
    with pytest.raises(DataError, match="row 9: cannot read image"):
        _load(path)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_cache_false_writes_nothing_and_the_default_folder_is_under_home(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_example_manifest(tmp_path / "data", n_rows=10)
    load_manifest(parse_manifest_section(example_section(path, cache=False)))
    assert not cache_dir.exists()
    assert default_cache_dir() == cache_dir
    monkeypatch.delenv("SWEEPER_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "sweeper" / "datasets"
