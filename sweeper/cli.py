"""The ``sweeper`` command line: thin Typer commands over library functions.

This is the only place that turns a SweeperError into an exit code (1) and a one-line message on stderr.
"""

from __future__ import annotations

import errno
import functools
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from sweeper.console import make_console
from sweeper.errors import Stopped, SweeperError, SweepError, SweepInterrupted

app = typer.Typer(
    help="Sweep multimodal fusion architectures with Ray Tune, Optuna and ASHA; track in MLflow; recommend a default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = make_console()
err_console = make_console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(command: F) -> F:
    """Print a SweeperError as one line and exit 1 (130 after Ctrl-C); anything else is a bug and keeps its
    traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SweepInterrupted as exc:  # Ctrl-C (or SIGTERM) during a sweep: stopped gracefully, resumable
            err_console.print(str(exc), style="yellow", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(128 + exc.signum) from None
        except KeyboardInterrupt as exc:  # Ctrl-C outside Ray Tune's loop (loading data, starting Ray)
            signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
            err_console.print("interrupted", style="yellow", highlight=False)
            raise typer.Exit(128 + signum) from None
        except SweeperError as exc:
            # markup=False: a value the user gave, such as `[key]` or `[bold]`, is printed as given
            err_console.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as exc:  # a full disk outside a Tune stage (a sweep's stages stop with their own line)
            if exc.errno != errno.ENOSPC:
                raise
            err_console.print(
                f"error: the disk ran out of space ({exc}); make room and run the command again (an interrupted "
                "sweep: `sweeper resume <sweep folder>`)",
                style="red", highlight=False, markup=False, soft_wrap=True,
            )  # fmt: skip
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


class Format(str, Enum):
    table = "table"
    json = "json"
    md = "md"


@app.command()
@_user_errors
def run(
    spec: Annotated[Path, typer.Argument(help="Sweep spec YAML, e.g. search_spaces/demo.yaml.")],
    name: Annotated[str | None, typer.Option(help="Sweep name (default: the spec's name).")] = None,
    sweeps_dir: Annotated[Path, typer.Option(help="Folder that holds one sub-folder per sweep.")] = Path("sweeps"),
    address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: SQLite in the sweep folder).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier sweep of the same name.")] = False,
    confirm: Annotated[
        bool | None,
        typer.Option(help="Confirm after the search: each family's best configuration x seeds (default: the spec's)."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Shared or cloud storage for checkpoints, Tune's state and a copy of the results: s3://bucket/path, "
            "gs://bucket/path or a folder every node mounts (default: the sweep folder). MLflow and Optuna stay local."
        ),
    ] = None,
    recommend: Annotated[bool, typer.Option(help="Print the recommendation when the sweep ends.")] = True,
    resume: Annotated[
        bool, typer.Option(help="Continue the sweep of this name if its folder holds one; else start it.")
    ] = False,
) -> None:
    """Run a sweep: Optuna proposes, ASHA stops early, Ray Tune runs the trials; then the confirmation stage
    re-trains every fusion family's best configuration with several seeds. Results go to Parquet and MLflow."""
    from sweeper.spec import load_spec, parse_spec
    from sweeper.sweep_folder import check_not_held
    from sweeper.tracking.mlflow_tracker import check_tracking_uri
    from sweeper.tune import run_sweep
    from sweeper.tune.runner import check_reachable, check_sweep_dir, load_sweep_spec, trial_slots

    sweep = load_spec(spec)
    if name:  # validated like a name in the spec: it becomes a folder under --sweeps-dir
        sweep = parse_spec({**sweep.model_dump(mode="json"), "name": name}, "--name")
    sweep_dir = sweeps_dir / sweep.name
    if resume and overwrite:
        raise SweepError("--resume continues the sweep in the folder and --overwrite replaces it: choose one")
    if resume and (sweep_dir / "spec.yaml").is_file():
        saved = load_sweep_spec(sweep_dir)
        if saved.model_dump(mode="json") != sweep.model_dump(mode="json"):
            raise SweepError(
                f"{spec} differs from the spec sweep {str(sweep_dir)!r} was started with; --resume continues the "
                "sweep as it was started: undo the change, or pass --name to start another sweep"
            )
        _resume(sweep_dir, address, tracking_uri, confirm, recommend)
        return
    check_sweep_dir(sweep_dir, overwrite=overwrite)
    check_not_held(sweep_dir)
    if address or os.environ.get("RAY_ADDRESS"):
        check_reachable(address or os.environ["RAY_ADDRESS"])
    if tracking_uri:
        tracking_uri = check_tracking_uri(tracking_uri)
    if storage:  # checked here too (run_sweep checks again), so a bad one fails before anything is printed
        from sweeper.tune.storage import check_storage_uri

        storage = check_storage_uri(storage)
    _isolate_local_sweep(address, tracking_uri, storage)
    at_once = f"{sweep.budget.max_concurrent} at a time"
    if not (address or os.environ.get("RAY_ADDRESS")) and (slots := trial_slots(sweep)) < sweep.budget.max_concurrent:
        at_once = (
            f"{slots} at a time (budget.max_concurrent is {sweep.budget.max_concurrent}, but this machine has "
            f"{os.cpu_count()} CPUs for resources.cpu: {sweep.resources.cpu:g} each)"
        )
    console.print(
        f"sweep [bold]{sweep.name}[/bold]: {sweep.budget.num_samples} trials, up to {sweep.budget.max_epochs} "
        f"epochs each, {at_once} -> {sweep_dir}"
    )
    outcome = run_sweep(
        sweep, sweep_dir, address=address, tracking_uri=tracking_uri, overwrite=overwrite, confirm=confirm,
        storage=storage,
    )  # fmt: skip
    _print_outcome(outcome, recommend)


@app.command("resume")
@_user_errors
def resume_command(
    sweep_dir: Annotated[Path, typer.Argument(help="The folder of an interrupted sweep, e.g. sweeps/demo.")],
    address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray).")
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI (default: the sweep's own); another store gets the results replayed."),
    ] = None,
    confirm: Annotated[
        bool | None, typer.Option(help="Run the confirmation stage after the search (default: the spec's).")
    ] = None,
    recommend: Annotated[bool, typer.Option(help="Print the recommendation when the sweep ends.")] = True,
) -> None:
    """Continue an interrupted sweep (killed driver, Ctrl-C, reboot, lost cluster): finished trials are kept,
    interrupted ones continue from their last checkpoint, and MLflow, Optuna and ASHA carry on where they were."""
    _resume(sweep_dir, address, tracking_uri, confirm, recommend)


