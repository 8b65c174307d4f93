"""Statistics for "which fusion family is best", from per-sample predictions of confirmed runs.

Every family was re-trained with R seeds and every run predicted the same n evaluation samples, so a score differs
between families for two reasons: training noise (another seed gives another model) and evaluation noise (another
draw of n samples gives another score). An interval adds the two variances:

- seeds: the spread of the per-seed scores (or, for a difference, of the per-seed paired differences), s^2 / R, with
  R - 1 degrees of freedom: a t quantile, not a normal one, because R is small (3 or 5). A percentile bootstrap over
  so few seeds is too narrow (at R = 3 it declared a winner between equal families 18.5% of the time at a nominal
  5%: ``benchmarks/interval_calibration.py``);
- samples: the variance of the seed-averaged score over a paired bootstrap of the n samples (the SAME sample draw
  scores every family and run, so what the families share cancels out of their differences);

and takes mean +- t(df) x sqrt(seeds + samples), df from Welch-Satterthwaite (the sample part has infinitely many).
With a single seed the seed part cannot be estimated, and with two it is too unsure: below ``MIN_SEEDS`` (3) no family
is shown better than another (``Comparison.seeds`` says how many there were).

A bootstrap replicate is a column of sample weights rather than a re-indexed copy of the data: each metric is written
as a weighted sum, so B replicates cost one pass over an (n, B) array, processed in chunks to keep memory flat.

That pass costs n x B per run and class, and at large n the bootstrap has nothing left to add over its first-order
term: above ``BOOTSTRAP_MAX_SAMPLES`` the sample variance is the delta method's (the infinitesimal jackknife), from
each sample's influence on the metric, d metric / d weight, exact and O(n log n): for AUROC it is DeLong's variance.
The bootstrap's variance converges to it as n grows (a test checks the two agree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse  # scipy.stats is imported where it is used: ~0.6 s, only across sweeps
from scipy.special import stdtrit  # the t distribution's quantile, without scipy.stats

from sweeper.errors import ConfigError, DataError

METRICS = ("acc", "macro_f1", "auroc", "loss")
_EPS = 1e-12  # probabilities are clipped here before the log, so one confident mistake costs ~27.6, not inf
_CHUNK = 1 << 20  # weights per chunk (n x replicates): 4 MB of float32 counts whatever n is
_BLOCK = 16  # rows per block of the blocked cumulative sum
# Seeds needed to show one family better than another. The seed spread of 2 seeds has 1 degree of freedom, and its
# estimate is often near 0 by chance: between equal families the t interval alone declared a winner in 14% of 400
# simulated comparisons at a nominal 5% (`benchmarks/interval_calibration.py`, before this rule); 3 seeds give 5.4%
# of 1000.
MIN_SEEDS = 3
# Above this many evaluation samples the sample variance comes from the delta method, not the bootstrap. The
# bootstrap's cost grows as n x n_boot (100,000 samples, 8 families x 5 seeds, 3 tasks: 140 s); at 10,000 samples
# the two variances agree within a few percent (`test_delta_method_variance_matches_the_bootstrap`).
BOOTSTRAP_MAX_SAMPLES = 10_000

# Internally weights are (n, B): rows of samples are then contiguous, so gathering samples in score order and
# summing them cumulatively run over whole rows at once.
BatchMetric = Callable[[np.ndarray], np.ndarray]  # weights (n, B) -> metric values (B,)


def _macro_f1(counts: np.ndarray, n_classes: int) -> np.ndarray:
    """counts (B, C*C) of pred*C + label -> (B,). As torchmetrics: F1 = 0 where 2tp+fp+fn = 0, and such a class
    (absent from both predictions and labels) is left out of the average rather than counted as 0."""
    cm = counts.reshape(len(counts), n_classes, n_classes)  # (B, pred, label)
    tp = np.diagonal(cm, axis1=1, axis2=2)  # (B, C)
    denom = 2 * tp + (cm.sum(2) - tp) + (cm.sum(1) - tp)  # 2tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(denom.shape), where=denom > 0)
    present = (denom > 0).sum(1)
    return np.divide(f1.sum(1), present, out=np.zeros(len(counts)), where=present > 0)


def _auc(u: np.ndarray, pos: np.ndarray, neg: np.ndarray, unscorable: float = 0.0) -> np.ndarray:
    """Mann-Whitney U over all positive-negative pairs; ``unscorable`` for a class without positives or without
    negatives: by default 0, which is what torchmetrics' ROC gives (a flat curve) and then averages in."""
    pairs = pos * neg
    return np.divide(u, pairs, out=np.full(np.shape(u), unscorable), where=pairs > 0)


