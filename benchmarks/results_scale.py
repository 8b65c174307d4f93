"""Results at scale: a 10,000-trial x 50-epoch search written through ParquetResults, read back, then recommended on.

Drives the real writer (``sweeper.tracking.ParquetResults``) through the hooks the driver calls: per trial
``on_trial_start``, ``on_epoch`` for every epoch (about 20 metrics and the sampled configuration per row) and
``on_trial_end``. Trials stop as ASHA stops them: most at rung epochs 1, 3, 9 or 27, a share (--completed) at the
full budget, a few fail. A confirmation stage follows through a second writer, as ``sweeper confirm`` runs it: each
of 8 fusion families re-trained with 5 seeds from its best search trial, predictions included (drawn by
``sweeper.testing.confirmation_runs``), so the folder is a sweep ``sweeper recommend`` reads. Prints
  - write: time inside the hooks, rows per second, one epoch append (mean and p99), the final compaction,
    files and bytes under results/;
  - read: ``read_epochs`` and ``read_trials``, their row counts checked (no (trial, epoch) twice; exactly the
    epochs each trial reached);
  - recommend: ``python -m sweeper recommend SWEEP --format json`` as a user runs it (a new process, imports
    included), and in this process the call that command makes, first (cold) and again (warm).

    python benchmarks/results_scale.py                   # 10,000 trials x 50 epochs, 10% run the full budget
    python benchmarks/results_scale.py --completed 1     # every trial runs all 50 epochs: 500,000 epoch rows
    python benchmarks/results_scale.py --trials 1000 --epochs 20 --dir /tmp/scale   # keep the sweep folder
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import yaml

from sweeper.testing import Family, Layout, confirmation_runs
from sweeper.tracking import ParquetResults, TrialRecord, TrialStatus, read_epochs, read_trials
from sweeper.tracking.predictions import predictions_table

# Fusion family -> validation macro-F1 it plateaus at (search) and its accuracy in confirmation.
FAMILIES = {"concat": 0.62, "gated": 0.70, "low_rank": 0.72, "cross_attention": 0.71, "transformer": 0.69,
            "film": 0.66, "tensor": 0.64, "multiply": 0.68}  # fmt: skip
PARAMS = ["fusion", "lr", "weight_decay", "hidden_dim", "dropout", "heads", "rank"]
TASKS = {"agree": 2, "grade": 3, "label": 2}
TASK_METRICS = ("loss", "acc", "macro_f1", "auroc")  # per task, as sweeper.train.metrics.evaluate reports them
OBJECTIVE = "val/mean_macro_f1"
RUNGS = (1, 3, 9, 27)  # ASHA, grace period 1, reduction factor 3
SEEDS = 5
SAMPLES = 600  # validation and test samples per run: the demo's 4000 samples split 70/15/15


def sample_params(rng: np.random.Generator) -> dict[str, Any]:
    """A configuration as the searcher samples it; heads and rank only where they apply."""
    fusion = str(rng.choice(list(FAMILIES)))
    params: dict[str, Any] = {
        "fusion": fusion,
        "lr": float(10 ** rng.uniform(-4, -2)),
        "weight_decay": float(10 ** rng.uniform(-6, -3)),
        "hidden_dim": int(rng.choice([32, 64, 128])),
        "dropout": float(rng.uniform(0.0, 0.5)),
    }
    if fusion in ("cross_attention", "transformer"):
        params["heads"] = int(rng.choice([1, 2, 4]))
    if fusion in ("low_rank", "tensor"):
        params["rank"] = int(rng.integers(4, 17))
    return params


def last_epoch(rng: np.random.Generator, epochs: int, completed: float) -> tuple[int, TrialStatus]:
    """The last epoch a trial reports and how it ends: 0.5% fail (during the next epoch), ``completed`` run the full
    budget, the rest stop at an ASHA rung."""
    if rng.random() < 0.005:
        return int(rng.integers(1, epochs)), TrialStatus.FAILED
    rungs = [r for r in RUNGS if r < epochs]
    if not rungs or rng.random() < completed:
        return epochs, TrialStatus.COMPLETED
    # Each rung keeps a third of the trials that reach it: of those stopped, 2/3 stop at the first rung, ...
    weights = np.array([3.0**-k for k in range(len(rungs))])
    return int(rng.choice(rungs, p=weights / weights.sum())), TrialStatus.PRUNED


def epoch_reports(rng: np.random.Generator, params: dict[str, Any], epochs: int) -> list[dict[str, float]]:
    """``epochs`` reports with the keys ``sweeper.train.fit`` reports (25 metrics for 3 tasks), following a learning
    curve that rises to the family's plateau; lr 1e-3 is best."""
    plateau = FAMILIES[params["fusion"]] - 0.05 * abs(math.log10(params["lr"]) + 3)
    epoch = np.arange(1, epochs + 1)
    rise = 1 - np.exp(-epoch / 6)  # (E,)

    def curve(start: float, end: float) -> np.ndarray:  # (E,)
        return start + (end - start) * rise + rng.normal(0, 0.01, epochs)

    val = {
        f"val/{t}/{m}": curve(1.1, 0.5) if m == "loss" else curve(0.34, plateau) for t in TASKS for m in TASK_METRICS
    }
    epoch_s = rng.uniform(0.8, 1.2) * (1 + params["hidden_dim"] / 128)
    series = {
        "epoch": epoch.astype(float),
        "train/loss": curve(1.2, 0.45),
        "train/lr": params["lr"],
        **{f"train/weight/{t}": 1.0 for t in TASKS},
        "model/parameters": 1000.0 * params["hidden_dim"] * (1 + params.get("rank", 0) / 8),
        **val,
        **{f"val/mean_{m}": np.mean([val[f"val/{t}/{m}"] for t in TASKS], axis=0) for m in TASK_METRICS[1:]},
        "val/loss": np.sum([val[f"val/{t}/loss"] for t in TASKS], axis=0),
        "time/infer_ms": 2.0,
        "time/epoch_s": epoch_s,
        "time/train_s": epoch_s * epoch,
    }
    columns = {name: np.broadcast_to(values, epochs).tolist() for name, values in series.items()}
    return [{name: column[i] for name, column in columns.items()} for i in range(epochs)]


