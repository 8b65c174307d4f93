"""Search efficiency: how many epochs ASHA + Optuna spend to come within 1 point of the best configuration that
an exhaustive grid of the same space finds, as a fraction of the grid's epochs.

The space is finite (fusion x learning rate x dropout, choices only), so its grid is every configuration trained for
the whole budget (``fit`` in this process, with the seed and CPU threads of the sweep's trials: a configuration
scores the same both ways, which the benchmark checks on every trial the sweeps train to the end). Then a real sweep
(Ray Tune, Optuna's TPE, ASHA) searches the same space. Reading its epochs in the order they were reported, the count
stops when a trial that trained the whole budget scores within ``--points`` of the grid's best. Repeated for
``--repeats`` sampler seeds; the median fraction is the figure.

    python benchmarks/search_efficiency.py                       # the wound scenario, 3 sampler seeds
    python benchmarks/search_efficiency.py --scenario rare_disease --repeats 5
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.testing import TINY

SPACE: dict[str, list[Any]] = {
    "fusion": ["concat", "gated", "cross_attention", "low_rank"],
    "lr": [1e-3, 3e-3, 1e-2],
    "dropout": [0.0, 0.3],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="wound")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--trials", type=int, default=12, help="search trials per sweep")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=float, default=0.01, help="'within 1 point' of the objective")
    args = parser.parse_args()

    from sweeper.spec import build_dataset

    specs = [_spec(args, seed) for seed in range(args.repeats)]
    data = build_dataset(specs[0].data)
    metric = specs[0].objective.metric

    import torch

    # As each trial does (sweeper/tune/trainable.py): with another thread count, sums are added in another order
    # and, after a few epochs, a configuration scores a point or so differently.
    torch.set_num_threads(max(1, int(specs[0].resources.cpu)))
    started = time.perf_counter()
    grid = {config: _final_score(specs[0], dict(zip(SPACE, config, strict=True)), data) for config in _grid()}
    grid_s = time.perf_counter() - started
    grid_epochs = len(grid) * args.epochs
    best = max(grid.values())
    print(f"{args.scenario}: {len(grid)} configurations x {args.epochs} epochs = {grid_epochs} grid epochs "
          f"({grid_s:.0f} s); best {metric} {best:.4f} ({_name(max(grid, key=grid.__getitem__))})")  # fmt: skip

    fractions = []
    for spec in specs:
        run = _search(spec, best - args.points, args.epochs)
        seed = f"  sampler seed {spec.budget.seed}:"
        # The premise: a configuration the sweep trained to the end scores what it scored in the grid.
        apart = max((abs(score - grid[config]) for config, score in run.full), default=0.0)
        if apart > 1e-6:
            print(f"{seed} a full-budget trial scored {apart:.4f} away from the grid")
        tried = f"{len(set(run.configs))} distinct configurations in {len(run.configs)} trials"
        if run.found is None:  # a miss counts as never: it must not look like a cheap success
            fractions.append(float("inf"))
            print(f"{seed} did not come within {args.points:g} in {run.spent} epochs ({tried})")
            continue
        fractions.append(run.spent / grid_epochs)
        print(f"{seed} {run.spent} epochs = {run.spent / grid_epochs:.1%} of the grid's (reached {run.found:.4f}; "
              f"{tried})")  # fmt: skip
    median = statistics.median(fractions)
    shown = f"{median:.1%} of the grid's epochs" if median != float("inf") else "not reached (more misses than hits)"
    print(f"median over {len(fractions)} sampler seeds: {shown} to come within {args.points:g} of the grid's best")


def _spec(args: argparse.Namespace, seed: int) -> Any:
    from sweeper.spec import parse_spec

    return parse_spec(
        {
            **TINY,
            "name": f"efficiency-{seed}",
            "data": {"scenario": args.scenario, "n_samples": args.samples, "seed": 0},
            "parameters": {name: {"type": "choice", "values": values} for name, values in SPACE.items()},
            "budget": {"num_samples": args.trials, "max_epochs": args.epochs, "grace_period": 1,
                       "reduction_factor": 3, "max_concurrent": 1, "seed": seed},
            "confirm": {"enabled": False},
        },
        "benchmark",
    )  # fmt: skip


def _grid() -> list[tuple[Any, ...]]:
    return list(itertools.product(*SPACE.values()))


def _name(config: tuple[Any, ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(SPACE, config, strict=True))


def _final_score(spec: Any, params: dict[str, Any], data: Any) -> float:
    from sweeper.train import fit

    return float(fit(spec.trial_config(params), data, lambda m, s: None)[spec.objective.metric])


@dataclass
class SearchRun:
    spent: int  # epochs reported until a full-budget trial reached the target (all of them if none did)
    found: float | None  # that trial's score
    full: list[tuple[tuple[Any, ...], float]]  # every (configuration, score) trained for the whole budget
    configs: list[tuple[Any, ...]]  # the configuration of every trial, in start order


def _search(spec: Any, target: float, max_epochs: int) -> SearchRun:
    """Run the sweep; read its epochs in report order until a full-budget trial scores at least ``target``."""
    from sweeper.tracking import read_epochs, read_trials
    from sweeper.tune import run_sweep

    metric = spec.objective.metric
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_sweep(spec, Path(tmp) / spec.name, quiet=True)
        trials = sorted(read_trials(outcome.sweep_dir).to_pylist(), key=lambda t: t["started_at"])
        epochs = read_epochs(outcome.sweep_dir).to_pylist()
    order = {t["trial_id"]: k for k, t in enumerate(trials)}
    configs = {t["trial_id"]: tuple(t[f"config/{name}"] for name in SPACE) for t in trials}
    # One trial at a time: the order of reports is the trials' start order, then their epochs.
    rows = sorted(epochs, key=lambda r: (order[r["trial_id"]], r["epoch"]))
    full = [(configs[r["trial_id"]], float(r[metric])) for r in rows if int(r["epoch"]) == max_epochs]
    run = SearchRun(len(rows), None, full, list(configs.values()))
    for spent, row in enumerate(rows, start=1):
        if int(row["epoch"]) == max_epochs and row[metric] >= target:
            run.spent, run.found = spent, float(row[metric])
            break
    return run


if __name__ == "__main__":
    main()
