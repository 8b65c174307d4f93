"""Do `recommend`'s intervals hold their 95%? Simulated confirmation runs whose truth is known.

Each case builds two fusion families' predictions on n validation samples, R seeds each, and asks
`sweeper.recommend.stats.compare` (what `sweeper recommend` uses) for the intervals. A run gets a seed effect u ~
N(0, seed_sd): it classifies a sample correctly when the sample's difficulty V (uniform) is below base + u, so its
accuracy over all samples would be base + u. The samples are either the same difficulty for both families (their
errors overlap, as for two models of the same data: the paired difference cancels the sample noise) or drawn anew
per family (it does not). Printed per case, over `--sims` repetitions:

  - false winner: both families are equally good (base 0.80), yet one is declared better (its difference interval
    excludes zero): nominally 5% or less;
  - difference covered: the 95% interval of the difference contains the true difference (0.00, or --effect):
    nominally 95%;
  - score covered: the first family's 95% interval contains its true accuracy: nominally 95%;
  - found: with a true difference of --effect, how often the better family is declared better (power).

A second table gives the first family several configurations, all equally good (`confirm.per_fusion` > 1). As
`sweeper recommend` does, the family is represented by the configuration with the best mean over the very runs
that then score it; the table shows how much that choice inflates the false-winner rate over a single
configuration. (Scoring each seed with the configuration chosen on the other seeds was worse: 10.0% at R = 3. The
choices correlate the seeds' scores, so their spread understates the noise.)

    python benchmarks/interval_calibration.py                 # 400 simulations per case
    python benchmarks/interval_calibration.py --sims 1000
    python benchmarks/interval_calibration.py --sample-variance delta   # the delta method at every n
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from sweeper.recommend import stats
from sweeper.recommend.stats import Predictions, compare


@dataclass(frozen=True)
class Case:
    runs: int  # R: seeds per family
    samples: int  # n
    seed_sd: float  # seed-to-seed standard deviation of a run's accuracy
    shared: bool  # both families meet the same sample difficulties


def simulate(case: Case, levels: list[float], rng: np.random.Generator) -> np.ndarray:
    """Runs of one family per level (its true accuracy) -> probs (F, R, n, 2); binary labels, all 0."""
    difficulty = rng.random(case.samples)
    probs = np.empty((len(levels), case.runs, case.samples, 2), np.float32)
    for f, level in enumerate(levels):
        v = difficulty if case.shared else rng.random(case.samples)
        for r in range(case.runs):
            correct = v < level + rng.normal(0.0, case.seed_sd)
            probs[f, r, :, 0] = np.where(correct, 0.9, 0.1)
            probs[f, r, :, 1] = 1 - probs[f, r, :, 0]
    return probs


def two_families(probs: np.ndarray) -> Predictions:
    return Predictions(["a", "b"], ["t"], {"t": np.zeros(probs.shape[2], np.int64)}, {"t": probs})


def chosen_family(case: Case, configs: int, rng: np.random.Generator) -> Predictions:
    """Family a with `configs` configurations and b with one, all at 0.80; a's runs are those of its configuration
    with the best mean accuracy (``sweeper.recommend.evidence`` chooses so with ``confirm.per_fusion`` > 1)."""
    probs = simulate(case, [0.8] * (configs + 1), rng)  # a's configurations, then b
    best = int(np.argmax((probs[:configs].argmax(-1) == 0).mean((-1, -2))))
    return two_families(np.stack([probs[best], probs[configs]]))


def measure_configs(case: Case, configs: int, sims: int, n_boot: int, seed: int) -> tuple[float, float]:
    """How often equal families are declared different: a with one configuration, and with the best of several."""
    rng = np.random.default_rng(seed)
    one = several = 0
    for s in range(sims):
        one += not compare(chosen_family(case, 1, rng), "t/acc", n_boot=n_boot, seed=s)[1].tied
        several += not compare(chosen_family(case, configs, rng), "t/acc", n_boot=n_boot, seed=s)[1].tied
    return one / sims, several / sims


def measure(case: Case, sims: int, effect: float, n_boot: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    false_winner = diff_covered = score_covered = found = 0
    for s in range(sims):
        null = compare(two_families(simulate(case, [0.8, 0.8], rng)), "t/acc", n_boot=n_boot, seed=s)
        false_winner += not null[1].tied
        diff_covered += null[1].diff.low <= 0.0 <= null[1].diff.high
        a = next(c for c in null if c.family == "a")
        score_covered += a.score.low <= 0.8 <= a.score.high
        real = compare(two_families(simulate(case, [0.8, 0.8 + effect], rng)), "t/acc", n_boot=n_boot, seed=s)
        found += real[0].family == "b" and not real[1].tied
    return {
        "false winner": false_winner / sims,
        "difference covered": diff_covered / sims,
        "score covered": score_covered / sims,
        "found": found / sims,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=400, help="simulated comparisons per case")
    parser.add_argument("--effect", type=float, default=0.03, help="the true difference for the power column")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates per comparison")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", type=int, default=3, help="configurations of the first family, second table")
    parser.add_argument(
        "--sample-variance",
        choices=["auto", "bootstrap", "delta"],
        default="auto",
        help="the sample part of each interval: as recommend picks it by n (the bootstrap up to "
        f"{stats.BOOTSTRAP_MAX_SAMPLES:,} samples, the delta method above), or one of them at every n",
    )
    args = parser.parse_args()
    if args.sample_variance != "auto":
        stats.BOOTSTRAP_MAX_SAMPLES = 0 if args.sample_variance == "delta" else 2**62
    cases = [
        Case(runs=r, samples=n, seed_sd=sd, shared=shared)
        for r in (2, 3, 5)
        for n, sd, shared in ((1000, 0.01, True), (300, 0.002, False))
    ]
    print(f"sample variance: {args.sample_variance}")
    print(f"{args.sims} simulations per case; nominal: false winner <= 5%, covered 95%; found at effect {args.effect}")
    print(f"{'R':>2} {'n':>5} {'seed sd':>7} {'samples':>8} | {'false winner':>12} {'diff covered':>12} "
          f"{'score covered':>13} {'found':>6} | time")  # fmt: skip
    for case in cases:
        started = time.perf_counter()
        got = measure(case, args.sims, args.effect, args.n_boot, args.seed)
        print(
            f"{case.runs:>2} {case.samples:>5} {case.seed_sd:>7.3f} {'shared' if case.shared else 'own':>8} | "
            f"{got['false winner']:>12.1%} {got['difference covered']:>12.1%} {got['score covered']:>13.1%} "
            f"{got['found']:>6.1%} | {time.perf_counter() - started:.0f} s"
        )
    print(f"\nfamily a represented by the best of {args.configs} equally good configurations, b by one: false winner")
    several = f"best of {args.configs}"
    print(f"{'R':>2} {'n':>5} {'seed sd':>7} {'samples':>8} | {'one config':>10} {several:>10} | time")
    for case in cases:
        if case.runs < 3:
            continue
        started = time.perf_counter()
        one, several = measure_configs(case, args.configs, args.sims, args.n_boot, args.seed)
        print(
            f"{case.runs:>2} {case.samples:>5} {case.seed_sd:>7.3f} {'shared' if case.shared else 'own':>8} | "
            f"{one:>10.1%} {several:>10.1%} | {time.perf_counter() - started:.0f} s"
        )


if __name__ == "__main__":
    main()