def _resume(
    sweep_dir: Path, address: str | None, tracking_uri: str | None, confirm: bool | None, recommend: bool
) -> None:
    from sweeper.sweep_folder import check_not_held
    from sweeper.tracking.mlflow_tracker import check_tracking_uri
    from sweeper.tune.runner import check_reachable, load_sweep_spec, resume_sweep

    spec = load_sweep_spec(sweep_dir)
    check_not_held(sweep_dir)
    if address or os.environ.get("RAY_ADDRESS"):
        check_reachable(address or os.environ["RAY_ADDRESS"])
    if tracking_uri:
        tracking_uri = check_tracking_uri(tracking_uri)
    saved = _saved_tracking(sweep_dir)
    _isolate_local_sweep(address, tracking_uri or saved.get("tracking_uri"), saved.get("storage_uri"))
    console.print(f"resuming sweep [bold]{spec.name}[/bold] ({spec.budget.num_samples} trials) in {sweep_dir}")
    _print_outcome(resume_sweep(sweep_dir, address=address, tracking_uri=tracking_uri, confirm=confirm), recommend)


_OWN_PROCESS = False  # set by main()


def _saved_tracking(sweep_dir: Path) -> dict[str, Any]:
    from sweeper.sweep_folder import read_tracking as read

    return read(sweep_dir)


