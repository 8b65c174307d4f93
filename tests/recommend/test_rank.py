"""Recommendations from hand-built confirmed sweeps (no Ray): ties, min mode, failures, pruned-only families,
exclusions, chance, test refusal and the across-datasets decision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sweeper.errors import ConfigError
from sweeper.recommend import recommend
from sweeper.recommend.across import recommend_across
from sweeper.recommend.report import write_across_report, write_report
from sweeper.testing import Family, Layout, write_sweep


def test_one_family_under_two_names_is_a_tie_and_the_cheapest_is_named(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path / "twins",
        {"gated": Family(0.8, parameters=5000), "concat": Family(0.8, parameters=900, twin="gated"),
         "low_rank": Family(0.55)},
    )  # fmt: skip
    rec = recommend(sweep, n_boot=500)
    assert rec.confirmed and set(rec.tied) == {"gated", "concat"}
    assert rec.default_fusion == "concat" and "tie among" in rec.decided_by and "cheapest" in rec.decided_by
    twins = {f.fusion: f for f in rec.fusions}
    assert twins["gated"].score.mean == twins["concat"].score.mean  # identical by construction
    assert not twins["low_rank"].tied

    best_mean = recommend(sweep, prefer="best-mean", n_boot=500)
    assert best_mean.default_fusion == best_mean.fusions[0].fusion and "best-mean" in best_mean.decided_by


def test_a_clearly_better_family_wins_without_a_tie(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "clear", {"concat": Family(0.6), "low_rank": Family(0.9), "gated": Family(0.62)})
    rec = recommend(sweep, n_boot=500)
    assert rec.default_fusion == "low_rank" and rec.tied == ["low_rank"]
    assert rec.decided_by.startswith("clear winner")
    assert all(f.diff.low > 0 for f in rec.fusions[1:])
    assert {t.winner for t in rec.task_winners} == {"low_rank"} and not rec.priorities
    assert rec.warnings == []  # 0.9 accuracy clearly beats chance
    for f in rec.fusions:  # test is reported for every family and task, as mean and interval
        assert {"objective", "a/acc", "a/macro_f1", "a/auroc", "b/auroc"} <= set(f.test)
        assert f.test["a/acc"].low <= f.test["a/acc"].mean <= f.test["a/acc"].high


def test_a_small_margin_makes_a_tiny_real_difference_a_tie(tmp_path: Path) -> None:
    families = {"concat": Family(0.80), "gated": Family(0.81)}
    sweep = write_sweep(tmp_path / "close", families, Layout(n_val=20000, n_test=100, seeds=3, tasks={"a": 2}))
    strict = recommend(sweep, margin=0.0, n_boot=300)
    loose = recommend(sweep, margin=0.05, n_boot=300)
    assert strict.fusions[0].fusion == "gated" and strict.fusions[1].diff.high < 0.05
    assert len(loose.tied) == 2
    assert any("the delta method over samples" in line for line in strict.limitations)  # 20,000 samples


def test_the_limitations_name_how_sample_noise_was_estimated(tmp_path: Path) -> None:
    rec = recommend(write_sweep(tmp_path / "small", {"concat": Family(0.7), "gated": Family(0.72)}), n_boot=300)
    assert any("plus a paired bootstrap over samples" in line for line in rec.limitations)


def test_cheapest_is_not_chosen_when_its_interval_still_allows_a_large_loss(tmp_path: Path) -> None:
    """Few samples: concat is not shown worse than gated (tied), nor within the margin of it; the default stays the
    highest mean rather than trading an unknown loss for a smaller model."""
    families = {"gated": Family(0.86, parameters=5000), "concat": Family(0.80, parameters=900)}
    rec = recommend(write_sweep(tmp_path / "open", families, Layout(n_val=80, tasks={"a": 2})), n_boot=500)
    best, other = rec.fusions
    assert (best.fusion, other.fusion) == ("gated", "concat")
    assert other.tied and not other.equivalent and other.diff.high > rec.margin
    assert rec.default_fusion == "gated"
    assert "no other family is shown within the 0.01 margin of gated" in rec.decided_by
    assert f"(concat: up to {other.diff.high:.4f} worse)" in rec.decided_by

    twins = {**families, "late": Family(0.86, parameters=2000, twin="gated")}  # identical to gated: equivalent
    rec = recommend(write_sweep(tmp_path / "twin", twins, Layout(n_val=80, tasks={"a": 2})), n_boot=500)
    assert {f.fusion: f.equivalent for f in rec.fusions} == {"gated": True, "late": True, "concat": False}
    assert rec.default_fusion == "late"  # the cheaper of the two shown the same
    assert "among those shown within the 0.01 margin" in rec.decided_by
    assert "not the unsettled (concat: up to" in rec.decided_by


def test_two_seeds_give_a_provisional_default_and_say_so(tmp_path: Path) -> None:
    families = {"concat": Family(0.6, parameters=900), "low_rank": Family(0.95, parameters=5000)}
    rec = recommend(write_sweep(tmp_path / "two", families, Layout(seeds=2)), n_boot=300)
    assert rec.default_fusion == "low_rank" and rec.decided_by.startswith("provisional: low_rank has the highest mean")
    assert rec.tied == ["low_rank", "concat"] and rec.fusions[1].diff.low > 0  # the interval alone would call it
    assert rec.warnings[0].startswith("2 seed(s) per family: no family can be shown better")


def test_a_family_that_finished_too_few_seeds_is_left_out_not_everyone_cut_to_its_seeds(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    families = {"concat": Family(0.6), "gated": Family(0.9), "low_rank": Family(0.7)}
    sweep = write_sweep(tmp_path / "short", families)
    rows = pq.read_table(sweep / "results" / "trials.parquet").to_pylist()
    for row in rows:
        if row["trial_id"] in ("c-low_rank-1000", "c-low_rank-1001"):
            row["status"], row["error"] = "failed", "out of memory"
    pq.write_table(pa.Table.from_pylist(rows), sweep / "results" / "trials.parquet")
    rec = recommend(sweep, n_boot=300)
    assert [f.fusion for f in rec.fusions] == ["gated", "concat"] and rec.seeds == [1000, 1001, 1002]
    assert rec.failed["low_rank"].startswith("its finished confirmation seeds (1002) leave the families 1 in common; "
                                             "without it the others share 3")  # fmt: skip
    assert rec.decided_by.startswith("clear winner: gated")


def test_a_family_short_of_seeds_stays_when_leaving_it_out_would_not_settle_anything(tmp_path: Path) -> None:
    """Two families, one with 2 of 3 seeds: leaving it out would leave nothing to compare; both stay, provisionally."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sweep = write_sweep(tmp_path / "keep", {"concat": Family(0.6), "gated": Family(0.9)})
    rows = pq.read_table(sweep / "results" / "trials.parquet").to_pylist()
    for row in rows:
        if row["trial_id"] == "c-concat-1002":
            row["status"], row["error"] = "failed", "out of memory"
    pq.write_table(pa.Table.from_pylist(rows), sweep / "results" / "trials.parquet")
    rec = recommend(sweep, n_boot=300)
    assert {f.fusion for f in rec.fusions} == {"gated", "concat"} and rec.seeds == [1000, 1001]
    assert rec.decided_by.startswith("provisional: gated has the highest mean")


