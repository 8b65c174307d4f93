"""How often is `sweeper recommend` right? Whole sweeps (search + confirm), repeated on answers known by construction.

Each repeat runs a complete sweep on the built-in data with its own TPE seed, search training seed and confirmation
seeds, then asks `recommend` (default settings: 95% paired bootstrap, margin 0.01, --prefer cheapest):

  planted  scenario 'default': the 'agree' label is an image x signal interaction that only a multiplicative
           fusion can learn; the space is concat, cross_attention, low_rank, so low_rank is the planted best.
           Right when the named default is low_rank.
  null     the same space, but every label is redrawn at random (label_noise 1.0): the labels depend on no
           modality, so no family can be better. Right when a tie is declared (the default is not a clear
           winner); how often *every* family was tied is printed too.

    python benchmarks/decision_quality.py                  # 20 repeats of each case
    python benchmarks/decision_quality.py --repeats 3 --cases null
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sweeper.recommend import recommend
from sweeper.spec import parse_spec
from sweeper.tune import run_sweep

PLANTED_BEST = "low_rank"


def case_spec(case: str, repeat: int) -> dict:
    return {
        "name": f"{case}-{repeat}",
        "data": {
            "scenario": "default",
            "n_samples": 4000,
            "image_size": 8,
            "signal_length": 32,
            "seed": 0,
            "label_noise": 1.0 if case == "null" else 0.05,
        },
        "model": {"hidden_dim": 32},
        "train": {"batch_size": 128, "seed": repeat},  # the search's training seed
        "parameters": {
            "fusion": {"type": "choice", "values": ["concat", "cross_attention", PLANTED_BEST]},
            "rank": {"type": "int", "low": 4, "high": 8, "when": {"fusion": [PLANTED_BEST]}},
            "lr": {"type": "float", "low": 3e-3, "high": 1e-2, "log": True},
        },
        "budget": {"num_samples": 6, "max_epochs": 8, "grace_period": 2, "max_concurrent": 2, "seed": repeat},
        # 600 validation samples, fixed split; 3 seeds per family, different in every repeat.
        "confirm": {"seeds": 3, "small_val": 0, "first_seed": 1000 + 10 * repeat},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cases", default="planted,null")
    args = parser.parse_args()

    import ray

    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    started = time.time()
    totals = {}
    with tempfile.TemporaryDirectory() as folder:
        for case in args.cases.split(","):
            right = all_tied = 0
            for repeat in range(args.repeats):
                spec = parse_spec(case_spec(case, repeat), case)
                sweep_dir = Path(folder) / spec.name
                t0 = time.time()
                run_sweep(spec, sweep_dir, quiet=True)
                rec = recommend(sweep_dir, n_boot=1000)
                tie = len(rec.tied) > 1
                ok = rec.default_fusion == PLANTED_BEST if case == "planted" else tie
                right += ok
                all_tied += len(rec.tied) == len(rec.fusions)
                print(
                    f"{case} {repeat:2d}: default {rec.default_fusion:<15} tied {','.join(rec.tied):<35} "
                    f"{'right' if ok else 'WRONG'}  ({time.time() - t0:.0f} s)",
                    flush=True,
                )
            totals[case] = (right, all_tied)
            extra = f"; every family tied in {all_tied}/{args.repeats}" if case == "null" else ""
            print(f"== {case}: right in {right}/{args.repeats}{extra}", flush=True)
    print(f"total wall time {time.time() - started:.0f} s on {os.cpu_count()} CPUs")
    ray.shutdown()


if __name__ == "__main__":
    main()