def _isolate_local_sweep(address: str | None, tracking_uri: str | None, storage: str | None) -> None:
    """Run a sweep that needs no network in a network namespace where loopback is the only interface, so Ray's
    processes (which listen on every interface) are reachable from this machine only; see ``sweeper.isolation``."""
    from urllib.parse import urlparse

    from sweeper.isolation import isolate_network

    remote_tracking = tracking_uri is not None and urlparse(tracking_uri).scheme not in ("", "file", "sqlite")
    remote_storage = storage is not None and urlparse(storage).scheme not in ("", "file")
    if not _OWN_PROCESS or address or os.environ.get("RAY_ADDRESS") or remote_tracking or remote_storage:
        return
    why = isolate_network(sys.argv[1:])
    if why:
        console.print(f"note: Ray's processes listen on every interface (token auth guards them): {why}", style="dim")


def _print_outcome(outcome: Any, recommend: bool) -> None:
    from sweeper.tracking.mlflow_tracker import redact

    counts = ", ".join(f"{n} {status}" for status, n in outcome.counts.items() if n)
    console.print(
        f"search finished in {outcome.wall_s:.1f} s: {counts}" + (f"; {outcome.timed_out}" if outcome.timed_out else "")
    )
    if outcome.confirm_counts is not None:
        done = ", ".join(f"{n} {status}" for status, n in outcome.confirm_counts.items() if n) or "nothing to add"
        console.print(f"confirmation finished in {outcome.confirm_wall_s:.1f} s: {done}")
    sweep_dir = outcome.sweep_dir
    mlflow = redact(outcome.tracking_uri)
    console.print(
        f"results: {sweep_dir}/results   MLflow: {mlflow}   UI: sweeper ui {shlex.quote(str(sweep_dir))}",
        highlight=False,
    )
    if outcome.storage:
        console.print(f"storage: {outcome.storage} (checkpoints, Tune's state, a copy of the results)", highlight=False)
    if recommend:
        _print_recommendation([sweep_dir], RecommendOptions(), Format.table)


@app.command("sync")
@_user_errors
def sync_command(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder, e.g. sweeps/demo.")],
    tracking_uri: Annotated[
        str | None, typer.Option(help="The MLflow store to fill (default: the sweep's own), e.g. a team server.")
    ] = None,
) -> None:
    """Push a sweep's Parquet results into MLflow: after a tracking-server outage, or to publish a sweep run on a
    laptop to a team server. Idempotent: running it again adds nothing."""
    from sweeper.tracking.mlflow_tracker import sync_sweep

    counts = sync_sweep(sweep_dir, tracking_uri)
    console.print(f"synced {sweep_dir}: {counts}")


@app.command("confirm")
@_user_errors
def confirm_command(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder, e.g. sweeps/demo.")],
    seeds: Annotated[
        int | None,
        typer.Option(help="Seeds per configuration in all; runs only the missing ones (default: the spec's)."),
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray).")
    ] = None,
    recommend: Annotated[bool, typer.Option(help="Print the recommendation when done.")] = True,
) -> None:
    """Confirm an existing sweep: re-train every fusion family's best configuration with k seeds, or add seeds."""
    from sweeper.tune.runner import confirm_sweep

    if not sweep_dir.is_dir():
        raise SweepError(f"sweep folder {str(sweep_dir)!r} does not exist")
    saved = _saved_tracking(sweep_dir)
    _isolate_local_sweep(address, saved.get("tracking_uri"), saved.get("storage_uri"))
    counts = confirm_sweep(sweep_dir, seeds=seeds, address=address)
    done = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "every run was already there"
    console.print(f"confirmation finished: {done}")
    if recommend:
        _print_recommendation([sweep_dir], RecommendOptions(), Format.table)


