"""Turn a sweep's results into a ranked recommendation with its evidence."""

from sweeper.recommend.rank import FusionSummary, Recommendation, TaskWinner, recommend
from sweeper.recommend.render import FORMATS, print_table, render_json, render_markdown

__all__ = [
    "FORMATS",
    "FusionSummary",
    "Recommendation",
    "TaskWinner",
    "print_table",
    "recommend",
    "render_json",
    "render_markdown",
]
