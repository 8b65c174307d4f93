"""The confirmation stage: the best configuration of every fusion family, re-trained at full budget with k seeds.

The search (Optuna + ASHA) finds good configurations cheaply, but one seed's score of one configuration moves by
about a point from seed to seed, and ASHA may stop every trial of a family early. Confirmation therefore takes, per
fusion family, its best finished configuration (or, when ASHA stopped them all, the one that got furthest, best
score first), and re-trains it at the full budget once per seed (x fold on small data) as a plain Ray Tune grid: no
Optuna, no ASHA. Only these runs decide a recommendation; each keeps its per-sample predictions for the paired
bootstrap in ``sweeper.recommend``.

Seeds start at ``confirm.first_seed`` (1000), apart from the search's training seed, so the run that made a
configuration look best is not counted again (a winner's curse). The seed sets model initialisation and batch order,
and on small data also the fold partition (repeated stratified k-fold over train+val; test is never touched).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.data import MultimodalDataset
from sweeper.data.folds import check_folds
from sweeper.errors import DataError
from sweeper.recommend.sources import CONFIG_PREFIX
from sweeper.spec import SweepSpec
from sweeper.tracking import TrialStatus

AUTO_FOLDS = 5  # folds chosen automatically when the validation split is small (see ConfirmSection.small_val)


@dataclass
class Candidate:
    """A configuration the search found for one fusion family, to be re-trained with several seeds."""

    fusion: str
    source_trial: str  # the search trial it comes from
    params: dict[str, Any]
    status: str  # how that search trial ended: completed, or pruned (the family had no finished trial)
    epochs: int
    score: float | None  # its search score at its last epoch (single seed)


def select_candidates(spec: SweepSpec, rows: list[dict[str, Any]], per_fusion: int) -> list[Candidate]:
    """Per fusion family, its ``per_fusion`` best search trials: finished ones by score, then the furthest pruned.

    Failed trials are never candidates. A family appears as long as one of its trials reported an epoch.
    """
    sign = 1.0 if spec.objective.mode == "max" else -1.0
    metric = spec.objective.metric
    usable = [
        r
        for r in rows
        if r.get("stage", "search") == "search"
        and r["status"] in (TrialStatus.COMPLETED.value, TrialStatus.PRUNED.value)
        and r.get(metric) is not None
        and math.isfinite(r[metric])
    ]

    def rank(row: dict[str, Any]) -> tuple[int, int, float]:  # finished first, then furthest, then best score
        return (row["status"] != TrialStatus.COMPLETED.value, -int(row.get("epochs") or 0), -sign * row[metric])

    families: dict[str, list[Candidate]] = {}
    for row in sorted(usable, key=rank):
        params = {k.removeprefix(CONFIG_PREFIX): v for k, v in row.items() if k.startswith(CONFIG_PREFIX)}
        params = {k: v for k, v in params.items() if v is not None}
        fusion = spec.trial_config(params).model.fusion
        chosen = families.setdefault(fusion, [])
        if len(chosen) < per_fusion:
            chosen.append(Candidate(fusion, row["trial_id"], params, row["status"], int(row["epochs"]), row[metric]))
    return [c for chosen in families.values() for c in chosen]


def choose_folds(spec: SweepSpec, data: MultimodalDataset, earlier: list[dict[str, Any]]) -> int | None:
    """Folds for cross-validation, or None for the fixed validation split.

    An earlier confirmation of this sweep fixes it (added seeds must be comparable). Else ``confirm.folds`` if set
    (an infeasible value is an error), else ``AUTO_FOLDS`` when validation is smaller than ``confirm.small_val``,
    lowered to what the rarest class allows.
    """
    done = {r.get("folds") for r in earlier if r.get("stage") == "confirm"}
    if done:
        value = next(iter(done))
        return int(value) if value else None
    if spec.confirm.folds is not None:
        check_folds(data, spec.confirm.folds)
        return spec.confirm.folds
    if data.split_size("val") >= spec.confirm.small_val:
        return None
    for folds in range(AUTO_FOLDS, 1, -1):
        try:
            check_folds(data, folds)
        except DataError:
            continue
        return folds
    return None


def plan_runs(
    candidates: list[Candidate], seeds: range, folds: int | None, earlier: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every (candidate, seed, fold) not already run by an earlier confirmation of this sweep."""
    done = {
        (r.get("source_trial"), r.get("seed"), r.get("fold"))
        for r in earlier
        if r.get("stage") == "confirm" and r["status"] in (TrialStatus.COMPLETED.value, TrialStatus.FAILED.value)
    }
    runs = []
    for candidate in candidates:
        for seed in seeds:
            for fold in range(folds) if folds else [None]:
                if (candidate.source_trial, seed, fold) in done:
                    continue
                runs.append(
                    {
                        "params": candidate.params,
                        "seed": seed,
                        "fold": fold,
                        "folds": folds,
                        "source_trial": candidate.source_trial,
                    }
                )
    return runs


def build_confirm_tuner(
    spec: SweepSpec, sweep_dir: Path, data: MultimodalDataset, runs: list, bridge: Any, name: str
) -> Any:
    """A plain grid over the planned runs: no searcher, no early stopping, the sweep's resources per run."""
    from ray import tune

    from sweeper.tune.trainable import CONFIRM_KEY, ray_trainable, run_config

    return tune.Tuner(
        ray_trainable(spec, data),
        param_space={CONFIRM_KEY: tune.grid_search(runs)},
        tune_config=tune.TuneConfig(
            max_concurrent_trials=spec.budget.max_concurrent,
            reuse_actors=True,
            trial_dirname_creator=lambda trial: trial.trial_id,
        ),
        run_config=run_config(name, sweep_dir, bridge, spec.failure.max_retries),
    )
