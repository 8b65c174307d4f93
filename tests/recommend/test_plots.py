"""The recommendation's charts: each writes a real PNG and leaves no figure open; CD grouping follows Demšar."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sweeper.errors import SweeperError
from sweeper.recommend.plots import cd_groups, plot_critical_difference, plot_ranking, plot_regret_heatmap

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAMILIES = ["cross_modal_attention", "gated", "concat", "low_rank", "only:image", "only:text"]


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), f"{path} is not a PNG: starts with {data[:8]!r}"
    assert len(data) > 5_000, f"{path} is only {len(data)} bytes; expected a drawn chart"


def assert_no_open_figures() -> None:
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == [], f"figures left open: {plt.get_fignums()}"


def test_plot_ranking_writes_png_into_new_folder(tmp_path: Path) -> None:
    rows = [
        {
            "family": f,
            "mean": 0.8 - 0.05 * i,
            "low": 0.77 - 0.05 * i,
            "high": 0.83 - 0.05 * i,
            "tied": i < 2,
            "default": f == "gated",
        }
        for i, f in enumerate(FAMILIES)
    ]
    path = tmp_path / "nested" / "ranking.png"

    assert plot_ranking(rows, path, metric="val/auroc", title="ranking", chance=0.5) == path
    assert_png(path)
    assert_no_open_figures()


def test_plot_ranking_rejects_no_rows(tmp_path: Path) -> None:
    with pytest.raises(SweeperError, match="no rows"):
        plot_ranking([], tmp_path / "r.png", metric="val/auroc")
    assert not (tmp_path / "r.png").exists()


def test_plot_regret_heatmap_survives_nan_and_missing_cells(tmp_path: Path) -> None:
    blocks = ["mimic/mortality", "mimic/length_of_stay", "har/activity"]
    regret = {f: {b: 0.01 * (i + j) for j, b in enumerate(blocks)} for i, f in enumerate(FAMILIES)}
    regret["gated"]["har/activity"] = math.nan
    del regret["concat"]["mimic/mortality"]
    path = tmp_path / "plots" / "regret.png"

    assert plot_regret_heatmap(regret, path, title="regret") == path
    assert_png(path)
    assert_no_open_figures()


def test_plot_regret_heatmap_all_nan_or_zero_still_draws(tmp_path: Path) -> None:
    plot_regret_heatmap({"a": {"d/t": math.nan}, "b": {"d/t": 0.0}}, tmp_path / "r.png")
    assert_png(tmp_path / "r.png")
    assert_no_open_figures()


@pytest.mark.parametrize("k", [2, 5, 15])
def test_plot_critical_difference_for_2_to_15_families(tmp_path: Path, k: int) -> None:
    mean_ranks = {f"{FAMILIES[i % len(FAMILIES)]}_{i}": 1 + (k - 1) * i / k for i in range(k)}
    path = tmp_path / f"cd{k}.png"

    assert plot_critical_difference(mean_ranks, 1.2, path, title="CD") == path
    assert_png(path)
    assert_no_open_figures()


@pytest.mark.parametrize(
    ("mean_ranks", "cd", "match"),
    [
        ({"concat": 1.0}, 1.0, "at least 2 families"),
        ({"a": 1.0, "b": 2.0}, math.nan, "critical difference"),
        ({"a": 1.0, "b": math.inf}, 1.0, "family 'b'"),
    ],
)
def test_plot_critical_difference_rejects_bad_input(
    tmp_path: Path, mean_ranks: dict[str, float], cd: float, match: str
) -> None:
    with pytest.raises(SweeperError, match=match):
        plot_critical_difference(mean_ranks, cd, tmp_path / "cd.png")
    assert_no_open_figures()


def test_cd_groups_two_separated_groups() -> None:
    ranks = {"d": 5.1, "a": 1.0, "e": 5.5, "b": 1.4, "c": 1.8, "f": 6.0}

    assert cd_groups(ranks, 1.0) == [["a", "b", "c"], ["d", "e", "f"]]


def test_cd_groups_all_within_cd_is_one_group() -> None:
    assert cd_groups({"c": 2.9, "a": 1.2, "b": 2.0}, 2.0) == [["a", "b", "c"]]


def test_cd_groups_overlapping_groups_are_maximal() -> None:
    ranks = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 3.4}

    assert cd_groups(ranks, 1.5) == [["a", "b"], ["b", "c", "d"]]


def test_cd_groups_never_singletons() -> None:
    ranks = {"a": 1.0, "b": 3.0, "c": 3.2, "d": 6.0}

    assert cd_groups(ranks, 1.0) == [["b", "c"]]
    assert cd_groups(ranks, 0.1) == []


def test_cd_groups_difference_equal_to_cd_is_significant() -> None:
    assert cd_groups({"a": 1.0, "b": 2.0}, 1.0) == []
