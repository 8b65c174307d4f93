"""Render a Recommendation for a terminal (rich table), as JSON, or as Markdown."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from sweeper.recommend.rank import Recommendation

FORMATS = ("table", "json", "md")


def render_json(rec: Recommendation) -> str:
    return json.dumps(rec.to_dict(), indent=2, default=str)


def render_markdown(rec: Recommendation) -> str:
    lines = [f"# Recommendation for sweep `{rec.sweep}`", ""]
    lines.append(_headline(rec))
    lines += [
        "",
        f"Ranked by `{rec.metric}` ({rec.mode}); only trials that trained the full budget compete.",
        "",
    ]
    lines += ["## Best configuration per fusion", ""]
    lines.append("| rank | fusion | score | trial | params | finished | pruned | mean train s | parameters |")
    lines.append("|---:|---|---:|---|---|---:|---:|---:|---:|")
    for i, f in enumerate(rec.fusions, 1):
        lines.append(
            f"| {i} | {f.fusion} | {f.score:.4f} | {f.trial_id} | {_params(f.params)} | {f.finished} | "
            f"{f.pruned} | {_num(f.mean_train_s)} | {f.parameters or ''} |"
        )
    if rec.unfinished:
        lines += ["", _unfinished(rec)]
    if rec.task_winners:
        lines += ["", "## Per task", "", "| task | metric | winner | score | default's score | regret |"]
        lines.append("|---|---|---|---:|---:|---:|")
        for w in rec.task_winners:
            lines.append(
                f"| {w.task} | {w.metric} | {w.fusion} | {w.score:.4f} | {w.default_score:.4f} | {w.regret:.4f} |"
            )
    if rec.pruned or rec.failed:
        lines += [
            "",
            "## Not compared: stopped early by ASHA, or failed",
            "",
            "| trial | fusion | status | epochs | score |",
        ]
        lines.append("|---|---|---|---:|---:|")
        for status, trials in (("pruned", rec.pruned), ("failed", rec.failed)):
            lines += [
                f"| {t['trial_id']} | {t['fusion']} | {status} | {t['epochs']} | {_num(t['score'], 4)} |"
                for t in trials
            ]
    return "\n".join(lines) + "\n"


def print_table(rec: Recommendation, console: Console) -> None:
    table = Table(title=f"sweep {rec.sweep}: best configuration per fusion, by {rec.metric} ({rec.mode})")
    for column in (
        "rank",
        "fusion",
        "score",
        "trial",
        "params",
        "finished",
        "pruned",
        "mean train s",
        "parameters",
    ):
        table.add_column(column, justify="right" if column not in ("fusion", "trial", "params") else "left")
    for i, f in enumerate(rec.fusions, 1):
        table.add_row(
            str(i), f.fusion, f"{f.score:.4f}", f.trial_id, _params(f.params), str(f.finished), str(f.pruned),
            _num(f.mean_train_s), str(f.parameters or ""),
        )  # fmt: skip
    console.print(table)
    if rec.unfinished:
        console.print(_unfinished(rec), highlight=False)
    if rec.task_winners:
        tasks = Table(title="per task: winner and the default's regret")
        for column in ("task", "metric", "winner", "score", "default's score", "regret"):
            tasks.add_column(column)
        for w in rec.task_winners:
            tasks.add_row(w.task, w.metric, w.fusion, f"{w.score:.4f}", f"{w.default_score:.4f}", f"{w.regret:.4f}")
        console.print(tasks)
    if rec.pruned or rec.failed:
        apart = Table(title="not compared: stopped early by ASHA, or failed")
        for column in ("trial", "fusion", "status", "epochs", "score", "error"):
            apart.add_column(column)
        for status, trials in (("pruned", rec.pruned), ("failed", rec.failed)):
            for t in trials:
                apart.add_row(
                    t["trial_id"], t["fusion"], status, str(t["epochs"]), _num(t["score"], 4), t.get("error") or ""
                )
        console.print(apart)
    console.print(_headline(rec), style="bold")


def _headline(rec: Recommendation) -> str:
    if rec.default_fusion is None:
        return "no trial trained the full budget: no default fusion can be named (raise num_samples or max_epochs)"
    best = rec.fusions[0]
    return f"best default fusion: {rec.default_fusion} ({rec.metric} = {best.score:.4f}, trial {best.trial_id})"


def _unfinished(rec: Recommendation) -> str:
    tried = ", ".join(f"{fusion} ({n} trial{'s' if n != 1 else ''})" for fusion, n in rec.unfinished.items())
    return f"Not ranked, no trial reached the full budget: {tried}."


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"
