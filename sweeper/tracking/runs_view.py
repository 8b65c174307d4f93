"""The sweep's runs table in the MLflow UI: which columns it shows and in what order its runs come.

By default MLflow's runs table shows no metric, param or tag column, and nests child runs, collapsed, under their
parent: a user sees one row per sweep. A saved view changes that. MLflow stores one as an experiment tag
``mlflow.sharedViewState.<id>`` whose value is ``{"name", "createdAt", "state"}`` (``state``: the UI state as
JSON); the UI's Views menu lists it, and the ``viewStateShareKey=<id>`` URL parameter opens it. Sorted by the
objective, the table is flat (MLflow nests child runs only when runs are sorted by creation time), so the parent run
and every trial are rows, best first. MLflow releases before saved views (2.x) open their default view instead.
"""

from __future__ import annotations

import json
from typing import Any

VIEW_ID = "sweeper-trials"  # the view's id: its tag's suffix and the URL parameter's value
VIEW_NAME = "sweeper: trials by objective"  # as the Views menu lists it
_TAG_PREFIX = "mlflow.sharedViewState."
_TRIAL_TAGS = ("fusion", "status")  # tags every trial's run carries (sweeper.tracking.sync)
_NAME_COLUMN = "attributes.`Run Name`"


def view_state(objective: str, mode: str) -> dict[str, Any]:
    """The UI state of the view: the objective and the trial tags as columns, runs sorted best first."""
    objective_column = f"metrics.`{objective}`"
    columns = [objective_column, *(f"tags.`{t}`" for t in _TRIAL_TAGS)]
    return {
        "selectedColumns": columns,
        "orderByKey": objective_column,
        "orderByAsc": mode == "min",
        # widths for names such as cross_attention-h1-lr3e-03-seed1000-fold1; the UI applies a width only to a
        # column listed in the order
        "columnOrder": [_NAME_COLUMN, *columns],
        "columnWidths": {_NAME_COLUMN: 320, columns[1]: 130},
    }


def save_runs_view(client: Any, parent: Any) -> str:
    """Save the view on the experiment of ``parent`` (the sweep's parent run); returns the URL parameter that opens
    it. Saving again writes the same tag: the objective and mode come from the parent's params."""
    params = parent.data.params
    experiment_id = parent.info.experiment_id
    created = client.get_experiment(experiment_id).creation_time or 0
    state = view_state(params.get("objective", ""), params.get("mode", "max"))
    envelope = {"name": VIEW_NAME, "createdAt": int(created), "state": json.dumps(state)}
    client.set_experiment_tag(experiment_id, f"{_TAG_PREFIX}{VIEW_ID}", json.dumps(envelope))
    return f"viewStateShareKey={VIEW_ID}"
