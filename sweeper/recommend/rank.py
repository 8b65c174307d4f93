"""Turn one sweep's confirmed runs into a recommendation: ranking with CIs, ties, per-task winners and regret.

Only confirmation runs decide (``sweeper.tune.confirm``): every fusion family's best configuration re-trained with
several seeds. The objective and every per-task metric are recomputed from the runs' per-sample predictions, so the
intervals count both seed-to-seed noise and the finite validation set (``stats.compare``: a t interval over seeds
plus a paired bootstrap over samples). A family is *tied* with the best when it is not shown worse: their paired
difference's interval includes zero or lies within ``margin``, or there are fewer than 3 seeds. It is *equivalent*
when it is shown within ``margin`` of the best (the whole interval). Among tied families the default is chosen by a
named rule (``prefer``); ``cheapest`` chooses only among equivalent ones, so a cheaper family whose interval still
allows a large loss is not picked for its price. Test metrics are reported, never used to choose. A sweep that was
not confirmed gets the search table and no default.
"""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweeper.errors import ConfigError, RegistryError, SweepError
from sweeper.models.config import check_fusion_name
from sweeper.recommend import stats
from sweeper.recommend.evidence import Evidence, load_evidence
from sweeper.recommend.search import SearchSummary, summarise_search
from sweeper.recommend.sources import CONFIG_PREFIX, download_predictions, read_teacher, rows_from_mlflow
from sweeper.sweep_folder import held_by, read_tracking
from sweeper.tracking import default_tracking_uri, read_trials
from sweeper.tracking.parquet import FETCHED_FROM
from sweeper.tracking.predictions import PREDICTIONS_DIR

PREFER = ("cheapest", "best-mean")
DEFAULT_MARGIN = 0.01  # practical equivalence: differences within one point of the objective do not matter
CONFIDENCE = 0.95
TASK_METRICS = ("acc", "macro_f1", "auroc")  # reported on test for every task


@dataclass
class FamilyResult:
    fusion: str
    source_trial: str | None  # the search trial whose configuration was confirmed
    params: dict[str, Any]
    score: stats.Interval  # the objective on validation: mean over runs, CI
    diff: stats.Interval  # best minus this family, positive favours the best; simultaneous CI
    tied: bool  # not shown worse than the best (the best itself included)
    runs: int
    samples: int
    equivalent: bool = False  # shown within the margin of the best (the best itself included)
    seeds: int = 0  # training seeds behind its runs
    test: dict[str, stats.Interval] = field(default_factory=dict)  # "objective" and "<task>/<metric>" on test
    parameters: int | None = None
    train_s_per_epoch: float | None = None
    infer_ms: float | None = None
    task_scores: dict[str, float] = field(default_factory=dict)  # task -> validation mean of its metric
    fusion_parameters: int | None = None
    infer_us_per_sample: float | None = None
    peak_memory_mb: float | None = None
    attention: dict[str, float] = field(
        default_factory=dict
    )  # modality -> mean validation attention (attention fusions)


@dataclass
class TaskResult:
    task: str
    metric: str  # e.g. val/agree/macro_f1
    winner: str
    score: stats.Interval  # the winner's score on this task
    default_score: stats.Interval
    regret: stats.Interval  # winner minus default (positive: what the default gives up on this task)
    default_tied: bool  # the default is tied with the task's winner
    chance: float  # what predictions unrelated to the labels score (permutation mean)
    chance_p: float  # permutation p-value of the winner's score
    warning: str | None = None  # set when the winner does not clearly beat chance


