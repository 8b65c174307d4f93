"""How long a large manifest takes to load and validate: 100k rows with tabular and signal columns.

Writes a Parquet manifest into a temporary folder (--rows rows; 10 numeric tabular columns; an 8 x 128 signal as
a list<float> column; two string label columns; a split column), then loads it the way a sweep does
(pyarrow -> validation -> tensors, tabular normalised with train statistics) with the cache off, and prints the
time of each step. A second load with the cache on shows what a repeated sweep on the same data pays.

    python benchmarks/data_load.py
    python benchmarks/data_load.py --rows 20000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sweeper.data.manifest import ManifestSection, load_manifest


def write_manifest(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {f"x{i}": rng.normal(size=rows).astype(np.float32) for i in range(10)}
    signal = rng.normal(size=(rows, 8 * 128)).astype(np.float32)
    offsets = np.arange(0, rows * 8 * 128 + 1, 8 * 128, dtype=np.int32)
    columns["eeg"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(signal.ravel()))
    columns["label"] = np.where(columns["x0"] > 0, "positive", "negative")  # type: ignore[operator]
    columns["grade"] = np.array(["low", "mid", "high"])[rng.integers(0, 3, rows)]
    columns["split"] = np.array(["train", "val", "test"])[rng.choice(3, rows, p=[0.7, 0.15, 0.15])]
    pq.write_table(pa.table(columns), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SWEEPER_CACHE_DIR"] = str(Path(tmp) / "cache")
        path = Path(tmp) / "big.parquet"
        started = time.perf_counter()
        write_manifest(path, args.rows)
        written_s = time.perf_counter() - started
        size_mb = path.stat().st_size / 2**20
        section = {
            "path": str(path),
            "modalities": {
                "vitals": {"kind": "tabular", "columns": [f"x{i}" for i in range(10)]},
                "eeg": {"kind": "signal", "column": "eeg", "channels": 8},
            },
            "tasks": {"label": {"column": "label"}, "grade": {"column": "grade"}},
            "split": {"column": "split"},
        }
        timings = {}
        for name, cache in (("load + validate, cache off", False), ("first load, cache on", True), ("cached", True)):
            started = time.perf_counter()
            data = load_manifest(ManifestSection.model_validate({**section, "cache": cache}))
            timings[name] = time.perf_counter() - started
    print(f"rows                         {args.rows:,} (tabular 10 columns, signal 8 x 128 floats per row)")
    print(f"manifest written in          {written_s:8.2f} s  ({size_mb:.0f} MiB of Parquet)")
    for name, seconds in timings.items():
        print(f"{name:<29}{seconds:8.2f} s")
    print(f"tensors                      {', '.join(f'{k} {tuple(v.shape)}' for k, v in data.inputs.items())}")


if __name__ == "__main__":
    main()
