"""Rank a sweep's configurations and name a default fusion, from the Parquet results.

Only trials that trained the full budget (status ``completed``) are compared; pruned and failed trials are listed
apart, since an early-stopped score is not comparable with a final one. The default fusion is the family of the best
finished configuration; per task, the report names the family that wins on that task and the regret of the
default against it (the task score the default's best configuration gives up).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweeper.errors import ConfigError, RegistryError, SweepError
from sweeper.models import ModelConfig, check_fusion_name
from sweeper.recommend.sources import CONFIG_PREFIX, rows_from_mlflow
from sweeper.tracking import TrialStatus, default_tracking_uri, read_trials


@dataclass
class FusionSummary:
    """The best finished configuration of one fusion family, and what the family cost."""

    fusion: str
    trial_id: str
    score: float
    params: dict[str, Any]
    finished: int  # trials of this family that trained the full budget
    pruned: int
    mean_train_s: float | None  # mean training time of its finished trials
    parameters: int | None  # model parameters of the best configuration


@dataclass
class TaskWinner:
    task: str
    metric: str
    fusion: str  # the family whose best finished configuration scores highest on this task
    score: float
    default_score: float  # the default family's best configuration (chosen on the sweep metric) on this task
    regret: float  # score - default_score, >= 0 when higher is better


@dataclass
class Recommendation:
    sweep: str
    metric: str
    mode: str
    default_fusion: str | None
    fusions: list[FusionSummary]  # best first
    ranked: list[dict[str, Any]]  # finished trials, best first: trial_id, fusion, score, params
    task_winners: list[TaskWinner] = field(default_factory=list)
    pruned: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    unfinished: dict[str, int] = field(default_factory=dict)  # fusion tried but never finished -> trials it had

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
) -> Recommendation:
    """Read ``sweep_dir``'s results and rank them by ``metric`` (default: the sweep's objective).

    ``source`` is "parquet" (the sweep's results folder) or "mlflow" (its runs in the sweep's own store, or in the
    store at ``tracking_uri``); both give the same recommendation.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise SweepError(f"sweep folder {str(sweep_dir)!r} does not exist")
    spec = _read_spec(sweep_dir)
    objective = spec.get("objective", {})
    metric = metric or objective.get("metric", "val/mean_macro_f1")
    if mode not in (None, "max", "min"):
        raise ConfigError(f"mode must be 'max' or 'min', but got {mode!r}")
    if mode is None:
        mode = objective.get("mode", "max") if metric == objective.get("metric") else _guess_mode(metric)
    exclude = list(exclude or [])
    for name in exclude:
        try:
            check_fusion_name(name)
        except RegistryError as exc:
            raise ConfigError(f"--exclude: {exc}") from None
    if source == "parquet":
        rows = read_trials(sweep_dir).to_pylist()
    elif source == "mlflow":
        uri = tracking_uri or default_tracking_uri(sweep_dir)
        rows = rows_from_mlflow(uri, spec.get("name", sweep_dir.name), objective.get("metric", metric))
    else:
        raise ConfigError(f"source must be 'parquet' or 'mlflow', but got {source!r}")
    if rows and metric not in rows[0]:
        known = sorted(k for k in rows[0] if k.startswith(("val/", "test/", "train/")))
        raise ConfigError(f"unknown metric {metric!r}; known: {', '.join(known)}")
    default_fusion = spec.get("model", {}).get("fusion", ModelConfig.fusion)
    for row in rows:
        row["fusion"] = row.get(f"{CONFIG_PREFIX}fusion") or default_fusion
    rows = [r for r in rows if r["fusion"] not in exclude]
    sign = 1.0 if mode == "max" else -1.0

    finished = [r for r in rows if r["status"] == TrialStatus.COMPLETED.value and r.get(metric) is not None]
    finished.sort(key=lambda r: -sign * r[metric])
    fusions = _per_fusion(finished, rows, metric)
    best = fusions[0].fusion if fusions else None
    return Recommendation(
        sweep=spec.get("name", sweep_dir.name),
        metric=metric,
        mode=mode,
        default_fusion=best,
        fusions=fusions,
        ranked=[_brief(r, metric) for r in finished],
        task_winners=_task_winners(finished, metric, best) if best else [],
        pruned=[_brief(r, metric) for r in rows if r["status"] == TrialStatus.PRUNED.value],
        failed=[{**_brief(r, metric), "error": r.get("error")} for r in rows if r["status"] == "failed"],
        excluded=exclude,
        unfinished={
            f: sum(r["fusion"] == f for r in rows)
            for f in dict.fromkeys(r["fusion"] for r in rows)
            if all(s.fusion != f for s in fusions)
        },
    )


def _per_fusion(finished: list[dict], rows: list[dict], metric: str) -> list[FusionSummary]:
    out: list[FusionSummary] = []
    for row in finished:  # best first, so the first row of a family is its best
        if any(s.fusion == row["fusion"] for s in out):
            continue
        family = [r for r in finished if r["fusion"] == row["fusion"]]
        times = [r["train_s"] for r in family if r.get("train_s") is not None]
        n_params = row.get("model/parameters")
        out.append(
            FusionSummary(
                fusion=row["fusion"],
                trial_id=row["trial_id"],
                score=row[metric],
                params=_params(row),
                finished=len(family),
                pruned=sum(r["fusion"] == row["fusion"] and r["status"] == "pruned" for r in rows),
                mean_train_s=sum(times) / len(times) if times else None,
                parameters=int(n_params) if n_params is not None else None,
            )
        )
    return out


def _task_winners(finished: list[dict], metric: str, default: str) -> list[TaskWinner]:
    """Per task: the best family on that task's version of ``metric`` and the default's regret against it."""
    split, _, name = metric.partition("/")
    per_task = name.removeprefix("mean_") if name.startswith("mean_") else "macro_f1"
    tasks = sorted({k.split("/")[1] for k in finished[0] if k.startswith(f"{split}/") and k.count("/") == 2})
    default_row = next(r for r in finished if r["fusion"] == default)
    winners = []
    for task in tasks:
        key = f"{split}/{task}/{per_task}"
        scored = [r for r in finished if r.get(key) is not None]
        if not scored or default_row.get(key) is None:
            continue
        sign = -1.0 if per_task == "loss" else 1.0
        top = max(scored, key=lambda r: sign * r[key])
        winners.append(
            TaskWinner(task, key, top["fusion"], top[key], default_row[key], sign * (top[key] - default_row[key]))
        )
    return winners


def _brief(row: dict, metric: str) -> dict[str, Any]:
    return {
        "trial_id": row["trial_id"],
        "fusion": row["fusion"],
        "epochs": row.get("epochs"),
        "score": row.get(metric),
        "params": _params(row),
    }


def _params(row: dict) -> dict[str, Any]:
    return {
        k.removeprefix(CONFIG_PREFIX): v
        for k, v in row.items()
        if k.startswith(CONFIG_PREFIX) and v is not None and k != f"{CONFIG_PREFIX}fusion"
    }


def _guess_mode(metric: str) -> str:
    return "min" if metric.endswith("loss") else "max"


def _read_spec(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / "spec.yaml"
    if not path.is_file():
        raise SweepError(f"{str(sweep_dir)!r} is not a sweep folder: spec.yaml is missing")
    data = yaml.safe_load(path.read_text())
    return data if isinstance(data, dict) else {}