@dataclass
class Recommendation:
    sweep: str
    metric: str
    mode: str
    default_fusion: str | None
    confirmed: bool  # False: no confirmation runs, so no default is named (the search table is shown)
    decided_by: str  # the rule that named the default, in words
    prefer: str
    margin: float
    confidence: float
    fusions: list[FamilyResult]  # best first
    tied: list[str]  # families tied with the best, the best first
    task_winners: list[TaskResult] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)  # "if your priority is <task>, use <fusion>"
    warnings: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # family -> why confirmation gave it no score
    excluded: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    folds: int | None = None
    limitations: list[str] = field(default_factory=list)
    search: SearchSummary | None = None
    teacher: dict[str, Any] | None = None  # a distillation sweep's teacher: params, epochs, parameters, score

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(
    sweep_dir: str | Path,
    *,
    metric: str | None = None,
    mode: str | None = None,
    exclude: list[str] | None = None,
    source: str = "parquet",
    tracking_uri: str | None = None,
    prefer: str = "cheapest",
    margin: float = DEFAULT_MARGIN,
    n_boot: int = 2000,
) -> Recommendation:
    """Read ``sweep_dir``'s results and recommend a default fusion by ``metric`` (default: the sweep's objective).

    ``source`` is "parquet" (the sweep's results folder) or "mlflow" (its runs in the sweep's own store, or in the
    store at ``tracking_uri``); both give the same recommendation.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise SweepError(f"sweep folder {str(sweep_dir)!r} does not exist")
    spec = read_spec(sweep_dir)
    if source == "mlflow":
        read_tracking(sweep_dir)  # a sweep folder moved since: its store's artifact URIs follow it (sweep_folder)
    objective = spec.get("objective", {})
    metric = metric or objective.get("metric", "val/mean_macro_f1")
    check_options(metric, mode, prefer, margin, exclude or [])
    mode = mode or (objective.get("mode", "max") if metric == objective.get("metric") else guess_mode(metric))
    rows = _rows(sweep_dir, spec, source, tracking_uri, objective.get("metric", metric))
    if rows and metric not in rows[0]:
        known = sorted(k for k in rows[0] if k.startswith("val/"))
        raise ConfigError(f"unknown metric {metric!r}; known: {', '.join(known)}")
    default_fusion = spec.get("model", {}).get("fusion", "concat")
    for row in rows:
        row["fusion"] = row.get(f"{CONFIG_PREFIX}fusion") or default_fusion
    exclude = list(exclude or [])
    rows = [r for r in rows if r["fusion"] not in exclude]
    sign = 1.0 if mode == "max" else -1.0
    search = summarise_search(rows, metric, sign)
    if source == "mlflow":  # the predictions too come from the runs' artifacts, not the sweep folder
        with tempfile.TemporaryDirectory() as folder:
            uri = tracking_uri or default_tracking_uri(sweep_dir)
            evidence = load_evidence(download_predictions(uri, rows, Path(folder)), rows, metric, sign)
    else:
        evidence = load_evidence(sweep_dir / PREDICTIONS_DIR, rows, metric, sign)
    base = Recommendation(
        sweep=spec.get("name", sweep_dir.name), metric=metric, mode=mode, default_fusion=None, confirmed=False,
        decided_by="", prefer=prefer, margin=margin, confidence=CONFIDENCE, fusions=[], tied=[],
        failed=evidence.failed, excluded=exclude, seeds=evidence.seeds, folds=evidence.folds, search=search,
        teacher=read_teacher(sweep_dir),
    )  # fmt: skip
    running = held_by(sweep_dir)  # a look at a sweep still running: from the runs finished so far
    if evidence.val is None:
        origin = sweep_dir / FETCHED_FROM  # a copy of a sweep's results in storage: confirm where it ran
        where = "<its sweep folder on the driver>" if origin.is_file() else shlex.quote(str(sweep_dir))
        if running:
            base.decided_by = (
                f"not confirmed yet: the sweep is still running in {running}, and no fusion family has finished "
                "confirmation runs to compare; recommend again when it ends"
            )
        elif evidence.failed:
            base.decided_by = (
                "not confirmed: no fusion family has confirmation runs that can be compared (each family's reason "
                "is listed)"
            )
        else:
            base.decided_by = (
                "not confirmed: no fusion family has confirmation runs yet, and a single-seed search score is no "
                "recommendation; run `sweeper confirm " + where + "`"
            )
        return base
    rec = _decide(base, evidence, metric.removeprefix("val/"), n_boot)
    if untried := _untried(spec, rows, exclude):
        rec.warnings.append(
            f"never tried by the search, so not compared: {', '.join(untried)} (the search ended before reaching "
            "them: raise budget.num_samples or budget.timeout_s)"
        )
    if running:
        rec.warnings.insert(
            0,
            f"the sweep is still running in {running}: this is from the runs finished so far; recommend again when it "
            "ends",
        )
    return rec


def _untried(spec: dict[str, Any], rows: list[dict[str, Any]], exclude: list[str]) -> list[str]:
    """The fusion families of the search space's ``fusion`` choice that no trial of the sweep ran."""
    fusion = (spec.get("parameters") or {}).get("fusion")
    values = fusion.get("values", []) if isinstance(fusion, dict) and fusion.get("type") == "choice" else []
    ran = {r["fusion"] for r in rows}
    return [str(v) for v in values if str(v) not in ran and str(v) not in exclude]