@app.command("export")
@_user_errors
def export_command(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder, e.g. sweeps/demo.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write it (default: SWEEP/recommended.yaml).")
    ] = None,
) -> None:
    """Write the recommended configuration as a standalone spec, ready for `sweeper run`."""
    from sweeper.recommend.export import write_exported_spec

    if not sweep_dir.is_dir():
        raise SweepError(f"sweep folder {str(sweep_dir)!r} does not exist")
    path = write_exported_spec(sweep_dir, output)
    console.print(f"the recommended configuration of {sweep_dir}: {path}  (run it: sweeper run {path})")


@app.command("train")
@_user_errors
def train_command(
    target: Annotated[
        Path,
        typer.Argument(help="A sweep folder (trains its recommended configuration) or a spec with one value each."),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Change one value, e.g. --set fusion=gated --set lr=0.001; repeatable."),
    ] = None,
    register: Annotated[
        str | None, typer.Option(help="Register the model in MLflow's Model Registry under this name.")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: the sweep's store, or SQLite under --sweeps-dir).")
    ] = None,
    sweeps_dir: Annotated[Path, typer.Option(help="For a spec: the folder whose <name>/ holds its store.")] = Path(
        "sweeps"
    ),
) -> None:
    """Train one configuration on train+val, score it on test, and log it to MLflow as a model that predicts class
    names from rows in the dataset's format (mlflow.pyfunc.load_model); --register adds it to the registry."""
    from rich.table import Table

    from sweeper.deploy import TrainRequest, parse_sets, train_model
    from sweeper.tracking.mlflow_tracker import redact

    request = TrainRequest(target, parse_sets(set_ or []), register, tracking_uri, sweeps_dir)
    outcome = train_model(request)
    described = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in outcome.params.items())
    console.print(f"trained on train+val: {described}", highlight=False)
    table = Table(title="test split (held out; nothing was chosen on it)")
    for column in ("task", "accuracy", "macro-F1", "AUROC"):
        table.add_column(column)
    tasks = sorted({k.split("/")[1] for k in outcome.test_metrics if k.count("/") == 2})
    for task in tasks:
        cells = [outcome.test_metrics.get(f"test/{task}/{m}") for m in ("acc", "macro_f1", "auroc")]
        table.add_row(task, *("-" if v is None else f"{v:.3f}" for v in cells))
    console.print(table)
    console.print(f"MLflow run {outcome.run_id} in {redact(outcome.tracking_uri)}")
    uri = outcome.registered or outcome.model_uri
    if outcome.registered:
        console.print(f"registered: {outcome.registered}")
    console.print(f'predict: mlflow.pyfunc.load_model("{uri}").predict(rows)', highlight=False)


@dataclass
class RecommendOptions:
    metric: str | None = None
    mode: str | None = None
    exclude: list[str] = field(default_factory=list)
    source: str = "parquet"
    tracking_uri: str | None = None
    prefer: str = "cheapest"
    margin: float = 0.01


