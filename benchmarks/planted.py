"""Does the planted structure of the built-in scenarios make the expected fusion family win?

Trains each fusion family for the full budget on a scenario (pure PyTorch, no sweep: every family gets the same
learning rate, epochs and seeds) and prints the mean and spread over seeds of the validation score, best first,
with the family the scenario's docstring expects to win:
  default:         the 'agree' task needs image x signal, so multiplicative fusions (low_rank, gated, multiply)
                   should beat concatenation, which stays at chance on it;
  noisy_modality:  one modality is pure noise, so fusions that can weigh modalities (gated, attention) should beat
                   concatenation, which must learn to ignore the noise through its weights.

    python benchmarks/planted.py
    python benchmarks/planted.py --scenario noisy_modality --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sweeper.data import make_synthetic
from sweeper.models import ModelConfig
from sweeper.train import TrainConfig, fit

FAMILIES = ["concat", "late", "gated", "multiply", "low_rank", "cross_attention", "transformer"]
EXPECTED = {"default": {"low_rank", "gated", "multiply"}, "noisy_modality": {"gated", "cross_attention", "transformer"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(EXPECTED), default=None, help="default: both")
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for scenario in [args.scenario] if args.scenario else sorted(EXPECTED):
        data = make_synthetic(args.samples, scenario=scenario, seed=0)
        started = time.perf_counter()
        scores: dict[str, list[float]] = {}
        for fusion in FAMILIES:
            for seed in range(args.seeds):
                config = TrainConfig(
                    model=ModelConfig(fusion=fusion, rank=8, heads=4), max_epochs=args.epochs, seed=seed
                )
                last = fit(config, data, lambda metrics, state: None)
                scores.setdefault(fusion, []).append(last["val/mean_macro_f1"])
        ranked = sorted(scores, key=lambda f: -statistics.mean(scores[f]))
        print(
            f"scenario {scenario}: {args.samples} samples, {args.epochs} epochs, {args.seeds} seeds "
            f"({time.perf_counter() - started:.0f} s); expected winners: {', '.join(sorted(EXPECTED[scenario]))}"
        )
        for fusion in ranked:
            mean = statistics.mean(scores[fusion])
            spread = statistics.stdev(scores[fusion]) if len(scores[fusion]) > 1 else 0.0
            mark = "  <- expected family" if fusion in EXPECTED[scenario] else ""
            print(f"  {fusion:<16} val/mean_macro_f1 {mean:.3f} +- {spread:.3f}{mark}")
        print(f"  winner {ranked[0]}: {'as planted' if ranked[0] in EXPECTED[scenario] else 'NOT the planted family'}")


if __name__ == "__main__":
    main()
