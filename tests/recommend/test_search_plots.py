"""The search plots of a real sweep: learning curves, rung survival, parallel coordinates and importance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sweeper.recommend import recommend
from sweeper.recommend.report import write_report
from sweeper.recommend.search_plots import plot_rung_survival


def test_a_finished_sweep_gets_every_search_plot_in_its_report(tiny_sweep: Path, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    markdown = write_report(recommend(tiny_sweep, n_boot=200), folder, tiny_sweep).path.read_text()
    for name in ("learning_curves.png", "rung_survival.png", "parallel_coordinates.png", "importance.png"):
        assert (folder / name).read_bytes()[:4] == b"\x89PNG", name
        assert f"]({name})" in markdown


def test_rung_survival_counts_the_trials_that_reached_each_rung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib.axes

    seen: dict[str, list] = {}
    original = matplotlib.axes.Axes.bar

    def bar(self: matplotlib.axes.Axes, x: list, height: list, *args: Any, **kwargs: Any) -> Any:
        seen["x"], seen["height"] = list(x), list(height)
        return original(self, x, height, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", bar)
    trials = [{"epochs": e} for e in (1, 1, 1, 3, 3, 9)]
    plot_rung_survival(trials, grace=1, factor=3, max_epochs=9, path=tmp_path / "r.png")
    assert seen == {"x": ["1", "3", "9"], "height": [6, 3, 1]}
