"""A tabular + 8x128 signal manifest of list columns loads exactly (their vectorised conversion is timed by
``benchmarks/data_load.py``, not here: speed is measured by benchmarks, not by timed tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sweeper.data.manifest import load_manifest, parse_manifest_section

N_ROWS, CHANNELS, LENGTH = 2_000, 8, 128


def test_a_tabular_and_list_column_signal_manifest_loads_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    columns: dict[str, object] = {f"f{i}": rng.normal(i, 1 + i, N_ROWS) for i in range(10)}
    signal = rng.normal(size=(N_ROWS, CHANNELS * LENGTH)).astype(np.float32)
    offsets = pa.array(np.arange(0, signal.size + 1, CHANNELS * LENGTH, dtype=np.int32))
    columns["eeg"] = pa.ListArray.from_arrays(offsets, pa.array(signal.reshape(-1)))
    columns["label"] = rng.integers(0, 4, N_ROWS)
    pq.write_table(pa.table(columns), tmp_path / "big.parquet")
    section = parse_manifest_section(
        {
            "path": str(tmp_path / "big.parquet"),
            "modalities": {
                "vitals": {"kind": "tabular", "columns": [f"f{i}" for i in range(10)]},
                "eeg": {"kind": "signal", "column": "eeg", "channels": CHANNELS},
            },
            "tasks": {"label": {"column": "label"}},
            "cache": False,
        }
    )
    data = load_manifest(section)
    assert data.inputs["eeg"].shape == (N_ROWS, CHANNELS, LENGTH)
    assert np.array_equal(data.inputs["eeg"][123].numpy(), signal[123].reshape(CHANNELS, LENGTH))
    train = data.inputs["vitals"][data.splits["train"]]
    assert train.mean(0).abs().max() < 1e-4 and (train.std(0) - 1).abs().max() < 1e-3
