"""Statistics for picking a family: metrics match torchmetrics, weights act as repeated samples, the paired
two-level bootstrap separates clear winners from ties, and the permutation and Friedman tests behave."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats
from torch.nn import functional as F
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_auroc, multiclass_f1_score

from sweeper.errors import ConfigError, DataError
from sweeper.recommend import stats
from sweeper.recommend.stats import (
    METRICS,
    Interval,
    Predictions,
    _permuted_values,
    chance,
    compare,
    friedman,
    linearized,
    metric_values,
    objective,
)


def random_case(n_classes: int, n: int, variant: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """probs (n, C) float32 with rows summing to one, labels (n,) int64."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    if variant == "ties":  # rows drawn from a pool of 4, so many scores tie exactly, across classes too
        pool = rng.dirichlet(np.ones(n_classes), 4)
        probs = pool[rng.integers(0, 4, n)]
    else:
        probs = rng.dirichlet(np.ones(n_classes), n) + 0.5 * np.eye(n_classes)[labels]
        if variant == "never_predicted":  # the last class never wins the argmax
            probs[:, -1] = 0.01
        if variant == "absent_label":  # the last class has no positive sample (its AUROC is 0 in torchmetrics)
            labels[labels == n_classes - 1] = 0
    probs = probs / probs.sum(1, keepdims=True)
    return probs.astype(np.float32), labels


def torchmetrics_value(metric: str, probs: np.ndarray, labels: np.ndarray) -> float:
    p, y, c = torch.from_numpy(probs), torch.from_numpy(labels), probs.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about classes without positives
        if metric == "acc":
            return multiclass_accuracy(p, y, num_classes=c, average="micro").item()
        if metric == "macro_f1":
            return multiclass_f1_score(p, y, num_classes=c, average="macro").item()
        if metric == "auroc":
            return multiclass_auroc(p, y, num_classes=c, average="macro").item()
    return F.cross_entropy(torch.log(p.double()), y).item()


@pytest.mark.parametrize("variant", ["plain", "never_predicted", "ties", "absent_label"])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("metric", METRICS)
def test_plain_metric_matches_torchmetrics(metric: str, n_classes: int, variant: str) -> None:
    probs, labels = random_case(n_classes, 300, variant)
    got = metric_values(metric, probs, labels, np.ones((1, len(labels))))
    assert got.shape == (1,)
    assert got[0] == pytest.approx(torchmetrics_value(metric, probs, labels), abs=2e-6)


def test_cases_exercise_what_they_claim() -> None:
    probs, labels = random_case(4, 300, "never_predicted")
    assert 3 not in probs.argmax(1) and 3 in labels
    probs, labels = random_case(4, 300, "absent_label")
    assert 3 not in labels
    probs, _ = random_case(4, 300, "ties")
    assert len(np.unique(probs[:, 0])) <= 4


def test_macro_f1_leaves_out_a_class_absent_from_predictions_and_labels() -> None:
    probs, labels = random_case(3, 300, "never_predicted")
    labels[labels == 2] = 0
    per_class = multiclass_f1_score(torch.from_numpy(probs), torch.from_numpy(labels), num_classes=3, average="none")
    f1 = metric_values("macro_f1", probs, labels, np.ones((1, 300)))[0]
    assert f1 == pytest.approx(per_class[:2].mean().item(), abs=2e-6)  # the mean of two classes, not three


@pytest.mark.parametrize("variant", ["plain", "ties"])
@pytest.mark.parametrize("metric", METRICS)
def test_integer_weights_equal_repeated_samples(metric: str, variant: str) -> None:
    probs, labels = random_case(3, 200, variant, seed=1)
    weights = np.random.default_rng(2).integers(0, 4, size=(3, 200))  # (B, n)
    got = metric_values(metric, probs, labels, weights)
    repeated = [metric_values(metric, probs.repeat(w, 0), labels.repeat(w), np.ones((1, w.sum())))[0] for w in weights]
    np.testing.assert_allclose(got, repeated, rtol=1e-12, atol=1e-12)
    # float32 counts, as the bootstrap draws them, give the same values
    np.testing.assert_allclose(metric_values(metric, probs, labels, weights.astype(np.float32)), got, atol=1e-6)


