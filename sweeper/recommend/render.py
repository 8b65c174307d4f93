"""Render a Recommendation for a terminal (rich tables), as JSON, or as a Markdown document a team can paste."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from sweeper.recommend.rank import FamilyResult, Recommendation
from sweeper.recommend.stats import Interval

FORMATS = ("table", "json", "md")


def render_json(rec: Recommendation) -> str:
    return json.dumps(rec, indent=2, default=_jsonable)


def _jsonable(value: Any) -> Any:
    """A dataclass as its fields, as ``asdict`` gives them but without first deep-copying every search trial (~0.3 s
    for 10,000); anything else json cannot write, as text."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return str(value)


def headline(rec: Recommendation) -> str:
    if rec.default_fusion is None:
        leader = rec.search.best_per_fusion[0]["fusion"] if rec.search and rec.search.best_per_fusion else None
        lead = f" (search leader, single seed: {leader})" if leader else ""
        return f"no confirmed recommendation{lead}: {rec.decided_by}"
    others = [f for f in rec.tied if f != rec.default_fusion]
    tie = f", tied with {', '.join(others)}" if others else ""
    score = next(f.score for f in rec.fusions if f.fusion == rec.default_fusion)
    return f"best default fusion: {rec.default_fusion}{tie} ({rec.metric} = {ci(score)}); decided by: {rec.decided_by}"


def render_markdown(rec: Recommendation, plots: dict[str, str] | None = None) -> str:
    """The whole report; ``plots`` maps a caption to a PNG path relative to the document."""
    lines = [f"# Recommendation for sweep `{rec.sweep}`", "", f"**{headline(rec)}**", ""]
    for warning in rec.warnings:
        lines.append(f"> warning: {warning}")
    if rec.warnings:
        lines.append("")
    if rec.confirmed:
        lines += [f"Ranked by `{rec.metric}` on validation, mean ± {rec.confidence:.0%} CI over confirmed runs.", ""]
        lines += ["## Ranking (validation)", ""]
        lines += _md_table(["rank", "fusion", "score", "best minus this", "tied", "runs", "configuration"], [
            [str(i), f.fusion, ci(f.score), ci(f.diff), tie_label(f, i), str(f.runs), _params(f.params)]
            for i, f in enumerate(rec.fusions, 1)
        ])  # fmt: skip
        lines += [
            "",
            f"tied: *within margin*: the difference's whole interval is within {rec.margin:g} of the best; "
            "*unsettled*: not shown worse, nor within the margin (more seeds or samples would tell).",
        ]
        lines += ["", "## Per task (validation)", ""]
        lines += _md_table(["task", "metric", "winner", "score", "default's score", "default's regret", "chance"], [
            [t.task, t.metric, t.winner, ci(t.score), ci(t.default_score), ci(t.regret), f"{t.chance:.4f}"]
            for t in rec.task_winners
        ])  # fmt: skip
        lines += [""] + [f"- {p}" for p in rec.priorities] + ([""] if rec.priorities else [])
        lines += ["## Test split (reported, never used to choose)", "", *test_table(rec)]
        lines += ["", "## Cost", ""]
        base = next((f for f in rec.fusions if f.fusion == COST_BASE), None)
        if base is not None:
            lines += [f"Each figure, then its ratio to `{COST_BASE}`'s.", ""]
        lines += _md_table(
            ["fusion", "parameters", "fusion parameters", "train s / epoch", "inference us / sample",
             "peak memory MB"],
            [_cost_relative(f, base) for f in rec.fusions],
        )  # fmt: skip
        lines += _md_teacher(rec)
    lines += _md_apart(rec)
    if plots:
        lines += ["", "## Plots", ""] + [f"![{caption}]({path})" for caption, path in plots.items()]
    if rec.limitations:
        lines += ["", "## Limitations", ""] + [f"- {line}" for line in rec.limitations]
    lines += _md_search(rec)
    return "\n".join(lines) + "\n"


def test_table(rec: Recommendation) -> list[str]:
    """Markdown: every confirmed family's test objective and per-task acc, macro-F1 and AUROC, mean [95% CI]."""
    keys = list(rec.fusions[0].test) if rec.fusions else []
    return _md_table(["fusion", *keys], [[f.fusion, *(ci(f.test[k]) for k in keys)] for f in rec.fusions])


def print_table(rec: Recommendation, console: Console) -> None:
    if rec.confirmed:
        table = Table(title=f"sweep {rec.sweep}: confirmed fusion families by {rec.metric} (validation)")
        for column in ("rank", "fusion", "score (95% CI)", "best minus this", "tied", "runs", "parameters",
                       "train s/epoch", "infer ms/batch", "test objective"):  # fmt: skip
            table.add_column(column, justify="left" if column in ("fusion", "tied") else "right")
        for i, f in enumerate(rec.fusions, 1):
            test = ci(f.test["objective"]) if "objective" in f.test else ""
            table.add_row(str(i), f.fusion, ci(f.score), ci(f.diff), tie_label(f, i), str(f.runs),
                          *_cost(f)[1:], test)  # fmt: skip
        console.print(table)
        tasks = Table(title="per task: winner, the default's regret (winner minus default), chance level")
        for column in ("task", "metric", "winner", "score", "default's score", "regret", "chance"):
            tasks.add_column(column)
        for t in rec.task_winners:
            tasks.add_row(t.task, t.metric, t.winner, ci(t.score), ci(t.default_score), ci(t.regret), f"{t.chance:.4f}")
        console.print(tasks)
        for line in rec.priorities:
            console.print(f"  {line}", highlight=False)
    elif rec.search and rec.search.best_per_fusion:
        search = Table(title=f"sweep {rec.sweep}: search only (single seed, not a recommendation)")
        for column in ("fusion", "score", "trial", "params", "finished", "pruned"):
            search.add_column(column)
        for b in rec.search.best_per_fusion:
            search.add_row(b["fusion"], _num(b["score"], 4), b["trial_id"], _params(b["params"]), str(b["finished"]),
                           str(b["pruned"]))  # fmt: skip
        console.print(search)
    for line in _apart_lines(rec):
        console.print(line, highlight=False)
    for warning in rec.warnings:
        console.print(f"warning: {warning}", style="yellow", highlight=False)
    console.print(headline(rec), style="bold", highlight=False)


