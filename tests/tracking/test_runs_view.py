"""What a user sees at the URL `sweeper ui` prints, in a real browser: Debian's chromium, headless, driven by
Playwright. The runs table must show the parent run and every trial by its readable name, with the columns fusion,
status and the objective, without a click."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from sweeper.sweep_folder import read_tracking
from sweeper.testing import free_port, need, stop_process_group
from sweeper.tracking import read_trials

# No GPU, no network beyond loopback, no first-run or background requests of the browser's own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextlib.contextmanager
def sweeper_ui(sweep: Path, log: Path) -> Iterator[str]:
    """`sweeper ui SWEEP --no-browser` on a free loopback port; yields the URL it printed once the server answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeper.cli", "ui", str(sweep), "--port", str(port), "--no-browser"],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the server and its workers: one process group, stopped together
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                    break
            time.sleep(0.5)
        else:
            pytest.fail(f"sweeper ui did not answer within 60 s: {log.read_text()[-2000:]}")
        printed = re.search(r"http://\S+", log.read_text())
        assert printed, log.read_text()
        yield printed.group(0)
    finally:
        stop_process_group(proc)


def _sweep_runs(sweep: Path) -> tuple[Any, list[Any]]:
    """(the parent run, its child runs), as MLflow's client reads them from the sweep's store."""
    saved = read_tracking(sweep)
    client = MlflowClient(saved["tracking_uri"])
    parent = client.get_run(saved["parent_run_id"])
    query = f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    return parent, client.search_runs([parent.info.experiment_id], query, max_results=1000)


@pytest.fixture(scope="session")
def browser() -> tuple[str, Any]:
    """Debian's chromium and Playwright's sync API, or a skip naming the package that is missing (in CI, a failure).
    Session-scoped and asked for before the sweep, so that a skip costs no sweep."""
    chromium = shutil.which("chromium")
    need(chromium, "chromium", "the browser, with chromium-driver")
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
    need(sync_api, "playwright", "the Python package that drives the browser; pip install -e '.[dev]'")
    return str(chromium), sync_api


@pytest.mark.slow
def test_sweeper_ui_shows_the_trials_with_their_fusion_status_and_objective(
    browser: tuple[str, Any], tiny_sweep: Path, tmp_path: Path
) -> None:
    chromium, sync_api = browser
    parent, children = _sweep_runs(tiny_sweep)
    objective = f"metrics.`{parent.data.params['objective']}`"
    shot = tmp_path / "runs.png"  # what the browser showed, for a failing run
    with sweeper_ui(tiny_sweep, tmp_path / "ui.log") as url, sync_api.sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = chrome.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(url)
            rows = page.locator(".ag-center-cols-container .ag-row")
            # every run is a row of its own: the trials are not collapsed under the parent
            sync_api.expect(rows).to_have_count(len(children) + 1, timeout=90_000)
            page.screenshot(path=str(shot))
            headers = page.locator(".ag-header-cell").all_inner_texts()
            table = {r: {c: _cell(page, r, c) for c in (_NAME, *_TAGS, objective)} for r in _row_ids(rows)}
        finally:
            chrome.close()

    assert {"fusion", "status", parent.data.params["objective"]} <= set(headers), (headers, shot)
    assert table.pop(parent.info.run_id)[_NAME] == parent.info.run_name, shot
    trials = {r["trial_id"]: r for r in read_trials(tiny_sweep).to_pylist()}
    for child in children:
        trial = trials[child.data.tags["sweeper.trial_id"]]
        shown = table[child.info.run_id]
        assert shown[_NAME] == child.info.run_name and shown[_NAME].startswith(f"{trial['config/fusion']}-"), shown
        assert trial["trial_id"] not in shown[_NAME]  # named by configuration, not by trial id
        assert (shown["tags.`fusion`"], shown["tags.`status`"]) == (trial["config/fusion"], trial["status"]), shown
        assert float(shown[objective]) == pytest.approx(trial["objective"], rel=1e-6), shown
    scores = [float(row[objective]) for row in table.values()]
    assert scores == sorted(scores, reverse=parent.data.params["mode"] == "max")  # the best trial first


_NAME = "attributes.`Run Name`"
_TAGS = ("tags.`fusion`", "tags.`status`")


def _row_ids(rows: Any) -> list[str]:
    """The rows' run ids, top to bottom (as displayed: the grid need not keep its rows in that order)."""
    shown = {int(str(row.get_attribute("row-index"))): str(row.get_attribute("row-id")) for row in rows.all()}
    return [shown[i] for i in sorted(shown)]


def _cell(page: Any, run_id: str, column: str) -> str:
    """The text a user reads in one cell of the runs table (the name column is pinned on the left, and the name is
    the link to the run, beside its colour swatch)."""
    where = ".ag-pinned-left-cols-container" if column == _NAME else ".ag-center-cols-container"
    link = " a" if column == _NAME else ""
    return str(page.locator(f'{where} [row-id="{run_id}"] [col-id="{column}"]{link}').inner_text())
