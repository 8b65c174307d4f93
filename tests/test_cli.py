"""The command line as a user drives it: exit codes, one-line errors, and every command's help."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sweeper.cli import app
from sweeper.testing import TINY, free_port, stop_process_group

runner = CliRunner()
DEMO = str(Path(__file__).resolve().parent.parent / "search_spaces" / "demo.yaml")


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def _commands() -> list[list[str]]:
    """Every command, sub-commands of groups (``data check``) included, as the words a user types."""
    words = [[c.name or c.callback.__name__] for c in app.registered_commands]  # type: ignore[union-attr]
    for group in app.registered_groups:
        assert group.typer_instance is not None and group.name
        words.append([group.name])
        words += [[group.name, c.name or c.callback.__name__] for c in group.typer_instance.registered_commands]  # type: ignore[union-attr]
    return words


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output.splitlines()) > 3
    assert "Traceback" not in result.output


def test_top_level_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "confirm", "recommend", "ui", "check"):
        assert command in result.output


def test_run_sweeps_from_yaml_and_ends_with_a_recommendation(ray_session: None, tmp_path: Path) -> None:
    spec = {**TINY, "name": "cli", "budget": {**TINY["budget"], "num_samples": 4, "max_concurrent": 2}}
    (tmp_path / "cli.yaml").write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["run", str(tmp_path / "cli.yaml"), "--sweeps-dir", str(tmp_path / "sweeps")])
    assert result.exit_code == 0, result.output
    assert result.output.count("] ") >= 4  # one progress line per trial
    assert "best default fusion: " in result.output
    assert (tmp_path / "sweeps" / "cli" / "results" / "trials.parquet").is_file()

    again = runner.invoke(app, ["run", str(tmp_path / "cli.yaml"), "--sweeps-dir", str(tmp_path / "sweeps")])
    assert "already holds a sweep; pass --overwrite" in _one_line_error(again)


def test_run_in_a_sweep_folder_with_a_question_mark_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    line = _one_line_error(runner.invoke(app, ["run", DEMO, "--sweeps-dir", str(tmp_path / "a?b=1")]))
    assert f"sweep folder '{tmp_path}/a?b=1/demo' has a '?' in its path" in line
    assert not any(tmp_path.iterdir())


def test_run_with_a_missing_spec_is_one_line(tmp_path: Path) -> None:
    line = _one_line_error(runner.invoke(app, ["run", str(tmp_path / "nope.yaml")]))
    assert "nope.yaml" in line and "does not exist" in line


def test_run_with_an_unknown_fusion_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    spec = {**TINY, "parameters": {"fusion": {"type": "choice", "values": ["concat", "gatd"]}}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    line = _one_line_error(runner.invoke(app, ["run", str(tmp_path / "bad.yaml"), "--sweeps-dir", str(tmp_path)]))
    assert "unknown fusion 'gatd'; known: add, " in line and " concat, " in line
    assert not (tmp_path / "tiny").exists()


def test_recommend_names_a_default_in_every_format(tiny_sweep: Path) -> None:
    table = runner.invoke(app, ["recommend", str(tiny_sweep)])
    assert table.exit_code == 0, table.output
    assert "best default fusion: " in table.output

    data = json.loads(runner.invoke(app, ["recommend", str(tiny_sweep), "--format", "json"]).output)
    assert data["confirmed"] and data["default_fusion"] in ("concat", "gated", "cross_attention", "low_rank")
    assert data["default_fusion"] in data["tied"] and data["tied"][0] == data["fusions"][0]["fusion"]
    assert data["decided_by"] and data["fusions"][0]["score"]["low"] <= data["fusions"][0]["score"]["mean"]

    md = runner.invoke(app, ["recommend", str(tiny_sweep), "--format", "md"]).output
    assert f"best default fusion: {data['default_fusion']}" in md and "| rank | fusion |" in md
    search = data["search"]
    for pruned in search["pruned"]:  # the search stage's early-stopped trials, listed apart
        assert f"| {pruned['trial_id']} | {pruned['fusion']} | pruned |" in md
        assert pruned["trial_id"] not in [r["trial_id"] for r in search["ranked"]]
    assert (tiny_sweep / "report" / "recommendation.md").is_file() and (tiny_sweep / "report" / "ranking.png").is_file()


def test_recommend_exclude_removes_a_fusion(tiny_sweep: Path) -> None:
    first = json.loads(runner.invoke(app, ["recommend", str(tiny_sweep), "--format", "json"]).output)
    result = runner.invoke(
        app, ["recommend", str(tiny_sweep), "--format", "json", "--exclude", first["default_fusion"]]
    )
    second = json.loads(result.output)
    assert first["default_fusion"] not in [f["fusion"] for f in second["fusions"]]
    assert second["excluded"] == [first["default_fusion"]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--metric", "val/nope"], "unknown metric 'val/nope'; known: "),
        (["--exclude", "gatd"], "unknown fusion 'gatd'; known: "),
        (["--mode", "up"], "mode must be 'max' or 'min', but got 'up'"),
        (["--metric", "test/mean_acc"], "cannot select on 'test/mean_acc': selection uses validation only"),
        (["--prefer", "fast"], "prefer must be one of cheapest, best-mean, but got 'fast'"),
        (["--margin", "-1"], "margin must be >= 0, but got -1.0"),
    ],
)
def test_recommend_bad_options_are_one_line(tiny_sweep: Path, args: list[str], expected: str) -> None:
    assert expected in _one_line_error(runner.invoke(app, ["recommend", str(tiny_sweep), *args]))


def test_recommend_on_a_folder_that_is_not_a_sweep(tmp_path: Path) -> None:
    assert "is not a sweep folder" in _one_line_error(runner.invoke(app, ["recommend", str(tmp_path)]))
    assert "does not exist" in _one_line_error(runner.invoke(app, ["recommend", str(tmp_path / "x")]))


def test_check_shows_sampled_configs(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(TINY))
    result = runner.invoke(app, ["check", str(tmp_path / "s.yaml"), "--samples", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.count("fusion=") == 3


# `sweeper check` runs in a fresh interpreter; it prints which heavy packages it imported.
_CHECK_IMPORTS = (
    "import sys\n"
    "from typer.testing import CliRunner\n"
    "from sweeper.cli import app\n"
    "result = CliRunner().invoke(app, ['check', sys.argv[1]])\n"
    "print(result.exit_code, result.output.strip().splitlines()[0])\n"
    "print(' '.join(m for m in ('torch', 'ray', 'mlflow', 'pyarrow') if m in sys.modules) or 'none')\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("fusion", ["cross_attention", "crossattention"])
def test_check_imports_neither_torch_nor_ray(tmp_path: Path, fusion: str) -> None:
    spec = {**TINY, "parameters": {**TINY["parameters"], "fusion": {"type": "choice", "values": ["concat", fusion]}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    run = subprocess.run(
        [sys.executable, "-c", _CHECK_IMPORTS, str(tmp_path / "s.yaml")], capture_output=True, text=True
    )
    status, imported = run.stdout.strip().splitlines()
    assert imported == "none", run.stderr
    if fusion == "cross_attention":
        assert status.startswith("0 ") and "valid sweep spec" in status
    else:  # a wrong name is found from the registries' source, torch still not imported
        assert status.startswith("1 ") and "unknown fusion 'crossattention'; known: add, " in status


def test_ui_refuses_a_folder_without_a_store(tmp_path: Path) -> None:
    assert "no MLflow store" in _one_line_error(runner.invoke(app, ["ui", str(tmp_path)]))


def test_ui_serves_the_sweeps_store_on_loopback(tiny_sweep: Path, tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "ui.out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeper.cli", "ui", str(tiny_sweep), "--port", str(port), "--no-browser"],
        stdout=out.open("w"),
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the server and its workers form one process group, stopped together below
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
                    data=b'{"max_results": 10}',
                    headers={"Content-Type": "application/json"},
                )
                body = json.loads(urllib.request.urlopen(request, timeout=2).read())
            except OSError:
                time.sleep(0.5)
        assert body is not None, "the MLflow UI did not answer within 60 s"
        assert "tiny" in [e["name"] for e in body["experiments"]]
        (experiment,) = [e["experiment_id"] for e in body["experiments"] if e["name"] == "tiny"]
        # it prints the sweep's runs table, not MLflow 3's GenAI home
        view = f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs?workflowType=machine_learning"
        assert view in out.read_text()
    finally:
        stop_process_group(proc)


def test_child_runs_are_named_by_configuration_and_the_parent_carries_the_summary(
    tiny_sweep: Path, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    from sweeper.recommend import recommend
    from sweeper.recommend.report import log_report, write_report
    from sweeper.sweep_folder import read_tracking

    saved = read_tracking(tiny_sweep)
    client = MlflowClient(saved["tracking_uri"])
    parent = client.get_run(saved["parent_run_id"])
    query = f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    children = client.search_runs([parent.info.experiment_id], query, max_results=500)
    for child in children:
        name, tags = child.info.run_name, child.data.tags
        assert name.startswith(f"{tags['fusion']}-") and "-lr" in name, name  # e.g. gated-lr3e-03
        assert tags["sweeper.trial_id"] and tags["sweeper.trial_id"] not in name
        if tags.get("sweeper.stage") == "confirm":
            assert f"-seed{tags['sweeper.seed']}" in name

    rec = recommend(tiny_sweep, n_boot=200)
    folder = tmp_path / "report"
    write_report(rec, folder)
    assert log_report(tiny_sweep, folder, rec)
    summary = client.get_run(parent.info.run_id).data
    assert summary.tags["sweeper.default_fusion"] == rec.default_fusion
    assert summary.metrics["summary/best_objective"] == pytest.approx(rec.fusions[0].score.mean)
    search = sum(v for k, v in summary.metrics.items() if k.startswith("summary/search_"))
    assert search == 8  # TINY's num_samples, by status


def test_run_against_an_unreachable_cluster_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    port = free_port()
    args = ["run", DEMO, "--address", f"127.0.0.1:{port}", "--sweeps-dir", str(tmp_path)]
    line = _one_line_error(runner.invoke(app, args))
    assert f"cannot reach the Ray cluster at '127.0.0.1:{port}'" in line
    assert not any(tmp_path.iterdir())


def test_run_where_the_sweep_folder_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """A read-only folder (a bind mount in a mount namespace of the test's own) refuses root too, as a folder of
    another user refuses anyone else; before, the sweep's mkdir ended in a traceback."""
    outer = ["unshare", "--user", "--map-root-user", "--mount"]
    if shutil.which("unshare") is None or subprocess.run([*outer, "true"], capture_output=True).returncode:
        pytest.skip("needs util-linux's unshare and mount namespaces")
    ro = tmp_path / "ro"
    ro.mkdir()
    quoted = shlex.quote(str(ro))
    script = f'mount --bind {quoted} {quoted} && mount -o remount,bind,ro {quoted} && exec "$@"'
    done = subprocess.run(
        [*outer, "sh", "-c", script, "sh", sys.executable, "-m", "sweeper", "run", DEMO, "--sweeps-dir", str(ro)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: sweep folder '{ro}/demo' cannot be written: '{ro}' is not writable; choose another with --sweeps-dir"
    ]
    assert not any(ro.iterdir())


def test_list_shows_every_registered_name_with_hyperparameters() -> None:
    from sweeper.models import ENCODERS, FUSIONS, HEADS, STRATEGIES
    from sweeper.train import LOSSES

    data = json.loads(runner.invoke(app, ["list", "--format", "json"]).output)
    names = {section: [row["name"] for row in rows] for section, rows in data.items()}
    assert set(FUSIONS.names()) | set(STRATEGIES.names()) == set(names["fusions"])
    assert "only:<modality>" in names["fusions"]  # the parametrised strategy, as a spec writes it
    assert set(ENCODERS.names()) == set(names["encoders"])
    assert set(HEADS.names()) == set(names["heads"]) and set(LOSSES.names()) == set(names["losses"])
    assert {"distill", "augment"} == set(names["training"])
    assert {"mean", "max", "attention", "gated"} == set(names["views"])
    distill = next(row for row in data["training"] if row["name"] == "distill")
    assert distill["hyperparameters"] == {"distill_alpha": 0.5, "distill_temperature": 2.0}
    focal = next(row for row in data["losses"] if row["name"] == "focal")
    assert focal["hyperparameters"]["focal_gamma"] == 2.0 and focal["description"]
    table = runner.invoke(app, ["list", "encoders"])
    assert table.exit_code == 0 and "cnn2d" in table.output and "fusions" not in table.output


def test_list_with_an_unknown_section_is_one_line() -> None:
    line = _one_line_error(runner.invoke(app, ["list", "fusion"]))
    assert "unknown section 'fusion'; known: fusions, encoders, views, heads, losses, training" in line


def test_recommend_from_mlflow_agrees_with_parquet(tiny_sweep: Path) -> None:
    from_parquet = json.loads(runner.invoke(app, ["recommend", str(tiny_sweep), "--format", "json"]).output)
    result = runner.invoke(app, ["recommend", str(tiny_sweep), "--format", "json", "--source", "mlflow"])
    assert result.exit_code == 0, result.output
    from_mlflow = json.loads(result.output)
    for key in ("default_fusion", "fusions", "tied", "task_winners", "decided_by"):
        assert from_mlflow[key] == from_parquet[key], key
    for key in ("ranked", "unfinished"):
        assert from_mlflow["search"][key] == from_parquet["search"][key], key
    assert sorted(from_mlflow["search"]["pruned"], key=str) == sorted(from_parquet["search"]["pruned"], key=str)


def test_recommend_from_a_store_without_the_sweep_is_one_line(tiny_sweep: Path, tmp_path: Path) -> None:
    args = ["recommend", str(tiny_sweep), "--source", "mlflow", "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}"]
    assert "no MLflow experiment named 'tiny'" in _one_line_error(runner.invoke(app, args))
    bad = runner.invoke(app, ["recommend", str(tiny_sweep), "--source", "csv"])
    assert "source must be 'parquet' or 'mlflow', but got 'csv'" in _one_line_error(bad)


def test_run_against_an_unreachable_tracking_server_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    args = ["run", DEMO, "--tracking-uri", uri, "--sweeps-dir", str(tmp_path)]
    assert f"cannot reach the MLflow tracking server at '{uri}'" in _one_line_error(runner.invoke(app, args))
    assert not any(tmp_path.iterdir())


def test_run_with_a_name_that_is_no_folder_name_is_one_line(tmp_path: Path) -> None:
    line = _one_line_error(runner.invoke(app, ["run", DEMO, "--name", "../evil", "--sweeps-dir", str(tmp_path)]))
    assert line.startswith("error: --name: name: ") and "'../evil'" in line
    assert not any(tmp_path.parent.glob("evil"))


def test_ui_on_a_port_in_use_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's server started, logged that it could not bind, and `sweeper ui` exited 0."""
    import socket

    (tmp_path / "mlflow.db").write_bytes(b"")
    # ui sets MLFLOW_SERVER_ALLOWED_HOSTS for the server it becomes: it must not outlive the test (later MLflow
    # servers of the suite, on other ports, would reject every request)
    monkeypatch.setenv("MLFLOW_SERVER_ALLOWED_HOSTS", "")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_error(runner.invoke(app, ["ui", str(tmp_path), "--port", str(port), "--no-browser"]))
    assert line == f"error: port {port} on 127.0.0.1 is in use (another `sweeper ui` or MLflow server?); choose " \
                   "another with --port"  # fmt: skip


def test_ui_on_a_public_host_warns_that_mlflow_has_no_authentication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweeper import cli

    (tmp_path / "mlflow.db").write_bytes(b"")
    monkeypatch.setattr(cli.os, "execv", lambda *args: None)  # everything up to starting the server
    # ui sets MLFLOW_SERVER_ALLOWED_HOSTS for the server it becomes; here it must not outlive the test (an MLflow
    # server started later would refuse 127.0.0.1 as a host)
    monkeypatch.setenv("MLFLOW_SERVER_ALLOWED_HOSTS", "")
    result = runner.invoke(app, ["ui", str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert "has no authentication" in result.stderr and "basic-auth" in result.stderr
    quiet = runner.invoke(app, ["ui", str(tmp_path)])
    assert quiet.stderr == ""


def test_a_ray_token_file_readable_by_others_is_made_owner_only(tmp_path: Path) -> None:
    from sweeper.tune.runner import secure_token_file

    token = tmp_path / "auth_token"
    token.write_text("secret")
    token.chmod(0o644)
    assert secure_token_file(token) is True
    assert token.stat().st_mode & 0o777 == 0o600
    assert secure_token_file(token) is False  # already private


def test_export_writes_the_recommended_configuration_as_a_spec_that_runs(tiny_sweep: Path, tmp_path: Path) -> None:
    from sweeper.recommend import recommend
    from sweeper.spec import load_spec

    out = tmp_path / "best.yaml"
    result = runner.invoke(app, ["export", str(tiny_sweep), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"sweeper run {out}" in result.output
    spec = load_spec(out)
    rec = recommend(tiny_sweep, n_boot=500)
    chosen = next(f for f in rec.fusions if f.fusion == rec.default_fusion)
    assert spec.name == "tiny-recommended" and spec.budget.num_samples == 1
    assert spec.default_point() == {**chosen.params, "fusion": chosen.fusion}  # every value fixed
    assert spec.data == load_spec(tiny_sweep / "spec.yaml").data
    missing = _one_line_error(runner.invoke(app, ["export", str(tmp_path / "nope")]))
    assert "does not exist" in missing
