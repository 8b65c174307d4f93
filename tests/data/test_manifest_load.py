"""Loading real Parquet manifests: every modality kind, labels, splits, train-only statistics, paths, summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from sweeper.data import MultimodalDataset
from sweeper.data.manifest import load_manifest, parse_manifest_section, summary
from sweeper.data.manifest.testing import example_columns, example_section, png_bytes, write_example_manifest
from sweeper.data.mapped import as_float
from sweeper.data.text import UNKNOWN_ID


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_example_manifest(tmp_path_factory.mktemp("example"))


def _load(path: Path, **overrides: Any) -> MultimodalDataset:
    return load_manifest(parse_manifest_section(example_section(path, **overrides)))


def _write(folder: Path, columns: dict[str, Any], name: str = "m.parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / name)
    return folder / name


def _small(path: Path, modalities: dict[str, Any], **overrides: Any) -> MultimodalDataset:
    """Load ``path`` with the given modalities, task 'y' from column 'y' and the split from column 'split'."""
    section = {"path": str(path), "modalities": modalities, "tasks": {"y": {"column": "y"}}}
    section |= {"split": {"column": "split"}, "cache": False, **overrides}
    return load_manifest(parse_manifest_section(section))


SPLIT6 = ["train", "train", "val", "test", "train", "train"]
Y6 = ["a", "b", "a", "b", "a", "b"]


def test_every_modality_kind_loads_with_its_shape_and_dtype(example: Path) -> None:
    data = _load(example)
    shapes = {m.name: m.shape for m in data.spec.modalities}
    assert shapes == {
        "photo": (3, 8, 8),
        "sketch": (1, 6, 6),  # encoded PNG bytes, gray
        "scan": (1, 4, 4, 4),
        "note": (6,),
        "vitals": (3,),
        "eeg": (2, 16),
        "emb": (5,),
    }
    dtypes = {"note": torch.int64, "photo": torch.uint8, "sketch": torch.uint8}  # 8-bit images stay compact
    for name, shape in shapes.items():
        assert data.inputs[name].shape == (60, *shape)
        assert data.inputs[name].dtype == dtypes.get(name, torch.float32), name
    batch = next(data.batches("train", 60))  # what a model gets: float, 8-bit images as value / 255
    for name in ("photo", "sketch"):
        assert batch.inputs[name].dtype == torch.float32
        assert batch.inputs[name].min() >= 0.0 and batch.inputs[name].max() <= 1.0
        assert batch.inputs[name].max() > 0.5  # divided by 255 once, not twice
    assert [t.name for t in data.spec.tasks] == ["type", "severity"]
    assert all(t.dtype == torch.int64 and t.shape == (60,) for t in data.targets.values())
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 36, "val": 12, "test": 12}
    assert data.splits["val"].tolist() == list(range(3, 60, 5))


def test_features_and_signals_keep_their_values(tmp_path: Path, example: Path) -> None:
    columns = example_columns(tmp_path, n_rows=60)
    data = _load(example)
    emb = np.array(columns["clip_embedding"].to_pylist(), dtype=np.float32)
    assert np.array_equal(data.inputs["emb"].numpy(), emb)  # features are not normalised
    eeg = np.array(columns["eeg"].to_pylist(), dtype=np.float32)
    assert np.array_equal(data.inputs["eeg"].numpy(), eeg.reshape(60, 2, 16))  # channel after channel


def test_images_are_scaled_to_unit_range_in_rgb_order_and_resized(tmp_path: Path) -> None:
    Image.fromarray(np.full((20, 30, 3), (51, 102, 255), dtype=np.uint8)).save(tmp_path / "rgb.png")
    gray = np.tile(np.array([0, 255], dtype=np.uint8).repeat(15), (20, 1))  # left half black, right half white
    Image.fromarray(gray).save(tmp_path / "gray.jpg", quality=100)
    path = _write(tmp_path, {"p": ["rgb.png"] * 6, "g": ["gray.jpg"] * 6, "y": Y6, "split": SPLIT6})
    data = _small(
        path,
        {
            "photo": {"kind": "image", "column": "p", "size": [5, 4]},
            "sketch": {"kind": "image", "column": "g", "size": [4, 4]},
        },
    )
    photo = as_float(data.inputs["photo"][0])  # (3, 5, 4)
    assert photo.shape == (3, 5, 4)
    assert torch.allclose(photo, torch.tensor([0.2, 0.4, 1.0]).view(3, 1, 1).expand(3, 5, 4), atol=1e-6)
    sketch = data.inputs["sketch"][0, 0]  # (4, 4)
    assert sketch.shape == (4, 4)
    assert (sketch[:, 0] < 0.05).all() and (sketch[:, -1] > 0.95).all()  # the edge survives the bilinear resize


def test_channels_converts_every_image(tmp_path: Path) -> None:
    Image.fromarray(np.full((4, 4, 3), (255, 0, 0), dtype=np.uint8)).save(tmp_path / "red.png")
    Image.fromarray(np.full((4, 4), 128, dtype=np.uint8)).save(tmp_path / "gray.png")
    path = _write(tmp_path, {"p": ["red.png", "gray.png"] * 3, "y": Y6, "split": SPLIT6})
    rgb = as_float(_small(path, {"p": {"kind": "image", "column": "p", "size": [4, 4], "channels": 3}}).inputs["p"])
    assert rgb.shape == (6, 3, 4, 4)
    assert torch.allclose(rgb[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(rgb[1, :, 0, 0], torch.full((3,), 128 / 255))  # gray repeated into R, G and B
    gray = as_float(_small(path, {"p": {"kind": "image", "column": "p", "size": [4, 4], "channels": 1}}).inputs["p"])
    assert gray.shape == (6, 1, 4, 4)
    assert gray[0, 0, 0, 0].item() == pytest.approx(0.299, abs=0.5 / 255)  # luminance of pure red, kept in 8 bits
    assert gray[1, 0, 0, 0].item() == pytest.approx(128 / 255, abs=1e-6)


def test_npy_images_and_multichannel_volumes(tmp_path: Path) -> None:
    np.save(tmp_path / "img.npy", np.full((3, 3), 51, dtype=np.uint8))  # (H, W) uint8, scaled by 255
    np.save(tmp_path / "vol.npy", np.stack([np.zeros((4, 6, 6)), np.full((4, 6, 6), 2.5)]).astype(np.float32))
    path = _write(tmp_path, {"i": ["img.npy"] * 6, "v": ["vol.npy"] * 6, "y": Y6, "split": SPLIT6})
    data = _small(
        path,
        {
            "i": {"kind": "image", "column": "i", "size": [3, 3]},
            "v": {"kind": "volume", "column": "v", "size": [2, 3, 3]},
        },
    )
    assert torch.allclose(as_float(data.inputs["i"]), torch.full((6, 1, 3, 3), 0.2))
    volume = data.inputs["v"]
    assert volume.shape == (6, 2, 2, 3, 3)  # (N, C, D, H, W)
    assert (volume[:, 0] == 0).all() and torch.allclose(volume[:, 1], torch.tensor(2.5))  # values kept as stored


def test_labels_of_any_type_map_to_their_sorted_unique_values(tmp_path: Path) -> None:
    columns = {
        "x": [[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]],
        "y": [10, 2, 33, 2, 10, 33],  # numeric order, not text order
        "flag": [True, False, True, False, True, False],
        "name": ["ulcer", "burn", "cut", "burn", "ulcer", "cut"],
        "split": ["train", "train", "train", "val", "test", "train"],
    }
    path = _write(tmp_path, columns)
    tasks = {"y": {"column": "y"}, "flag": {"column": "flag"}, "name": {"column": "name"}}
    data = _small(path, {"x": {"kind": "features", "column": "x"}}, tasks=tasks)
    assert data.classes == {"y": ["2", "10", "33"], "flag": ["False", "True"], "name": ["burn", "cut", "ulcer"]}
    assert data.targets["y"].tolist() == [1, 0, 2, 0, 1, 2]
    assert data.targets["flag"].tolist() == [1, 0, 1, 0, 1, 0]
    assert data.targets["name"].tolist() == [2, 0, 1, 0, 2, 1]
    assert [(t.name, t.num_classes) for t in data.spec.tasks] == [("y", 3), ("flag", 2), ("name", 3)]


def test_tabular_is_normalised_with_training_statistics_only(tmp_path: Path) -> None:
    age = [10.0, 20.0, 1000.0, -500.0, 30.0, 40.0]  # the val and test rows are outliers
    columns = {"age": age, "const": [7] * 6, "x": [[a, 1.0] for a in age], "y": Y6, "split": SPLIT6}
    path = _write(tmp_path, columns)
    data = _small(
        path,
        {
            "vitals": {"kind": "tabular", "columns": ["age", "const"]},
            "listed": {"kind": "tabular", "column": "x"},
        },
    )
    vitals = data.inputs["vitals"]
    train = np.array([10.0, 20.0, 30.0, 40.0])
    expected = (np.array(age) - train.mean()) / train.std()
    assert np.allclose(vitals[:, 0].numpy(), expected, atol=1e-5)
    assert vitals[data.splits["train"], 0].mean().abs() < 1e-6
    assert (vitals[:, 1] == 0).all()  # a constant column: centred, not divided by zero
    assert torch.equal(data.inputs["listed"], vitals)


def test_the_tokenizer_is_fitted_on_training_rows_only(example: Path) -> None:
    data = _load(example)
    tokenizer = data.tokenizers["note"]
    # val rows (i % 5 == 3) are on the foot, test rows (i % 5 == 4) on the back: words training never saw
    assert "foot" not in tokenizer.words and "back" not in tokenizer.words and "arm" in tokenizer.words
    assert data.inputs["note"][3].tolist()[4] == UNKNOWN_ID  # "a cut on the foot"
    assert data.spec.modalities[3].vocab_size == tokenizer.vocab_size == len(tokenizer.words) + 2


def test_relative_paths_are_resolved_against_the_manifest_folder(
    tmp_path: Path, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = _load(example)
    table = pq.read_table(example)
    absolute_paths = [str(example.parent / p) for p in table.column("photo_path").to_pylist()]
    moved = _write(tmp_path / "moved", {**table.to_pydict(), "photo_path": absolute_paths})
    absolute = _load(moved, modalities={"photo": {"kind": "image", "column": "photo_path", "size": [8, 8]}})
    assert torch.equal(absolute.inputs["photo"], relative.inputs["photo"])


def test_a_folder_of_parquet_files_is_one_manifest_in_file_name_order(tmp_path: Path, example: Path) -> None:
    table = pq.read_table(example)
    folder = tmp_path / "parts"
    folder.mkdir()
    for media in ("images", "volumes"):  # paths are relative to the folder given
        (folder / media).symlink_to(example.parent / media)
    pq.write_table(table.slice(40), folder / "b.parquet")
    pq.write_table(table.slice(0, 40), folder / "a.parquet")
    whole, parts = _load(example), _load(folder)
    for name, values in whole.inputs.items():
        assert torch.equal(parts.inputs[name], values), name
    assert all(torch.equal(parts.targets[t], v) for t, v in whole.targets.items())


def test_nested_and_flat_signal_lists_give_the_same_tensor(tmp_path: Path) -> None:
    signals = np.arange(6 * 3 * 4, dtype=np.float64).reshape(6, 3, 4)
    columns = {"flat": [s.reshape(-1).tolist() for s in signals], "nested": [s.tolist() for s in signals]}
    path = _write(tmp_path, {**columns, "y": Y6, "split": SPLIT6})
    flat = _small(path, {"s": {"kind": "signal", "column": "flat", "channels": 3}}).inputs["s"]
    nested = _small(path, {"s": {"kind": "signal", "column": "nested"}}).inputs["s"]
    assert flat.shape == nested.shape == (6, 3, 4)
    assert torch.equal(flat, nested) and torch.equal(flat, torch.from_numpy(signals).float())
    one = _small(path, {"s": {"kind": "signal", "column": "flat"}}).inputs["s"]
    assert one.shape == (6, 1, 12)  # a flat list without channels is one channel


def test_dictionary_encoded_columns_read_like_plain_ones(tmp_path: Path) -> None:
    columns = {"x": [[float(i)] for i in range(6)], "y": pa.array(Y6).dictionary_encode()}
    path = _write(tmp_path, {**columns, "split": pa.array(SPLIT6).dictionary_encode()})
    data = _small(path, {"x": {"kind": "features", "column": "x"}})
    assert data.classes["y"] == ["a", "b"] and data.splits["val"].tolist() == [2]


def test_drawn_splits_are_seeded_disjoint_and_stratified(example: Path) -> None:
    drawn = {"by": "stratified", "val": 0.2, "test": 0.2, "seed": 1}
    first, again = _load(example, split=drawn), _load(example, split=drawn)
    other = _load(example, split={**drawn, "seed": 2})
    assert all(torch.equal(first.splits[s], again.splits[s]) for s in first.splits)
    assert not torch.equal(first.splits["val"], other.splits["val"])
    assert sorted(torch.cat(list(first.splits.values())).tolist()) == list(range(60))
    for split, index in first.splits.items():  # 20 rows per wound type: 12 train, 4 val, 4 test each
        counts = torch.bincount(first.targets["type"][index], minlength=3).tolist()
        assert counts == ([12] * 3 if split == "train" else [4] * 3)
    random = _load(example, split={"by": "random", "val": 0.1, "test": 0.25, "seed": 0})
    assert {k: len(v) for k, v in random.splits.items()} == {"train": 39, "val": 6, "test": 15}


def test_summary_gives_rows_classes_per_split_and_shapes(example: Path) -> None:
    info = summary(_load(example))
    assert info["rows"] == 60 and info["splits"] == {"train": 36, "val": 12, "test": 12}
    assert info["tasks"]["type"] == {name: {"train": 12, "val": 4, "test": 4} for name in ("burn", "cut", "ulcer")}
    assert list(info["tasks"]["severity"]) == ["0", "1"]
    assert sum(sum(c.values()) for c in info["tasks"]["severity"].values()) == 60
    assert info["modalities"]["photo"] == {"kind": "image", "shape": [3, 8, 8]}
    assert info["modalities"]["note"]["vocab_size"] > 2 and "vocab_size" not in info["modalities"]["eeg"]


def test_to_carries_the_class_names(example: Path) -> None:
    data = _load(example)
    moved = data.to("cpu")
    assert moved.classes == data.classes == {"type": ["burn", "cut", "ulcer"], "severity": ["0", "1"]}
    assert moved.tokenizers == data.tokenizers


def test_encoded_bytes_images_decode_like_files(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (6, 7, 7, 3), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(tmp_path / f"{i}.png")
    columns = {"file": [f"{i}.png" for i in range(6)], "blob": [png_bytes(p) for p in pixels]}
    path = _write(tmp_path, {**columns, "y": Y6, "split": SPLIT6})
    modalities = {
        "file": {"kind": "image", "column": "file", "size": [7, 7]},
        "blob": {"kind": "image", "column": "blob", "size": [7, 7]},
    }
    data = _small(path, modalities)
    assert torch.equal(data.inputs["file"], data.inputs["blob"])
    assert torch.allclose(as_float(data.inputs["blob"]), torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255)