def _cumsum_rows(x: np.ndarray) -> np.ndarray:
    """np.cumsum(x, axis=0) for x (n, B), n a multiple of _BLOCK. numpy accumulates one scalar at a time; a
    triangular matmul per block of rows runs in BLAS, ~3x faster, and the block ends then take a short cumsum."""
    tril = np.tril(np.ones((_BLOCK, _BLOCK), dtype=x.dtype))
    blocks = np.matmul(tril, x.reshape(-1, _BLOCK, x.shape[1]))  # (n / BLOCK, BLOCK, B): sums within each block
    blocks[1:] += np.cumsum(blocks[:-1, -1], axis=0)[:, None]  # plus everything in the blocks before
    return blocks.reshape(x.shape)


def _auroc_class(score: np.ndarray, is_pos: np.ndarray, unscorable: float = 0.0) -> BatchMetric:
    """One-vs-rest AUROC of one class: U = weight of (positive, negative) pairs with the positive scored higher,
    ties counting half. One side is sorted by score once (the order does not depend on the weights) and its weights
    summed cumulatively; every sample of the other side reads that sum at its own score. The cumulative sum is the
    costly part, so it runs over the smaller side (for one class of several, the positives; pairs are then counted
    the other way round and U = P * N - pairs)."""
    flip = bool(2 * is_pos.sum() < len(is_pos))
    summed, read = np.flatnonzero(is_pos == flip), np.flatnonzero(is_pos != flip)
    summed = summed[np.argsort(score[summed], kind="stable")]
    rows = -(-(len(summed) + 1) // _BLOCK) * _BLOCK
    # A read sample counts the summed ones strictly below it and half of those tied with it: half of its weight
    # reads row lo of the cumulative sum, half reads row hi.
    lo = np.searchsorted(score[summed], score[read], side="left")
    hi = np.searchsorted(score[summed], score[read], side="right")
    halves = np.full(2 * len(read), 0.5, dtype=np.float32)
    spread = sparse.csr_matrix((halves, (np.r_[lo, hi], np.r_[read, read])), shape=(rows, len(score)))  # (rows, n)

    def values(wt: np.ndarray) -> np.ndarray:
        cum = np.zeros((rows, wt.shape[1]), dtype=wt.dtype)  # (rows, B): a zero, the summed side by score, padding
        np.take(wt, summed, axis=0, out=cum[1 : len(summed) + 1], mode="clip")  # mode="clip" writes unbuffered
        cum = _cumsum_rows(cum)  # row k: weight of the k lowest-scored summed samples
        reads = spread @ wt  # (rows, B): weight of the read samples that read each row
        pairs = np.einsum("kb,kb->b", reads, cum).astype(np.float64)  # (read, summed) pairs, read scored higher
        w_summed = cum[len(summed)].astype(np.float64)
        w_read = np.einsum("kb->b", reads).astype(np.float64)
        if flip:  # summed = positives
            return _auc(w_summed * w_read - pairs, w_summed, w_read, unscorable)
        return _auc(pairs, w_read, w_summed, unscorable)

    return values


def _macro_auroc(probs: np.ndarray, labels: np.ndarray) -> BatchMetric:
    """Mean one-vs-rest AUROC over classes. A class with both positives and negatives in the data but not in a
    bootstrap replicate is left out of that replicate's mean: counting its 0 there (the value torchmetrics gives a
    class it cannot score) would drag the replicate down for a reason that is not the model's. A class absent from
    the data counts 0 everywhere, as torchmetrics counts it in the plain metric."""
    scorable = [0 < int(np.sum(labels == c)) < len(labels) for c in range(probs.shape[1])]
    # NaN marks a class a draw cannot score; a class the data cannot score is 0 in every draw
    per_class = [_auroc_class(probs[:, c], labels == c, np.nan if ok else 0.0) for c, ok in enumerate(scorable)]

    def values(wt: np.ndarray) -> np.ndarray:
        auc = np.stack([f(wt) for f in per_class])  # (C, B)
        counted = np.sum(~np.isnan(auc), axis=0)
        return np.divide(np.nansum(auc, axis=0), counted, out=np.zeros(wt.shape[1]), where=counted > 0)

    return values


def _below(ordered: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each of the sorted ``queries``, how many of the sorted ``ordered`` lie below it, ties counting half.
    Sorted queries walk the array in order: 4x faster than the same search in sample order at 100,000 samples."""
    return (np.searchsorted(ordered, queries, "left") + np.searchsorted(ordered, queries, "right")) / 2


def _linear_auroc(probs: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Macro AUROC and d AUROC / d w_i. Per class, a positive's placement V10 (share of negatives scored below it,
    ties half) and a negative's V01 (share of positives above it) are DeLong's components: AUC = mean(V10), and it
    moves by (V10 - AUC) / P per unit of a positive's weight, (V01 - AUC) / N of a negative's. A class without
    positives or without negatives counts a constant 0 in the mean, as in the plain metric."""
    n, n_classes = probs.shape
    total, grad = 0.0, np.zeros(n)
    for c in range(n_classes):
        pos = labels == c
        n_pos = int(pos.sum())
        if n_pos in (0, n):
            continue
        score_pos, score_neg = probs[pos, c], probs[~pos, c]
        order_pos, order_neg = np.argsort(score_pos, kind="stable"), np.argsort(score_neg, kind="stable")
        sorted_pos, sorted_neg = score_pos[order_pos], score_neg[order_neg]
        v10, v01 = np.empty(n_pos), np.empty(n - n_pos)
        v10[order_pos] = _below(sorted_neg, sorted_pos) / (n - n_pos)
        v01[order_neg] = 1 - _below(sorted_pos, sorted_neg) / n_pos
        auc = float(v10.mean())
        total += auc
        grad[pos] += (v10 - auc) / n_pos
        grad[~pos] += (v01 - auc) / (n - n_pos)
    return total / n_classes, grad / n_classes


def linearized(metric: str, probs: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """`metric` (one of METRICS) of predictions probs (n, C) against labels (n,), and each sample's influence on it:
    the derivative of ``metric_values`` with respect to the sample's weight at every weight 1, (n,). Under a
    bootstrap draw of counts w the metric moves by about sum_i (w_i - 1) x influence_i, so its bootstrap variance is
    about n x var(influence)."""
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    n, n_classes = probs.shape
    if metric == "auroc":
        return _linear_auroc(probs, labels)
    pred = probs.argmax(1)
    if metric == "macro_f1":  # F1_c = 2tp / (2tp + fp + fn), averaged over the classes present
        cm = np.bincount(pred * n_classes + labels, minlength=n_classes**2).reshape(n_classes, n_classes)
        tp = np.diagonal(cm).astype(np.float64)
        fp, fn = cm.sum(1) - tp, cm.sum(0) - tp
        denom = 2 * tp + fp + fn
        present = max(int((denom > 0).sum()), 1)
        safe = np.where(denom > 0, denom, 1.0)
        d_hit, d_miss = 2 * (fp + fn) / safe**2 / present, -2 * tp / safe**2 / present  # d F1 / d tp, / d fp = / d fn
        value = float(np.sum(2 * tp / safe) / present)
        return value, np.where(pred == labels, d_hit[pred], d_miss[pred] + d_miss[labels])
    if metric == "acc":
        per_sample = (pred == labels).astype(np.float64)
    else:
        per_sample = -np.log(np.clip(probs[np.arange(n), labels].astype(np.float64), _EPS, None))
    value = float(per_sample.mean())
    return value, (per_sample - value) / n  # a weighted mean, sum(w x) / sum(w)


def _linearized_runs(preds: Predictions, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The objective of every family and run (F, R), and its influences (F, R, n), tasks combined as the objective
    combines them."""
    tasks, m, total = _parse(preds, metric)
    n_fam, n_runs = preds.probs[tasks[0]].shape[:2]
    values, grads = np.empty((n_fam, n_runs)), np.empty((n_fam, n_runs, len(preds.labels[tasks[0]])))
    for f, r in np.ndindex(n_fam, n_runs):
        per_task = [linearized(m, preds.probs[t][f, r], preds.labels[t]) for t in tasks]
        combine = np.sum if total else np.mean
        values[f, r] = combine([v for v, _ in per_task])
        grads[f, r] = combine(np.stack([g for _, g in per_task]), axis=0)
    return values, grads


def _transposed(weights: np.ndarray) -> np.ndarray:
    """weights (B, n) -> (n, B). float32 stays float32: it holds bootstrap counts exactly at half the traffic."""
    dtype = np.float32 if np.asarray(weights).dtype == np.float32 else np.float64
    return np.ascontiguousarray(np.atleast_2d(weights).T, dtype=dtype)


def _batch_metric(metric: str, probs: np.ndarray, labels: np.ndarray) -> BatchMetric:
    """Everything about `metric` that does not depend on the weights, done once; the result scores weights."""
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    n, n_classes = probs.shape
    if metric == "auroc":
        return _macro_auroc(probs, labels)
    if metric == "macro_f1":
        code = probs.argmax(1) * n_classes + labels  # (n,) cell of the confusion matrix
        onehot = sparse.csr_matrix((np.ones(n, np.float32), (code, np.arange(n))), shape=(n_classes**2, n))  # (C*C, n)
        return lambda wt: _macro_f1(np.asarray(onehot @ wt).T, n_classes)
    if metric == "acc":
        per_sample = (probs.argmax(1) == labels).astype(np.float64)  # (n,)
    else:
        per_sample = -np.log(np.clip(probs[np.arange(n), labels].astype(np.float64), _EPS, None))  # (n,)
    # einsum, not a BLAS matrix-vector product: that one's threads thrash on a busy machine (40x slower)
    return lambda wt: np.einsum("n,nb->b", per_sample.astype(wt.dtype), wt) / np.einsum("nb->b", wt)  # (B,)


def metric_values(metric: str, probs: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`metric` (one of METRICS) of predictions probs (n, C) (rows are class probabilities) against labels (n,) int,
    once per row of weights (B, n) (non-negative sample counts; a row of ones gives the plain metric) -> (B,)."""
    if np.shape(weights)[-1] != len(probs) or len(labels) != len(probs):
        raise ValueError(f"probs {probs.shape}, labels {labels.shape}, weights {np.shape(weights)}: n must agree")
    return _batch_metric(metric, probs, np.asarray(labels))(_transposed(weights))


@dataclass
class Predictions:
    """Confirmed runs' predictions on one split, aligned on the same samples for every family."""

    families: list[str]
    tasks: list[str]
    labels: dict[str, np.ndarray]  # task -> (n,) int64
    probs: dict[str, np.ndarray]  # task -> (F, R, n, C) float32: family, run, sample, class

    def __post_init__(self) -> None:
        if not self.families or not self.tasks or not set(self.labels) == set(self.tasks) == set(self.probs):
            raise DataError(
                f"families {self.families}, tasks {self.tasks}, labels for {sorted(self.labels)}, probs for "
                f"{sorted(self.probs)}; expected some families and tasks, and labels and probs for every task"
            )
        first = self.probs[self.tasks[0]].shape  # every task must have its runs and samples
        for task in self.tasks:
            shape, labels = self.probs[task].shape, self.labels[task]
            if len(shape) != 4 or shape[:3] != (len(self.families), *first[1:3]) or labels.shape != shape[2:3]:
                raise DataError(
                    f"task {task!r}: probs {shape} and labels {labels.shape}; expected probs (F, R, n, C) with "
                    f"{len(self.families)} families and the R, n of task {self.tasks[0]!r} {first}, labels (n,)"
                )
            if labels.size and not 0 <= labels.min() <= labels.max() < shape[3]:
                raise DataError(
                    f"task {task!r}: labels span [{labels.min()}, {labels.max()}]; expected [0, {shape[3]})"
                )


def is_higher_better(metric: str) -> bool:
    return not metric.endswith("loss")


def _parse(preds: Predictions, metric: str) -> tuple[list[str], str, bool]:
    """An objective's name -> (its tasks, the metric m on each, whether task values add up rather than average)."""
    if metric == "loss":
        tasks, m, total = preds.tasks, "loss", True  # the training loop's loss is the sum of the task losses
    elif metric.startswith("mean_"):
        tasks, m, total = preds.tasks, metric.removeprefix("mean_"), False
    else:
        task, _, m = metric.rpartition("/")
        tasks, total = [task], False
    if m not in METRICS or not set(tasks) <= set(preds.tasks):
        raise ConfigError(
            f"unknown objective {metric!r}; expected 'loss', 'mean_<m>' or '<task>/<m>' with m in "
            f"{', '.join(METRICS)} and task in {', '.join(preds.tasks)}"
        )
    return tasks, m, total


def _per_run(preds: Predictions, metric: str) -> Callable[[np.ndarray], np.ndarray]:
    """The objective of every family and run, as a function of weights (n, B) -> (F, R, B)."""
    tasks, m, total = _parse(preds, metric)
    n_fam, n_runs = preds.probs[tasks[0]].shape[:2]
    fns = [
        [[_batch_metric(m, preds.probs[t][f, r], preds.labels[t]) for t in tasks] for r in range(n_runs)]
        for f in range(n_fam)
    ]

    def values(wt: np.ndarray) -> np.ndarray:
        out = np.empty((n_fam, n_runs, wt.shape[1]))  # (F, R, B)
        for f, r in np.ndindex(n_fam, n_runs):
            per_task = np.stack([fn(wt) for fn in fns[f][r]])  # (T, B)
            out[f, r] = per_task.sum(0) if total else per_task.mean(0)
        return out

    return values


def objective(preds: Predictions, metric: str, weights: np.ndarray) -> np.ndarray:
    """The objective of every family and run under each row of sample weights -> (F, R, B).
    weights (B, n) sample counts. `metric` names the objective WITHOUT its split prefix: "mean_<m>" = mean over
    tasks of m, "<task>/<m>" = one task, "loss" = sum over tasks of loss (as the training loop reports val/loss).
    m in METRICS."""
    return _per_run(preds, metric)(_transposed(weights))


@dataclass
class Interval:
    mean: float  # the point estimate: plain (unweighted) metric averaged over all runs
    low: float
    high: float


@dataclass
class Comparison:
    family: str
    score: Interval  # this family's objective at `confidence`: seed spread (t) plus a sample bootstrap
    diff: Interval  # best minus this family, signed so that positive favours the best; Bonferroni over F-1 pairs
    tied: bool  # not shown worse than the best: the best itself, diff includes zero, or diff stays within the margin
    equivalent: bool  # shown within the margin of the best: the best itself, or the whole diff interval <= margin
    runs: int  # R: runs per family (with cross-validation on test, every (seed, fold) pair)
    samples: int  # n
    seeds: int  # independent training seeds behind the runs; below MIN_SEEDS no family is shown better (tied)


def _interval(mean: float, per_seed: np.ndarray, sample_var: float, level: float) -> Interval:
    """mean +- t x sqrt(seed variance of the mean + sample variance), df by Welch-Satterthwaite."""
    seeds = len(per_seed)
    seed_var = float(np.var(per_seed, ddof=1)) / seeds if seeds > 1 else 0.0
    df = (seed_var + sample_var) ** 2 / (seed_var**2 / (seeds - 1)) if seed_var > 0 else np.inf
    half = float(stdtrit(df, (1 + level) / 2)) * np.sqrt(seed_var + sample_var)
    return Interval(float(mean), float(mean - half), float(mean + half))


def _clipped(interval: Interval, metric: str) -> Interval:
    """An interval within the metric's range: [0, 1] for accuracy, macro-F1 and AUROC, [0, inf) for a loss. The
    normal-theory interval around a score near 1 can otherwise reach past it."""
    high = interval.high if metric.endswith("loss") else min(interval.high, 1.0)
    return Interval(interval.mean, max(interval.low, 0.0), high)


def _sample_counts(rng: np.random.Generator, n: int, n_draws: int) -> np.ndarray:
    """n_draws bootstrap resamples of n samples, as counts (n, n_draws): how often each sample was drawn."""
    drawn = rng.integers(0, n, size=(n_draws, n)) * n_draws + np.arange(n_draws)[:, None]  # flat (sample, draw)
    return np.bincount(drawn.ravel(), minlength=n * n_draws).reshape(n, n_draws).astype(np.float32)


def _by_seed(per_run: np.ndarray, groups: list[int] | None) -> np.ndarray:
    """per_run (F, R) -> (F, S): the mean of each seed's runs (its folds), or the runs themselves."""
    if groups is None:
        return per_run
    seeds = list(dict.fromkeys(groups))
    index = np.asarray(groups)
    return np.stack([per_run[:, index == s].mean(1) for s in seeds], axis=1)


def _runs_and_sample_variance(
    preds: Predictions, metric: str, n_boot: int, seed: int
) -> tuple[np.ndarray, Callable[..., float]]:
    """The objective of every family and run (F, R), and the sample variance of a family's run-averaged objective
    or of the paired difference of two: ``var(f)`` or ``var(best, f)``. From ``n_boot`` bootstrap draws (the same
    draws for every family and run), or above BOOTSTRAP_MAX_SAMPLES from the delta method."""
    n = len(preds.labels[preds.tasks[0]])
    if n > BOOTSTRAP_MAX_SAMPLES:
        runs, grads = _linearized_runs(preds, metric)
        draws = grads.mean(1)  # (F, n): each sample's influence on the mean over runs
        ddof, scale = 0, float(n)
    else:
        per_run = _per_run(preds, metric)
        runs = per_run(np.ones((n, 1)))[:, :, 0]
        rng = np.random.default_rng(seed)
        draws = np.empty((len(preds.families), n_boot))  # (F, B): the mean over every run, under each draw
        step = max(1, _CHUNK // n)
        for start in range(0, n_boot, step):
            size = min(step, n_boot - start)
            draws[:, start : start + size] = per_run(_sample_counts(rng, n, size)).mean(1)
        ddof, scale = 1, 1.0

    def var(f: int, g: int | None = None) -> float:
        values = draws[f] if g is None else draws[f] - draws[g]
        return scale * float(np.var(values, ddof=ddof))

    return runs, var


def compare(
    preds: Predictions,
    metric: str,
    *,
    margin: float = 0.0,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    groups: list[int] | None = None,
) -> list[Comparison]:
    """Every family against the best (highest point estimate, or lowest for loss), best first, then by point
    estimate. ``groups``: the seed of each run where several runs share one (test predictions of a seed's folds);
    by default every run is its own seed."""
    if not 0 < confidence < 1 or n_boot < 2:
        raise ConfigError(f"confidence must be in (0, 1) and n_boot >= 2, but got {confidence=}, {n_boot=}")
    n_fam, n_runs, n = preds.probs[preds.tasks[0]].shape[:3]
    if groups is not None and len(groups) != n_runs:
        raise ValueError(f"groups {groups}: expected one seed per run ({n_runs} runs)")
    runs_point, sample_var = _runs_and_sample_variance(preds, metric, n_boot, seed)  # (F, R), per family or pair
    point = runs_point.mean(1)  # (F,)
    per_seed = _by_seed(runs_point, groups)  # (F, S)
    sign = 1.0 if is_higher_better(metric) else -1.0
    best = int(np.argmax(sign * point))
    n_seeds = per_seed.shape[1]
    diff_level = 1 - (1 - confidence) / max(n_fam - 1, 1)
    out = []
    for f in sorted(range(n_fam), key=lambda f: (f != best, -sign * point[f])):
        diff = _interval(
            sign * (point[best] - point[f]), sign * (per_seed[best] - per_seed[f]), sample_var(best, f), diff_level
        )
        shown_within = diff.high <= margin
        tied = f == best or n_seeds < MIN_SEEDS or diff.low <= 0 or shown_within
        equivalent = f == best or (n_seeds >= MIN_SEEDS and shown_within)
        score = _clipped(_interval(point[f], per_seed[f], sample_var(f), confidence), metric)
        out.append(Comparison(preds.families[f], score, diff, tied, equivalent, n_runs, n, n_seeds))
    return out


@dataclass
class Chance:
    level: float  # mean of the metric over label permutations: what predictions unrelated to the labels score
    q95: float  # the permutation distribution's 95th percentile (5th for loss)
    p_value: float  # (1 + #perm at least as good as observed) / (1 + n_perm)


def _permuted_values(metric: str, probs: np.ndarray, labels: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """`metric` of probs (n, C) against labels[perm] for every row of perms (P, n) -> (P,), all at once."""
    y = labels[perms]  # (P, n)
    n, n_classes = probs.shape
    if metric == "acc":
        return (probs.argmax(1) == y).mean(1)
    if metric == "loss":
        return -np.log(np.clip(probs[np.arange(n), y].astype(np.float64), _EPS, None)).mean(1)
    if metric == "macro_f1":
        cells = probs.argmax(1) * n_classes + y + n_classes**2 * np.arange(len(y))[:, None]  # (P, n)
        counts = np.bincount(cells.ravel(), minlength=len(y) * n_classes**2).reshape(len(y), -1)  # (P, C*C)
        return _macro_f1(counts, n_classes)
    ranks = _midranks(probs)  # (n, C) mid-ranks, so ties count half as in the weighted version
    total = np.zeros(len(y))
    for c in range(n_classes):
        pos = (y == c).astype(np.float64)  # (P, n)
        n_pos = pos.sum(1)
        total += _auc(pos @ ranks[:, c] - n_pos * (n_pos + 1) / 2, n_pos, n - n_pos)
    return total / n_classes


def _midranks(x: np.ndarray) -> np.ndarray:
    """x (n, C) -> ranks within each column (1 = lowest), ties sharing their mean rank: scipy.stats.rankdata(x,
    axis=0). A sample's mid-rank is (#below + #at-or-below + 1) / 2."""
    ranks = np.empty(x.shape)
    for c in range(x.shape[1]):
        ordered = np.sort(x[:, c])
        below = np.searchsorted(ordered, x[:, c], side="left")
        ranks[:, c] = (below + np.searchsorted(ordered, x[:, c], side="right") + 1) / 2
    return ranks


def chance(preds: Predictions, metric: str, family: str, *, n_perm: int = 200, seed: int = 0) -> Chance:
    """Permutation test for one family: labels of every task are permuted (same permutation for all runs), the
    metric (mean over runs) recomputed."""
    if family not in preds.families:
        raise ConfigError(f"unknown family {family!r}; known: {', '.join(preds.families)}")
    tasks, m, total = _parse(preds, metric)
    f = preds.families.index(family)
    n_runs, n = preds.probs[tasks[0]].shape[1:3]
    rng = np.random.default_rng(seed)
    values = []
    step = max(1, _CHUNK // n)
    for start in range(0, n_perm + 1, step):  # row 0 is the identity: the observed value
        rows = range(start, min(start + step, n_perm + 1))
        perms = np.stack([np.arange(n) if i == 0 else rng.permutation(n) for i in rows])  # (P, n)
        per_task = np.stack(
            [[_permuted_values(m, preds.probs[t][f, r], preds.labels[t], perms) for r in range(n_runs)] for t in tasks]
        )  # (T, R, P)
        values.append((per_task.sum(0) if total else per_task.mean(0)).mean(0))
    observed, null = np.concatenate(values)[0], np.concatenate(values)[1:]  # (), (n_perm,)
    higher = is_higher_better(metric)
    as_good = np.sum(null >= observed) if higher else np.sum(null <= observed)
    q95 = np.quantile(null, 0.95 if higher else 0.05)
    return Chance(level=float(null.mean()), q95=float(q95), p_value=float((1 + as_good) / (1 + n_perm)))


@dataclass
class Friedman:
    statistic: float
    p_value: float
    mean_ranks: dict[str, float]  # rank 1 = best
    critical_difference: float  # Nemenyi CD at alpha: two families whose mean ranks differ by more do differ


def _friedman_chi2(ranks: np.ndarray) -> float:
    """Friedman's chi-square from ranks (N, K), with scipy's correction for ties within a block."""
    n, k = ranks.shape
    ties = sum(float((c**3 - c).sum()) for c in (np.unique(row, return_counts=True)[1] for row in ranks))
    chi2 = 12 / (n * k * (k + 1)) * float(np.sum(ranks.sum(0) ** 2)) - 3 * n * (k + 1)
    return chi2 / (1 - ties / (n * k * (k * k - 1)))


def friedman(
    scores: np.ndarray, families: list[str], *, higher_is_better: bool = True, alpha: float = 0.05
) -> Friedman:
    """scores (N blocks, K families): do the families' ranks differ across blocks (tasks, datasets, folds)?
    K >= 3: scipy's Friedman test. K == 2: Friedman's test reduces to a sign test, so the p-value comes from the
    more powerful Wilcoxon signed-rank test, and the statistic is still Friedman's chi-square."""
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(families) or len(families) < 2 or len(scores) < 1:
        raise ConfigError(f"scores {scores.shape} for families {families}; expected (N >= 1 blocks, K >= 2 families)")
    n, k = scores.shape
    ranks = stats.rankdata(-scores if higher_is_better else scores, axis=1)  # (N, K), 1 = best, ties averaged
    if np.all(ranks == ranks[:, :1]):  # every block a full tie: nothing to test, and scipy would divide by zero
        statistic, p_value = 0.0, 1.0
    elif k == 2:
        statistic, p_value = _friedman_chi2(ranks), float(stats.wilcoxon(scores[:, 0], scores[:, 1]).pvalue)
    else:
        result = stats.friedmanchisquare(*scores.T)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf)
    cd = q / np.sqrt(2) * np.sqrt(k * (k + 1) / (6 * n))
    mean_ranks = {name: float(r) for name, r in zip(families, ranks.mean(0), strict=True)}
    return Friedman(statistic, p_value, mean_ranks, float(cd))