def tie_label(f: FamilyResult, rank: int) -> str:
    """The "tied" column: the best; shown within the margin of it; not shown worse, nor within the margin; worse."""
    if rank == 1:
        return "best"
    if f.equivalent:
        return "yes, within margin"
    return "yes, unsettled" if f.tied else "no"


def ci(value: Interval | dict[str, float]) -> str:
    v = value if isinstance(value, dict) else {"mean": value.mean, "low": value.low, "high": value.high}
    return f"{v['mean']:.4f} [{v['low']:.4f}, {v['high']:.4f}]"


def _apart_lines(rec: Recommendation) -> list[str]:
    lines = []
    if rec.excluded:
        lines.append(f"excluded (--exclude): {', '.join(rec.excluded)}")
    for family, reason in rec.failed.items():
        lines.append(f"not ranked: {family}: {reason}")
    if rec.search and rec.search.unfinished:
        tried = ", ".join(f"{f} ({n} trials)" for f, n in rec.search.unfinished.items())
        confirmed = {f.fusion for f in rec.fusions}
        note = "; confirmed from its best pruned configuration" if confirmed & set(rec.search.unfinished) else ""
        lines.append(f"no search trial reached the full budget: {tried}{note}")
    return lines


def _md_apart(rec: Recommendation) -> list[str]:
    lines = _apart_lines(rec)
    if len(rec.tied) > 1:
        lines.append(f"tied with the best: {', '.join(rec.tied)}")
    return ["", "## Excluded, failed or tied", "", *(f"- {line}" for line in lines)] if lines else []


def _md_search(rec: Recommendation) -> list[str]:
    if not rec.search:
        return []
    lines = ["", "## Search stage (single seed; ASHA-stopped trials apart)", ""]
    shown = {"completed": rec.search.ranked, "pruned": rec.search.pruned, "failed": rec.search.failed}
    counts = rec.search.counts or {k: len(v) for k, v in shown.items()}
    if any(counts[k] > len(v) for k, v in shown.items()):
        listed = ", ".join(f"{len(v)} of {counts[k]:,} {k}" for k, v in shown.items() if counts[k])
        lines += [f"Listed: the best {listed}; every trial is in `results/trials.parquet`.", ""]
    lines += _md_table(["trial", "fusion", "status", "epochs", "score", "params"], [
        [t["trial_id"], t["fusion"], "completed", str(t["epochs"]), _num(t["score"], 4), _params(t["params"])]
        for t in rec.search.ranked
    ] + [
        [t["trial_id"], t["fusion"], status, str(t["epochs"]), _num(t["score"], 4), _params(t["params"])]
        for status, trials in (("pruned", rec.search.pruned), ("failed", rec.search.failed)) for t in trials
    ])  # fmt: skip
    return lines


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _md_teacher(rec: Recommendation) -> list[str]:
    """A distillation sweep: the teacher beside every student family (size and validation score)."""
    if rec.teacher is None:
        return []
    t = rec.teacher
    lines = ["", "## Teacher and students", ""]
    lines += [f"Every trial was a student of one teacher ({_params(t['params'])}; {t['epochs']} epochs).", ""]
    rows = [["teacher", str(t["parameters"]), "1.00x", f"{t['score']:.4f}", ""]]
    for f in rec.fusions:
        size = f"{f.parameters / t['parameters']:.2f}x" if f.parameters and t["parameters"] else ""
        rows.append(
            [f"student: {f.fusion}", str(f.parameters or ""), size, ci(f.score), f"{f.score.mean - t['score']:+.4f}"]
        )
    return lines + _md_table(["model", "parameters", "size / teacher's", rec.metric, "student minus teacher"], rows)


COST_BASE = "concat"  # the cost table's yardstick, as in the reference EEG+audio comparison


def _cost_relative(f: FamilyResult, base: FamilyResult | None) -> list[str]:
    """The cost columns, each with its ratio to ``base``'s where both are known."""
    keys = ("parameters", "fusion_parameters", "train_s_per_epoch", "infer_us_per_sample", "peak_memory_mb")
    cells = [f.fusion]
    for key in keys:
        value = getattr(f, key)
        text = "" if value is None else str(value) if isinstance(value, int) else _num(value, 3)
        reference = getattr(base, key) if base is not None else None
        if value is not None and reference:
            text += f" ({value / reference:.2f}x)"
        cells.append(text)
    return cells


def _cost(f: FamilyResult) -> list[str]:
    return [f.fusion, str(f.parameters or ""), _num(f.train_s_per_epoch, 3), _num(f.infer_ms, 3)]


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"
