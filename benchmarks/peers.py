"""sweeper's overhead against its peers: the same trials, the same training function, three ways, in one run.

1. **sweeper**: ``run_sweep`` (Ray Tune, Optuna, ASHA, Parquet, MLflow; actors reused; every epoch reaches Parquet,
   MLflow and Optuna, and a trial reports to Tune, with a checkpoint, at ASHA's decision epochs, its last epoch and
   at least every ``budget.report_every_s``: here the last epoch, or sooner when that much time has passed).
2. **plain Ray Tune with default settings**: ``Tuner`` with Ray's ``OptunaSearch``, a new actor per trial
   (``reuse_actors=False``), Tune's default loggers, the metrics reported each epoch and no checkpoints.
3. **Optuna in-process**: ``study.optimize(..., n_jobs=slots)``, the trials in threads of this process.

Every way trains the same number of trials, each for every epoch (ASHA's grace period is the whole budget, so
nothing is stopped early), over a space whose configurations all cost the same (one fusion; the learning rate
varies). Each trial trains on one CPU thread. Printed: the wall time of each (Ray already started, the data already
built), the summed time inside the training loop, the overhead per trial = (wall x slots - training) / trials, and
the ratios to Optuna in-process.

    python benchmarks/peers.py                          # 16 trials x 3 epochs, 2 at a time
    python benchmarks/peers.py --trials 32 --slots 2
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sweeper.testing import TINY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()

    import ray

    from sweeper.spec import build_dataset, parse_spec

    spec = parse_spec(
        {
            **TINY,
            "name": "peers",
            "data": {"n_samples": args.samples, "seed": 0},
            "parameters": {
                "fusion": {"type": "choice", "values": ["concat"]},
                "lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
            },
            "budget": {"num_samples": args.trials, "max_epochs": args.epochs, "grace_period": args.epochs,
                       "max_concurrent": args.slots},
            "confirm": {"enabled": False},
        },
        "benchmark",
    )  # fmt: skip
    data = build_dataset(spec.data)
    ray.init(
        address="local",
        num_cpus=args.slots,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    results = {
        "sweeper": run_sweeper(spec),
        "plain Ray Tune": run_plain_tune(spec, data),
        "Optuna in-process": run_optuna(spec, data),
    }
    ray.shutdown()

    base = results["Optuna in-process"]
    print(f"{args.trials} trials x {args.epochs} epochs, {args.slots} at a time, {args.samples} samples, 1 thread each")
    print(f"{'way':<20}{'wall s':>9}{'train s':>9}{'overhead/trial s':>18}{'wall / Optuna':>15}")
    for way, (wall, train) in results.items():
        overhead = (wall * args.slots - train) / args.trials
        print(f"{way:<20}{wall:>9.1f}{train:>9.1f}{overhead:>18.3f}{wall / base[0]:>15.2f}")


def run_sweeper(spec: Any) -> tuple[float, float]:
    from sweeper.tracking import read_trials
    from sweeper.tune import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_sweep(spec, Path(tmp) / spec.name, quiet=True)
        trials = read_trials(outcome.sweep_dir).to_pylist()
    return outcome.wall_s, sum(t["train_s"] or 0.0 for t in trials)


def _train_config(spec: Any, lr: float) -> Any:
    return spec.trial_config({**spec.default_point(), "fusion": "concat", "lr": lr})


def _tune_function(config: dict[str, Any], *, data: Any, spec: Any) -> None:
    """What a Ray Tune user writes around the same training function: report each epoch, no checkpoints."""
    from ray import tune

    from sweeper.train import fit

    torch.set_num_threads(1)
    fit(_train_config(spec, config["lr"]), data, lambda metrics, state: tune.report(metrics))


def run_plain_tune(spec: Any, data: Any) -> tuple[float, float]:
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    metric = spec.objective.metric
    with tempfile.TemporaryDirectory() as tmp:
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_tune_function, data=data, spec=spec), {"cpu": 1}),
            param_space={"lr": tune.loguniform(1e-3, 1e-2)},
            tune_config=tune.TuneConfig(
                metric=metric,
                mode=spec.objective.mode,
                search_alg=OptunaSearch(seed=0),
                num_samples=spec.budget.num_samples,
                max_concurrent_trials=spec.budget.max_concurrent,
                reuse_actors=False,
            ),
            run_config=tune.RunConfig(storage_path=tmp, name="plain", verbose=0),
        )
        started = time.perf_counter()
        grid = tuner.fit()
        wall = time.perf_counter() - started
    train = sum(r.metrics.get("time/train_s", 0.0) for r in grid if r.metrics)
    return wall, train


def run_optuna(spec: Any, data: Any) -> tuple[float, float]:
    import optuna

    from sweeper.train import fit

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)  # process-wide: each of the n_jobs threads trains on one core
    train_s: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-3, 1e-2, log=True)
        last = fit(_train_config(spec, lr), data, lambda metrics, state: None)
        train_s.append(last["time/train_s"])
        return last[spec.objective.metric]

    study = optuna.create_study(direction="maximize" if spec.objective.mode == "max" else "minimize")
    started = time.perf_counter()
    study.optimize(objective, n_trials=spec.budget.num_samples, n_jobs=spec.budget.max_concurrent)
    return time.perf_counter() - started, sum(train_s)


if __name__ == "__main__":
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    main()