@app.command("recommend")
@_user_errors
def recommend_command(
    sweep_dirs: Annotated[
        list[str],
        typer.Argument(
            help="A sweep folder (e.g. sweeps/demo) or a sweep in storage (s3://bucket/sweeps/demo, from --storage), "
            "or several for one default across them."
        ),
    ],
    metric: Annotated[str | None, typer.Option(help="Validation metric to rank by (default: the objective).")] = None,
    mode: Annotated[str | None, typer.Option(help="'max' or 'min' (default: the objective's, else guessed).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Fusion to leave out; repeat for several.")] = None,
    prefer: Annotated[
        str,
        typer.Option(
            help="Among tied families: 'cheapest' (fewest parameters, then time, among those shown within --margin "
            "of the best) or 'best-mean'."
        ),
    ] = "cheapest",
    margin: Annotated[
        float,
        typer.Option(
            help="Practical-equivalence margin: a family whose whole difference interval with the best is below it "
            "counts as the same."
        ),
    ] = 0.01,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    source: Annotated[
        str, typer.Option(help="Read the trials from 'parquet' (the sweep's results) or 'mlflow' (its runs).")
    ] = "parquet",
    tracking_uri: Annotated[
        str | None, typer.Option(help="With --source mlflow: the MLflow store (default: the sweep's own).")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(help="Where the report (md, json, png) goes (default: SWEEP/report, or report/ beside them)."),
    ] = None,
    log_mlflow: Annotated[
        bool,
        typer.Option(
            help="Also log the report on the sweep's MLflow parent run (run, resume and confirm always do; it costs "
            "seconds of MLflow start-up)."
        ),
    ] = False,
) -> None:
    """Name the best default fusion from confirmed runs: CIs, ties, per-task winners and regret, cost, a report."""
    options = RecommendOptions(metric, mode, exclude or [], source, tracking_uri, prefer, margin)
    if not any("://" in s for s in sweep_dirs):
        _print_recommendation([Path(s) for s in sweep_dirs], options, format, report_dir, log_mlflow=log_mlflow)
        return
    from sweeper.recommend.report import REPORT_DIR
    from sweeper.tune.storage import fetch_sweep

    with tempfile.TemporaryDirectory() as downloads:  # a sweep in storage is read from a copy of its results
        folders = [fetch_sweep(s, Path(downloads)) if "://" in s else Path(s) for s in sweep_dirs]
        if report_dir is None:
            report_dir = Path(REPORT_DIR) / (folders[0].name if len(folders) == 1 else "")
        # the MLflow parent run is the driver's, not reachable from a copy
        _print_recommendation(folders, options, format, report_dir, log_mlflow=False)


def _print_recommendation(
    sweep_dirs: list[Path],
    options: RecommendOptions,
    fmt: Format,
    report_dir: Path | None = None,
    *,
    log_mlflow: bool = True,
) -> None:
    from sweeper.recommend import print_table, recommend
    from sweeper.recommend.report import REPORT_DIR, log_report, write_across_report, write_report

    kwargs = asdict(options)
    if len(sweep_dirs) > 1:
        from sweeper.recommend.across import recommend_across
        from sweeper.recommend.render_across import print_across

        result = recommend_across(sweep_dirs, **kwargs)
        report = write_across_report(result, report_dir or sweep_dirs[0].parent / REPORT_DIR)
        _emit(fmt, report, lambda: print_across(result, console), logged=False)
        return
    rec = recommend(sweep_dirs[0], **kwargs)
    folder = report_dir or sweep_dirs[0] / REPORT_DIR
    report = write_report(rec, folder, sweep_dirs[0])
    logged = log_mlflow and rec.confirmed and options.source == "parquet" and log_report(sweep_dirs[0], folder, rec)
    _emit(fmt, report, lambda: print_table(rec, console), logged=logged)


def _emit(fmt: Format, report: Any, print_tables: Callable[[], None], *, logged: bool) -> None:
    """The report's JSON or Markdown on stdout, or the terminal tables and where the report was written."""
    if fmt is Format.json:
        typer.echo(report.json)
    elif fmt is Format.md:
        typer.echo(report.markdown)
    else:
        print_tables()
        console.print(
            f"report: {report.path}" + (" (also on the MLflow parent run)" if logged else ""), highlight=False
        )


