"""Write an image manifest of any size for the data-scale benchmarks: N RGB PNGs (128x128 by default) with tabular
columns, two labelled tasks and a split, plus ``sweep.yaml``, a sweep spec over it.

Each image is a noisy background with a disc whose colour depends on the first task's class and whose position
depends on the second's; the tabular columns carry part of the second task, so fusion matters. The images are
drawn and written by worker processes (``--workers``) in blocks of consecutive rows, each from its own seed, so the
same arguments give the same files.

    python benchmarks/make_images.py /data/images-100k --n 100000   # about 4.5 GB; 2 workers: ~8 min
    sweeper data check /data/images-100k/sweep.yaml
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from PIL import Image

COLOURS = np.array([[220, 60, 60], [60, 180, 75], [70, 90, 220], [230, 200, 40]], dtype=np.float32)  # task "colour"
PLACES = ("left", "centre", "right")  # task "place"
BLOCK = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a new or empty folder")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} exists and is not empty")
    (args.out / "images").mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    blocks = [(args.out, start, min(start + BLOCK, args.n), args.size, args.seed) for start in range(0, args.n, BLOCK)]
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(_write_block, blocks))
    rows = {key: [v for part in parts for v in part[key]] for key in parts[0]}
    split = np.random.default_rng(args.seed).choice(["train", "val", "test"], size=args.n, p=[0.8, 0.1, 0.1])
    table = pa.table({**rows, "split": split.tolist()})
    pq.write_table(table, args.out / "manifest.parquet")
    (args.out / "sweep.yaml").write_text(yaml.safe_dump(_spec(args), sort_keys=False))
    size = sum(f.stat().st_size for f in (args.out / "images").iterdir())
    elapsed = time.perf_counter() - started
    print(f"{args.n} images of {args.size}x{args.size} in {elapsed:.0f} s, {size / 1e9:.2f} GB -> {args.out}")


def _write_block(job: tuple[Path, int, int, int, int]) -> dict[str, list]:
    out, start, stop, size, seed = job
    rng = np.random.default_rng([seed, start])
    rows: dict[str, list] = {"sample_id": [], "image_path": [], "age": [], "pressure": [], "colour": [], "place": []}
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(start, stop):
        colour, place = int(rng.integers(len(COLOURS))), int(rng.integers(len(PLACES)))
        cx = (0.25, 0.5, 0.75)[place] + rng.normal(0, 0.08)
        cy = rng.uniform(0.3, 0.7)
        radius = rng.uniform(0.1, 0.2)
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2 < radius**2)[..., None]  # (H, W, 1)
        background = rng.normal(128, 40, (size, size, 3))
        pixels = np.where(disc, COLOURS[colour] + rng.normal(0, 30, 3), background)
        path = f"images/{i:06d}.png"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB").save(out / path, compress_level=1)
        rows["sample_id"].append(f"s{i:06d}")
        rows["image_path"].append(path)
        rows["age"].append(round(float(rng.normal(50, 12)), 1))
        rows["pressure"].append(round(float(rng.normal(120 + 8 * place, 10)), 1))  # a hint of the place
        rows["colour"].append(["red", "green", "blue", "yellow"][colour])
        rows["place"].append(PLACES[place])
    return rows


def _spec(args: argparse.Namespace) -> dict:
    return {
        "name": f"images-{args.n}",
        "description": "benchmarks/make_images.py: coloured discs on noise, with two tabular columns",
        "data": {
            "path": "manifest.parquet",
            "id": "sample_id",
            "modalities": {
                "image": {"kind": "image", "column": "image_path", "size": [args.size, args.size]},
                "vitals": {"kind": "tabular", "columns": ["age", "pressure"]},
            },
            "tasks": {"colour": {"column": "colour"}, "place": {"column": "place"}},
            "split": {"column": "split"},
        },
        # A strided stem: 128 px images cost a sixteenth in the first convolution, which CPU machines need.
        "model": {"hidden_dim": 32, "encoders": {"image": {"name": "cnn2d", "stem_stride": 4}}},
        "train": {"batch_size": 256},
        "parameters": {
            "fusion": {"type": "choice", "values": ["concat", "gated", "late"]},
            "lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True},
        },
        "budget": {"num_samples": 4, "max_epochs": 2, "grace_period": 1, "max_concurrent": 2},
        "confirm": {"enabled": False},
    }


if __name__ == "__main__":
    main()
