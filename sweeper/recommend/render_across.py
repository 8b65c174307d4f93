"""Render the across-datasets decision (``across.Across``) for a terminal or as Markdown."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from sweeper.recommend.across import Across
from sweeper.recommend.render import headline, test_table


def across_headline(result: Across) -> str:
    if result.default_fusion is None:
        return f"no default across datasets: {result.decided_by}"
    others = [f.fusion for f in result.families if f.tied and f.fusion != result.default_fusion]
    tie = f", tied with {', '.join(others)}" if others else ""
    datasets = f"{result.datasets} dataset{'' if result.datasets == 1 else 's'}"
    over = f"{len(result.sweeps)} sweeps" + (f" ({datasets})" if result.same_data else "")
    return f"best default fusion across {over}: {result.default_fusion}{tie}; decided by: {result.decided_by}"


def same_data_notes(result: Across) -> list[str]:
    return [
        f"{', '.join(group)} ran on the same data (the same data section): counted as one dataset"
        for group in result.same_data
    ]


def render_across_json(result: Across) -> str:
    return json.dumps(result.to_dict(), indent=2, default=str)


def render_across_markdown(result: Across, plots: dict[str, str] | None = None) -> str:
    lines = ["# Recommendation across datasets", "", f"**{across_headline(result)}**", ""]
    lines += ["## Summary over datasets", ""]
    lines += ["Mean regret: over datasets, each the mean over its tasks; mean rank: over datasets. Worst regret and "
              "wins: over (dataset, task) blocks.", ""]  # fmt: skip
    lines += [
        "| fusion | mean regret | worst regret | mean rank | wins | tied | parameters |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in result.families:
        lines.append(
            f"| {f.fusion} | {f.mean_regret:.4f} | {f.worst_regret:.4f} | {f.mean_rank:.2f} | {f.wins} | "
            f"{'yes' if f.tied else 'no'} | {'' if f.parameters is None else int(f.parameters)} |"
        )
    if result.friedman is not None:
        fr = result.friedman
        lines += [
            "",
            f"Friedman test over {result.datasets} datasets: chi2 = {fr.statistic:.3f}, p = {fr.p_value:.3g}; "
            f"Nemenyi critical difference {fr.critical_difference:.2f} ranks.",
        ]
    lines += ["", "## Regret per block (block's best minus the family, validation)", ""]
    lines += ["| fusion | " + " | ".join(result.blocks) + " |", "|---|" + "---|" * len(result.blocks)]
    for family, by_block in result.regret.items():
        lines.append(f"| {family} | " + " | ".join(f"{by_block[b]:.4f}" for b in result.blocks) + " |")
    lines += ["", "## Winner of each dataset", ""]
    lines += [
        f"- {name}: {rec.default_fusion}" for name, rec in zip(result.dataset_winners, result.sweeps, strict=True)
    ]
    if result.same_data:
        lines += ["", "## Sweeps of the same data", ""] + [f"- {note}" for note in same_data_notes(result)]
    if result.excluded or result.missing:
        lines += ["", "## Excluded or missing", ""]
        lines += [f"- excluded (--exclude): {', '.join(result.excluded)}"] if result.excluded else []
        lines += [f"- {f}: not confirmed in {', '.join(s)}" for f, s in result.missing.items()]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{caption}]({path})" for caption, path in plots.items()]
    lines += ["", "## Each dataset", ""]
    for name, rec in zip(result.dataset_winners, result.sweeps, strict=True):
        lines += [f"### {name}", "", headline(rec), ""]
        if rec.confirmed:
            lines += ["Test split (reported, never used to choose):", "", *test_table(rec), ""]
        lines += [f"Limitations: {'; '.join(rec.limitations)}" if rec.limitations else "", ""]
    return "\n".join(lines) + "\n"


def print_across(result: Across, console: Console) -> None:
    table = Table(title=f"across {len(result.sweeps)} sweeps: {len(result.blocks)} (dataset, task) blocks")
    for column in ("fusion", "mean regret", "worst regret", "mean rank", "wins", "tied"):
        table.add_column(column)
    for f in result.families:
        table.add_row(f.fusion, f"{f.mean_regret:.4f}", f"{f.worst_regret:.4f}", f"{f.mean_rank:.2f}", str(f.wins),
                      "yes" if f.tied else "no")  # fmt: skip
    console.print(table)
    blocks = Table(title="regret per block (block's best minus the family)")
    blocks.add_column("fusion")
    for b in result.blocks:
        blocks.add_column(b)
    for family, by_block in result.regret.items():
        blocks.add_row(family, *(f"{by_block[b]:.4f}" for b in result.blocks))
    console.print(blocks)
    if result.friedman is not None:
        fr = result.friedman
        console.print(f"Friedman test: chi2={fr.statistic:.3f}, p={fr.p_value:.3g}; CD={fr.critical_difference:.2f}")
    for name, winner in result.dataset_winners.items():
        console.print(f"winner of {name}: {winner}", highlight=False)
    if result.excluded:
        console.print(f"excluded (--exclude): {', '.join(result.excluded)}", highlight=False)
    for family, sweeps in result.missing.items():
        console.print(f"not compared, not confirmed in {', '.join(sweeps)}: {family}", highlight=False)
    for note in same_data_notes(result):
        console.print(note, highlight=False)
    console.print(across_headline(result), style="bold", highlight=False)