def _decide(rec: Recommendation, evidence: Evidence, name: str, n_boot: int) -> Recommendation:
    assert evidence.val is not None
    ranked = stats.compare(evidence.val, name, margin=rec.margin, confidence=rec.confidence, n_boot=n_boot)
    test = _test_table(evidence, name, n_boot)
    for c in ranked:
        cost = evidence.costs[c.family]
        rec.fusions.append(
            FamilyResult(
                fusion=c.family, source_trial=evidence.configs[c.family]["source_trial"],
                params=evidence.configs[c.family]["params"], score=c.score, diff=c.diff, tied=c.tied, runs=c.runs,
                samples=c.samples, equivalent=c.equivalent, seeds=c.seeds, test=test.get(c.family, {}),
                parameters=cost.parameters, train_s_per_epoch=cost.train_s_per_epoch, infer_ms=cost.infer_ms,
                fusion_parameters=cost.fusion_parameters, infer_us_per_sample=cost.infer_us_per_sample,
                peak_memory_mb=cost.peak_memory_mb, attention=cost.attention,
            )
        )  # fmt: skip
    rec.confirmed = True
    rec.tied = [f.fusion for f in rec.fusions if f.tied]
    rec.default_fusion, rec.decided_by = _choose(rec)
    rec.task_winners = _per_task(evidence, name, rec, n_boot)
    rec.priorities = [
        f"if your priority is {t.task}, use {t.winner}"
        + (" (tied with the default on it)" if t.default_tied else f" (the default gives up {t.regret.mean:.4f})")
        for t in rec.task_winners
        if t.winner != rec.default_fusion
    ]
    rec.warnings = [t.warning for t in rec.task_winners if t.warning]
    if rec.fusions[0].seeds < stats.MIN_SEEDS and len(rec.fusions) > 1:
        rec.warnings.insert(
            0,
            f"{rec.fusions[0].seeds} seed(s) per family: no family can be shown better than another; confirm with "
            f"at least {stats.MIN_SEEDS} (`sweeper confirm <sweep folder> --seeds 5`)",
        )
    objective_chance = stats.chance(evidence.val, name, rec.default_fusion)
    if objective_chance.p_value > 0.05:
        rec.warnings.insert(
            0,
            f"the default {rec.default_fusion} does not clearly beat chance on {rec.metric} (chance "
            f"{objective_chance.level:.4f}, permutation p={objective_chance.p_value:.2f}): "
            + _hint(evidence, rec.default_fusion),
        )
    rec.limitations = _limitations(rec, evidence)
    return rec


def _choose(rec: Recommendation) -> tuple[str, str]:
    """The default and the rule that named it: the clear winner, or the preferred family among the tied."""
    best = rec.fusions[0]
    if len(rec.fusions) == 1:
        return best.fusion, "only one fusion family was confirmed"
    if best.seeds < stats.MIN_SEEDS:
        return best.fusion, (
            f"provisional: {best.fusion} has the highest mean, but with {best.seeds} seed"
            f"{'' if best.seeds == 1 else 's'} per family the seed-to-seed noise is not known well enough to show any "
            f"family better than another (it takes {stats.MIN_SEEDS}); confirm with more seeds"
        )
    tied = [f for f in rec.fusions if f.tied]
    if len(tied) == 1:
        return best.fusion, (
            f"clear winner: {best.fusion} beats every other family (their paired {rec.confidence:.0%} intervals "
            f"exclude zero and the {rec.margin:g} margin)"
        )
    names = ", ".join(f.fusion for f in tied)
    if rec.prefer == "best-mean":
        return best.fusion, f"tie among {names}; --prefer best-mean: the highest mean"
    equivalent = [f for f in tied if f.equivalent]
    unsettled = [f for f in tied if not f.equivalent]
    inf = float("inf")
    cheapest = min(equivalent, key=lambda f: (f.parameters or inf, f.train_s_per_epoch or inf, equivalent.index(f)))
    rule = f"tie among {names}; --prefer cheapest: fewest parameters, then training time"
    if not unsettled:
        return cheapest.fusion, rule
    open_ = ", ".join(f"{f.fusion}: up to {f.diff.high:.4f} worse" for f in unsettled)
    if len(equivalent) == 1:
        return best.fusion, (
            f"tie among {names}, but no other family is shown within the {rec.margin:g} margin of {best.fusion}, the "
            f"highest mean ({open_}); --prefer cheapest does not trade that for cost. More seeds or samples would "
            "settle it"
        )
    among = ", ".join(f.fusion for f in equivalent)
    return cheapest.fusion, (
        f"{rule}, among those shown within the {rec.margin:g} margin of {best.fusion} ({among}); not the unsettled "
        f"({open_}), whose intervals still allow a larger loss"
    )


