"""Run a sweep: Ray Tune's Tuner with Optuna proposing configurations and ASHA stopping weak trials.

Where things go (``sweeps/<name>/``): ``spec.yaml`` (the validated spec), ``results/`` (Parquet, the source of
truth), ``mlflow.db`` + ``mlartifacts/`` (the MLflow store, unless a tracking URI is given), ``optuna.db`` (the
Optuna study) and ``ray/`` (Tune's experiment state and each trial's latest checkpoint).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sweeper.config import SweepSpec, build_dataset
from sweeper.data import MultimodalDataset
from sweeper.errors import SweepError
from sweeper.params import ChoiceParam
from sweeper.tracking import (
    MlflowTracker,
    ParquetResults,
    SweepCallback,
    TrialStatus,
    default_tracking_uri,
    read_trials,
)
from sweeper.tracking.console import ConsoleProgress
from sweeper.tracking.mlflow_tracker import check_tracking_uri

SPEC_FILE = "spec.yaml"
DATA_DIR = "data"  # class names per task and fitted tokenizers, to read predictions back
OPTUNA_DB = "optuna.db"


@dataclass
class SweepOutcome:
    """What a finished sweep left behind, and how long it took."""

    sweep_dir: Path
    tracking_uri: str
    optuna_storage: str
    started_at: float  # unix time Tuner.fit started (Ray, data and trackers are ready by then)
    ended_at: float  # unix time it returned
    counts: dict[str, int]  # status -> number of search trials
    confirm_counts: dict[str, int] | None = None  # status -> number of confirmation runs; None if not confirmed
    confirm_wall_s: float = 0.0

    @property
    def wall_s(self) -> float:
        return self.ended_at - self.started_at


def check_sweep_dir(sweep_dir: Path, *, overwrite: bool) -> None:
    """Refuse to mix a new sweep into an earlier one's results unless told to replace them."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise SweepError(f"sweep folder {str(sweep_dir)!r} is a file")
    if sweep_dir.is_dir() and any(sweep_dir.iterdir()) and not (sweep_dir / SPEC_FILE).is_file():
        raise SweepError(
            f"folder {str(sweep_dir)!r} holds files but no sweep ({SPEC_FILE} is missing); --overwrite only replaces "
            "a sweep: choose another --name or --sweeps-dir"
        )
    if sweep_dir.is_dir() and any(sweep_dir.iterdir()) and not overwrite:
        raise SweepError(
            f"sweep folder {str(sweep_dir)!r} already holds a sweep; pass --overwrite to replace it "
            "or --name to start another"
        )


def prepare_sweep_dir(sweep_dir: Path, *, overwrite: bool) -> None:
    """Create an empty sweep folder, removing an earlier sweep there only when ``overwrite``."""
    check_sweep_dir(sweep_dir, overwrite=overwrite)
    if sweep_dir.is_dir():
        shutil.rmtree(sweep_dir)
    sweep_dir.mkdir(parents=True)


def run_sweep(
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    confirm: bool | None = None,
) -> SweepOutcome:
    """Run ``spec`` to the end and write everything under ``sweep_dir``; Ray is started locally if needed.

    The search is followed by the confirmation stage (``sweeper.tune.confirm``) unless ``confirm`` is False, or
    None and the spec turns it off. Bad data, an unreachable cluster or an occupied folder fail before anything is
    written. A line is printed as each trial ends unless ``quiet``.
    """
    sweep_dir = Path(sweep_dir).resolve()
    check_sweep_dir(sweep_dir, overwrite=overwrite)
    if tracking_uri:
        check_tracking_uri(tracking_uri)
    data = build_dataset(spec.data)
    spec.check_dataset(data.spec)
    _quiet_tune()
    started_ray = _init_ray(address)
    try:
        check_gpus(spec)
        prepare_sweep_dir(sweep_dir, overwrite=overwrite)
        spec_file = sweep_dir / SPEC_FILE
        spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
        save_data_artifacts(data, sweep_dir / DATA_DIR)
        tracking_uri = tracking_uri or default_tracking_uri(sweep_dir)
        progress = ConsoleProgress(spec.budget.num_samples, spec.objective.metric, quiet=quiet)
        bridge = _bridge(spec, sweep_dir, tracking_uri, progress, "search")
        optuna_storage = f"sqlite:///{sweep_dir / OPTUNA_DB}"
        tuner = _build_tuner(spec, sweep_dir, data, bridge, optuna_storage)
        bridge.start()
        started_at = time.time()
        tuner.fit()
        ended_at = time.time()
        counts = _counts(bridge.records.values())
        if bridge.records and counts[TrialStatus.FAILED.value] == len(bridge.records):
            first = next(iter(bridge.records.values()))
            raise SweepError(f"every trial failed; the first with: {first.error}")
        outcome = SweepOutcome(sweep_dir, tracking_uri, optuna_storage, started_at, ended_at, counts)
        if spec.confirm.enabled if confirm is None else confirm:
            outcome.confirm_counts = run_confirmation(spec, sweep_dir, data, spec.confirm.seeds, quiet=quiet)
            outcome.confirm_wall_s = time.time() - ended_at
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    return outcome


