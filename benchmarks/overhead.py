"""How much of a sweep's time is not training: Ray Tune, Optuna, ASHA, checkpoints, Parquet and MLflow.

Runs a sweep (the demo by default) on a local Ray and prints
  - the wall time of the sweep (Tuner.fit) and of the whole command (Ray start, data, MLflow store included),
  - the summed training time of its trials (time inside the training loop, measured there, reports excluded),
  - the overhead per trial: (sweep wall time x parallel slots - summed training time) / trials, which counts
    everything, a slot left idle at the end of the sweep included; and how it splits into
      start-up  (Tuner.fit start -> first trial start: experiment set-up, the first actors),
      per trial (inside a trial but outside its training loop: reports and checkpoints; plus the gap from one
                 trial's end to the next trial's start on the same slot: Optuna, ASHA, actor reuse),
      tail      (each slot idle from its last trial's end to the stage's end: the last trials finishing, and
                 Tune's final save), summed over the slots.

    python benchmarks/overhead.py                      # the demo sweep as written (2 trials at a time)
    python benchmarks/overhead.py --max-concurrent 1   # one trial at a time
    python benchmarks/overhead.py --profile            # also: the driver's own time per trial result (cProfile)
    python benchmarks/overhead.py --settle 8           # wait 8 s before each Tuner.fit, left out of the figures:
                                                       # how much of the start-up is the workers still importing

Each stage (the search, then the confirmation runs of each family's best configuration) is reported on its own,
against its own Tuner.fit's wall time.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sweeper.spec import load_spec
from sweeper.tracking import read_trials
from sweeper.tune import run_sweep
from sweeper.tune.runner import trial_slots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", default="search_spaces/demo.yaml", help="sweep spec YAML")
    parser.add_argument("--max-concurrent", type=int, help="override budget.max_concurrent")
    parser.add_argument("--num-samples", type=int, help="override budget.num_samples")
    parser.add_argument("--profile", action="store_true", help="profile the driver (cProfile; slows it a little)")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds to wait before each stage's Tuner.fit")
    args = parser.parse_args()
    if args.settle:
        settle_before_fit(args.settle)

    spec = load_spec(args.spec)
    overrides = {"max_concurrent": args.max_concurrent, "num_samples": args.num_samples}
    budget = spec.budget.model_copy(update={k: v for k, v in overrides.items() if v})
    spec = spec.model_copy(update={"budget": budget})
    with tempfile.TemporaryDirectory() as tmp:
        profile = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profile:
            profile.enable()
        outcome = run_sweep(spec, Path(tmp) / spec.name, quiet=True)
        if profile:
            profile.disable()
        command_s = time.perf_counter() - started
        trials = read_trials(outcome.sweep_dir).to_pylist()

    slots = trial_slots(spec)
    print(f"spec                        {args.spec}: {slots} slots")
    print(f"command wall time           {command_s:8.2f} s  (Ray start, data, MLflow store, both stages)")
    # A stage's clock starts before its Tuner.fit: the settling pause is taken out of its start-up and wall time.
    stages = [("search", outcome.started_at + args.settle, outcome.wall_s - args.settle)]
    if outcome.confirm_counts is not None:
        stages.append(("confirm", outcome.ended_at + args.settle, outcome.confirm_wall_s - args.settle))
    for stage, stage_start, wall in stages:
        report(stage, [t for t in trials if t["stage"] == stage], stage_start, wall, slots)
    if profile:
        report_driver(pstats.Stats(profile))


def settle_before_fit(seconds: float) -> None:
    """Make every Tuner.fit wait ``seconds`` first, so the trial workers have finished importing when it starts."""
    from ray import tune

    fit = tune.Tuner.fit

    def settled(self: tune.Tuner) -> Any:
        time.sleep(seconds)
        return fit(self)

    tune.Tuner.fit = settled  # type: ignore[method-assign]


def report_driver(stats: pstats.Stats) -> None:
    """The driver's CPU time per trial result: Tune's handling of it, sweeper's callbacks included.

    A trial waits at each report until the driver has handled it (Tune's function API reports synchronously).
    """
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    handled = [
        (v[1], v[3])
        for (file, _, name), v in entries.items()
        if name == "_on_result" and file.endswith("tune_controller.py")
    ]
    calls, seconds = max(handled, default=(0, 0.0))  # TuneController._on_result
    print(f"driver, per trial result    {1000 * seconds / max(calls, 1):8.1f} ms  (mean over {calls} results)")


def report(stage: str, trials: list[dict[str, Any]], stage_start: float, wall: float, slots: int) -> None:
    """Print one stage's overhead and how it splits."""
    n = len(trials)
    train_s = sum(t["train_s"] or 0.0 for t in trials)
    overhead = (wall * slots - train_s) / n
    startup = min(t["started_at"] for t in trials) - stage_start
    inside = statistics.mean((t["ended_at"] - t["started_at"]) - (t["train_s"] or 0.0) for t in trials)
    starts = sorted(t["started_at"] for t in trials)
    ends = sorted(t["ended_at"] for t in trials)
    # The k-th trial to start after the first `slots` took the slot freed by the k-th trial to end.
    gaps = [s - e for s, e in zip(starts[slots:], ends, strict=False)]
    gap = statistics.median(gaps) if gaps else 0.0
    # Each slot's idle time after its last trial ended: the `slots` latest ends, up to the stage's end.
    tail = sum(stage_start + wall - end for end in ends[-slots:])
    statuses = collections.Counter(t["status"] for t in trials)

    counted = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    print(f"{stage} stage: {n} trials, {sum(t['epochs'] for t in trials)} epochs ({counted})")
    print(f"  wall time                 {wall:8.2f} s  (its Tuner.fit)")
    print(f"  summed training time      {train_s:8.2f} s")
    print(f"  overhead per trial        {overhead:8.3f} s  = (wall x {slots} slots - training) / {n} trials")
    print(f"    start-up, once          {startup:8.3f} s")
    print(f"    per trial, inside       {inside:8.3f} s  (mean; reports and checkpoints)")
    print(f"    per trial, between      {gap:8.3f} s  (median end -> next start on a slot)")
    print(f"    tail, summed over slots {tail:8.3f} s  (slots idle while the last trials finish)")


if __name__ == "__main__":
    main()