def _per_task(evidence: Evidence, name: str, rec: Recommendation, n_boot: int) -> list[TaskResult]:
    """Per task: the winner with its CI, the default's regret against it, and whether the winner beats chance."""
    assert evidence.val is not None
    kind = _task_metric(name)
    families = {f.fusion: f for f in rec.fusions}
    out = []
    for task in evidence.val.tasks:
        metric = f"{task}/{kind}"
        ranked = stats.compare(evidence.val, metric, margin=rec.margin, n_boot=n_boot)
        for c in ranked:
            families[c.family].task_scores[task] = c.score.mean
        winner = ranked[0]
        mine = next(c for c in ranked if c.family == rec.default_fusion)
        luck = stats.chance(evidence.val, metric, winner.family)
        warning = None
        if luck.p_value > 0.05:
            warning = (
                f"{task}: the winner {winner.family} does not clearly beat chance ({kind} {winner.score.mean:.4f} vs "
                f"chance {luck.level:.4f}, permutation p={luck.p_value:.2f}): {_hint(evidence, winner.family)}"
            )
        out.append(
            TaskResult(
                task=task, metric=f"val/{metric}", winner=winner.family, score=winner.score,
                default_score=mine.score, regret=mine.diff, default_tied=mine.tied, chance=luck.level,
                chance_p=luck.p_value, warning=warning,
            )
        )  # fmt: skip
    return out