def _set_status(sweep: Path, changes: dict[str, tuple[str, str | None]]) -> None:
    """Give the named runs (trial id -> (status, error)) another ending in the sweep's trial table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pq.read_table(sweep / "results" / "trials.parquet").to_pylist()
    for row in rows:
        if row["trial_id"] in changes:
            row["status"], row["error"] = changes[row["trial_id"]]
    pq.write_table(pa.Table.from_pylist(rows), sweep / "results" / "trials.parquet")


def test_families_that_share_no_finished_seed_are_not_compared_and_say_why(tmp_path: Path) -> None:
    """concat finished seed 1000 only, gated 1001 and 1002 only: nothing to pair (this raised IndexError)."""
    sweep = write_sweep(tmp_path / "apart", {"concat": Family(0.6), "gated": Family(0.9)})
    oom = ("failed", "out of memory")
    _set_status(sweep, {"c-concat-1001": oom, "c-concat-1002": oom, "c-gated-1000": oom})
    rec = recommend(sweep, n_boot=300)
    assert not rec.confirmed and rec.default_fusion is None and rec.fusions == []
    assert rec.decided_by.startswith("not confirmed: no fusion family has confirmation runs that can be compared")
    assert set(rec.failed) == {"concat", "gated"}
    assert rec.failed["gated"].startswith(
        "no confirmation seed finished for every family (seeds finished: concat: 1000; gated: 1001, 1002)"
    )


def test_a_look_at_a_sweep_still_running_says_so_and_calls_unfinished_runs_unfinished(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "live", {"concat": Family(0.6), "gated": Family(0.9), "low_rank": Family(0.7)})
    _set_status(sweep, {f"c-low_rank-{seed}": ("running", None) for seed in (1000, 1001, 1002)})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from sweeper.sweep_folder import "
         "hold_sweep_folder\nwith hold_sweep_folder(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(120)",
         str(sweep)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        rec = recommend(sweep, n_boot=300)
        assert rec.warnings[0].startswith(f"the sweep is still running in sweeper (pid {holder.pid} on ")
        assert rec.failed["low_rank"] == "no confirmation run has finished yet (3 running)"
        assert [f.fusion for f in rec.fusions] == ["gated", "concat"]
        _set_status(sweep, {f"c-{family}-{seed}": ("running", None) for family in ("concat", "gated")
                            for seed in (1000, 1001, 1002)})  # fmt: skip
        rec = recommend(sweep, n_boot=300)
        assert not rec.confirmed and rec.decided_by.startswith(
            f"not confirmed yet: the sweep is still running in sweeper (pid {holder.pid} on "
        )
    finally:
        holder.kill()
        holder.wait()
    rec = recommend(sweep, n_boot=300)  # the holder is gone: the sweep is no longer running
    assert rec.decided_by.startswith("not confirmed: no fusion family has confirmation runs that can be compared")
    assert not any("still running" in w for w in rec.warnings)


def test_a_family_of_the_space_no_trial_tried_is_named_as_not_compared(tmp_path: Path) -> None:
    """A search that ended early (budget.timeout_s) may never reach a family: the answer must say it is not in it."""
    sweep = write_sweep(tmp_path / "short", {"concat": Family(0.6), "gated": Family(0.9)})
    spec = yaml.safe_load((sweep / "spec.yaml").read_text())
    spec["parameters"] = {"fusion": {"type": "choice", "values": ["concat", "gated", "low_rank", "film"]}}
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec))
    rec = recommend(sweep, n_boot=300, exclude=["film"])
    assert rec.warnings[-1].startswith("never tried by the search, so not compared: low_rank (the search ended")


def test_min_mode_metric_ranks_the_lowest_loss_first(tmp_path: Path) -> None:
    layout = Layout(objective="val/loss", mode="min")
    sweep = write_sweep(tmp_path / "loss", {"concat": Family(0.5), "gated": Family(0.9)}, layout)
    rec = recommend(sweep, n_boot=300)
    assert rec.mode == "min" and rec.default_fusion == "gated"
    assert rec.fusions[0].score.mean < rec.fusions[1].score.mean
    assert rec.fusions[1].diff.mean > 0  # positive favours the best, also when lower is better


def test_failed_families_are_never_ranked_and_say_why(tmp_path: Path) -> None:
    families = {"concat": Family(0.7), "gated": Family(0.9, failed="val/mean_macro_f1 is nan at epoch 2")}
    rec = recommend(write_sweep(tmp_path / "nan", families), n_boot=300)
    assert [f.fusion for f in rec.fusions] == ["concat"]
    assert "nan" in rec.failed["gated"]


def test_a_nan_objective_in_the_results_is_never_ranked(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sweep = write_sweep(tmp_path / "nanrow", {"concat": Family(0.7), "gated": Family(0.9)})
    rows = pq.read_table(sweep / "results" / "trials.parquet").to_pylist()
    for row in rows:
        if row["config/fusion"] == "gated":
            row["val/mean_macro_f1"] = float("nan")
    pq.write_table(pa.Table.from_pylist(rows), sweep / "results" / "trials.parquet")
    rec = recommend(sweep, n_boot=300)
    assert [f.fusion for f in rec.fusions] == ["concat"] and rec.failed["gated"] == "val/mean_macro_f1 is nan"
    assert rec.search is not None and "gated" in rec.search.unfinished


def test_a_family_asha_pruned_everywhere_is_confirmed_and_ranked(tmp_path: Path) -> None:
    families = {"concat": Family(0.6), "cross_attention": Family(0.9, search_status="pruned")}
    rec = recommend(write_sweep(tmp_path / "pruned", families), n_boot=300)
    assert rec.default_fusion == "cross_attention"
    assert rec.search is not None and rec.search.unfinished == {"cross_attention": 1}


def test_exclude_leaves_a_family_out_and_lists_it(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "ex", {"concat": Family(0.6), "low_rank": Family(0.9)})
    rec = recommend(sweep, exclude=["low_rank"], n_boot=300)
    assert [f.fusion for f in rec.fusions] == ["concat"] and rec.excluded == ["low_rank"]


def test_a_winner_at_chance_is_flagged_with_a_hint(tmp_path: Path) -> None:
    rec = recommend(write_sweep(tmp_path / "null", {"concat": Family(0.5), "gated": Family(0.5)},
                                Layout(tasks={"a": 2})), n_boot=300)  # fmt: skip
    assert rec.warnings and "does not clearly beat chance" in rec.warnings[0]
    assert rec.task_winners[0].chance == pytest.approx(0.5, abs=0.05)


def test_selecting_on_test_or_an_unknown_prefer_is_refused(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "t", {"concat": Family(0.6)})
    with pytest.raises(ConfigError, match="cannot select on 'test/mean_acc': selection uses validation only"):
        recommend(sweep, metric="test/mean_acc")
    with pytest.raises(ConfigError, match="prefer must be one of cheapest, best-mean, but got 'x'"):
        recommend(sweep, prefer="x")
    with pytest.raises(ConfigError, match="mode 'min' contradicts metric 'val/mean_acc', which is maximised"):
        recommend(sweep, metric="val/mean_acc", mode="min")


def test_report_has_the_sections_and_plots(tmp_path: Path) -> None:
    rec = recommend(write_sweep(tmp_path / "r", {"concat": Family(0.6), "gated": Family(0.9)}), n_boot=300)
    markdown = write_report(rec, tmp_path / "r" / "report").path.read_text()
    for section in ("## Ranking", "## Per task", "## Test split", "## Cost", "## Limitations", "ranking.png"):
        assert section in markdown
    assert (tmp_path / "r" / "report" / "regret.png").read_bytes()[:4] == b"\x89PNG"


def test_the_cost_table_gives_each_fusion_relative_to_concat(tmp_path: Path) -> None:
    families = {
        "concat": Family(0.6, parameters=1000, fusion_parameters=100, peak_memory_mb=10.0),
        "gated": Family(0.9, parameters=3000, fusion_parameters=2100, peak_memory_mb=25.0),
    }
    rec = recommend(write_sweep(tmp_path / "c", families), n_boot=300)
    markdown = write_report(rec, tmp_path / "c" / "report").path.read_text()
    (gated,) = [line for line in markdown.splitlines() if line.startswith("| gated | 3000")]
    assert gated.split(" | ")[1:] == [
        "3000 (3.00x)",
        "2100 (21.00x)",
        "1.000 (1.00x)",
        "20.000 (1.00x)",
        "25.000 (2.50x) |",
    ]
    assert "| concat | 1000 (1.00x) | 100 (1.00x) |" in markdown


def test_across_datasets_names_one_default_with_regret_ranks_and_a_friedman_test(tmp_path: Path) -> None:
    sweeps = []
    for i in range(5):  # 5 datasets x 1 task = 5 blocks: the rank test applies
        families = {"concat": Family(0.6), "gated": Family(0.85), "low_rank": Family(0.7)}
        if i == 4:
            families["film"] = Family(0.99)  # confirmed in one sweep only: not compared
        sweeps.append(write_sweep(tmp_path / f"d{i}", families, Layout(tasks={"y": 2}, seed=i)))
    result = recommend_across(sweeps, exclude=["concat"], n_boot=200)
    assert result.default_fusion == "gated"
    assert [f.fusion for f in result.families] == ["gated", "low_rank"]
    assert result.families[0].mean_regret == 0 and result.families[0].wins == 5
    assert result.families[1].worst_regret > 0.05 and result.families[1].mean_rank == 2
    assert result.friedman is not None and result.missing == {"film": ["d0", "d1", "d2", "d3"]}
    assert result.excluded == ["concat"] and result.dataset_winners["d4"] == "film"
    markdown = write_across_report(result, tmp_path / "report").path.read_text()
    assert "Friedman test over 5 datasets" in markdown and (tmp_path / "report" / "critical_difference.png").is_file()
    assert markdown.count("Test split (reported, never used to choose)") == 5  # the evidence of every dataset
    assert "| gated | " in markdown.split("### d3")[1]


def test_across_sweeps_of_the_same_data_count_as_one_dataset(tmp_path: Path) -> None:
    """Two sweeps of one dataset (say, two search spaces) are not two datasets: 5 sweeps of 4 datasets get no rank
    test, and that dataset's blocks weigh as one dataset in the mean regret."""
    sweeps = []
    for i in range(5):
        families = {"concat": Family(0.6 if i < 2 else 0.9), "gated": Family(0.9 if i < 2 else 0.6)}
        sweep = write_sweep(tmp_path / f"d{i}", families, Layout(tasks={"y": 2}, seed=i))
        spec = yaml.safe_load((sweep / "spec.yaml").read_text())
        spec["data"] = {"source": "manifest", "path": f"/data/set{max(i, 1)}.parquet"}  # d0 and d1: the same file
        (sweep / "spec.yaml").write_text(yaml.safe_dump(spec))
        sweeps.append(sweep)
    result = recommend_across(sweeps, n_boot=200)
    assert result.datasets == 4 and result.same_data == [["d0", "d1"]] and result.friedman is None
    assert "fewer than 5 datasets" in result.decided_by
    gated = next(f for f in result.families if f.fusion == "gated")
    concat = next(f for f in result.families if f.fusion == "concat")
    assert gated.mean_rank == (1 + 2 * 3) / 4  # d0 and d1 rank once together: concat wins there, gated elsewhere
    assert result.default_fusion == "concat" and concat.mean_regret < gated.mean_regret
    markdown = write_across_report(result, tmp_path / "report").path.read_text()
    assert "d0, d1 ran on the same data (the same data section): counted as one dataset" in markdown


