"""Data larger than memory, measured: a real sweep over an image manifest (``benchmarks/make_images.py``) with peak
memory per process, and the streaming path's speed against the in-memory path on data that fits both.

1. **The sweep**: ``python -m sweeper run`` on the manifest's ``sweep.yaml`` (budget from the flags, two trials at a
   time, its own local Ray). While it runs, every process of it is sampled every 0.5 s from ``/proc``: the driver,
   and each trial's worker (``ray::`` processes that trained). Printed: peak resident memory (VmRSS) and its private
   part (RssAnon; the rest is mostly the memory-mapped images, shared by every trial on the node and given back
   under pressure), and the machine's lowest available memory.
2. **Streaming against memory** (``--compare N``): the first N rows, loaded with ``storage: memory`` and with
   ``storage: stream``, each trained for ``--epochs`` epochs by the same ``fit`` (one thread); samples per second
   of training, and the ratio.

    python benchmarks/make_images.py /data/images-100k --n 100000
    python benchmarks/data_scale.py /data/images-100k/sweep.yaml                  # 2 trials x 1 epoch
    python benchmarks/data_scale.py /data/images-100k/sweep.yaml --compare 10000 --no-sweep
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="the manifest's sweep.yaml")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--compare", type=int, default=0, help="rows for the streaming-vs-memory comparison")
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args()
    if not args.no_sweep:
        sweep(args)
    if args.compare:
        compare(args)


def sweep(args: argparse.Namespace) -> None:
    spec = yaml.safe_load(args.spec.read_text())
    spec["data"]["path"] = str((args.spec.parent / spec["data"]["path"]).resolve())
    spec["budget"] = {**spec.get("budget", {}), "num_samples": args.trials, "max_epochs": args.epochs,
                      "grace_period": args.epochs, "max_concurrent": 2}  # fmt: skip
    spec["confirm"] = {"enabled": False}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(spec))
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sweeper", "run", str(path), "--sweeps-dir", tmp, "--no-recommend"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        with _Sampler(proc.pid) as memory:
            output = proc.communicate()[0]
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"the sweep failed:\n{output[-3000:]}")
    print(output.strip().splitlines()[-3] if output.strip() else "")
    print(f"sweep of {args.trials} trials x {args.epochs} epochs, 2 at a time: {wall:.0f} s in all")
    print(f"{'process':<34}{'peak RSS GB':>12}{'peak private GB':>17}")
    print(
        f"{'driver (sweeper run)':<34}{memory.peak(proc.pid, 'VmRSS'):>12.2f}{memory.peak(proc.pid, 'RssAnon'):>17.2f}"
    )
    for pid in memory.trials():
        name = f"trial worker {pid}"
        print(f"{name:<34}{memory.peak(pid, 'VmRSS'):>12.2f}{memory.peak(pid, 'RssAnon'):>17.2f}")
    print(f"lowest available memory on the machine: {memory.lowest_available:.2f} GB of {memory.total:.2f} GB")


class _Sampler:
    """VmRSS and RssAnon of every process in a session, every 0.5 s, and MemAvailable."""

    def __init__(self, session: int) -> None:
        self.session = session
        self.peaks: dict[int, dict[str, float]] = {}
        self.names: dict[int, str] = {}
        self.trained: set[int] = set()
        self.lowest_available = float("inf")
        self.total = _meminfo("MemTotal")

    def __enter__(self) -> _Sampler:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, pid: int, field: str) -> float:
        return self.peaks.get(pid, {}).get(field, 0.0)

    def trials(self) -> list[int]:
        return sorted(self.trained)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.lowest_available = min(self.lowest_available, _meminfo("MemAvailable"))
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                pid = int(entry.name)
                try:
                    if os.getsid(pid) != self.session:
                        continue
                    status = (entry / "status").read_text()
                    name = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                values = {k: int(fields[k].split()[0]) / 1e6 for k in ("VmRSS", "RssAnon") if k in fields}
                peak = self.peaks.setdefault(pid, {})
                for k, v in values.items():
                    peak[k] = max(peak.get(k, 0.0), v)
                self.names[pid] = name
                # A trial's worker: a Ray worker process that grew past 0.5 GB private memory (torch + a batch).
                if name.startswith("ray::") and "IDLE" not in name and values.get("RssAnon", 0) > 0.5:
                    self.trained.add(pid)


def _meminfo(field: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def compare(args: argparse.Namespace) -> None:
    import pyarrow.parquet as pq
    import torch

    from sweeper.data.manifest import load_manifest
    from sweeper.spec import load_spec, parse_spec
    from sweeper.train import fit

    torch.set_num_threads(1)
    spec = load_spec(args.spec)
    section = spec.data
    with tempfile.TemporaryDirectory() as tmp:
        table = pq.read_table(Path(section.path)).slice(0, args.compare)  # type: ignore[union-attr]
        root = Path(section.path).parent  # type: ignore[union-attr]
        column = next(m.column for m in section.modalities.values() if m.kind == "image")  # type: ignore[union-attr]
        absolute = [str(root / p) for p in table.column(column).to_pylist()]
        table = table.set_column(table.schema.get_field_index(column), column, [absolute])
        subset = Path(tmp) / "subset.parquet"
        pq.write_table(table, subset)
        rates = {}
        for storage in ("memory", "stream"):
            data_section = {**spec.model_dump(mode="json")["data"], "path": str(subset), "storage": storage,
                            "cache": False}  # fmt: skip
            os.environ["SWEEPER_CACHE_DIR"] = str(Path(tmp) / "cache")
            one = parse_spec({**spec.model_dump(mode="json"), "data": data_section}, "compare")
            data = load_manifest(one.data)  # type: ignore[arg-type]
            config = one.trial_config({**one.default_point(), "fusion": "concat"})
            config = type(config)(**{**config.__dict__, "max_epochs": args.epochs})
            epochs: list[float] = []
            fit(config, data, lambda m, s, epochs=epochs: epochs.append(m["time/epoch_s"]))
            rates[storage] = data.split_size("train") * len(epochs) / sum(epochs)
    print(f"{args.compare} rows, {args.epochs} epochs, 1 thread: samples/s per epoch (training and validation)")
    print(f"  in memory   {rates['memory']:8.0f}")
    print(f"  streamed    {rates['stream']:8.0f}   stream / memory = {rates['stream'] / rates['memory']:.2f}")


if __name__ == "__main__":
    main()