def _test_table(evidence: Evidence, name: str, n_boot: int) -> dict[str, dict[str, stats.Interval]]:
    """Per family: the objective and every task's acc, macro-F1 and AUROC on test, mean and CI. Never used to choose."""
    if evidence.test is None:
        return {}
    table: dict[str, dict[str, stats.Interval]] = {f: {} for f in evidence.families}
    metrics = [("objective", name)] + [(f"{t}/{m}", f"{t}/{m}") for t in evidence.test.tasks for m in TASK_METRICS]
    for key, metric in metrics:
        for c in stats.compare(evidence.test, metric, n_boot=max(200, n_boot // 2), groups=evidence.test_groups):
            table[c.family][key] = c.score
    return table


def _hint(evidence: Evidence, family: str) -> str:
    """The likely cause of a score at chance, from what the family's runs reported."""
    rows = evidence.rows.get(family, [])
    lr = next((r.get(f"{CONFIG_PREFIX}lr") for r in rows if r.get(f"{CONFIG_PREFIX}lr") is not None), None)
    assert evidence.val is not None
    index = evidence.val.families.index(family)
    single = all(len(set(evidence.val.probs[t][index].argmax(-1).ravel().tolist())) == 1 for t in evidence.val.tasks)
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss") is not None]
    if single:
        return (
            "it predicts one class for every sample: the learning rate"
            + (f" ({lr:g})" if lr else "")
            + " may have diverged or be too low, or training is too short"
        )
    if losses and max(losses) > 10:
        return f"its training loss ended at {max(losses):.3g}: the learning rate may have diverged"
    return "the modalities may carry no signal for this task, or the budget (max_epochs) is too short"


def _sample_method(n: int) -> str:
    if n > stats.BOOTSTRAP_MAX_SAMPLES:
        return f"the delta method over samples (above {stats.BOOTSTRAP_MAX_SAMPLES:,} samples, for speed)"
    return "a paired bootstrap over samples"


def _limitations(rec: Recommendation, evidence: Evidence) -> list[str]:
    assert evidence.val is not None
    n_val = evidence.val.labels[evidence.val.tasks[0]].shape[0]
    n_test = evidence.test.labels[evidence.test.tasks[0]].shape[0] if evidence.test is not None else 0
    where = f"{evidence.folds}-fold cross-validation over train+val ({n_val} out-of-fold samples per seed)"
    lines = [
        f"{len(evidence.seeds)} seeds per family; "
        + (where if evidence.folds else f"{n_val} validation samples")
        + f"; {n_test} test samples",
        f"intervals: {rec.confidence:.0%}, a t interval over seeds plus {_sample_method(n_val)}; differences "
        f"with the best are simultaneous (Bonferroni over {max(len(rec.fusions) - 1, 1)} comparisons); margin "
        f"{rec.margin:g}",
        "each family is represented by one configuration from the search; another configuration of a tied family "
        "may do better",
    ]
    if not evidence.folds:
        lines.append(
            "the confirmation scores the validation samples that the search chose its configurations on: new seeds "
            "remove seed luck, not the fit of a configuration to those samples, so validation scores lean optimistic "
            "(the test table does not; cross-validation, `confirm.folds`, spreads the choice over every sample)"
        )
    if evidence.dropped_runs:
        lines.append(f"{evidence.dropped_runs} runs left out: their seed is missing for another family")
    if several := sorted(f for f, n in evidence.choices.items() if n > 1):
        lines.append(
            f"{', '.join(several)}: several configurations were confirmed, and the best of them was chosen on the same "
            "runs that score it; its interval does not count that choice, so it is slightly optimistic"
        )
    return lines


def check_options(metric: str, mode: str | None, prefer: str, margin: float, exclude: list[str]) -> None:
    """One-line errors for the options every recommendation takes."""
    if metric.startswith("test/"):
        raise ConfigError(
            f"cannot select on {metric!r}: selection uses validation only; test metrics are reported, never used to "
            "choose (use the val/ metric of the same name)"
        )
    if mode not in (None, "max", "min"):
        raise ConfigError(f"mode must be 'max' or 'min', but got {mode!r}")
    if mode is not None and mode != guess_mode(metric):
        raise ConfigError(
            f"mode {mode!r} contradicts metric {metric!r}, which is {guess_mode(metric)}imised "
            "(metrics named ...loss are minimised, the others maximised)"
        )
    if prefer not in PREFER:
        raise ConfigError(f"prefer must be one of {', '.join(PREFER)}, but got {prefer!r}")
    if not margin >= 0:
        raise ConfigError(f"margin must be >= 0, but got {margin!r}")
    if not exclude:
        return
    for name in exclude:
        try:
            check_fusion_name(name)
        except RegistryError as exc:
            raise ConfigError(f"--exclude: {exc}") from None


def _task_metric(name: str) -> str:
    """The per-task metric that goes with an objective: mean_macro_f1 -> macro_f1, agree/auroc -> auroc."""
    if name == "loss":
        return "loss"
    return name.removeprefix("mean_") if name.startswith("mean_") else name.rpartition("/")[2]


def _rows(sweep_dir: Path, spec: dict[str, Any], source: str, tracking_uri: str | None, objective: str) -> list:
    if source == "parquet":
        return list(read_trials(sweep_dir).to_pylist())
    if source == "mlflow":
        uri = tracking_uri or default_tracking_uri(sweep_dir)
        return rows_from_mlflow(uri, spec.get("name", sweep_dir.name), objective)
    raise ConfigError(f"source must be 'parquet' or 'mlflow', but got {source!r}")


def guess_mode(metric: str) -> str:
    return "min" if metric.endswith("loss") else "max"


def read_spec(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / "spec.yaml"
    if not path.is_file():
        raise SweepError(f"{str(sweep_dir)!r} is not a sweep folder: spec.yaml is missing")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:  # hand-edited, or not written by sweeper
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", exc)
        raise SweepError(f"{str(path)!r} is not valid YAML{where}: {problem}; it should be the sweep's spec") from None
    return data if isinstance(data, dict) else {}