def test_across_fewer_blocks_ties_within_the_margin(tmp_path: Path) -> None:
    sweeps = [write_sweep(tmp_path / f"d{i}", {"concat": Family(0.8), "gated": Family(0.8, twin="concat")},
                          Layout(tasks={"y": 2}, seed=i)) for i in range(2)]  # fmt: skip
    result = recommend_across(sweeps, n_boot=200)
    assert result.friedman is None and all(f.tied for f in result.families)
    assert "tie among" in result.decided_by


def test_across_the_tasks_of_one_dataset_are_not_independent_blocks(tmp_path: Path) -> None:
    """One dataset with 5 tasks: 5 (dataset, task) blocks but one dataset, so no rank test, and means weigh datasets."""
    five_tasks = Layout(tasks={f"t{i}": 2 for i in range(5)})
    families = {"concat": Family(0.6), "gated": Family(0.9)}
    sweeps = [write_sweep(tmp_path / "wide", families, five_tasks),
              write_sweep(tmp_path / "narrow", families, Layout(tasks={"y": 2}, seed=1))]  # fmt: skip
    result = recommend_across(sweeps, n_boot=200)
    assert len(result.blocks) == 6 and result.friedman is None
    assert "fewer than 5 datasets" in result.decided_by
    concat = next(f for f in result.families if f.fusion == "concat")
    by_dataset = [np.mean([result.regret["concat"][b] for b in result.blocks if b.startswith(f"{d}/")])
                  for d in ("wide", "narrow")]  # fmt: skip
    assert concat.mean_regret == pytest.approx(np.mean(by_dataset))


