"""Write a recommendation's report folder (Markdown, JSON, PNG plots) and log it on the sweep's MLflow parent run.

One sweep: ``sweeps/<name>/report/`` holds ``recommendation.md``, ``recommendation.json``, ``ranking.png`` and
``regret.png`` (by task). Several sweeps: the same for the across-datasets decision, plus ``critical_difference.png``
when the rank test applies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sweeper.recommend import plots
from sweeper.recommend.across import Across
from sweeper.recommend.rank import Recommendation
from sweeper.recommend.render import render_json, render_markdown
from sweeper.recommend.render_across import render_across_json, render_across_markdown

REPORT_DIR = "report"


def write_report(rec: Recommendation, folder: Path, sweep_dir: Path | None = None) -> Report:
    """The report of one sweep (Markdown, JSON, plots); the ranking plots need confirmed runs, the search plots
    (learning curves, rung survival, parallel coordinates, importance) need ``sweep_dir``."""
    folder.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    if rec.confirmed:
        rows = [
            {"family": f.fusion, "mean": f.score.mean, "low": f.score.low, "high": f.score.high, "tied": f.tied,
             "default": f.fusion == rec.default_fusion}
            for f in rec.fusions
        ]  # fmt: skip
        plots.plot_ranking(rows, folder / "ranking.png", metric=rec.metric, title=f"{rec.sweep}: {rec.metric}")
        images["ranking with confidence intervals"] = "ranking.png"
        regret = {f.fusion: {t.task: _regret(rec, f.fusion, t.task) for t in rec.task_winners} for f in rec.fusions}
        plots.plot_regret_heatmap(regret, folder / "regret.png", title=f"{rec.sweep}: regret against each task's best")
        images["regret by task"] = "regret.png"
        attention = {f.fusion: f.attention for f in rec.fusions if f.attention}
        if attention:
            title = f"{rec.sweep}: attention each modality received (validation)"
            plots.plot_attention_heatmap(attention, folder / "attention.png", title=title)
            images["attention by fusion and modality"] = "attention.png"
    if sweep_dir is not None:
        from sweeper.recommend.search_plots import write_search_plots

        images |= write_search_plots(sweep_dir, folder)
    return _write_documents(folder, render_markdown(rec, images), render_json(rec))


def write_across_report(result: Across, folder: Path) -> Report:
    folder.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    if result.families:
        plots.plot_regret_heatmap(result.regret, folder / "regret.png", title="regret by dataset and task")
        images["regret by dataset and task"] = "regret.png"
    if result.friedman is not None:
        plots.plot_critical_difference(
            result.friedman.mean_ranks, result.friedman.critical_difference, folder / "critical_difference.png",
            title=f"mean ranks over {len(result.blocks)} blocks (Friedman p={result.friedman.p_value:.3g})",
        )  # fmt: skip
        images["critical-difference diagram"] = "critical_difference.png"
    return _write_documents(folder, render_across_markdown(result, images), render_across_json(result))


@dataclass
class Report:
    path: Path  # the Markdown file; the JSON lies beside it
    markdown: str
    json: str


def _write_documents(folder: Path, markdown: str, json: str) -> Report:
    (folder / "recommendation.md").write_text(markdown)
    (folder / "recommendation.json").write_text(json)
    return Report(folder / "recommendation.md", markdown, json)


def log_report(sweep_dir: Path, folder: Path, rec: Recommendation | None = None) -> bool:
    """Log the report folder on the sweep's MLflow parent run (artifact path ``report``), and with ``rec`` the
    sweep's summary: trials by stage and status, the best objective and the recommended default. False if the
    sweep has no parent run."""
    from sweeper.sweep_folder import read_tracking

    saved = read_tracking(sweep_dir)
    if not saved.get("parent_run_id"):
        return False
    from mlflow.entities import Metric, RunTag
    from mlflow.tracking import MlflowClient  # ~1 s to import: only for a sweep that has a parent run

    client = MlflowClient(saved["tracking_uri"])
    parent = saved["parent_run_id"]
    client.log_artifacts(parent, str(folder), artifact_path=REPORT_DIR)
    if rec is not None:
        now = int(time.time() * 1000)
        metrics = [Metric(f"summary/{k}", float(v), now, 0) for k, v in _summary_counts(sweep_dir).items()]
        if rec.fusions:
            metrics.append(Metric("summary/best_objective", rec.fusions[0].score.mean, now, 0))
        tags = [
            RunTag("sweeper.default_fusion", rec.default_fusion or "none"),
            RunTag("sweeper.decided_by", rec.decided_by[:5000]),
        ]
        client.log_batch(parent, metrics=metrics, tags=tags)
    return True


def _summary_counts(sweep_dir: Path) -> dict[str, int]:
    """``<stage>_<status>``: how many trials of each stage ended in each status."""
    from collections import Counter

    from sweeper.tracking import read_trials

    rows = read_trials(sweep_dir).to_pylist()
    return dict(Counter(f"{r['stage']}_{r['status']}" for r in rows))


def _regret(rec: Recommendation, family: str, task: str) -> float:
    """How much ``family`` gives up on ``task`` against the task's winner (validation means)."""
    result = next(t for t in rec.task_winners if t.task == task)
    scores = {f.fusion: f.task_scores[task] for f in rec.fusions}
    best = scores[result.winner]
    return abs(best - scores[family])
