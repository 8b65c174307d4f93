"""PNG charts of a recommendation's evidence: the ranking with intervals, per-block regret, and a CD diagram.

matplotlib is imported inside each function (Agg backend, no display), so importing this module costs nothing.
Every function creates the parent folder, writes one PNG, closes its figure and returns the path.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

from sweeper.errors import SweeperError

DPI = 120
TIED_COLOUR = "tab:blue"
OTHER_COLOUR = "0.6"


def plot_ranking(rows: list[dict], path: Path, *, metric: str, title: str = "", chance: float | None = None) -> Path:
    """Dot-and-whisker chart of each family's objective (mean, low..high), best at the top.

    rows: ``{"family", "mean", "low", "high", "tied", "default"}`` dicts, best first. Families tied with the best
    are blue, the rest grey; the default gets a star and a bold label. ``chance`` adds a dashed vertical line.
    """
    if not rows:
        raise SweeperError("plot_ranking got no rows; expected at least one fusion family")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.4 * len(rows)), layout="constrained")
    try:
        for y, row in enumerate(rows):
            colour = TIED_COLOUR if row["tied"] else OTHER_COLOUR
            ax.hlines(y, row["low"], row["high"], color=colour, linewidth=2)
            marker, size = ("*", 16) if row["default"] else ("o", 8)
            ax.plot(row["mean"], y, marker=marker, markersize=size, color=colour, markeredgecolor="black")
        ax.set_yticks(range(len(rows)), [row["family"] for row in rows])
        for label, row in zip(ax.get_yticklabels(), rows, strict=True):
            label.set_fontweight("bold" if row["default"] else "normal")
        ax.invert_yaxis()  # best first, at the top
        ax.set_ylim(len(rows) - 0.5, -0.5)
        if chance is not None:
            ax.axvline(chance, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel(metric)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(handles=_ranking_legend(chance is not None), loc="best", fontsize=8)
        ax.set_title(title)
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_regret_heatmap(regret: dict[str, dict[str, float]], path: Path, *, title: str = "") -> Path:
    """Heatmap of ``regret[family][block]``: families as rows (given order), blocks as columns (first seen)."""
    return plot_heatmap(regret, path, title=title, label="regret", cmap="Reds")


def plot_attention_heatmap(attention: dict[str, dict[str, float]], path: Path, *, title: str = "") -> Path:
    """Heatmap of ``attention[fusion][modality]``: the mean attention each modality received on validation."""
    return plot_heatmap(attention, path, title=title, label="mean attention received", cmap="Blues")


def plot_heatmap(cells: dict[str, dict[str, float]], path: Path, *, title: str = "", label: str, cmap: str) -> Path:
    """Heatmap of ``cells[row][column]``: rows in the given order, columns as first seen.

    Each cell shows its value to 3 decimals; colour runs from 0 (light) to the largest value (dark).
    A missing or NaN cell is grey and reads "n/a".
    """
    rows = list(cells)
    columns = list(dict.fromkeys(column for row in cells.values() for column in row))
    if not rows or not columns:
        raise SweeperError(f"plot_heatmap got no cells ({cells=}); expected cells[row][column] values")
    import numpy as np

    values = np.array([[cells[r].get(c, math.nan) for c in columns] for r in rows], dtype=float)
    finite = values[np.isfinite(values)]
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    plt = _pyplot()
    colours = plt.get_cmap(cmap).with_extremes(bad="0.85")
    fig, ax = plt.subplots(figsize=(2.5 + 0.8 * len(columns), 1.8 + 0.4 * len(rows)), layout="constrained")
    try:
        image = ax.imshow(np.ma.masked_invalid(values), cmap=colours, vmin=0.0, vmax=vmax, aspect="auto")
        for (i, j), value in np.ndenumerate(values):
            text, dark = ("n/a", False) if math.isnan(value) else (f"{value:.3f}", value > 0.6 * vmax)
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        ax.set_xticks(range(len(columns)), columns, rotation=40, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(len(rows)), rows)
        fig.colorbar(image, ax=ax, label=label, shrink=0.8)
        ax.set_title(title)
        return _save(fig, path)
    finally:
        plt.close(fig)


def cd_groups(mean_ranks: dict[str, float], cd: float) -> list[list[str]]:
    """Families joined by a bar in a CD diagram: maximal runs (by rank) whose ranks differ by less than ``cd``.

    Each group has at least two families, ordered by rank; groups are ordered by their best member. A family
    that differs from all others by ``cd`` or more is in no group.
    """
    names = sorted(mean_ranks, key=lambda name: mean_ranks[name])
    groups: list[list[str]] = []
    last_end = -1  # index of the last family of the previous group; a run ending there or before is not maximal
    for start, first in enumerate(names):
        end = start
        while end + 1 < len(names) and mean_ranks[names[end + 1]] - mean_ranks[first] < cd:
            end += 1
        if end > start and end > last_end:
            groups.append(names[start : end + 1])
            last_end = end
    return groups


def plot_critical_difference(
    mean_ranks: dict[str, float], critical_difference: float, path: Path, *, title: str = ""
) -> Path:
    """Demšar (2006) critical-difference diagram: rank axis 1..K (best on the left), a bar of length CD above it,
    each family hanging from its mean rank, and thick bars joining families not significantly different.
    """
    _check_cd_inputs(mean_ranks, critical_difference)
    names = sorted(mean_ranks, key=lambda name: mean_ranks[name])
    k = len(names)
    groups = cd_groups(mean_ranks, critical_difference)
    group_rows = _stack_intervals([(mean_ranks[g[0]], mean_ranks[g[-1]]) for g in groups])
    lowest_bar = -0.25 - 0.18 * max(group_rows, default=-1)
    n_left = math.ceil(k / 2)
    bottom = lowest_bar - 0.3 - 0.3 * n_left
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * k + 2), 1.3 * (1.2 - bottom)))
    try:
        ax.set_axis_off()
        margin = _label_margin(k)
        ax.set_xlim(1 - margin - 0.05, k + margin + 0.05)
        ax.set_ylim(bottom - 0.1, 1.1)
        ax.hlines(0, 1, k, color="black", linewidth=1)
        for tick in range(1, k + 1):
            ax.vlines(tick, 0, 0.08, color="black", linewidth=1)
            ax.text(tick, 0.13, str(tick), ha="center", va="bottom", fontsize=9)
        ax.hlines(0.6, 1, 1 + critical_difference, color="black", linewidth=1.5)
        ax.vlines([1, 1 + critical_difference], 0.55, 0.65, color="black", linewidth=1.5)
        ax.text(1 + critical_difference / 2, 0.7, f"CD = {critical_difference:.2f}", ha="center", fontsize=9)
        for group, row in zip(groups, group_rows, strict=True):
            y = -0.25 - 0.18 * row
            ax.hlines(y, mean_ranks[group[0]] - 0.03, mean_ranks[group[-1]] + 0.03, color="black", linewidth=4)
        for i, name in enumerate(names):
            _hang_label(ax, name, mean_ranks[name], i, n_left, k, lowest_bar)
        ax.set_title(title)
        return _save(fig, path)
    finally:
        plt.close(fig)


def _hang_label(ax: Any, name: str, rank: float, index: int, n_left: int, k: int, lowest_bar: float) -> None:
    """Draw an elbow line from ``rank`` on the axis down and out to the nearer side, and the label there.

    The better half goes left, the worse half right; families nearer the edge get the shorter drop, so no lines cross.
    """
    left = index < n_left
    depth = index if left else k - 1 - index
    y = lowest_bar - 0.3 - 0.3 * depth
    x_end = 1 - _label_margin(k) if left else k + _label_margin(k)
    ax.plot([rank, rank, x_end], [0, y, y], color="0.3", linewidth=1)
    label = f"{name} ({rank:.2f})"
    if left:
        ax.text(x_end - 0.05, y, label, ha="right", va="center", fontsize=10)
    else:
        ax.text(x_end + 0.05, y, label, ha="left", va="center", fontsize=10)


def _label_margin(k: int) -> float:
    """How far, in ranks, the label lines reach past the axis ends: about a third of an inch at any K."""
    return max(0.15, 0.04 * (k - 1))


def _stack_intervals(intervals: list[tuple[float, float]]) -> list[int]:
    """Row index for each bar so that bars in one row do not touch; intervals are sorted by their start."""
    row_ends: list[float] = []
    rows = []
    for start, end in intervals:
        row = next((r for r, row_end in enumerate(row_ends) if row_end + 0.1 < start), len(row_ends))
        if row == len(row_ends):
            row_ends.append(end)
        row_ends[row] = end
        rows.append(row)
    return rows


def _check_cd_inputs(mean_ranks: dict[str, float], critical_difference: float) -> None:
    if len(mean_ranks) < 2:
        raise SweeperError(f"a CD diagram needs at least 2 families, but got {len(mean_ranks)}: {list(mean_ranks)}")
    if not math.isfinite(critical_difference) or critical_difference < 0:
        raise SweeperError(f"critical difference must be finite and >= 0, but got {critical_difference=}")
    for name, rank in mean_ranks.items():
        if not math.isfinite(rank):
            raise SweeperError(f"family '{name}': mean rank {rank} is not finite; expected a finite number")


def _ranking_legend(with_chance: bool) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=TIED_COLOUR, marker="o", markeredgecolor="black", label="tied with best"),
        Line2D([], [], color=OTHER_COLOUR, marker="o", markeredgecolor="black", label="worse than best"),
        Line2D([], [], color="white", marker="*", markersize=12, markeredgecolor="black", label="default"),
    ]
    if with_chance:
        handles.append(Line2D([], [], color="black", linestyle="--", label="chance"))
    return handles


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window; a no-op when Agg is already the backend
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path