def test_across_when_friedman_finds_no_difference_the_margin_on_mean_regret_decides(tmp_path: Path) -> None:
    """Five datasets where gated always beats low_rank: with two families the rank test (a Wilcoxon signed-rank test
    over 5 datasets) cannot reach p < 0.05 (its smallest p is 0.0625). Ranks then say nothing, and the cheaper
    low_rank, 0.15 behind on every dataset, must not be chosen for its price."""
    sweeps = [write_sweep(tmp_path / f"d{i}", {"gated": Family(0.85), "low_rank": Family(0.7, parameters=500)},
                          Layout(tasks={"y": 2}, seed=i)) for i in range(5)]  # fmt: skip
    result = recommend_across(sweeps, n_boot=200)
    assert result.friedman is not None and result.friedman.p_value == pytest.approx(0.0625)
    assert result.default_fusion == "gated" and [f.tied for f in result.families] == [True, False]
    assert "p=0.0625 >= 0.05, so ranks do not separate the families" in result.decided_by


def test_across_sweeps_ranked_by_different_metrics_are_refused(tmp_path: Path) -> None:
    families = {"concat": Family(0.6), "gated": Family(0.9)}
    loss = Layout(tasks={"y": 2}, objective="val/loss", mode="min")
    f1 = Layout(tasks={"y": 2})
    sweeps = [write_sweep(tmp_path / "f1", families, f1), write_sweep(tmp_path / "loss", families, loss)]
    with pytest.raises(ConfigError, match=r"different metrics \(f1: macro_f1; loss: loss\).*give --metric"):
        recommend_across(sweeps, n_boot=200)


