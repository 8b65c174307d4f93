"""How many times does the dataset travel to each node of a cluster? Once, through Ray's object store.

A real sweep (`python -m sweeper run --address ...`) runs on a three-node Ray cluster started on this machine
(``sweeper.local_cluster``: a head without CPUs and two worker nodes on 127.0.0.2 and 127.0.0.3). The driver puts the
dataset in the object store once (``tune.with_parameters``); each trial reads it from its own node's store. After the
sweep, the script reads each node's object-manager counters from Ray's metrics endpoint
(``ray_object_manager_bytes{Type="Received"}``) and prints, per node, the trials that ran there and the bytes it
received, against the dataset's size. Once per node is a ratio of about 1 however many trials ran there; once per
trial would be a ratio equal to its trial count.

    python benchmarks/cluster_data.py                      # 8 trials, 20,000 samples
    python benchmarks/cluster_data.py --trials 16 --samples 50000
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

from sweeper.local_cluster import LocalCluster
from sweeper.testing import TINY

METRICS_WAIT_S = 15  # Ray's nodes export their metrics every 10 s (metrics_report_interval_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--samples", type=int, default=20_000)
    args = parser.parse_args()

    from sweeper.spec import build_dataset, parse_spec

    spec = {
        **TINY,
        "name": "data-once",
        "data": {"n_samples": args.samples, "seed": 0},
        "budget": {"num_samples": args.trials, "max_epochs": 2, "grace_period": 2, "max_concurrent": 2},
        "confirm": {"enabled": False},
    }
    with tempfile.TemporaryDirectory() as tmp, LocalCluster(workers=2, cpus_per_worker=1) as cluster:
        os.environ.update(cluster.env)  # before Ray is imported: it reads RAY_AUTH_MODE once, on import
        data = build_dataset(parse_spec(spec, "benchmark").data)
        dataset_bytes = sum(t.numel() * t.element_size() for t in _tensors(data))
        (Path(tmp) / "spec.yaml").write_text(yaml.safe_dump(spec))
        endpoints = _metrics_endpoints(cluster)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sweeper", "run", str(Path(tmp) / "spec.yaml"), "--sweeps-dir", tmp,
             "--address", cluster.address, "--no-recommend"],
            env=cluster.env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wall = time.perf_counter() - started
        from sweeper.tracking import read_trials

        per_node = Counter(t["node_ip"] for t in read_trials(Path(tmp) / "data-once").to_pylist())
        time.sleep(METRICS_WAIT_S)
        received = {ip: _received_bytes(url) for ip, url in endpoints.items()}

    size = f"{dataset_bytes / 1e6:.1f} MB of tensors"
    print(f"dataset: {args.samples} samples, {size}; {args.trials} trials in {wall:.0f} s")
    print(f"{'node':<12}{'trials':>8}{'received MB':>14}{'x dataset':>11}")
    for ip in sorted(set(per_node) | set(received)):
        mb = received.get(ip, 0.0) / 1e6
        print(f"{ip:<12}{per_node.get(ip, 0):>8}{mb:>14.1f}{received.get(ip, 0.0) / dataset_bytes:>11.2f}")


def _tensors(data: object) -> list:
    import torch

    found: list = []

    def walk(value: object) -> None:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif hasattr(value, "__dict__"):
            walk(vars(value))

    walk(data)
    return found


def _metrics_endpoints(cluster: LocalCluster) -> dict[str, str]:
    """Each node's Prometheus endpoint, by node IP (asked before the sweep, from a driver of its own)."""
    import ray

    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()
    return {
        n["NodeManagerAddress"]: f"http://{n['NodeManagerAddress']}:{n['MetricsExportPort']}/metrics" for n in nodes
    }


def _received_bytes(url: str) -> float:
    """Bytes a node's object manager received from other nodes."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ray_object_manager_bytes{") and re.search(r'Type="Received"', line)
    )


if __name__ == "__main__":
    main()