class HookTimes:
    """Seconds spent inside the writer's hooks; every epoch append on its own."""

    def __init__(self) -> None:
        self.epoch_ns: list[int] = []
        self.other_s = 0.0
        self.sweep_end_s = 0.0  # the final compaction, counted in other_s too

    def epoch(self, writer: ParquetResults, record: TrialRecord, metrics: dict[str, float]) -> None:
        record.epochs.append(metrics)  # the driver appends before calling the hook
        started = time.perf_counter_ns()
        writer.on_epoch(record, metrics)
        self.epoch_ns.append(time.perf_counter_ns() - started)

    def call(self, hook: Any, *args: Any) -> None:
        started = time.perf_counter()
        hook(*args)
        self.other_s += time.perf_counter() - started

    @property
    def total_s(self) -> float:
        return sum(self.epoch_ns) / 1e9 + self.other_s


def write_search(sweep: Path, args: argparse.Namespace, times: HookTimes) -> tuple[dict[str, TrialRecord], int]:
    """The search stage; returns each family's best trial (completed first, then pruned) and the epoch rows."""
    rng = np.random.default_rng(0)
    writer = ParquetResults(sweep, sweep.name, PARAMS, OBJECTIVE, "max")
    times.call(writer.on_sweep_start)
    best: dict[str, TrialRecord] = {}
    rows = 0
    records = []
    for i in range(args.trials):
        record = TrialRecord(f"search-{i:05d}", sample_params(rng), started_at=time.time(), run=search_run())
        stop, status = last_epoch(rng, args.epochs, args.completed)
        times.call(writer.on_trial_start, record)
        for metrics in epoch_reports(rng, record.params, stop):
            times.epoch(writer, record, metrics)
        rows += stop
        record.status, record.ended_at = status, time.time()
        record.wall_s = record.ended_at - (record.started_at or 0.0)
        if status is TrialStatus.FAILED:
            record.error = f"loss became nan at epoch {stop + 1} (lr={record.params['lr']:.3g})"
        times.call(writer.on_trial_end, record)
        if status is not TrialStatus.FAILED and _better(record, best.get(record.params["fusion"])):
            best[record.params["fusion"]] = record
        record.epochs = record.epochs[-1:]  # the writer is done with them; 500,000 dicts would hold ~1 GB
        records.append(record)
    before = times.other_s
    times.call(writer.on_sweep_end, records)
    times.sweep_end_s = times.other_s - before
    return best, rows


def search_run() -> dict[str, Any]:
    return {"stage": "search", "experiment": "ray"}


def _better(record: TrialRecord, other: TrialRecord | None) -> bool:
    def key(r: TrialRecord) -> tuple[bool, float]:
        return r.status is TrialStatus.COMPLETED, r.epochs[-1][OBJECTIVE]

    return other is None or key(record) > key(other)