@app.command()
@_user_errors
def ui(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder, e.g. sweeps/demo.")],
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to bind; loopback by default.")] = "127.0.0.1",
    browser: Annotated[bool, typer.Option(help="Open the sweep's runs in a browser, where one is available.")] = True,
) -> None:
    """Open the MLflow UI on a sweep's own store, at the sweep's runs (stop it with Ctrl-C)."""
    command = ui_command(sweep_dir, host, port)
    _check_port_free(host, port)
    url = f"http://{host}:{port}/{runs_view(sweep_dir)}"
    if not _loopback(host):
        err_console.print(
            f"warning: --host {host} serves the MLflow UI beyond this machine, and it has no authentication: anyone "
            "who reaches the port can read and change the runs. Put MLflow's basic-auth app in front of it "
            "(mlflow server --app-name basic-auth) or keep the default 127.0.0.1 and use an SSH tunnel.",
            style="yellow",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    typer.echo(f"MLflow UI for {sweep_dir}: {url}  (Ctrl-C to stop)")
    sys.stdout.flush()
    if browser:
        _open_when_up(url, host, port)
    # Become the MLflow server rather than its parent, so a signal that stops `sweeper ui` stops the server too.
    os.execv(command[0], command)


def runs_view(sweep_dir: Path) -> str:
    """The UI path of the sweep's experiment as a runs table (MLflow 3 opens on its GenAI view without the
    ``workflowType`` parameter), in the saved view that shows the trials' fusion, status and objective."""
    from mlflow.tracking import MlflowClient

    from sweeper.sweep_folder import read_tracking
    from sweeper.tracking.runs_view import save_runs_view

    saved = read_tracking(sweep_dir)
    if not saved.get("parent_run_id"):
        return ""
    client = MlflowClient(saved["tracking_uri"])
    parent = client.get_run(saved["parent_run_id"])
    view = save_runs_view(client, parent)
    return f"#/experiments/{parent.info.experiment_id}/runs?workflowType=machine_learning&{view}"


def _open_when_up(url: str, host: str, port: int) -> None:
    """Open ``url`` in a browser once the server answers, from a process of its own (this one becomes MLflow)."""
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:  # no browser here (a server, CI): the printed URL is enough
        return
    opener = (
        "import socket, sys, time, webbrowser\n"
        "for _ in range(600):\n"
        "    try:\n"
        "        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
        "webbrowser.open(sys.argv[3])\n"
    )
    subprocess.Popen([sys.executable, "-c", opener, host, str(port), url], start_new_session=True)


def _check_port_free(host: str, port: int) -> None:
    """One line now, rather than MLflow's server starting and then logging that it cannot bind."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise SweepError(f"--host {host!r} does not resolve ({exc.strerror})") from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: a closed port is free
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SweepError(
                    f"port {port} on {host} is in use (another `sweeper ui` or MLflow server?); choose another with "
                    "--port"
                ) from None
            raise SweepError(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def ui_command(sweep_dir: Path, host: str, port: int) -> list[str]:
    """The ``mlflow ui`` command line that serves ``sweep_dir``'s SQLite store and artifacts."""
    from sweeper.errors import SweepError
    from sweeper.sweep_folder import ARTIFACTS_DIR, MLFLOW_DB, default_tracking_uri

    if not (sweep_dir / MLFLOW_DB).is_file():
        raise SweepError(f"no MLflow store in {str(sweep_dir)!r}: {MLFLOW_DB} is missing (is it a sweep folder?)")
    os.environ.setdefault("MLFLOW_SERVER_ALLOWED_HOSTS", f"{host}:{port},localhost:{port}")
    return [
        sys.executable, "-m", "mlflow", "ui",
        "--backend-store-uri", default_tracking_uri(sweep_dir),
        "--default-artifact-root", (sweep_dir / ARTIFACTS_DIR).resolve().as_uri(),
        "--host", host, "--port", str(port),
        "--workers", "1",  # one person looking at one sweep; the default 4 processes cost ~0.7 GB
    ]  # fmt: skip


@app.command()
@_user_errors
def check(
    spec: Annotated[Path, typer.Argument(help="Sweep spec YAML to validate.")],
    samples: Annotated[int, typer.Option(min=0, help="Configurations to draw from the space and show.")] = 5,
) -> None:
    """Validate a sweep spec and show configurations its search space produces, without running anything."""
    from sweeper.spec import load_spec
    from sweeper.tune import sample_configs

    sweep = load_spec(spec)
    console.print(f"{spec}: valid sweep spec [bold]{sweep.name}[/bold] with parameters {', '.join(sweep.parameters)}")
    for config in sample_configs(sweep, samples, seed=sweep.budget.seed):
        console.print(
            "  " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())
        )


