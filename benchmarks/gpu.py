"""The GPU path, measured: trials per hour as trials are packed onto one GPU, sweeper's training loop against a bare
hand-written PyTorch loop on the same model and data, and how busy the GPU is.

1. **Trials per hour** at ``resources.gpu`` = 1, 0.5, 0.25 and 0.125 (1, 2, 4 and 8 trials at a time on one GPU):
   a real sweep each (local Ray, Optuna, ASHA off: every trial runs all its epochs), with the GPU's utilisation
   sampled by ``nvidia-smi`` every 0.5 s while it runs.
2. **Samples per second**: ``sweeper.train.fit`` against a bare loop (the same model, optimiser, batch size and
   device-resident data; a forward pass over the validation split each epoch, as ``fit`` does), both in bf16.

Without a CUDA GPU it says so and exits: these figures are taken on a GPU machine only.

    python benchmarks/gpu.py
    python benchmarks/gpu.py --samples 20000 --epochs 5 --fractions 1 0.5 0.25 0.125
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

from sweeper.testing import TINY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.125])
    parser.add_argument("--trials-per-slot", type=int, default=2)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU here (torch sees none): the GPU figures were not taken")
        return
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    loop_vs_bare(args)
    for fraction in args.fractions:
        packed(args, fraction)


def _config(args: argparse.Namespace) -> Any:
    from sweeper.models import ModelConfig
    from sweeper.train import TrainConfig

    model = ModelConfig(fusion="cross_attention", hidden_dim=64)
    return TrainConfig(model=model, max_epochs=args.epochs, batch_size=args.batch_size, lr=3e-3, precision="bf16")


def loop_vs_bare(args: argparse.Namespace) -> None:
    from sweeper.data import make_synthetic
    from sweeper.train import fit

    data = make_synthetic(args.samples, seed=0).to("cuda")
    config = _config(args)
    n_train = data.split_size("train")
    fit(config, data, lambda m, s: None, device="cuda")  # warm-up: CUDA context, kernels
    torch.cuda.synchronize()
    started = time.perf_counter()
    fit(config, data, lambda m, s: None, device="cuda")
    torch.cuda.synchronize()
    sweeper_s = time.perf_counter() - started
    bare_s = _bare_loop(data, config)
    rate = n_train * args.epochs
    print(f"samples/s (train; val forward each epoch), bf16, batch {args.batch_size}:")
    print(f"  sweeper fit  {rate / sweeper_s:10.0f}")
    print(f"  bare loop    {rate / bare_s:10.0f}   sweeper/bare = {bare_s / sweeper_s:.2f}")


def _bare_loop(data: Any, config: Any) -> float:
    """The loop a user would write by hand: no metrics beyond the loss, no reports, no checkpoints."""
    import torch.nn.functional as F

    from sweeper.models import build_model

    torch.manual_seed(0)
    model = build_model(data.spec, config.model).to("cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    train, val = data.splits["train"], data.splits["val"]
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(config.max_epochs):
        model.train()
        order = train[torch.randperm(len(train), device="cuda")]
        for i in range(0, len(order), config.batch_size):
            rows = order[i : i + config.batch_size]
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = model({k: v[rows] for k, v in data.inputs.items()})
                loss = sum(F.cross_entropy(out[t], data.targets[t][rows]) for t in out)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[union-attr]
            optimizer.step()
        model.eval()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            for i in range(0, len(val), config.batch_size):
                model({k: v[val[i : i + config.batch_size]] for k, v in data.inputs.items()})
    torch.cuda.synchronize()
    return time.perf_counter() - started


def packed(args: argparse.Namespace, fraction: float) -> None:
    import ray

    from sweeper.spec import parse_spec
    from sweeper.tune import run_sweep

    slots = max(1, round(1 / fraction))
    trials = slots * args.trials_per_slot
    spec = parse_spec(
        {
            **TINY,
            "name": f"gpu-{fraction:g}",
            "data": {"n_samples": args.samples, "seed": 0},
            "model": {"hidden_dim": 64},
            "train": {"batch_size": args.batch_size, "precision": "bf16"},
            "resources": {"cpu": max(0.1, 1 / slots), "gpu": fraction},
            "budget": {"num_samples": trials, "max_epochs": args.epochs, "grace_period": args.epochs,
                       "max_concurrent": slots},
            "confirm": {"enabled": False},
        },
        "benchmark",
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, _Utilisation() as busy:
        outcome = run_sweep(spec, Path(tmp) / spec.name, quiet=True)
    ray.shutdown()
    per_hour = trials / outcome.wall_s * 3600
    print(
        f"gpu: {fraction:<6g} {slots} at a time, {trials} trials in {outcome.wall_s:6.1f} s: {per_hour:7.0f} trials/h, "
        f"GPU busy {busy.mean:5.1f}% on average"
    )


class _Utilisation:
    """The GPU's utilisation (percent of time a kernel ran), sampled by nvidia-smi every 0.5 s."""

    def __enter__(self) -> _Utilisation:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else float("nan")

    def _sample(self) -> None:
        smi = shutil.which("nvidia-smi")
        query = [smi or "nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "--id=0"]
        while smi and not self._stop.wait(0.5):
            out = subprocess.run(query, capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip():
                self.samples.append(float(out.stdout.split()[0]))


if __name__ == "__main__":
    sys.exit(main())
