"""One default fusion across several sweeps (datasets): regret per (dataset, task) block, ranks, Friedman test.

Each sweep is first recommended on its own (``rank.recommend``). A block is one task of one dataset; its score per
family is the confirmed validation mean of the task's metric. Regret is the block's best minus the family (what the
family gives up there), shown per block. The tasks of one dataset share their models, so they are not independent
evidence: the decision weighs datasets, not tasks. A family's mean regret is the mean over datasets of its mean
regret over the dataset's tasks, its rank per dataset is by its mean score over those tasks, and the default is the
family with the lowest mean regret. With 5 or more datasets a Friedman test over the ranks asks whether the
families differ at all; if it says so (p < 0.05), the Nemenyi critical difference (CD) tells which cannot be told
apart from the default (mean ranks within CD of the default's are tied). If it does not, or with fewer datasets,
families within ``margin`` of the lowest mean regret are tied: ranks that do not separate the families are no reason
to prefer one with a larger regret for its price. Among tied families ``prefer`` decides, as
for one sweep. Only families confirmed in every sweep compete, and every sweep must rank by the same kind of metric
(regrets in different units do not average).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sweeper.errors import ConfigError
from sweeper.recommend import stats
from sweeper.recommend.rank import Recommendation, recommend

MIN_BLOCKS_FOR_TEST = 5  # datasets
ALPHA = 0.05


@dataclass
class FamilySummary:
    fusion: str
    mean_regret: float  # mean over datasets of its mean regret over each dataset's tasks
    worst_regret: float  # over (dataset, task) blocks
    mean_rank: float  # over datasets, each ranked by the families' mean score over its tasks
    wins: int  # (dataset, task) blocks where it scores best (ties count for each)
    tied: bool  # cannot be told apart from the default
    parameters: float | None  # mean over sweeps
    train_s_per_epoch: float | None


@dataclass
class Across:
    default_fusion: str | None
    decided_by: str
    families: list[FamilySummary]  # by mean regret
    blocks: list[str]  # "sweep/task"
    regret: dict[str, dict[str, float]]  # family -> block -> regret
    dataset_winners: dict[str, str | None]  # sweep -> its own default
    friedman: stats.Friedman | None
    excluded: list[str]
    missing: dict[str, list[str]] = field(default_factory=dict)  # family -> sweeps where it was not confirmed
    sweeps: list[Recommendation] = field(default_factory=list)
    datasets: int = 0  # distinct datasets among the sweeps (sweeps of the same data count once)
    same_data: list[list[str]] = field(default_factory=list)  # groups of sweeps run on the same data

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sweeps"] = [r.to_dict() for r in self.sweeps]
        return out


def recommend_across(
    sweep_dirs: list[Path], *, prefer: str = "cheapest", margin: float = 0.01, **options: Any
) -> Across:
    """Recommend each sweep, then one default over every (sweep, task) block."""
    resolved = [Path(d).resolve() for d in sweep_dirs]
    twice = sorted({str(d) for d in sweep_dirs if resolved.count(Path(d).resolve()) > 1})
    if twice:
        raise ConfigError(f"sweep folder given more than once: {', '.join(twice)}; name each sweep once")
    recs = [recommend(d, prefer=prefer, margin=margin, **options) for d in sweep_dirs]
    names = _unique_names(recs, sweep_dirs)
    confirmed = {n: {f.fusion for f in r.fusions} for n, r in zip(names, recs, strict=True)}
    every = set.intersection(*confirmed.values()) if confirmed else set()
    order = [f.fusion for r in recs for f in r.fusions]
    families = [f for f in dict.fromkeys(order) if f in every]
    missing = {f: [n for n in names if f not in confirmed[n]] for f in dict.fromkeys(order) if f not in every}
    base = Across(None, "", [], [], {}, {n: r.default_fusion for n, r in zip(names, recs, strict=True)}, None,
                  sorted({e for r in recs for e in r.excluded}), missing, recs)  # fmt: skip
    group = _datasets(sweep_dirs)  # sweep index -> dataset index
    n_data = base.datasets = len(set(group))
    base.same_data = [[n for n, g in zip(names, group, strict=True) if g == d] for d in range(n_data)]
    base.same_data = [names_ for names_ in base.same_data if len(names_) > 1]
    if not families:
        base.decided_by = "no fusion family was confirmed in every sweep"
        return base
    _one_metric_kind(names, recs)
    blocks, scores, higher, sweep_of = _block_scores(names, recs, families)  # scores (N, K); sweep_of (N,)
    dataset_of = np.array(group)[sweep_of]
    oriented = np.where(higher, 1.0, -1.0)[:, None] * scores  # (N, K), higher is better in every block
    regret = oriented.max(axis=1, keepdims=True) - oriented  # (N, K), >= 0
    per_dataset = np.vstack([oriented[dataset_of == i].mean(0) for i in range(n_data)])  # (S, K)
    mean_regret = np.vstack([regret[dataset_of == i].mean(0) for i in range(n_data)]).mean(0)  # datasets alike
    ranks = np.vstack([_ranks(row) for row in per_dataset])  # (S, K), 1 = best
    order_k = sorted(range(len(families)), key=lambda k: (mean_regret[k], ranks[:, k].mean()))
    best = order_k[0]
    test = None
    if n_data >= MIN_BLOCKS_FOR_TEST and len(families) >= 2:
        test = stats.friedman(per_dataset, families, higher_is_better=True, alpha=ALPHA)
        if test.p_value < ALPHA:
            tied = [k for k in order_k if abs(ranks[:, k].mean() - ranks[:, best].mean()) < test.critical_difference]
            rule = (
                f"Friedman over {n_data} datasets p={test.p_value:.3g}; mean ranks within "
                f"CD={test.critical_difference:.2f} of the best"
            )
        else:
            tied = [k for k in order_k if mean_regret[k] - mean_regret[best] <= margin]
            rule = (
                f"Friedman over {n_data} datasets p={test.p_value:.3g} >= {ALPHA:g}, so ranks do not separate "
                f"the families; mean regret within {margin:g} of the lowest"
            )
    else:
        tied = [k for k in order_k if mean_regret[k] - mean_regret[best] <= margin]
        rule = f"fewer than {MIN_BLOCKS_FOR_TEST} datasets, no rank test; mean regret within {margin:g} of the lowest"
    costs = _costs(recs, families)
    summaries = [
        FamilySummary(
            fusion=families[k], mean_regret=float(mean_regret[k]), worst_regret=float(regret[:, k].max()),
            mean_rank=float(ranks[:, k].mean()), wins=int((regret[:, k] <= 1e-12).sum()), tied=k in tied,
            parameters=costs[families[k]][0], train_s_per_epoch=costs[families[k]][1],
        )
        for k in order_k
    ]  # fmt: skip
    base.families = summaries
    base.blocks = blocks
    base.regret = {families[k]: {b: float(regret[i, k]) for i, b in enumerate(blocks)} for k in order_k}
    base.friedman = test
    base.default_fusion, base.decided_by = _choose(summaries, prefer, rule)
    return base


def _choose(summaries: list[FamilySummary], prefer: str, rule: str) -> tuple[str, str]:
    tied = [s for s in summaries if s.tied]
    if len(tied) <= 1:
        return summaries[0].fusion, f"lowest mean regret, no other family tied ({rule})"
    names = ", ".join(s.fusion for s in tied)
    if prefer == "best-mean":
        return tied[0].fusion, f"tie among {names} ({rule}); --prefer best-mean: the lowest mean regret"
    inf = float("inf")
    pick = min(tied, key=lambda s: (s.parameters or inf, s.train_s_per_epoch or inf, tied.index(s)))
    return pick.fusion, f"tie among {names} ({rule}); --prefer cheapest: fewest parameters, then training time"


def _block_scores(
    names: list[str], recs: list[Recommendation], families: list[str]
) -> tuple[list, np.ndarray, list, np.ndarray]:
    """Per (sweep, task) block, every family's confirmed validation mean of the task's metric; also whether higher
    is better there, and the index of the sweep it comes from."""
    blocks, rows, higher, dataset_of = [], [], [], []
    for i, (name, rec) in enumerate(zip(names, recs, strict=True)):
        scores = {f.fusion: f.task_scores for f in rec.fusions}
        for task in rec.task_winners:
            blocks.append(f"{name}/{task.task}")
            rows.append([scores[f][task.task] for f in families])
            higher.append(not task.metric.endswith("loss"))
            dataset_of.append(i)
    return blocks, np.array(rows, dtype=float), higher, np.array(dataset_of)


def _datasets(sweep_dirs: list[Path]) -> list[int]:
    """Which dataset each sweep ran on (an index, in order of first appearance): sweeps whose specs have the same
    ``data`` section (a manifest's absolute path, or the built-in data's settings) are one dataset, not independent
    evidence."""
    import json

    from sweeper.recommend.rank import read_spec

    data = [read_spec(Path(d)).get("data") for d in sweep_dirs]
    # no data section (a sweep folder written by hand): nothing says two are the same
    keys = [json.dumps(x, sort_keys=True, default=str) if x else f"unknown {i}" for i, x in enumerate(data)]
    first = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    return [first[key] for key in keys]


def _one_metric_kind(names: list[str], recs: list[Recommendation]) -> None:
    """Regrets average only in one unit: every sweep's per-task metric must be of one kind (macro_f1, loss, ...)."""
    kinds = {
        name: sorted({t.metric.rpartition("/")[2] for t in rec.task_winners})
        for name, rec in zip(names, recs, strict=True)
        if rec.task_winners
    }
    if len({k for ks in kinds.values() for k in ks}) > 1:
        found = "; ".join(f"{name}: {', '.join(ks)}" for name, ks in kinds.items())
        raise ConfigError(
            f"the sweeps rank their tasks by different metrics ({found}); regrets in different units do not "
            "average: give --metric so that every sweep uses the same one"
        )


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(-values)  # ties get the average rank


def _costs(recs: list[Recommendation], families: list[str]) -> dict[str, tuple[float | None, float | None]]:
    out: dict[str, tuple[float | None, float | None]] = {}
    for family in families:
        found = [f for r in recs for f in r.fusions if f.fusion == family]
        params = [f.parameters for f in found if f.parameters is not None]
        times = [f.train_s_per_epoch for f in found if f.train_s_per_epoch is not None]
        out[family] = (float(np.mean(params)) if params else None, float(np.mean(times)) if times else None)
    return out


def _unique_names(recs: list[Recommendation], dirs: list[Path]) -> list[str]:
    names = [r.sweep for r in recs]
    if len(set(names)) < len(names):
        return [str(d) for d in dirs]
    return names