@app.command("list")
@_user_errors
def list_command(
    section: Annotated[str | None, typer.Argument(help="fusions, encoders, heads or losses (default: all).")] = None,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """List what a sweep spec can name: fusions and strategies, encoders, heads and losses, with hyperparameters."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from sweeper.catalog import SECTIONS, catalog
    from sweeper.errors import ConfigError

    if section is not None and section not in SECTIONS:
        raise ConfigError(f"unknown section {section!r}; known: {', '.join(SECTIONS)}")
    entries = {k: v for k, v in catalog().items() if section in (None, k)}
    if format is Format.json:
        typer.echo(json.dumps(entries, indent=2, default=str))
        return
    for name, rows in entries.items():
        table = Table(title=name, title_justify="left")
        for column in ("name", *(["kind"] if name == "encoders" else []), "description", "hyperparameters"):
            table.add_column(column, overflow="fold")
        for row in rows:
            hp = ", ".join(f"{k}={v}" for k, v in row["hyperparameters"].items())
            cells = [row["name"], *([row["kind"]] if name == "encoders" else []), row["description"], hp]
            table.add_row(*(escape(str(c)) for c in cells))  # descriptions hold brackets such as [x; 1]
        console.print(table)


data_app = typer.Typer(help="Check a sweep's dataset, or write an example dataset in the manifest format.")
app.add_typer(data_app, name="data")


@data_app.command("check")
@_user_errors
def data_check(
    spec: Annotated[Path, typer.Argument(help="Sweep spec YAML whose data section to load and validate.")],
) -> None:
    """Load and validate the data exactly as a sweep would (nothing is written) and summarise it."""
    from rich.table import Table

    from sweeper.data.manifest import summary
    from sweeper.spec import build_dataset, load_spec

    sweep = load_spec(spec)
    dataset = build_dataset(sweep.data)
    sweep.check_dataset(dataset.spec)
    facts = summary(dataset)
    console.print(f"{spec}: data valid; " + ", ".join(f"{n} {split}" for split, n in facts["splits"].items()))
    modalities = Table(title="modalities", title_justify="left")
    for column in ("modality", "kind", "per-sample shape", "vocabulary"):
        modalities.add_column(column)
    for name, m in facts["modalities"].items():
        modalities.add_row(name, m["kind"], str(tuple(m["shape"])), str(m.get("vocab_size") or ""))
    console.print(modalities)
    tasks = Table(title="tasks: samples per class and split", title_justify="left")
    for column in ("task", "class", *facts["splits"]):
        tasks.add_column(column)
    for task, classes in facts["tasks"].items():
        for name, counts in classes.items():
            tasks.add_row(task, name, *(str(counts.get(split, 0)) for split in facts["splits"]))
    console.print(tasks)


@data_app.command("demo")
@_user_errors
def data_demo(
    out_dir: Annotated[Path, typer.Argument(help="New or empty folder to write the example into.")],
    samples: Annotated[int, typer.Option(min=60, help="Rows in the example manifest.")] = 600,
) -> None:
    """Write an example dataset (PNG photos, text, vitals, a signal, two tasks, splits) and a sweep spec over it."""
    from sweeper.data.example import write_example

    spec = write_example(out_dir, samples)
    console.print(f"wrote {samples} samples to {out_dir}: manifest.parquet, photos/*.png and {spec.name}")
    console.print(f"next: sweeper data check {spec}   then: sweeper run {spec}", highlight=False)


def main() -> None:
    """The ``sweeper`` command (and ``python -m sweeper``): a process of its own, which a local sweep may re-run in a
    private network namespace (``sweeper.isolation``); ``app`` called in-process (tests, notebooks) never does."""
    global _OWN_PROCESS
    _OWN_PROCESS = True
    app(prog_name="sweeper")


if __name__ == "__main__":
    main()
