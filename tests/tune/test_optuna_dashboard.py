"""The sweep's Optuna study opens in optuna-dashboard (`optuna-dashboard sqlite:///sweeps/<name>/optuna.db`): its
API, served by the dashboard's own WSGI app, shows every search trial in its state with its parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from sweeper.tracking import read_trials

STATES = {"completed": "Complete", "pruned": "Pruned", "failed": "Fail"}


def _get(app: Any, path: str) -> Any:
    status: list[str] = []
    environ: dict[str, Any] = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    assert status == ["200 OK"], (path, status, body[:300])
    return json.loads(body)


def test_the_study_opens_in_optuna_dashboard_with_every_trial_state_and_parameter(tiny_sweep: Path) -> None:
    dashboard = pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is in the dev extra")
    app = dashboard.wsgi(f"sqlite:///{tiny_sweep / 'optuna.db'}")
    (summary,) = _get(app, "/api/studies")["study_summaries"]
    assert summary["study_name"] == "tiny"
    study = _get(app, f"/api/studies/{summary['study_id']}")
    shown = {
        next(a["value"] for a in t["user_attrs"] if a["key"] == "trial_id"): t
        for t in study["trials"]
        if any(a["key"] == "trial_id" for a in t["user_attrs"])
    }
    search = [r for r in read_trials(tiny_sweep).to_pylist() if r["stage"] == "search"]
    assert len(shown) == len(search) == 8
    for row in search:
        trial = shown[row["trial_id"]]
        assert trial["state"] == STATES[row["status"]], row["trial_id"]
        params = {p["name"]: p["param_external_value"] for p in trial["params"]}
        assert params["fusion"] == row["config/fusion"]
        assert float(params["lr"]) == pytest.approx(row["config/lr"])