def confirm_sweep(
    sweep_dir: Path, *, seeds: int | None = None, address: str | None = None, quiet: bool = False
) -> dict[str, int]:
    """Confirm an existing sweep from its folder alone, or bring it to ``seeds`` seeds per configuration."""
    from sweeper.config import parse_spec

    sweep_dir = Path(sweep_dir).resolve()
    spec_file = sweep_dir / SPEC_FILE
    if not spec_file.is_file():
        raise SweepError(f"{str(sweep_dir)!r} is not a sweep folder: {SPEC_FILE} is missing")
    spec = parse_spec(yaml.safe_load(spec_file.read_text()), str(spec_file))
    if seeds is not None and seeds < 1:
        raise SweepError(f"--seeds must be >= 1, but got {seeds}")
    data = build_dataset(spec.data)
    _quiet_tune()
    started_ray = _init_ray(address)
    try:
        check_gpus(spec)
        return run_confirmation(spec, sweep_dir, data, seeds or spec.confirm.seeds, quiet=quiet)
    finally:
        if started_ray:
            import ray

            ray.shutdown()


def run_confirmation(
    spec: SweepSpec, sweep_dir: Path, data: MultimodalDataset, seeds: int, *, quiet: bool
) -> dict[str, int]:
    """Re-train the best configuration of every fusion family ``seeds`` times (x folds) on the running Ray."""
    from sweeper.tracking.mlflow_tracker import read_tracking
    from sweeper.tune.confirm import build_confirm_tuner, choose_folds, plan_runs, select_candidates

    earlier = read_trials(sweep_dir).to_pylist()
    candidates = select_candidates(spec, earlier, spec.confirm.per_fusion)
    if not candidates:
        raise SweepError("nothing to confirm: no search trial of this sweep reported a score")
    folds = choose_folds(spec, data, earlier)
    first = spec.confirm.first_seed
    runs = plan_runs(candidates, range(first, first + seeds), folds, earlier)
    families = len({c.fusion for c in candidates})
    times = f" x {folds} folds" if folds else ""
    progress = ConsoleProgress(len(runs), spec.objective.metric, quiet=quiet)
    progress.console.print(
        f"confirming {len(candidates)} configurations of {families} fusion families x {seeds} seeds{times} at "
        f"{spec.budget.max_epochs} epochs: {len(runs)} runs to train",
        highlight=False,
    )
    if not runs:
        return {}
    tracking_uri = read_tracking(sweep_dir).get("tracking_uri") or default_tracking_uri(sweep_dir)
    bridge = _bridge(spec, sweep_dir, tracking_uri, progress, "confirm")
    tuner = build_confirm_tuner(spec, sweep_dir, data, runs, bridge)
    bridge.start()
    tuner.fit()
    return _counts(bridge.records.values())


def _bridge(spec: SweepSpec, sweep_dir: Path, tracking_uri: str, progress: ConsoleProgress, stage: str) -> Any:
    """Ray's driver-side callback feeding one stage's trials to Parquet, MLflow and the terminal."""
    from sweeper.tune.callbacks import TrackerBridge

    trackers: list[SweepCallback] = [
        ParquetResults(sweep_dir, spec.name, list(spec.parameters), spec.objective.metric, spec.objective.mode),
        MlflowTracker(
            sweep_dir,
            spec.name,
            tracking_uri,
            sweep_dir / SPEC_FILE,
            _sweep_params(spec),
            default_fusion=spec.trial_config(spec.default_point()).model.fusion,
            stage=stage,
        ),
        progress,
    ]
    return TrackerBridge(trackers, list(spec.parameters), spec.budget.max_epochs)


def _counts(records: Any) -> dict[str, int]:
    records = list(records)
    return {s.value: sum(r.status is s for r in records) for s in TrialStatus}


