"""Plots of the search stage, for people who would rather look than read: learning curves per fusion family, ASHA's
rung survival, parallel coordinates of the hyperparameters, and their importance by Optuna's evaluator.

``write_search_plots(sweep_dir, folder)`` draws every one the sweep's results allow and returns {caption: file}.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from sweeper.recommend.plots import _pyplot, _save
from sweeper.recommend.rank import read_spec
from sweeper.recommend.sources import CONFIG_PREFIX
from sweeper.tracking import read_epochs, read_trials

FADED, FULL = 0.25, 0.9  # line opacity of pruned and of fully trained trials


def write_search_plots(sweep_dir: Path, folder: Path) -> dict[str, str]:
    """The search plots of ``sweep_dir`` into ``folder``: {caption: file name}; a plot without data is left out."""
    spec = read_spec(sweep_dir)
    objective = spec.get("objective", {}).get("metric", "val/mean_macro_f1")
    trials = [t for t in read_trials(sweep_dir).to_pylist() if t["stage"] == "search"]
    if not trials:
        return {}
    epochs = [e for e in read_epochs(sweep_dir).to_pylist() if e.get("stage", "search") == "search"]
    budget = spec.get("budget", {})
    made: dict[str, str] = {}
    if epochs:
        plot_learning_curves(trials, epochs, objective, folder / "learning_curves.png", budget.get("max_epochs", 6))
        made["learning curves by fusion family (pruned trials faded)"] = "learning_curves.png"
    plot_rung_survival(
        trials, budget.get("grace_period", 2), budget.get("reduction_factor", 2), budget.get("max_epochs", 6),
        folder / "rung_survival.png",
    )  # fmt: skip
    made["ASHA rung survival"] = "rung_survival.png"
    if plot_parallel_coordinates(trials, objective, folder / "parallel_coordinates.png"):
        made["parallel coordinates of the search"] = "parallel_coordinates.png"
    if plot_importance(sweep_dir, spec.get("name", Path(sweep_dir).name), folder / "importance.png"):
        made["hyperparameter importance (Optuna)"] = "importance.png"
    return made


def plot_learning_curves(
    trials: list[dict], epochs: list[dict], objective: str, path: Path, max_epochs: int | None = None
) -> Path:
    """One panel per fusion family: each trial's validation objective by epoch; pruned trials faded."""
    by_trial: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for e in epochs:
        value = e.get(objective)
        if value is not None and math.isfinite(value):
            by_trial[e["trial_id"]].append((int(e["epoch"]), float(value)))
    families: dict[str, list[dict]] = defaultdict(list)
    for t in trials:
        families[str(t.get(f"{CONFIG_PREFIX}fusion") or "?")].append(t)
    names = sorted(families)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    plt = _pyplot()
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows), sharex=True, sharey=True,
                             squeeze=False, layout="constrained")  # fmt: skip
    last = max_epochs or max((p[0] for points in by_trial.values() for p in points), default=1)
    try:
        for ax, name in zip(axes.flat, names, strict=False):
            for t in families[name]:
                points = sorted(by_trial.get(t["trial_id"], []))
                if points:
                    full = t["status"] == "completed"
                    ax.plot(*zip(*points, strict=True), marker="o", markersize=3, color="tab:blue" if full else "grey",
                            alpha=FULL if full else FADED)  # fmt: skip
            ax.set_title(name, fontsize=10)
            ax.set_xlabel("epoch")
            ax.set_xlim(0.7, last + 0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.tick_params(labelbottom=True)  # every panel keeps its epochs, not only the bottom row
        for ax in axes.flat[len(names) :]:
            ax.set_visible(False)
        axes[0][0].set_ylabel(objective)
        fig.suptitle("validation objective by epoch (blue: trained to the end; grey: stopped by ASHA)", fontsize=10)
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_rung_survival(trials: list[dict], grace: int, factor: float, max_epochs: int, path: Path) -> Path:
    """Trials that reached each of ASHA's rungs (grace, grace x factor, ..., max_epochs)."""
    rungs = []
    rung = float(grace)
    while rung < max_epochs:
        rungs.append(int(rung))
        rung *= factor
    rungs.append(max_epochs)
    rungs = sorted(set(rungs))
    reached = [sum((t.get("epochs") or 0) >= r for t in trials) for r in rungs]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(rungs), 3), layout="constrained")
    try:
        bars = ax.bar([str(r) for r in rungs], reached, color="tab:blue")
        ax.bar_label(bars, [f"{n} of {len(trials)}" for n in reached], fontsize=8)
        ax.set_xlabel("rung (epochs trained)")
        ax.set_ylabel("trials that reached it")
        ax.set_ylim(0, len(trials) * 1.15)
        ax.set_title("ASHA: trials surviving each rung", fontsize=10)
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_parallel_coordinates(trials: list[dict], objective: str, path: Path) -> Path | None:
    """A line per scored trial across its hyperparameters (each axis scaled to [0, 1]; categories spread evenly;
    a learning-rate-like range spanning 10x or more on a log scale), coloured by its objective."""
    scored = [t for t in trials if _finite(t.get("best_objective"))]
    params = [k for k in (trials[0] if trials else {}) if k.startswith(CONFIG_PREFIX)]
    params = [k for k in params if len({str(t.get(k)) for t in scored}) > 1]
    if len(scored) < 2 or not params:
        return None
    columns = [[t.get(k) for t in scored] for k in params]
    axes_values = [_scaled(column) for column in columns]
    values = [float(t["best_objective"]) for t in scored]
    low, high = min(values), max(values)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.5 + 1.6 * len(params), 3.5), layout="constrained")
    try:
        cmap = plt.get_cmap("viridis")
        for i, value in enumerate(values):
            ys = [column[i] for column in axes_values]
            ax.plot(range(len(params)), ys, color=cmap((value - low) / (high - low or 1)), alpha=0.8)
        ax.set_xticks(range(len(params)), [k.removeprefix(CONFIG_PREFIX) for k in params])
        ax.set_yticks([])
        ax.set_ylim(-0.08, 1.08)
        for x, (column, ys) in enumerate(zip(columns, axes_values, strict=True)):
            ax.axvline(x, color="black", linewidth=0.5)
            for label, y in _axis_labels(column, ys):  # what the positions on this axis mean
                ax.text(x + 0.03, y, label, fontsize=7, va="center", ha="left",
                        bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1})  # fmt: skip
        mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(low, high))
        fig.colorbar(mappable, ax=ax, label=f"best {objective}")
        ax.set_title("the search: each line a trial, its best objective as colour", fontsize=10)
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_importance(sweep_dir: Path, study_name: str, path: Path) -> Path | None:
    """Optuna's hyperparameter importances (fANOVA) over the study's finished trials; None with too few of them."""
    import optuna

    storage = f"sqlite:///{Path(sweep_dir) / 'optuna.db'}"
    if not (Path(sweep_dir) / "optuna.db").is_file():
        return None
    study = optuna.load_study(study_name=study_name, storage=storage)
    # ASHA stops most trials early: their last reported value (Optuna keeps it for PRUNED trials) stands in for the
    # score, so the evaluator sees every trial, not only the few trained to the end.
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and _last_value(t) is not None]
    if len(finished) < 3 or not any(len(t.params) for t in finished):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning for the target argument
            importances = optuna.importance.get_param_importances(study, target=_last_value)  # type: ignore[arg-type]
    except (RuntimeError, ValueError):  # e.g. a single distinct value everywhere
        return None
    if not importances:
        return None
    names, scores = list(importances)[::-1], list(importances.values())[::-1]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 0.6 + 0.4 * len(names)), layout="constrained")
    try:
        ax.barh(names, scores, color="tab:blue")
        ax.set_xlabel("importance (fANOVA, share of the objective's variance)")
        ax.set_title("hyperparameter importance", fontsize=10)
        return _save(fig, path)
    finally:
        plt.close(fig)


def _last_value(trial: Any) -> float | None:
    if trial.value is not None:
        return float(trial.value)
    if trial.intermediate_values:
        return float(trial.intermediate_values[max(trial.intermediate_values)])
    return None


def _scaled(column: list[Any]) -> list[float]:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in column)
    if not numeric:
        levels = sorted({str(v) for v in column})
        return [levels.index(str(v)) / max(len(levels) - 1, 1) for v in column]
    values = [float(v) for v in column]
    if min(values) > 0 and max(values) / min(values) >= 10:
        values = [math.log10(v) for v in values]
    low, high = min(values), max(values)
    return [(v - low) / (high - low or 1) for v in values]


def _axis_labels(column: list[Any], ys: list[float]) -> list[tuple[str, float]]:
    """Every category at its position, or a numeric axis' lowest and highest values at its ends."""
    pairs = {_label(v): y for v, y in zip(column, ys, strict=True)}
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in column):
        ordered = sorted(zip(ys, column, strict=True))
        return [(_label(ordered[0][1]), ordered[0][0]), (_label(ordered[-1][1]), ordered[-1][0])]
    return list(pairs.items())


def _label(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2g}" if isinstance(value, float) else str(value)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