@pytest.mark.parametrize("variant", ["plain", "never_predicted", "ties", "absent_label"])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("metric", METRICS)
def test_linearized_is_the_metric_and_its_derivative(metric: str, n_classes: int, variant: str) -> None:
    """Weights 1 + eps x v for random directions v: the metric moves by eps x (influence . v), to first order."""
    probs, labels = random_case(n_classes, 300, variant, seed=3)
    value, grad = linearized(metric, probs, labels)
    eps = 1e-6
    directions = np.random.default_rng(4).normal(size=(5, len(labels)))
    moved = metric_values(metric, probs, labels, np.vstack([np.ones(len(labels)), 1 + eps * directions]))
    assert value == pytest.approx(moved[0], abs=1e-12)
    np.testing.assert_allclose((moved[1:] - moved[0]) / eps, directions @ grad, rtol=1e-4, atol=1e-7)
    assert abs(grad.sum()) < 1e-9  # scaling every weight alike leaves each metric where it is


@pytest.mark.parametrize("metric", ["acc", "macro_f1", "auroc", "loss"])
def test_delta_method_variance_matches_the_bootstrap(metric: str) -> None:
    """At the size where compare switches to the delta method, its sample variance is the bootstrap's: for one
    family's score and for a paired difference, within the bootstrap's own noise (2,000 draws: about 3% of a
    variance, so 10% is over three of its standard errors)."""
    n = 5000
    probs_a, labels = random_case(3, n, "plain", seed=5)
    probs_b, _ = random_case(3, n, "plain", seed=6)
    noise = np.random.default_rng(7).dirichlet(np.ones(3), n).astype(np.float32)
    probs_b = 0.5 * probs_a + 0.3 * probs_b + 0.2 * noise  # correlated with a, as two fusions of one data set are
    draws = np.random.default_rng(8).multinomial(n, np.full(n, 1 / n), size=2000)  # (B, n) bootstrap counts
    boot_a, boot_b = (metric_values(metric, p, labels, draws) for p in (probs_a, probs_b))
    grad_a, grad_b = linearized(metric, probs_a, labels)[1], linearized(metric, probs_b, labels)[1]
    assert n * np.var(grad_a) == pytest.approx(np.var(boot_a, ddof=1), rel=0.1)
    assert n * np.var(grad_a - grad_b) == pytest.approx(np.var(boot_a - boot_b, ddof=1), rel=0.1)