def test_the_cli_recommends_across_sweeps_and_writes_the_report_beside_them(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from sweeper.cli import app

    sweeps = [
        str(
            write_sweep(
                tmp_path / f"d{i}", {"concat": Family(0.6), "gated": Family(0.9)}, Layout(tasks={"y": 2}, seed=i)
            )
        )
        for i in range(3)
    ]
    runner = CliRunner()
    table = runner.invoke(app, ["recommend", *sweeps])
    assert table.exit_code == 0, table.output
    assert "best default fusion across 3 sweeps: gated" in table.output and "winner of d0: gated" in table.output
    assert (tmp_path / "report" / "recommendation.md").is_file() and (tmp_path / "report" / "regret.png").is_file()
    data = json.loads(runner.invoke(app, ["recommend", *sweeps, "--format", "json"]).output)
    assert data["default_fusion"] == "gated" and data["blocks"] == ["d0/y", "d1/y", "d2/y"]
    twice = runner.invoke(app, ["recommend", sweeps[0], sweeps[0]])
    assert twice.exit_code == 1 and "given more than once" in twice.output


@pytest.mark.parametrize(("shift", "expected"), [(-0.2, "s-gated"), (0.2, "s-gated-b")])
def test_with_several_configurations_per_family_the_best_on_validation_represents_it(
    tmp_path: Path, shift: float, expected: str
) -> None:
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    sweep = write_sweep(tmp_path / "per", {"concat": Family(0.6), "gated": Family(0.9)})
    rows = pq.read_table(sweep / "results" / "trials.parquet").to_pylist()
    extra = []
    for row in rows:
        if row["stage"] == "confirm" and row["config/fusion"] == "gated":
            twin = f"{row['trial_id']}-b"
            shutil.copy(sweep / "results" / "predictions" / f"{row['trial_id']}.parquet",
                        sweep / "results" / "predictions" / f"{twin}.parquet")  # fmt: skip
            score = row["val/mean_macro_f1"] + shift
            extra.append({**row, "trial_id": twin, "source_trial": "s-gated-b", "val/mean_macro_f1": score})
    pq.write_table(pa.Table.from_pylist(rows + extra), sweep / "results" / "trials.parquet")
    rec = recommend(sweep, n_boot=200)
    gated = next(f for f in rec.fusions if f.fusion == "gated")
    assert gated.source_trial == expected and gated.runs == 3  # one configuration's seeds, not both mixed


@pytest.mark.slow  # a fresh interpreter
def test_the_recommend_command_imports_neither_torch_nor_mlflow_nor_scipy_stats(tmp_path: Path) -> None:
    """Together ~3 s of a 3 s budget, and not needed: the model registry only checks --exclude names, MLflow only
    receives the report of a sweep with a parent run, scipy.stats only tests ranks across sweeps."""
    sweep = write_sweep(tmp_path / "imports", {"concat": Family(0.6), "gated": Family(0.9)})
    code = (
        "import sys\n"
        "from sweeper.cli import app\n"
        f"app(['recommend', {str(sweep)!r}, '--format', 'json'], standalone_mode=False)\n"
        "print(sorted(m for m in ('torch', 'mlflow', 'scipy.stats') if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_attention_fusions_get_a_heatmap_of_the_attention_each_modality_received(tmp_path: Path) -> None:
    families = {"concat": Family(0.6), "cross_attention": Family(0.9, attention={"image": 0.7, "text": 0.3})}
    rec = recommend(write_sweep(tmp_path / "a", families), n_boot=300)
    attention = {f.fusion: f.attention for f in rec.fusions}
    assert attention["concat"] == {} and attention["cross_attention"] == pytest.approx({"image": 0.7, "text": 0.3})
    markdown = write_report(rec, tmp_path / "a" / "report").path.read_text()
    assert "![attention by fusion and modality](attention.png)" in markdown
    assert (tmp_path / "a" / "report" / "attention.png").read_bytes()[:4] == b"\x89PNG"