def save_data_artifacts(data: MultimodalDataset, folder: Path) -> None:
    """What turns a trial's outputs back into the user's terms: class names per task, fitted text tokenizers."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    classes = {t.name: data.classes.get(t.name, [str(k) for k in range(t.num_classes)]) for t in data.spec.tasks}
    (folder / "classes.json").write_text(json.dumps(classes, indent=2))
    for modality, tokenizer in data.tokenizers.items():
        (folder / f"tokenizer_{modality}.json").write_text(tokenizer.to_json())


def _build_tuner(spec: SweepSpec, sweep_dir: Path, data: MultimodalDataset, bridge: Any, optuna_storage: str) -> Any:
    """The Tuner: what to try (Optuna), when to stop (ASHA), where (resources), and the driver-side callbacks."""
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from sweeper.tune.searcher import PruningAwareOptunaSearch
    from sweeper.tune.space import define_by_run
    from sweeper.tune.trainable import ray_trainable, run_config

    searcher = PruningAwareOptunaSearch(
        space=define_by_run(spec),
        points_to_evaluate=first_points(spec),
        metric=spec.objective.metric,
        mode=spec.objective.mode,
        sampler=optuna.samplers.TPESampler(seed=spec.budget.seed),
        study_name=spec.name,
        storage=optuna.storages.RDBStorage(optuna_storage),
        max_epochs=spec.budget.max_epochs,
    )
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        max_t=spec.budget.max_epochs,
        grace_period=spec.budget.grace_period,
        reduction_factor=spec.budget.reduction_factor,
    )
    return tune.Tuner(
        ray_trainable(spec, data),  # the dataset goes to the object store once
        tune_config=tune.TuneConfig(
            metric=spec.objective.metric,
            mode=spec.objective.mode,
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=spec.budget.num_samples,
            max_concurrent_trials=spec.budget.max_concurrent,
            reuse_actors=True,  # a new actor per trial costs seconds; trials share resource shapes
            trial_dirname_creator=lambda trial: trial.trial_id,
        ),
        run_config=run_config("ray", sweep_dir, bridge),
    )


def first_points(spec: SweepSpec) -> list[dict[str, Any]] | None:
    """One trial per fusion family first (its other parameters sampled), so no family goes untried by chance.

    Only when the budget has room for all of them; TPE takes over after.
    """
    fusion = spec.parameters.get("fusion")
    if not isinstance(fusion, ChoiceParam) or len(fusion.values) > spec.budget.num_samples:
        return None
    return [{"fusion": value} for value in fusion.values]


def _quiet_tune() -> None:
    """Settings and log levels for a sweep whose results go to Parquet and MLflow, not Tune's own loggers."""
    import optuna

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # Parquet + MLflow replace CSV/JSON/TB
    # Tune's newer console output prints its experiment box even at verbose=0 (ray/tune/experimental/output.py);
    # the legacy reporter honours verbose=0, and sweeper prints its own line per trial.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # num_to_keep=1 forces an experiment-state snapshot after each checkpoint (a few ms here); Tune warns each time.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # With the CSV/JSON loggers off, Tune's ResultGrid warns that it found no result.json; Parquet holds them.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial comes from ConsoleProgress


def _init_ray(address: str | None) -> bool:
    """Join ``address`` (or RAY_ADDRESS), else start a local Ray on this machine's cores; True if we started it."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        check_reachable(address)
    if ray.is_initialized():  # a caller (a notebook, the test suite) already holds a Ray session
        return False
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
            )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise SweepError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from None
    return True


def check_gpus(spec: SweepSpec) -> None:
    """A GPU request that the Ray cluster cannot meet fails here, in one line, not as trials that never start."""
    import ray

    if spec.resources.gpu > 0:
        available = ray.cluster_resources().get("GPU", 0)
        if available < spec.resources.gpu:
            raise SweepError(
                f"resources.gpu={spec.resources.gpu:g} but the Ray cluster has {available:g} GPUs; "
                "set resources.gpu: 0, or join a cluster with GPUs (--address)"
            )


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a cluster address nothing listens on; ray.init would retry for minutes."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SweepError(f"invalid Ray address {address!r}; expected host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise SweepError(f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc}") from None


def _sweep_params(spec: SweepSpec) -> dict[str, object]:
    budget = {f"budget.{k}": v for k, v in spec.budget.model_dump().items()}
    resources = {f"resources.{k}": v for k, v in spec.resources.model_dump().items()}
    return {"objective": spec.objective.metric, "mode": spec.objective.mode, **budget, **resources}