def write_confirmation(sweep: Path, best: dict[str, TrialRecord], epochs: int, samples: int) -> int:
    """8 families x 5 seeds through a second writer; the last epoch reports the metrics of its predictions."""
    rng = np.random.default_rng(1)
    families = {name: Family(accuracy) for name, accuracy in FAMILIES.items() if name in best}
    layout = Layout(n_val=samples, n_test=samples, seeds=SEEDS, tasks=TASKS, objective=OBJECTIVE)
    writer = ParquetResults(sweep, sweep.name, PARAMS, OBJECTIVE, "max")
    writer.on_sweep_start()
    records = []
    for run in confirmation_runs(families, layout):
        source = best[run.family]
        confirm = {"stage": "confirm", "experiment": "ray-confirm", "seed": run.seed, "fold": None, "folds": None,
                   "source_trial": source.trial_id}  # fmt: skip
        record = TrialRecord(run.trial_id, source.params, started_at=time.time(), run=confirm)
        writer.on_trial_start(record)
        reports = epoch_reports(rng, source.params, epochs)
        reports[-1] |= run.metrics
        for metrics in reports:
            record.epochs.append(metrics)
            writer.on_epoch(record, metrics)
        assert run.outputs is not None, f"confirmation run {run.trial_id} failed: {run.error}"
        writer.on_predictions(record, predictions_table(run.outputs))
        record.status, record.ended_at = TrialStatus.COMPLETED, time.time()
        writer.on_trial_end(record)
        records.append(record)
    writer.on_sweep_end(records)
    return len(records) * epochs


def write_spec(sweep: Path, args: argparse.Namespace) -> None:
    """The spec.yaml a sweep folder starts with; recommend reads its name and objective."""
    spec = {
        "name": sweep.name,
        "objective": {"metric": OBJECTIVE, "mode": "max"},
        "parameters": {
            "fusion": {"type": "choice", "values": list(FAMILIES)},
            "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-3, "log": True},
            "hidden_dim": {"type": "choice", "values": [32, 64, 128]},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "heads": {"type": "choice", "values": [1, 2, 4], "when": {"fusion": ["cross_attention", "transformer"]}},
            "rank": {"type": "int", "low": 4, "high": 16, "when": {"fusion": ["low_rank", "tensor"]}},
        },
        "budget": {"num_samples": args.trials, "max_epochs": args.epochs, "grace_period": 1, "reduction_factor": 3},
        "confirm": {"seeds": SEEDS},
    }
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def disk_usage(folder: Path) -> dict[str, tuple[int, int]]:
    """Files and bytes in each folder under ``folder`` (recursively), and in ``folder`` itself as "."."""
    usage: dict[str, tuple[int, int]] = {}
    for root, _, names in os.walk(folder):
        sizes = [(Path(root) / name).stat().st_size for name in names]
        usage[str(Path(root).relative_to(folder))] = (len(sizes), sum(sizes))
    return usage


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def read_back(sweep: Path, expected_rows: int, expected_trials: int) -> dict[str, Any]:
    """Read both tables, timed; check that every (trial, epoch) is read once and each trial's epochs are all there."""
    epochs, epochs_s = timed(read_epochs, sweep)
    trials, trials_s = timed(read_trials, sweep)
    duplicates = epochs.num_rows - epochs.group_by(["trial_id", "epoch"]).aggregate([]).num_rows
    assert duplicates == 0, f"{duplicates} (trial_id, epoch) rows read twice"
    reached = dict(zip(*trials.select(["trial_id", "epochs"]).to_pydict().values(), strict=True))
    counted = epochs.group_by("trial_id").aggregate([("epoch", "count")]).to_pydict()
    short = [t for t, n in zip(counted["trial_id"], counted["epoch_count"], strict=True) if reached[t] != n]
    assert epochs.num_rows == expected_rows and not short, (
        f"read {epochs.num_rows:,} epoch rows, expected {expected_rows:,}; trials missing epochs: {short[:5]}"
    )
    assert trials.num_rows == expected_trials, f"read {trials.num_rows:,} trial rows, expected {expected_trials:,}"
    search = trials.filter(pc.equal(trials["stage"], "search"))
    return {
        "epochs_s": epochs_s,
        "trials_s": trials_s,
        "epoch_rows": epochs.num_rows,
        "epoch_columns": epochs.num_columns,
        "trial_rows": trials.num_rows,
        "trial_columns": trials.num_columns,
        "statuses": {s["values"]: s["counts"] for s in pc.value_counts(search["status"]).to_pylist()},
    }


