"""What the search stage found, shown beside a recommendation: single-seed scores, never a decision on their own.

Finished search trials are ranked by the metric; trials ASHA stopped early are listed apart (an early-stopped score
is not a final one), and so are failed trials and families that never finished a trial (confirmation still
re-trains those from their best pruned configuration). A report lists the best ``SHOWN`` of each kind and counts
the rest: at 10,000 trials a full list is megabytes that nobody reads, and ``results/trials.parquet`` has them all.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sweeper.recommend.sources import params_of
from sweeper.tracking import TrialStatus

SHOWN = 20  # trials listed per kind (finished, pruned, failed); the counts cover all of them


@dataclass
class SearchSummary:
    ranked: list[dict[str, Any]]  # the best finished search trials, best first: trial_id, fusion, epochs, score, params
    best_per_fusion: list[dict[str, Any]]  # the first ranked trial of each family, with finished/pruned counts
    pruned: list[dict[str, Any]] = field(default_factory=list)  # the best pruned trials
    failed: list[dict[str, Any]] = field(default_factory=list)  # the first failed trials
    unfinished: dict[str, int] = field(default_factory=dict)  # family without a finished trial -> trials it had
    counts: dict[str, int] = field(default_factory=dict)  # completed / pruned / failed -> trials in all


def summarise_search(rows: list[dict[str, Any]], metric: str, sign: float) -> SearchSummary:
    """``rows`` carry a ``fusion`` key; only the search stage's rows are summarised."""
    rows = [r for r in rows if r.get("stage", "search") == "search"]
    finished = [
        r for r in rows if r["status"] == TrialStatus.COMPLETED.value and r.get(metric) is not None
        and math.isfinite(r[metric])
    ]  # fmt: skip
    finished.sort(key=lambda r: -sign * r[metric])
    statuses = Counter((r["fusion"], r["status"]) for r in rows)
    best: list[dict[str, Any]] = []
    for row in finished:
        if all(b["fusion"] != row["fusion"] for b in best):
            best.append(
                {
                    **brief(row, metric),
                    "finished": statuses[row["fusion"], TrialStatus.COMPLETED.value],
                    "pruned": statuses[row["fusion"], TrialStatus.PRUNED.value],
                }
            )
    pruned = [r for r in rows if r["status"] == TrialStatus.PRUNED.value]
    pruned.sort(key=lambda r: -sign * r[metric] if r.get(metric) is not None and math.isfinite(r[metric]) else math.inf)
    failed = [r for r in rows if r["status"] == TrialStatus.FAILED.value]
    return SearchSummary(
        ranked=[brief(r, metric) for r in finished[:SHOWN]],
        best_per_fusion=best,
        pruned=[brief(r, metric) for r in pruned[:SHOWN]],
        failed=[{**brief(r, metric), "error": r.get("error")} for r in failed[:SHOWN]],
        counts={"completed": len(finished), "pruned": len(pruned), "failed": len(failed)},
        unfinished={
            f: sum(r["fusion"] == f for r in rows)
            for f in dict.fromkeys(r["fusion"] for r in rows)
            if all(b["fusion"] != f for b in best)
        },
    )


def brief(row: dict[str, Any], metric: str) -> dict[str, Any]:
    return {
        "trial_id": row["trial_id"],
        "fusion": row["fusion"],
        "epochs": row.get("epochs"),
        "score": row.get(metric),
        "params": params_of(row),
    }