def test_compare_above_the_bootstrap_size_uses_the_delta_method(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same comparison, bootstrap and delta method: the same points, intervals that agree closely."""
    preds = make_preds({"a": [0.80, 0.82, 0.81], "b": [0.78, 0.80, 0.79], "c": [0.70, 0.71, 0.72]}, n=4000)
    boot = compare(preds, "y/auroc", n_boot=2000)
    monkeypatch.setattr(stats, "BOOTSTRAP_MAX_SAMPLES", 1000)
    delta = compare(preds, "y/auroc", n_boot=2000)
    assert [c.family for c in delta] == [c.family for c in boot] and [c.tied for c in delta] == [c.tied for c in boot]
    for d, b in zip(delta, boot, strict=True):
        assert d.score.mean == pytest.approx(b.score.mean, abs=1e-12)
        assert d.diff.mean == pytest.approx(b.diff.mean, abs=1e-12)
        assert width(d.score) == pytest.approx(width(b.score), rel=0.05)
        assert width(d.diff) == pytest.approx(width(b.diff), rel=0.05, abs=1e-12)


def family_probs(correct: np.ndarray, labels: np.ndarray, n_classes: int = 2, confidence: float = 0.9) -> np.ndarray:
    """Probs (R, n, C) that put `confidence` on the label where correct (R, n) holds, else on the next class."""
    target = np.where(correct, labels, (labels + 1) % n_classes)  # (R, n)
    probs = np.full((*target.shape, n_classes), (1 - confidence) / (n_classes - 1))
    np.put_along_axis(probs, target[..., None], confidence, axis=-1)
    return probs.astype(np.float32)


def make_preds(accuracies: dict[str, list[float]], n: int, seed: int = 0) -> Predictions:
    """One binary task; family -> the accuracy of each of its runs (which samples are right is random)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    probs = [family_probs(rng.random((len(accs), n)) < np.array(accs)[:, None], labels) for accs in accuracies.values()]
    return Predictions(list(accuracies), ["y"], {"y": labels}, {"y": np.stack(probs)})


def test_identical_families_are_tied_with_zero_difference() -> None:
    preds = make_preds({"a": [0.8, 0.7, 0.9]}, n=300)
    twin = preds.probs["y"]
    preds = Predictions(["a", "b"], ["y"], preds.labels, {"y": np.concatenate([twin, twin])})
    result = compare(preds, "y/acc", n_boot=300)
    assert [c.tied for c in result] == [True, True]
    assert result[1].diff == Interval(0.0, 0.0, 0.0)
    assert result[0].score == result[1].score


def test_clearly_better_family_comes_first_and_is_not_tied() -> None:
    preds = make_preds({"worse": [0.6, 0.6, 0.6], "better": [0.95, 0.95, 0.95]}, n=500)
    best, other = compare(preds, "y/acc", n_boot=500)
    assert (best.family, best.tied, best.runs, best.samples) == ("better", True, 3, 500)
    assert best.score.low < best.score.mean < best.score.high
    assert not other.tied
    assert 0 < other.diff.low < other.diff.mean < other.diff.high
    assert other.diff.mean == pytest.approx(best.score.mean - other.score.mean)


def test_loss_ranks_the_lowest_loss_first() -> None:
    preds = make_preds({"worse": [0.6, 0.6, 0.6], "better": [0.95, 0.95, 0.95]}, n=500)
    best, other = compare(preds, "loss", n_boot=300)
    assert best.family == "better" and best.score.mean < other.score.mean
    assert other.diff.mean == pytest.approx(other.score.mean - best.score.mean)  # this - best: positive
    assert not other.tied and other.diff.low > 0


def test_margin_ties_a_small_real_difference() -> None:
    preds = make_preds({"a": [0.80] * 3, "b": [0.78] * 3}, n=20_000)
    _, strict = compare(preds, "y/acc", n_boot=300)
    _, lenient = compare(preds, "y/acc", n_boot=300, margin=0.05)
    assert strict.diff.low > 0 and not strict.tied and not strict.equivalent
    assert lenient.tied and lenient.equivalent and lenient.diff == strict.diff


def test_a_difference_not_shown_within_the_margin_is_tied_but_not_equivalent() -> None:
    """Few samples: b may be as good as a, or much worse. Not shown worse (tied), not shown the same (equivalent)."""
    preds = make_preds({"a": [0.80] * 3, "b": [0.78] * 3}, n=200)
    _, b = compare(preds, "y/acc", n_boot=500, margin=0.01)
    assert b.diff.low <= 0 < 0.01 < b.diff.high
    assert b.tied and not b.equivalent


def test_below_three_seeds_no_family_is_shown_better() -> None:
    """Two seeds estimate the seed-to-seed spread with one degree of freedom: too unsure to call a winner."""
    preds = make_preds({"worse": [0.6, 0.6], "better": [0.95, 0.95]}, n=2000)
    best, other = compare(preds, "y/acc", n_boot=300)
    assert (best.family, best.seeds, other.seeds) == ("better", 2, 2)
    assert other.diff.low > 0  # the interval alone would call it
    assert other.tied and not other.equivalent


def test_equal_families_are_declared_different_at_most_at_the_nominal_rate() -> None:
    """Equal families whose scores differ mostly by seed, three seeds each (a paired sample noise that cancels).

    A percentile bootstrap over the three seeds declared a winner in 18.5% of such comparisons; a t interval over
    seeds holds about 5% (``benchmarks/interval_calibration.py``)."""
    rng = np.random.default_rng(0)
    n, sims, declared = 500, 150, 0
    labels = np.zeros(n, np.int64)
    for s in range(sims):
        difficulty = rng.random(n)  # the same hard samples for both families
        correct = difficulty[None, None, :] < 0.8 + rng.normal(0, 0.01, size=(2, 3, 1))  # (F, R, n)
        probs = np.stack([family_probs(c, labels) for c in correct])
        result = compare(Predictions(["a", "b"], ["y"], {"y": labels}, {"y": probs}), "y/acc", n_boot=200, seed=s)
        declared += not result[1].tied
    assert declared / sims <= 0.10, f"{declared} of {sims} comparisons of equal families declared a winner"


def test_runs_of_one_seed_count_as_one_seed() -> None:
    """Test predictions: a seed's folds are separate runs; the seed spread is that of the seeds' means."""
    preds = make_preds({"a": [0.7, 0.72, 0.8, 0.82, 0.9, 0.92], "b": [0.7] * 6}, n=1000)
    grouped = compare(preds, "y/acc", n_boot=300, groups=[1, 1, 2, 2, 3, 3])
    assert {c.runs for c in grouped} == {6} and {c.seeds for c in grouped} == {3}
    alone = compare(preds, "y/acc", n_boot=300)
    a_grouped, a_alone = (next(c.score for c in r if c.family == "a") for r in (grouped, alone))
    assert a_grouped.mean == a_alone.mean and width(a_grouped) > width(a_alone)
    with pytest.raises(ValueError, match="one seed per run"):
        compare(preds, "y/acc", n_boot=300, groups=[1, 2])


def test_a_resample_without_a_class_leaves_it_out_of_the_auroc_mean() -> None:
    """A rare class missing from one bootstrap draw: that draw's macro AUROC is the mean over the other classes,
    not dragged down by a 0 for the missing one."""
    probs, labels = random_case(3, 300, "plain", seed=2)
    labels[labels == 2] = 0
    labels[:3] = 2  # 3 samples of the rare class
    weights = np.ones((1, len(labels)))
    weights[0, :3] = 0  # a draw without them
    kept = slice(3, None)
    expected = np.mean([torchmetrics_value("auroc", _binary(probs[kept], c), (labels[kept] == c).astype(int))
                        for c in (0, 1)])  # fmt: skip
    assert metric_values("auroc", probs, labels, weights)[0] == pytest.approx(expected, abs=1e-6)
    # with every sample, the plain metric, as torchmetrics has it
    assert metric_values("auroc", probs, labels, np.ones((1, len(labels))))[0] == pytest.approx(
        torchmetrics_value("auroc", probs, labels), abs=1e-6
    )


def _binary(probs: np.ndarray, c: int) -> np.ndarray:
    """One-vs-rest probabilities (n, 2) for class c."""
    return np.stack([1 - probs[:, c], probs[:, c]], axis=1)


def test_single_family() -> None:
    (only,) = compare(make_preds({"solo": [0.7, 0.8]}, n=100), "mean_auroc", n_boot=100)
    assert only.family == "solo" and only.tied and only.diff == Interval(0.0, 0.0, 0.0)
    assert only.score.low <= only.score.mean <= only.score.high


def width(interval: Interval) -> float:
    return interval.high - interval.low


def test_interval_counts_seed_noise() -> None:
    """Same mean accuracy; runs that disagree widen the interval, even on the same samples."""
    preds = make_preds({"steady": [0.8] * 5, "erratic": [0.6, 0.7, 0.8, 0.9, 1.0]}, n=2000)
    by_family = {c.family: c.score for c in compare(preds, "y/acc", n_boot=500)}
    assert width(by_family["erratic"]) > 3 * width(by_family["steady"])


def test_a_score_interval_stays_within_the_metric_range() -> None:
    """Seeds at 0.55 and 1.0: the t interval around their mean would reach past 1."""
    preds = make_preds({"erratic": [0.55, 1.0, 1.0]}, n=300)
    (only,) = compare(preds, "y/acc", n_boot=300)
    assert only.score.high == 1.0 and 0.0 <= only.score.low < only.score.mean


def test_interval_counts_sample_noise() -> None:
    small = compare(make_preds({"a": [0.8] * 3}, n=200), "y/acc", n_boot=500)[0].score
    large = compare(make_preds({"a": [0.8] * 3}, n=5000), "y/acc", n_boot=500)[0].score
    assert width(large) < width(small) / 2


def test_compare_is_deterministic_for_a_seed() -> None:
    preds = make_preds({"a": [0.7, 0.8], "b": [0.75, 0.7]}, n=300)
    assert compare(preds, "mean_auroc", n_boot=200, seed=3) == compare(preds, "mean_auroc", n_boot=200, seed=3)
    assert compare(preds, "mean_auroc", n_boot=200, seed=3) != compare(preds, "mean_auroc", n_boot=200, seed=4)


def two_task_preds(seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    n, runs = 150, 3
    labels = {"binary": rng.integers(0, 2, n), "triple": rng.integers(0, 3, n)}
    probs = {
        t: rng.dirichlet(np.ones(c), size=(2, runs, n)).astype(np.float32) for t, c in [("binary", 2), ("triple", 3)]
    }
    return Predictions(["f", "g"], ["binary", "triple"], labels, probs)


def expected_objective(preds: Predictions, task: str, m: str, weights: np.ndarray) -> np.ndarray:
    """(F, R, B) by hand: metric_values per family and run."""
    return np.array([[metric_values(m, p, preds.labels[task], weights) for p in fam] for fam in preds.probs[task]])


def test_objective_combines_tasks_for_every_run() -> None:
    preds = two_task_preds()
    rng = np.random.default_rng(5)
    weights = rng.integers(0, 3, size=(4, 150))  # (B, n)
    per_task = {t: {m: expected_objective(preds, t, m, weights) for m in METRICS} for t in preds.tasks}
    mean_f1 = (per_task["binary"]["macro_f1"] + per_task["triple"]["macro_f1"]) / 2
    total_loss = per_task["binary"]["loss"] + per_task["triple"]["loss"]
    np.testing.assert_allclose(objective(preds, "mean_macro_f1", weights), mean_f1, rtol=1e-12)
    np.testing.assert_allclose(objective(preds, "loss", weights), total_loss, rtol=1e-12)
    np.testing.assert_allclose(objective(preds, "triple/auroc", weights), per_task["triple"]["auroc"], rtol=1e-12)
    assert objective(preds, "mean_macro_f1", weights).shape == (2, 3, 4)


def perfect_preds(n: int = 400) -> Predictions:
    labels = np.tile([0, 1], n // 2)  # balanced
    probs = family_probs(np.ones((2, n), bool), labels)  # 2 runs, always right
    return Predictions(["perfect"], ["y"], {"y": labels}, {"y": probs[None]})


@pytest.mark.parametrize("metric", ["y/acc", "mean_auroc", "loss"])
def test_chance_rejects_perfect_predictions(metric: str) -> None:
    result = chance(perfect_preds(), metric, "perfect", n_perm=200)
    assert result.p_value < 0.01
    expected_level = {"y/acc": 0.5, "mean_auroc": 0.5, "loss": -np.log(0.9) / 2 - np.log(0.1) / 2}[metric]
    assert result.level == pytest.approx(expected_level, abs=0.02)
    assert (result.q95 > result.level) == (metric != "loss")


def test_chance_keeps_random_predictions() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 400)
    probs = rng.dirichlet(np.ones(2), size=(1, 2, 400)).astype(np.float32)
    preds = Predictions(["random"], ["y"], {"y": labels}, {"y": probs})
    result = chance(preds, "y/acc", "random", n_perm=200)
    assert result.p_value > 0.1
    assert result.level == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("metric", METRICS)
def test_permuted_values_equal_metric_on_permuted_labels(metric: str) -> None:
    """chance() scores all permutations at once; each must equal the plain metric on permuted labels."""
    probs, labels = random_case(3, 120, "ties", seed=4)
    perms = np.stack([np.random.default_rng(i).permutation(120) for i in range(5)])
    expected = [metric_values(metric, probs, labels[p], np.ones((1, 120)))[0] for p in perms]
    np.testing.assert_allclose(_permuted_values(metric, probs, labels, perms), expected, rtol=1e-9)


def test_friedman_finds_a_family_best_in_every_block() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((10, 4))
    scores[:, 2] = scores.max(1) + 0.1
    result = friedman(scores, ["a", "b", "c", "d"])
    assert result.mean_ranks["c"] == 1.0
    assert result.p_value < 0.05
    assert result.statistic == pytest.approx(scipy_stats.friedmanchisquare(*scores.T).statistic)
    # Demšar (2006), table 5: q_0.05 = 2.569 for four classifiers
    assert result.critical_difference == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 10)), abs=1e-3)
    flipped = friedman(scores, ["a", "b", "c", "d"], higher_is_better=False)
    assert flipped.mean_ranks["c"] == 4.0