def time_command(sweep: Path, repeat: int, *options: str) -> tuple[float, float, float]:
    """``python -m sweeper recommend SWEEP --format json`` run ``repeat`` times: the median and the fastest wall
    time, and the median CPU time (user + system; what other work on the machine inflates the least)."""
    cli = [sys.executable, "-m", "sweeper", "recommend", str(sweep), "--format", "json", *options]
    wall, cpu = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done, run_s = timed(subprocess.run, cli, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert done.returncode == 0, f"`{shlex.join(cli)}` exited {done.returncode}: {done.stderr[-2000:]}"
        wall.append(run_s)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return float(np.median(wall)), min(wall), float(np.median(cpu))


def add_mlflow_parent(sweep: Path) -> None:
    """The sweep's own MLflow store and parent run, as a real sweep has them: recommend --log-mlflow logs there."""
    from mlflow.tracking import MlflowClient

    from sweeper.sweep_folder import default_tracking_uri
    from sweeper.tracking.sync import parent_run

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its "Creating initial MLflow database tables..."
    uri = default_tracking_uri(sweep)
    parent_run(MlflowClient(uri), sweep, sweep.name, uri, {}, sweep / "spec.yaml")


def time_recommend(sweep: Path, repeat: int, mlflow: bool) -> dict[str, Any]:
    """The recommend command in a new process, ``repeat`` times; in this process, what that command calls; then the
    command again once the sweep has an MLflow parent run (``mlflow``)."""
    from sweeper.cli import Format, RecommendOptions, _print_recommendation
    from sweeper.recommend import recommend

    cli_s, cli_min_s, cli_cpu_s = time_command(sweep, repeat)

    def print_recommendation() -> str:  # the command's body once its options are parsed: recommend, report, JSON
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            _print_recommendation([sweep], RecommendOptions(), Format.json)
        return out.getvalue()

    _, first_s = timed(print_recommendation)
    printed, again_s = timed(print_recommendation)
    _, library_s = timed(recommend, sweep)
    if mlflow:
        add_mlflow_parent(sweep)
    mlflow_s = time_command(sweep, repeat, "--log-mlflow")[0] if mlflow else math.nan
    return {
        "mlflow_s": mlflow_s,
        "cli_s": cli_s,
        "cli_min_s": cli_min_s,
        "cli_cpu_s": cli_cpu_s,
        "first_s": first_s,
        "again_s": again_s,
        "library_s": library_s,
        "default": json.loads(printed)["default_fusion"],
        "json_mib": len(printed) / 2**20,
    }


@dataclass
class Written:
    times: HookTimes  # inside the search's hooks
    search_rows: int
    confirm_rows: int
    search_wall_s: float  # the search stage, making up its metrics included
    confirm_s: float  # the confirmation stage, predictions included
    families: int  # confirmed
    usage: dict[str, tuple[int, int]]  # folder under results/ -> files, bytes


def write_sweep(sweep: Path, args: argparse.Namespace) -> Written:
    """A sweep folder as a search then a confirmation leave it, timed."""
    write_spec(sweep, args)
    times = HookTimes()
    (best, search_rows), search_wall_s = timed(write_search, sweep, args, times)
    confirm_rows, confirm_s = timed(write_confirmation, sweep, best, args.epochs, args.samples)
    usage = disk_usage(sweep / "results")
    return Written(times, search_rows, confirm_rows, search_wall_s, confirm_s, len(best), usage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10_000, help="search trials")
    parser.add_argument("--epochs", type=int, default=50, help="max epochs (the full budget)")
    parser.add_argument("--completed", type=float, default=0.1, help="share of trials that run the full budget")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="validation and test samples per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the recommend command (median reported)")
    parser.add_argument(
        "--mlflow",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time recommend --log-mlflow on the sweep with an MLflow parent run",
    )
    parser.add_argument("--dir", type=Path, help="write the sweep here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    if args.dir and args.dir.exists() and any(args.dir.iterdir()):
        parser.error(f"--dir {str(args.dir)!r} is not empty; give a new or empty folder")
    with tempfile.TemporaryDirectory() as tmp:
        sweep = args.dir or Path(tmp) / "scale"
        written = write_sweep(sweep, args)
        read = read_back(sweep, written.search_rows + written.confirm_rows, args.trials + written.families * SEEDS)
        rec = time_recommend(sweep, args.repeat, args.mlflow)
    print_figures(args, written, read, rec)


def print_figures(args: argparse.Namespace, written: Written, read: dict[str, Any], rec: dict[str, Any]) -> None:
    times, search_rows, usage = written.times, written.search_rows, written.usage
    epoch_ms = np.array(times.epoch_ns) / 1e6
    mean_ms, p99_ms = epoch_ms.mean(), np.percentile(epoch_ms, 99)
    write_s = times.total_s
    files, size = (sum(values) for values in zip(*usage.values(), strict=True))
    folders = ", ".join(f"{name} {n}" for name, (n, _) in usage.items() if name != ".")
    ended = ", ".join(f"{status} {n:,}" for status, n in read["statuses"].items())
    metrics = len(epoch_reports(np.random.default_rng(0), sample_params(np.random.default_rng(0)), 1)[0]) - 1
    print(f"search       {args.trials:,} trials x up to {args.epochs} epochs ({ended}); {metrics} metrics and "
          f"{len(PARAMS)} parameters per epoch row")  # fmt: skip
    print(f"confirm      {written.families} families x {SEEDS} seeds x {args.epochs} epochs, predictions on "
          f"{args.samples:,} val + {args.samples:,} test samples x {len(TASKS)} tasks")  # fmt: skip
    print(f"epoch rows   {search_rows:,} search + {written.confirm_rows:,} confirm")
    print(f"write        {write_s:8.2f} s  in the search's hooks, {search_rows / write_s:,.0f} rows/s "
          f"({written.search_wall_s:.2f} s with making up the metrics)")  # fmt: skip
    print(f"  on_epoch   {mean_ms:8.3f} ms mean, {p99_ms:.3f} ms p99, {epoch_ms.max():.0f} ms max (writing a part)")
    print(f"  sweep end  {times.sweep_end_s:8.2f} s  (compaction to one part per log, trials.parquet)")
    print(f"  confirm    {written.confirm_s:8.2f} s  (a second writer, predictions included)")
    print(f"on disk      {files} files, {size / 2**20:.1f} MiB under results/ (files in {folders})")
    print(f"read_epochs  {read['epochs_s']:8.2f} s  {read['epoch_rows']:,} rows x {read['epoch_columns']} columns, "
          f"each (trial_id, epoch) once, every trial's epochs")  # fmt: skip
    print(f"read_trials  {read['trials_s']:8.2f} s  {read['trial_rows']:,} rows x {read['trial_columns']} columns")
    print(f"recommend    {rec['cli_s']:8.2f} s  `python -m sweeper recommend SWEEP --format json`, a new process "
          f"(median of {args.repeat}, fastest {rec['cli_min_s']:.2f} s; CPU {rec['cli_cpu_s']:.2f} s)")  # fmt: skip
    if args.mlflow:
        print(f"  + MLflow   {rec['mlflow_s']:8.2f} s  the same with --log-mlflow, on the sweep with an MLflow parent "
              "run (SQLite store), which receives the report")  # fmt: skip
    print(f"  in-process {rec['first_s']:8.2f} s  first call (recommend, report with plots, {rec['json_mib']:.1f} MiB "
          f"of JSON), {rec['again_s']:.2f} s again; recommend() alone {rec['library_s']:.2f} s; "
          f"default {rec['default']}")  # fmt: skip
    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"summary: {shlex.join(['python', 'benchmarks/results_scale.py', *sys.argv[1:]])}")
    print(f"  machine      {os.cpu_count()} cores, load average {load} (1, 5, 15 min) at the end")
    print(f"  write        {write_s:.2f} s, {search_rows / write_s:,.0f} rows/s, on_epoch {mean_ms:.3f} ms mean / "
          f"{p99_ms:.3f} ms p99; {files} files, {size / 2**20:.1f} MiB")  # fmt: skip
    print(f"  read         read_epochs {read['epochs_s']:.2f} s ({read['epoch_rows']:,} rows), "
          f"read_trials {read['trials_s']:.2f} s ({read['trial_rows']:,} rows)")  # fmt: skip
    goal = "within" if rec["cli_s"] <= 3 else "OVER"
    print(f"  recommend    {rec['cli_s']:.2f} s from the command line ({goal} the 3 s goal; fastest "
          f"{rec['cli_min_s']:.2f} s, CPU {rec['cli_cpu_s']:.2f} s), "
          f"{rec['first_s']:.2f} s in-process (first call)"
          + (f"; {rec['mlflow_s']:.2f} s with an MLflow parent run" if args.mlflow else ""))  # fmt: skip


if __name__ == "__main__":
    main()
