"""How much of a sweep's time is not training: Ray Tune, Optuna, ASHA, checkpoints, Parquet and MLflow.

Runs a sweep (the demo by default) on a local Ray and prints
  - the wall time of the sweep (Tuner.fit) and of the whole command (Ray start, data, MLflow store included),
  - the summed training time of its trials (time inside the training loop, measured there, reports excluded),
  - the overhead per trial: (sweep wall time x parallel slots - summed training time) / trials, which counts
    everything, a slot left idle at the end of the sweep included; and how it splits into
      start-up  (Tuner.fit start -> first trial start: experiment set-up, the first actors),
      per trial (inside a trial but outside its training loop: reports and checkpoints; plus the gap from one
                 trial's end to the next trial's start on the same slot: Optuna, ASHA, actor reuse),
      tail      (slots idle while the last trials finish, and Tune's final save).

    python benchmarks/overhead.py                      # the demo sweep as written (2 trials at a time)
    python benchmarks/overhead.py --max-concurrent 1   # one trial at a time
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sweeper.spec import load_spec
from sweeper.tracking import read_trials
from sweeper.tune import run_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", default="search_spaces/demo.yaml", help="sweep spec YAML")
    parser.add_argument("--max-concurrent", type=int, help="override budget.max_concurrent")
    parser.add_argument("--num-samples", type=int, help="override budget.num_samples")
    args = parser.parse_args()

    spec = load_spec(args.spec)
    overrides = {"max_concurrent": args.max_concurrent, "num_samples": args.num_samples}
    budget = spec.budget.model_copy(update={k: v for k, v in overrides.items() if v})
    spec = spec.model_copy(update={"budget": budget})
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        outcome = run_sweep(spec, Path(tmp) / spec.name, quiet=True)
        command_s = time.perf_counter() - started
        trials = read_trials(outcome.sweep_dir).to_pylist()

    n = len(trials)
    slots = min(spec.budget.max_concurrent, int((os.cpu_count() or 1) // spec.resources.cpu) or 1)
    train_s = sum(t["train_s"] or 0.0 for t in trials)
    overhead = (outcome.wall_s * slots - train_s) / n
    startup = min(t["started_at"] for t in trials) - outcome.started_at
    inside = statistics.mean((t["ended_at"] - t["started_at"]) - (t["train_s"] or 0.0) for t in trials)
    starts = sorted(t["started_at"] for t in trials)
    ends = sorted(t["ended_at"] for t in trials)
    # The k-th trial to start after the first `slots` took the slot freed by the k-th trial to end.
    gaps = [s - e for s, e in zip(starts[slots:], ends, strict=False)]
    gap = statistics.median(gaps) if gaps else 0.0

    print(
        f"spec                        {args.spec}: {n} trials, {sum(t['epochs'] for t in trials)} epochs, {slots} slots"
    )
    print(f"statuses                    {', '.join(f'{k} {v}' for k, v in outcome.counts.items() if v)}")
    print(f"command wall time           {command_s:8.2f} s  (Ray start, data, MLflow store, the sweep)")
    print(f"sweep wall time             {outcome.wall_s:8.2f} s  (Tuner.fit)")
    print(f"summed training time        {train_s:8.2f} s")
    print(f"overhead per trial          {overhead:8.3f} s  = (sweep wall x {slots} slots - training) / {n} trials")
    print(f"  start-up, once            {startup:8.3f} s")
    print(f"  per trial, inside         {inside:8.3f} s  (mean; reports and checkpoints)")
    print(f"  per trial, between        {gap:8.3f} s  (median end -> next start on a slot)")


if __name__ == "__main__":
    main()
