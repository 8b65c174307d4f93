"""A small real manifest on disk, for tests and demos: PNG photos, .npy volumes, text, numbers, lists, labels.

``write_example_manifest(folder)`` writes ``folder/manifest.parquet`` with image and volume paths relative to
``folder``; ``example_section(path)`` is a data section that reads every column of it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

WOUND_TYPES = ("burn", "cut", "ulcer")
SITES = ("arm", "leg", "hand", "foot", "back")


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG bytes of a (H, W) gray or (H, W, 3) RGB uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def example_columns(folder: Path, n_rows: int = 60, seed: int = 0) -> dict[str, Any]:
    """The columns of the example manifest, writing its image and volume files under ``folder``."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "volumes").mkdir(parents=True, exist_ok=True)
    photos, scans = [], []
    for i in range(n_rows):
        photo = f"images/s{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / photo)
        photos.append(photo)
        scan = f"volumes/s{i:03d}.npy"
        np.save(folder / scan, rng.normal(size=(6, 8, 8)).astype(np.float32))
        scans.append(scan)
    wound = [WOUND_TYPES[i % 3] for i in range(n_rows)]
    return {
        "sample_id": [f"s{i:03d}" for i in range(n_rows)],
        "photo_path": photos,
        "sketch": [png_bytes(rng.integers(0, 256, (9, 9), dtype=np.uint8)) for _ in range(n_rows)],
        "scan_path": scans,
        "description": [f"a {w} on the {SITES[i % 5]}" for i, w in enumerate(wound)],
        "age": rng.uniform(20, 90, n_rows),
        "temp": rng.normal(37, 0.5, n_rows),
        "bmi": rng.normal(25, 4, n_rows).astype(np.float32),
        "eeg": pa.array(list(rng.normal(size=(n_rows, 2 * 16)).astype(np.float32)), pa.list_(pa.float32())),
        "clip_embedding": pa.array(list(rng.normal(size=(n_rows, 5))), pa.list_(pa.float64(), 5)),
        "wound_type": wound,
        "severity": [int(v) for v in rng.integers(0, 2, n_rows)],
        "split": [("train", "train", "train", "val", "test")[i % 5] for i in range(n_rows)],
    }


def write_example_manifest(folder: Path, n_rows: int = 60, seed: int = 0) -> Path:
    """Write the example manifest (and its files) under ``folder``; returns the Parquet file's path."""
    path = folder / "manifest.parquet"
    pq.write_table(pa.table(example_columns(folder, n_rows, seed)), path)
    return path


def example_section(path: Path | str, **overrides: Any) -> dict[str, Any]:
    """A data section reading every column of the example manifest at ``path`` (cache off unless overridden)."""
    section: dict[str, Any] = {
        "path": str(path),
        "id": "sample_id",
        "modalities": {
            "photo": {"kind": "image", "column": "photo_path", "size": [8, 8]},
            "sketch": {"kind": "image", "column": "sketch", "size": [6, 6]},
            "scan": {"kind": "volume", "column": "scan_path", "size": [4, 4, 4]},
            "note": {"kind": "text", "column": "description", "max_len": 6},
            "vitals": {"kind": "tabular", "columns": ["age", "temp", "bmi"]},
            "eeg": {"kind": "signal", "column": "eeg", "channels": 2},
            "emb": {"kind": "features", "column": "clip_embedding"},
        },
        "tasks": {"type": {"column": "wound_type"}, "severity": {"column": "severity"}},
        "split": {"column": "split"},
        "cache": False,
    }
    return {**section, **overrides}