def test_friedman_with_two_families_uses_wilcoxon() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(12)
    b = a + np.where(np.arange(12) < 9, 0.1, -0.05)  # b wins 9 blocks, loses 3
    result = friedman(np.stack([a, b], 1), ["a", "b"])
    assert result.statistic == pytest.approx((9 - 3) ** 2 / 12)  # Friedman's chi-square for K = 2
    assert result.p_value == pytest.approx(scipy_stats.wilcoxon(a, b).pvalue)
    assert result.mean_ranks == {"a": pytest.approx(1 + 9 / 12), "b": pytest.approx(1 + 3 / 12)}


def test_friedman_all_tied_is_not_significant() -> None:
    result = friedman(np.ones((5, 3)), ["a", "b", "c"])
    assert (result.statistic, result.p_value) == (0.0, 1.0)


def test_unknown_metric_names_the_value_and_the_known_ones() -> None:
    probs, labels = random_case(2, 10, "plain")
    with pytest.raises(ConfigError) as info:
        metric_values("accuracy", probs, labels, np.ones((1, 10)))
    assert str(info.value) == "unknown metric 'accuracy'; known: acc, macro_f1, auroc, loss"
    with pytest.raises(ConfigError, match=r"unknown objective 'val/mean_acc'.*task in binary, triple"):
        compare(two_task_preds(), "val/mean_acc")


def test_predictions_reject_misaligned_shapes() -> None:
    labels = np.zeros(10, dtype=np.int64)
    with pytest.raises(DataError, match=r"task 'y': probs \(2, 3, 9, 2\) and labels \(10,\); expected"):
        Predictions(["a", "b"], ["y"], {"y": labels}, {"y": np.zeros((2, 3, 9, 2), np.float32)})
    with pytest.raises(DataError, match=r"labels span \[0, 5\]; expected \[0, 2\)"):
        Predictions(["a"], ["y"], {"y": np.arange(6)}, {"y": np.zeros((1, 1, 6, 2), np.float32)})
