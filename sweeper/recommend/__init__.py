"""Turn a sweep's confirmed runs into a ranked recommendation with its evidence (one sweep, or across several)."""

from sweeper.recommend.rank import FamilyResult, Recommendation, TaskResult, recommend
from sweeper.recommend.render import FORMATS, print_table, render_json, render_markdown

__all__ = [
    "FORMATS",
    "FamilyResult",
    "Recommendation",
    "TaskResult",
    "print_table",
    "recommend",
    "render_json",
    "render_markdown",
]
