"""``sweeper data demo``: write a small example dataset in the manifest format, so users see what theirs should be.

The example is the built-in ``wound`` scenario written to disk: PNG photos referenced by relative path, a free-text
note, vitals as numeric columns, a 2-channel pulse signal as a list column, string labels for two tasks (wound type
and severity) and a split column; plus ``sweep.yaml``, a ready sweep spec over it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import yaml
from PIL import Image

from sweeper.data.synthetic import make_synthetic
from sweeper.errors import DataError

MANIFEST = "manifest.parquet"
SPEC = "sweep.yaml"
TYPES = ("abrasion", "laceration", "pressure_ulcer", "venous_ulcer")
SEVERITIES = ("mild", "moderate", "severe")


def write_example(out_dir: str | Path, n_samples: int = 600, seed: int = 0) -> Path:
    """Write the example under ``out_dir`` (which must be empty or new); return the path of its sweep spec."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{str(out)!r} exists and is not an empty folder; give a new or empty folder")
    data = make_synthetic(n_samples, scenario="wound", seed=seed)
    inputs = {k: v for k, v in data.inputs.items() if isinstance(v, torch.Tensor)}  # built-in data is in memory
    (out / "photos").mkdir(parents=True)

    photos = inputs["photo"].numpy()  # (N, 3, H, W), roughly zero-centred
    lo, hi = np.percentile(photos, [1, 99])
    pixels = (np.clip((photos - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8).transpose(0, 2, 3, 1)  # (N, H, W, 3)
    paths = []
    for i, image in enumerate(pixels):
        paths.append(f"photos/{i:05d}.png")
        Image.fromarray(image, mode="RGB").save(out / paths[-1])

    tokenizer = data.tokenizers["note"]
    notes = [" ".join(tokenizer.decode(row)) for row in inputs["note"].tolist()]
    vitals = inputs["vitals"].numpy()
    rng = np.random.default_rng(seed)
    heart = 70 + 10 * vitals[:, 0:1] + rng.normal(0, 1, (n_samples, 1))  # (N, 1)
    time = np.linspace(0, 1, 64)
    pulse = np.stack(
        [np.sin(2 * np.pi * heart / 15 * time), np.cos(2 * np.pi * heart / 15 * time)], axis=1
    ) + rng.normal(0, 0.2, (n_samples, 2, 64))  # (N, 2, 64), flattened per row below
    split = np.empty(n_samples, dtype=object)
    for name, index in data.splits.items():
        split[index.numpy()] = name
    table = pa.table(
        {
            "sample_id": [f"w{i:05d}" for i in range(n_samples)],
            "photo_path": paths,
            "description": notes,
            "age": np.round(55 + 12 * vitals[:, 0], 1),
            "temperature": np.round(37 + 0.5 * vitals[:, 1], 2),
            "bmi": np.round(27 + 4 * vitals[:, 2], 1),
            "pulse": pa.array(list(pulse.reshape(n_samples, -1).astype(np.float32)), pa.list_(pa.float32())),
            "wound_type": [TYPES[k] for k in data.targets["type"].tolist()],
            "severity": [SEVERITIES[k] for k in data.targets["severity"].tolist()],
            "split": split.tolist(),
        }
    )
    pq.write_table(table, out / MANIFEST)
    spec = {
        "name": "wounds_example",
        "description": "the example manifest written by `sweeper data demo`",
        "data": {
            "path": MANIFEST,  # relative to this file's folder
            "id": "sample_id",
            "modalities": {
                "photo": {"kind": "image", "column": "photo_path", "size": [16, 16]},
                "note": {"kind": "text", "column": "description", "max_len": 16},
                "vitals": {"kind": "tabular", "columns": ["age", "temperature", "bmi"]},
                "pulse": {"kind": "signal", "column": "pulse", "channels": 2},
            },
            "tasks": {"type": {"column": "wound_type"}, "severity": {"column": "severity"}},
            "split": {"column": "split"},
        },
        "model": {"hidden_dim": 32},
        "parameters": {
            "fusion": {"type": "choice", "values": ["concat", "gated", "cross_attention", "late", "only:photo"]},
            "heads": {"type": "choice", "values": [2, 4], "when": {"fusion": "cross_attention"}},
            "lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True},
        },
        "budget": {"num_samples": 8, "max_epochs": 6, "grace_period": 2, "max_concurrent": 2},
        # Small data: every family's best configuration re-trained with 3 seeds x 3 folds over train+val.
        "confirm": {"seeds": 3, "folds": 3},
    }
    (out / SPEC).write_text(yaml.safe_dump(spec, sort_keys=False))
    return out / SPEC
