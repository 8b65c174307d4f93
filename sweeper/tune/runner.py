"""Run a sweep: Ray Tune's Tuner with Optuna proposing configurations and ASHA stopping weak trials.

Where things go (``sweeps/<name>/``): ``spec.yaml`` (the validated spec), ``results/`` (Parquet, the source of
truth), ``mlflow.db`` + ``mlartifacts/`` (the MLflow store, unless a tracking URI is given), ``optuna.db`` (the
Optuna study) and ``ray/`` (Tune's experiment state and each trial's latest checkpoint).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sweeper.data import MultimodalDataset
from sweeper.errors import SweepError, SweepInterrupted
from sweeper.isolation import NODE_IP, isolated
from sweeper.params import ChoiceParam
from sweeper.spec import SweepSpec, build_dataset
from sweeper.sweep_folder import (
    LOCK_FILE,
    SEARCH_DEADLINE_KEY,
    SPEC_FILE,
    check_not_held,
    default_tracking_uri,
    hold_sweep_folder,
    load_sweep_spec,
    read_tracking,
    search_timed_out,
    write_tracking,
)
from sweeper.tracking import TrialStatus, read_trials
from sweeper.tracking.console import ConsoleProgress
from sweeper.tracking.mlflow_tracker import check_tracking_uri, import_in_background
from sweeper.tune.relocation import restoring_in
from sweeper.tune.stopping import DiskFullTraceback, StopRequest
from sweeper.tune.storage import STORAGE_KEY, check_storage_uri, sweep_storage
from sweeper.tune.teacher import with_teacher
from sweeper.tune.workers import use_idle_workers, warm_workers

logger = logging.getLogger(__name__)
DATA_DIR = "data"  # class names per task and fitted tokenizers, to read predictions back
CLASSES_FILE = "classes.json"
OPTUNA_DB = "optuna.db"
RAY_JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray for a Ray Job's entrypoint
SEARCH_EXPERIMENT = "ray"  # Tune's experiment folder for the search, under the sweep folder
CONFIRM_EXPERIMENT = "ray-confirm"  # ... for the first confirmation; a later `sweeper confirm` adds -2, -3, ...


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
    storage: str | None = None  # <--storage>/<name>, when the sweep has one
    timed_out: str | None = None  # what the search's time limit left out, when it ended the search

    @property
    def wall_s(self) -> float:
        return self.ended_at - self.started_at


def check_sweep_dir(sweep_dir: Path, *, overwrite: bool) -> None:
    """Refuse to mix a new sweep into an earlier one's results unless told to replace them."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise SweepError(f"sweep folder {str(sweep_dir)!r} is a file")
    if "?" in str(sweep_dir.absolute()):  # MLflow's store would be made where the path ends at the "?"
        raise SweepError(
            f"sweep folder {str(sweep_dir)!r} has a '?' in its path, where the SQLite URIs of its MLflow and Optuna "
            "stores would start their options; choose another --sweeps-dir or --name"
        )
    for folder in sweep_dir.parents:
        if folder.exists() and not folder.is_dir():
            raise SweepError(f"sweep folder {str(sweep_dir)!r} cannot be made: {str(folder)!r} is a file")
    existing = next(f for f in (sweep_dir, *sweep_dir.parents) if f.exists())
    if not os.access(existing, os.W_OK | os.X_OK):  # also False for root on a read-only filesystem
        where = "" if existing == sweep_dir else f": {str(existing.absolute())!r} is not writable"
        raise SweepError(f"sweep folder {str(sweep_dir)!r} cannot be written{where}; choose another with --sweeps-dir")
    holds = sweep_dir.is_dir() and any(entry.name != LOCK_FILE for entry in sweep_dir.iterdir())
    if holds and not (sweep_dir / SPEC_FILE).is_file():
        raise SweepError(
            f"folder {str(sweep_dir)!r} holds files but no sweep ({SPEC_FILE} is missing); --overwrite only replaces "
            "a sweep: choose another --name or --sweeps-dir"
        )
    if holds and not overwrite:
        raise SweepError(
            f"sweep folder {str(sweep_dir)!r} already holds a sweep; pass --overwrite to replace it "
            "or --name to start another"
        )


def prepare_sweep_dir(sweep_dir: Path, *, overwrite: bool) -> None:
    """Create an empty sweep folder, removing an earlier sweep there only when ``overwrite``."""
    # Checked here, right before anything is removed, and not earlier in run_sweep: data and Ray take seconds to
    # minutes, in which the folder may change. `sweeper run` checks it once more before it starts, to fail fast.
    check_sweep_dir(sweep_dir, overwrite=overwrite)
    try:
        for entry in sweep_dir.iterdir() if sweep_dir.is_dir() else ():
            if entry.name == LOCK_FILE:  # held by this process (hold_sweep_folder)
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"sweep folder {str(sweep_dir)!r} cannot be made: {exc.strerror}: {exc.filename!r}") from None


def run_sweep(
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    confirm: bool | None = None,
    storage: str | None = None,
) -> SweepOutcome:
    """Run ``spec`` to the end and write everything under ``sweep_dir``; Ray is started locally if needed.

    ``storage`` (``s3://bucket/path``, ``gs://...``, or a folder every node mounts) takes Tune's experiment state
    and checkpoints, under ``<storage>/<name>/``, and a copy of the Parquet results; the MLflow SQLite store, the
    Optuna study and the results journal stay in ``sweep_dir`` on the driver.

    The search is followed by the confirmation stage (``sweeper.tune.confirm``) unless ``confirm`` is False, or
    None and the spec turns it off. Bad data, an unreachable cluster or an occupied folder fail before anything is
    written. A line is printed as each trial ends unless ``quiet``. Ctrl-C stops it gracefully
    (``SweepInterrupted``); ``resume_sweep`` continues it, as it continues a sweep whose driver was killed.
    """
    sweep_dir = Path(sweep_dir).resolve()
    check_sweep_dir(sweep_dir, overwrite=overwrite)
    check_not_held(sweep_dir)
    if tracking_uri:
        tracking_uri = check_tracking_uri(tracking_uri)
    if storage:
        storage = check_storage_uri(storage)
    data = build_dataset(spec.data)
    spec.check_dataset(data.spec)
    _quiet_tune()
    with _ray_session(address, trial_slots(spec)):
        check_resources(spec)
        with hold_sweep_folder(sweep_dir):
            prepare_sweep_dir(sweep_dir, overwrite=overwrite)
            save_data_artifacts(data, sweep_dir / DATA_DIR)
            tmp = sweep_dir / f"{SPEC_FILE}.tmp"  # the spec marks a sweep folder: it appears whole or not at all
            tmp.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
            tmp.replace(sweep_dir / SPEC_FILE)
            write_tracking(
                sweep_dir, tracking_uri=tracking_uri or default_tracking_uri(sweep_dir), **{STORAGE_KEY: storage}
            )
            return _run_stages(spec, sweep_dir, data, quiet=quiet, confirm=confirm)


def resume_sweep(
    sweep_dir: Path,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    quiet: bool = False,
    confirm: bool | None = None,
) -> SweepOutcome:
    """Continue an interrupted sweep from its folder: after a killed driver, Ctrl-C, a reboot or a lost cluster.

    Finished trials are not run again; interrupted ones continue from their last checkpoint (``Tuner.restore``);
    the Optuna study, ASHA's rungs, the MLflow parent and child runs and the Parquet results all carry on. A sweep
    that had finished its search goes on to (or finishes) its confirmation stage. ``tracking_uri`` moves the sweep's
    MLflow mirror to another store (what Parquet holds is replayed there).
    """
    spec = load_sweep_spec(sweep_dir)
    sweep_dir = Path(sweep_dir).resolve()
    with hold_sweep_folder(sweep_dir):
        return _resume(spec, sweep_dir, address=address, tracking_uri=tracking_uri, quiet=quiet, confirm=confirm)


def _resume(
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    address: str | None,
    tracking_uri: str | None,
    quiet: bool,
    confirm: bool | None,
) -> SweepOutcome:
    if tracking_uri:
        tracking_uri = check_tracking_uri(tracking_uri)
    if storage := read_tracking(sweep_dir).get(STORAGE_KEY):
        check_storage_uri(storage)  # reachable, and its credentials in this process's environment again
    data = build_dataset(spec.data)
    _quiet_tune()
    with _ray_session(address, trial_slots(spec)):
        check_resources(spec)
        if not (sweep_dir / DATA_DIR / CLASSES_FILE).is_file():  # killed before they were written
            save_data_artifacts(data, sweep_dir / DATA_DIR)
        saved = read_tracking(sweep_dir)
        if tracking_uri and tracking_uri != saved.get("tracking_uri"):
            write_tracking(sweep_dir, tracking_uri=tracking_uri, parent_run_id=None)
        elif not saved.get("tracking_uri"):
            write_tracking(sweep_dir, tracking_uri=default_tracking_uri(sweep_dir))
        return _run_stages(spec, sweep_dir, data, quiet=quiet, confirm=confirm)


def _run_stages(
    spec: SweepSpec, sweep_dir: Path, data: MultimodalDataset, *, quiet: bool, confirm: bool | None
) -> SweepOutcome:
    tracking_uri = str(read_tracking(sweep_dir)["tracking_uri"])
    optuna_storage = optuna_url(sweep_dir)
    data = with_teacher(spec, data, sweep_dir, quiet=quiet)  # trained once: a resume reads the saved one
    started_at = time.time()
    confirm = spec.confirm.enabled if confirm is None else confirm
    counts = run_search(spec, sweep_dir, data, optuna_storage, quiet=quiet, warm_next=confirm)
    ended_at = time.time()
    if counts[TrialStatus.FAILED.value] and counts[TrialStatus.FAILED.value] == sum(counts.values()):
        first = next(r for r in _stage_rows(sweep_dir, SEARCH_EXPERIMENT) if r["error"])
        raise SweepError(f"every trial failed; the first with: {first['error']}")
    outcome = SweepOutcome(sweep_dir, tracking_uri, optuna_storage, started_at, ended_at, counts)
    if (ran := sum(counts.values())) < spec.budget.num_samples and search_timed_out(sweep_dir):
        outcome.timed_out = (
            f"its time limit (budget.timeout_s: {spec.budget.timeout_s:g}) ended it after {ran} of "
            f"{spec.budget.num_samples} trials"
        )
        fusion = spec.parameters.get("fusion")
        tried = {r.get("config/fusion") for r in _stage_rows(sweep_dir, SEARCH_EXPERIMENT)}
        if isinstance(fusion, ChoiceParam) and (untried := [f for f in fusion.values if f not in tried]):
            outcome.timed_out += f", before it tried {', '.join(map(str, untried))}"
    storage = sweep_storage(sweep_dir)
    outcome.storage = storage.where if storage.uri else None
    if confirm:
        outcome.confirm_counts = run_confirmation(spec, sweep_dir, data, spec.confirm.seeds, quiet=quiet)
        outcome.confirm_wall_s = time.time() - ended_at
    return outcome


def run_search(
    spec: SweepSpec, sweep_dir: Path, data: MultimodalDataset, optuna_storage: str, *, quiet: bool, warm_next: bool
) -> dict[str, int]:
    """The search stage: a new Tune experiment, or the interrupted one restored; its counts by status.

    ``warm_next``: another stage follows; its trial workers start while the search's last trials run.
    """
    from sweeper.tune.callbacks import TrackerBridge

    if _search_done(spec, sweep_dir):
        return _counts(_stage_rows(sweep_dir, SEARCH_EXPERIMENT))
    from sweeper.tune.searcher import close_told_trials, fail_orphans

    study = _existing_study(spec, optuna_storage)
    if restorable(sweep_dir, SEARCH_EXPERIMENT):
        if study is not None:  # a kill between telling Optuna and Parquet that a trial ended
            close_told_trials(spec, sweep_dir, SEARCH_EXPERIMENT, study)
        tuner = restore_tuner(sweep_dir, SEARCH_EXPERIMENT, spec, data)
    else:  # new, or killed before Tune first saved its state: start over, discarding what ran
        if study is not None:  # a killed driver may have left RUNNING trials that nothing will finish
            fail_orphans(study)
        bridge = TrackerBridge(sweep_dir, "search", SEARCH_EXPERIMENT, spec.budget.num_samples, quiet=quiet)
        bridge.start()
        tuner = _build_tuner(spec, sweep_dir, data, bridge, optuna_storage, warm_next=warm_next)
    with _restoring_in(sweep_dir):  # a restored fit unpickles the searcher's saved state
        _fit(tuner, sweep_dir, SEARCH_EXPERIMENT)
    return _counts(_stage_rows(sweep_dir, SEARCH_EXPERIMENT))


def confirm_sweep(
    sweep_dir: Path, *, seeds: int | None = None, address: str | None = None, quiet: bool = False
) -> dict[str, int]:
    """Confirm an existing sweep from its folder alone, or bring it to ``seeds`` seeds per configuration."""
    spec = load_sweep_spec(sweep_dir)
    sweep_dir = Path(sweep_dir).resolve()
    if seeds is not None and seeds < 1:
        raise SweepError(f"--seeds must be >= 1, but got {seeds}")
    with hold_sweep_folder(sweep_dir):
        return _confirm(spec, sweep_dir, seeds=seeds, address=address, quiet=quiet)


def _confirm(
    spec: SweepSpec, sweep_dir: Path, *, seeds: int | None, address: str | None, quiet: bool
) -> dict[str, int]:
    data = build_dataset(spec.data)
    _quiet_tune()
    with _ray_session(address, trial_slots(spec)):
        check_resources(spec)
        data = with_teacher(spec, data, sweep_dir, quiet=quiet)
        return run_confirmation(spec, sweep_dir, data, seeds or spec.confirm.seeds, quiet=quiet)


def run_confirmation(
    spec: SweepSpec, sweep_dir: Path, data: MultimodalDataset, seeds: int, *, quiet: bool
) -> dict[str, int]:
    """Re-train the best configuration of every fusion family ``seeds`` times (x folds) on the running Ray.

    An interrupted confirmation experiment is restored and finished first; then the runs still missing are planned
    (none, when it was the same request) and run as a new experiment.
    """
    from sweeper.tune.callbacks import TrackerBridge
    from sweeper.tune.confirm import build_confirm_tuner, choose_folds, plan_runs, select_candidates

    experiments = sorted(sweep_storage(sweep_dir).names(CONFIRM_EXPERIMENT), key=_experiment_number)
    latest = experiments[-1] if experiments else None
    restored = None
    if latest is not None and restorable(sweep_dir, latest):
        restored = latest
        with _restoring_in(sweep_dir):
            _fit(restore_tuner(sweep_dir, latest, spec, data), sweep_dir, restored)
    earlier = read_trials(sweep_dir).to_pylist()
    candidates = select_candidates(spec, earlier, spec.confirm.per_fusion)
    if not candidates:
        raise SweepError("nothing to confirm: no search trial of this sweep reported a score")
    folds = choose_folds(spec, data, earlier)
    first = spec.confirm.first_seed
    runs = plan_runs(candidates, range(first, first + seeds), folds, earlier)
    families = len({c.fusion for c in candidates})
    times = f" x {folds} folds" if folds else ""
    progress = ConsoleProgress(len(runs), spec.objective.metric, quiet=quiet, mode=spec.objective.mode)
    progress.console.print(
        f"confirming {len(candidates)} configurations of {families} fusion families x {seeds} seeds{times} at "
        f"{spec.budget.max_epochs} epochs: {len(runs)} runs to train",
        highlight=False,
    )
    if runs:
        # A folder Tune never saved state in is reused (what ran there is discarded); else the next free name.
        name = latest if latest is not None and restored is None else _next_confirm_experiment(experiments)
        bridge = TrackerBridge(sweep_dir, "confirm", name, len(runs), quiet=quiet)
        bridge.start()
        _fit(build_confirm_tuner(spec, sweep_dir, data, runs, bridge, name), sweep_dir, name)
    rows = [r for r in read_trials(sweep_dir).to_pylist() if r["stage"] == "confirm"]
    return _counts(rows)


def _fit(tuner: Any, sweep_dir: Path, experiment: str) -> None:
    """``tuner.fit()``; ``SweepInterrupted`` if Ctrl-C (or SIGUSR1, or SIGTERM: ``StopRequest``) stopped it before
    its end.

    At each fit Tune puts in a handler that, at the first signal, asks the loop to stop, and puts back the handler
    from before the fit; ``fit`` then returns as if the stage had ended. So the signal is read from the handler
    (put back means Tune's handler ran) and from the warning Tune logs after such a stop (``TuneStopNotice``). A
    stage stopped between two trials has no running trial to say so. Tune leaves its handler in place after a fit
    that ran to its end, so a later Ctrl-C (between the stages, during the recommendation) would only set an event
    nothing reads (ray-project/ray#37737, closed without a fix): the handlers from before are put back here.
    """
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGUSR1)}
    # Tune installs its handlers only in the main thread, and none for SIGINT when told not to.
    watched = threading.current_thread() is threading.main_thread() and not int(
        os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0")
    )
    notice = _log_filter(TuneStopNotice.LOGGER, TuneStopNotice)
    notice.seen = False
    StopRequest.before_fit = saved[signal.SIGUSR1]
    try:
        try:
            tuner.fit()
        except OSError as exc:  # the driver's own writes (results, Tune's state) found the disk full
            if exc.errno != errno.ENOSPC:
                raise
            StopRequest.disk_full = StopRequest.disk_full or f"{type(exc).__name__}: {exc}"
        stopped = notice.seen or (watched and signal.getsignal(signal.SIGINT) == saved[signal.SIGINT])
    finally:
        StopRequest.before_fit = None
        if threading.current_thread() is threading.main_thread():
            for sig, handler in saved.items():
                if handler is not None:  # None: set outside Python, nothing to put back
                    signal.signal(sig, handler)
    interrupted = [r for r in _stage_rows(sweep_dir, experiment) if r["status"] == TrialStatus.INTERRUPTED.value]
    if StopRequest.disk_full:
        message, StopRequest.disk_full = StopRequest.disk_full_message(sweep_dir), None  # said once
        raise SweepError(message)
    if interrupted or stopped or StopRequest.received:
        raise SweepInterrupted(sweep_dir, len(interrupted), StopRequest.received or signal.SIGINT)


@contextlib.contextmanager
def _ray_session(address: str | None, slots: int) -> Iterator[None]:
    """Ray for one command: joined, or started and shut down at the end; SIGTERM and SIGHUP meanwhile stop the sweep
    as Ctrl-C does (``StopRequest``).

    A signal to the whole job (a closed terminal's SIGHUP, ``timeout``'s or Slurm's SIGTERM) reaches the driver
    alone: the local Ray's processes run in sessions of their own (``_own_sessions``). Under ``nohup`` (SIGHUP
    ignored) the sweep goes on, as asked."""
    main = threading.current_thread() is threading.main_thread()
    previous = {signal.SIGHUP: signal.getsignal(signal.SIGHUP)} if main else {}
    started = False
    try:
        started = _init_ray(address, slots)
        if main:  # after ray.init: it sets its own SIGTERM handler
            previous[signal.SIGTERM] = signal.getsignal(signal.SIGTERM)
            stops = [signal.SIGTERM] + ([signal.SIGHUP] if previous[signal.SIGHUP] != signal.SIG_IGN else [])
            for sig in stops:
                signal.signal(sig, StopRequest.on_signal)
        StopRequest.received, StopRequest.disk_full = None, None
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if started:
            import ray

            ray.shutdown()


def _search_done(spec: SweepSpec, sweep_dir: Path) -> bool:
    """True when the search already has ``num_samples`` trials (or its time limit has passed) and every one has
    ended."""
    rows = _stage_rows(sweep_dir, SEARCH_EXPERIMENT)
    ended = [r for r in rows if TrialStatus(r["status"]).ended]
    planned = len(rows) >= spec.budget.num_samples or search_timed_out(sweep_dir)
    return bool(rows) and planned and len(ended) == len(rows)


def _stage_rows(sweep_dir: Path, experiment: str) -> list[dict[str, Any]]:
    try:
        return [r for r in read_trials(sweep_dir).to_pylist() if r.get("experiment") == experiment]
    except SweepError:
        return []


def restorable(sweep_dir: Path, experiment: str) -> bool:
    """Whether Tune saved the state of ``experiment`` (``Tuner.can_restore`` only checks for ``tuner.pkl``)."""
    storage = sweep_storage(sweep_dir)
    return storage.exists(experiment, "tuner.pkl") and bool(storage.names("experiment_state-", experiment))


def restore_tuner(sweep_dir: Path, experiment: str, spec: SweepSpec, data: MultimodalDataset) -> Any:
    """The Tuner of an interrupted stage as Tune last saved it; errored trials stay errored (retries are used up)."""
    from ray import tune

    from sweeper.tune.reconcile import align_generator
    from sweeper.tune.trainable import ray_trainable

    storage = sweep_storage(sweep_dir)
    newest = max(storage.names("experiment_state-", experiment))  # the one Tune restores from
    try:
        json.loads(storage.read_text(experiment, newest))
    except (ValueError, OSError) as exc:  # Tune would log the error and silently start the stage over
        where = f"{storage.where}/{experiment}/{newest}"
        raise SweepError(f"Tune's experiment state {where!r} is damaged ({exc}); it cannot be resumed") from None
    align_generator(storage, experiment)  # a kill while Tune copied its state may leave its files out of step
    with _restoring_in(sweep_dir):  # Tune unpickles its callbacks and searcher here
        return tune.Tuner.restore(
            storage.path(experiment), trainable=ray_trainable(spec, data), resume_errored=False,
            storage_filesystem=storage.fs,
        )  # fmt: skip


def _restoring_in(sweep_dir: Path) -> contextlib.AbstractContextManager[None]:
    """A restored stage's pickled state names this folder, wherever the sweep ran (``sweeper.tune.relocation``)."""
    storage = sweep_storage(sweep_dir)
    return restoring_in(sweep_dir, optuna_url(sweep_dir), storage.root, storage.fs)


def optuna_url(sweep_dir: Path) -> str:
    """The sweep's Optuna study storage, SQLite in its folder."""
    return f"sqlite:///{Path(sweep_dir).resolve() / OPTUNA_DB}"


def _experiment_number(name: str) -> int:
    suffix = name.removeprefix(CONFIRM_EXPERIMENT).removeprefix("-")
    return int(suffix) if suffix.isdigit() else 1


def _next_confirm_experiment(experiments: list[str]) -> str:
    if not experiments:
        return CONFIRM_EXPERIMENT
    return f"{CONFIRM_EXPERIMENT}-{_experiment_number(experiments[-1]) + 1}"


def _existing_study(spec: SweepSpec, storage: str) -> Any:
    """The sweep's Optuna study if an earlier run created it, else None."""
    import optuna

    if not Path(storage.removeprefix("sqlite:///")).is_file():
        return None
    try:
        return optuna.load_study(study_name=spec.name, storage=storage)
    except KeyError:  # no study of that name yet
        return None


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    shown = (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.FAILED, TrialStatus.INTERRUPTED)
    return {s.value: sum(r["status"] == s.value for r in rows) for s in shown}


def save_data_artifacts(data: MultimodalDataset, folder: Path) -> None:
    """What turns a trial's outputs back into the user's terms: class names per task, fitted text tokenizers."""
    folder.mkdir(parents=True, exist_ok=True)
    classes = {t.name: data.classes.get(t.name, [str(k) for k in range(t.num_classes)]) for t in data.spec.tasks}
    (folder / CLASSES_FILE).write_text(json.dumps(classes, indent=2))
    for modality, tokenizer in data.tokenizers.items():
        (folder / f"tokenizer_{modality}.json").write_text(tokenizer.to_json())


def _build_tuner(
    spec: SweepSpec, sweep_dir: Path, data: MultimodalDataset, bridge: Any, optuna_storage: str, *, warm_next: bool
) -> Any:
    """The Tuner: what to try (Optuna), when to stop (ASHA), where (resources), and the driver-side callbacks."""
    import optuna
    from ray import tune

    from sweeper.tune.callbacks import WarmNextStage
    from sweeper.tune.scheduler import ResumableASHA, asha_settings
    from sweeper.tune.searcher import PruningAwareOptunaSearch
    from sweeper.tune.space import define_by_run
    from sweeper.tune.trainable import ray_trainable, run_config

    deadline = None
    if spec.budget.timeout_s is not None:  # from the search's start; a resume restores it with the searcher's state
        deadline = time.time() + spec.budget.timeout_s
        write_tracking(sweep_dir, **{SEARCH_DEADLINE_KEY: deadline})
    searcher = PruningAwareOptunaSearch(
        space=define_by_run(spec),
        points_to_evaluate=first_points(spec),
        metric=spec.objective.metric,
        mode=spec.objective.mode,
        sampler=optuna.samplers.TPESampler(seed=spec.budget.seed),
        study_name=spec.name,
        storage=optuna.storages.RDBStorage(optuna_storage),
        max_epochs=spec.budget.max_epochs,
        seed=spec.budget.seed,
        deadline=deadline,
    )
    scheduler = ResumableASHA(
        sweep_dir=sweep_dir,
        experiment=SEARCH_EXPERIMENT,
        **asha_settings(spec.budget),
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
        run_config=run_config(
            SEARCH_EXPERIMENT,
            sweep_dir,
            bridge,
            spec.failure.max_retries,
            *([WarmNextStage(spec.budget.num_samples, trial_slots(spec))] if warm_next else []),
        ),
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
    # After Ctrl-C Tune says to resume with Tuner.restore(...); sweeper says `sweeper resume` (SweepInterrupted).
    logging.getLogger(TuneStopNotice.LOGGER).setLevel(logging.WARNING)  # TuneStopNotice drops the warnings, noting one
    _log_filter(TuneStopNotice.LOGGER, TuneStopNotice)
    _log_filter("ray.tune.execution.experiment_state", TempFileSyncRace)
    _log_filter(TuneRestoreFailure.LOGGER, TuneRestoreFailure)
    for name in DiskFullTraceback.LOGGERS:
        _log_filter(name, DiskFullTraceback)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial comes from ConsoleProgress


_Filter = TypeVar("_Filter", bound=logging.Filter)


def _log_filter(logger_name: str, kind: type[_Filter]) -> _Filter:
    """The ``kind`` filter on logger ``logger_name``, added there if missing: one per process, however many sweeps."""
    named = logging.getLogger(logger_name)
    found = next((f for f in named.filters if isinstance(f, kind)), None)
    if found is None:
        found = kind()
        named.addFilter(found)
    return found


class TuneStopNotice(logging.Filter):
    """Drops what Tune's run loop logs below ERROR, and notes its "... has been interrupted" warning.

    Tune logs it after a fit that a signal stopped (SIGINT, or SIGUSR1 as a batch scheduler sends before its time
    limit). ``_fit`` reads the stop from Tune's SIGINT handler too; this covers the case where there is none to
    read: with ``TUNE_DISABLE_SIGINT_HANDLER`` set, Tune still stops at SIGUSR1 and leaves no handler changed.
    """

    LOGGER = "ray.tune.tune"

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        self.seen = self.seen or "has been interrupted" in record.getMessage()
        return False


class TempFileSyncRace(logging.Filter):
    """Turn Tune's traceback for one benign race into a debug line: a state copy that found a temp file renamed.

    Tune copies its staging folder to the sweep folder in a background thread while the next snapshot is written
    there; the searcher's atomic save (``.<uuid>-tmp-<name>`` renamed into place) can rename a file the copy had
    listed, and the copy fails with FileNotFoundError (ray/tune/execution/experiment_state.py logs it at ERROR
    with its traceback; ray-project/ray#60556 made the temp names unique but the copy still lists them). The next
    snapshot copies the state again, and the last one is awaited when the stage ends; a resume lines up state
    files from two snapshots. Any other error is left as Tune reports it.
    """

    _TEMP_FILE = re.compile(r"[\\/]\.[0-9a-f-]{36}-tmp-[^'\"\\/]*['\"]")

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, FileNotFoundError) and self._TEMP_FILE.search(str(error)):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg, record.args, record.exc_info, record.exc_text = (
                "a copy of the experiment state met a temp file being renamed; the next snapshot copies it again: %s",
                (error,),
                None,
                None,
            )
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


class LocalTokenNotice(logging.Filter):
    """Drops Ray's notice that a new local Ray turned token authentication on, and how to opt out: the local Ray is
    the sweep's own, started and stopped by it, and the notice (a log line at every sweep) is not for its user."""

    LOGGER = "ray._private.authentication.authentication_token_setup"

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled")


class TuneRestoreFailure(logging.Filter):
    """Stops a stage whose restore failed, before Tune starts it over from nothing.

    Tune's controller catches any error while it restores an experiment, logs "Failed to restore the run state."
    and restarts the experiment (ray/tune/execution/tune_controller.py), unless ``fail_fast``, which would also end
    the sweep at its first failed trial. A search started over beside its own records runs what the restored searcher
    has left and reports the stage done. Raised from that log call, ``SweepError`` leaves Tune's ``except`` block and
    ``Tuner.fit`` before anything has run, and names the error.
    """

    LOGGER = "ray.tune.execution.tune_controller"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Failed to restore the run state") and record.exc_info:
            error = record.exc_info[1]
            first_line = next(iter(str(error).strip().splitlines()), "")
            raise SweepError(
                f"cannot restore the interrupted stage ({type(error).__name__}: {first_line}); its results so far are "
                "kept"
            )
        return True


def own_lock_dir() -> None:
    """Give Ray a temp folder of this user's own where the machine's shared lock folder belongs to another user.

    Ray Tune copies checkpoints and its experiment state under locks kept in ``<tmp>/_ray_lockfiles``
    (``ray/air/_internal/filelock.py``), a folder that the first user to need it creates with their umask: every
    other user's lock then fails with PermissionError, and their sweeps cannot resume (ray-project/ray#32776). Made
    here first, the folder is shared as ``/tmp`` is (sticky, writable by all). Where it exists and this user cannot
    write in it, Ray's temp folder (``RAY_TMPDIR``, unless set) becomes ``<tmp>/ray-<uid>``, private: a local Ray's
    session folder moves there too; a driver that joins a cluster keeps the cluster's.
    """
    from ray._common.utils import get_default_system_temp_dir

    if "RAY_TMPDIR" in os.environ or not hasattr(os, "getuid"):
        return
    shared = Path(get_default_system_temp_dir())
    locks = shared / "_ray_lockfiles"
    try:
        locks.mkdir()
        locks.chmod(0o1777)
    except FileExistsError:
        if locks.is_dir() and os.access(locks, os.W_OK | os.X_OK):
            return
        own = shared / f"ray-{_outer_uid()}"
        own.mkdir(mode=0o700, exist_ok=True)
        os.environ["RAY_TMPDIR"] = str(own)
    except OSError:  # <tmp> itself is not writable: Ray's own error says so
        return


def _outer_uid() -> int:
    """This user's id outside a user namespace: a local sweep runs as its namespace's root (``sweeper.isolation``)."""
    uid = os.getuid()
    try:
        for line in Path("/proc/self/uid_map").read_text().splitlines():
            inside, outside, count = (int(field) for field in line.split())
            if inside <= uid < inside + count:
                return outside + uid - inside
    except (OSError, ValueError):
        pass
    return uid


def _init_ray(address: str | None, slots: int) -> bool:
    """Join ``address`` (or RAY_ADDRESS), else start a local Ray on this machine's cores; True if we started it.

    ``slots``: the trials that will run at once (``trial_slots``), for how many of Ray's idle workers to warm up.
    """
    import ray

    import_in_background()  # the driver's next slow start, MLflow's 2 s import, overlaps Ray's

    own_lock_dir()
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        check_reachable(address)
    started = not ray.is_initialized()  # else a caller (a notebook, the test suite) already holds a Ray session
    if started:
        _start_ray(address, slots)
    # Tune's own patches import Ray Tune (0.5 s): after Ray has started, so its idle workers import meanwhile
    use_idle_workers()
    recover_pending_failures()
    return started


def _start_ray(address: str | None, slots: int) -> None:
    """``ray.init``: join ``address``, else a new local Ray whose idle workers are warmed for ``slots`` trials."""
    import ray

    if RAY_JOB_ENV in os.environ:
        # A Ray Job's entrypoint runs in the job's working_dir, which Ray extracts again whenever it starts a worker
        # for the job: the old folder is removed and the driver is left in a deleted directory (os.getcwd() then
        # fails, and MLflow's SQLite store calls it). Every path of the sweep is absolute by now: step out of it.
        os.chdir(tempfile.gettempdir())
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            _log_filter(LocalTokenNotice.LOGGER, LocalTokenNotice)
            # address="local": a new Ray on this machine, even where `ray start` left a cluster that ray.init()
            # would otherwise join (it reads /tmp/ray/ray_current_cluster); joining is what --address is for.
            with _own_sessions():
                _init_local_ray(slots)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"connect to the Ray cluster at {address!r}" if address else "start a local Ray"
        raise SweepError(f"cannot {where}: {exc}") from None
    secure_token_file()


@contextlib.contextmanager
def _own_sessions() -> Iterator[None]:
    """Ray's processes started meanwhile (GCS, raylet and the workers it forks, agents) run in sessions of their own.

    Ray starts them in the driver's process group and blocks only SIGINT in them. A signal to the whole job then
    killed them mid-trial while the driver was stopping the stage gracefully: SIGTERM from ``timeout`` or Slurm's
    ``scancel`` (the driver then hung 60 s on the dead GCS and died), SIGHUP from a shell whose terminal closed. On
    Windows Ray already gives each its own process group (``ConsolePopen``); this does the same on POSIX. They still
    die with the driver (Ray's fate sharing, PR_SET_PDEATHSIG) and at ``ray.shutdown()``.
    """
    from ray._private import services

    popen = services.ConsolePopen

    class Detached(popen):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("start_new_session", True)
            super().__init__(*args, **kwargs)

    services.ConsolePopen = Detached  # type: ignore[misc]
    try:
        yield
    finally:
        services.ConsolePopen = popen  # type: ignore[misc]


def _init_local_ray(slots: int) -> None:
    import ray

    ray.init(
        address="local",
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _system_config=warm_workers(slots, os.cpu_count() or 1),
        _node_ip_address=NODE_IP if isolated() else None,  # None: Ray finds it
    )


def trial_slots(spec: SweepSpec) -> int:
    """How many trials run at once on this machine's local Ray: the budget's limit, or fewer where CPUs run out."""
    return max(1, min(spec.budget.max_concurrent, int((os.cpu_count() or 1) // spec.resources.cpu)))


def recover_pending_failures() -> None:
    """Retry a trial that fails while it waits to start, as Tune retries a running one (``failure.max_retries``).

    With ``reuse_actors`` Tune hands a finished trial's actor to the next trial (PENDING) and resets it there.
    ``TuneController._process_trial_failure`` (Ray 2.x, ``ray/tune/execution/tune_controller.py``) recovers only
    RUNNING trials, so two cases ended the trial in ERROR with its retries left:

    - the reset fails (a Ray error from the reset task while the trial is PENDING): this does what Tune's own
      ``_actor_failed`` does for a PENDING trial (its comment: "needed downstream in _process_trial_failure"): drop
      the trial's reset and staging, set it RUNNING, and let Tune count the failure and requeue it;
    - the actor dies during the reset (a node lost): Tune's ``_actor_failed`` recovers the trial, then the reset
      task's own error arrives, from the same dead actor, for a trial that is PENDING again. That report is stale;
      counting it would spend a second retry on one failure, and Tune's handler ended the trial with it (what a CI
      run once showed). It is dropped.
    """
    from ray.exceptions import RayActorError, RayError
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.experiment import Trial

    original = TuneController._process_trial_failure
    if getattr(original, "recovers_pending", False):
        return

    def stale(controller: Any, trial: Any, exception: Exception) -> bool:
        """A report from an actor the trial no longer has: Tune already handled that actor's death."""
        if not isinstance(exception, RayActorError):
            return False
        actor = trial.temporary_state.ray_actor
        if actor is None or trial not in controller._trial_to_actor:
            return True
        failed = getattr(exception, "actor_id", None)
        return bool(failed) and failed != actor._actor_id.hex()

    @functools.wraps(original)
    def process_trial_failure(self: Any, trial: Any, exception: Any) -> None:
        if trial.status == Trial.PENDING and isinstance(exception, RayError):
            if stale(self, trial, exception):
                if trial not in self._trial_to_actor:  # the dead actor's reset will never finish
                    self._resetting_trials.discard(trial)
                logger.debug("ignoring a second failure report from %s's previous actor: %s", trial, exception)
                return
            self._resetting_trials.discard(trial)
            if trial in self._staged_trials:
                self._unstage_trial_with_resources(trial)
            self._set_trial_status(trial, Trial.RUNNING)
        original(self, trial, exception)

    process_trial_failure.recovers_pending = True  # type: ignore[attr-defined]
    TuneController._process_trial_failure = process_trial_failure  # type: ignore[method-assign]


def secure_token_file(path: Path | None = None) -> bool:
    """Make Ray's auth token file readable by its owner only; True if its mode was changed.

    Ray writes ``~/.ray/auth_token`` (or ``RAY_AUTH_TOKEN_PATH``) with mode 0644 on some machines, so any local user
    could read the token and join the cluster.
    """
    path = path or Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if not path.is_file() or not path.stat().st_mode & 0o077:
        return False
    path.chmod(0o600)
    return True


def check_resources(spec: SweepSpec) -> None:
    """A trial's request (``resources.cpu`` and ``.gpu``, all on one node) that no node of the Ray cluster can meet,
    now or once its autoscaler adds one, fails here in one line: Ray would keep the trials pending forever."""
    import ray

    want = {"CPU": spec.resources.cpu, "GPU": spec.resources.gpu}
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    if any(_fits(node, want) for node in nodes):
        return
    groups = autoscaler_node_groups()
    if any(_fits(group, want) for group in groups) or (not groups and autoscaling_cluster()):
        # A node group the autoscaler keeps at zero: the trials' requests start its nodes.
        logger.warning("no node of the Ray cluster can run a trial now; its autoscaler is expected to add one")
        return
    raise SweepError(_shortfall(spec, nodes, groups))


def _fits(node: dict[str, float], want: dict[str, float]) -> bool:
    return all(node.get(key, 0) >= amount for key, amount in want.items() if amount > 0)


def _shortfall(spec: SweepSpec, nodes: list[dict[str, float]], groups: list[dict[str, float]]) -> str:
    """What of ``spec.resources`` no node has."""
    cpu, gpu = spec.resources.cpu, spec.resources.gpu
    total_gpus = sum(node.get("GPU", 0) for node in nodes)
    scalable = sum(group.get("GPU", 0) * group.get("max_count", 0) for group in groups)
    if gpu > total_gpus + scalable:
        can_add = f" (its autoscaler can add {scalable:g})" if scalable else ""
        return (
            f"resources.gpu={gpu:g} but the Ray cluster has {total_gpus:g} GPUs{can_add}; set resources.gpu: 0, or "
            "join a cluster with GPUs (--address)"
        )
    for key, amount, name in (("CPU", cpu, "cpu"), ("GPU", gpu, "gpu")):
        most = max((node.get(key, 0) for node in [*nodes, *groups]), default=0)
        if amount > most:
            return (
                f"resources.{name}={amount:g} but no node of the Ray cluster has {amount:g} {key}s (the most on one "
                f"node: {most:g}), and a trial runs on one node; set resources.{name} to at most {most:g}, or join a "
                "cluster with larger nodes (--address)"
            )
    return (
        f"resources.cpu={cpu:g} with resources.gpu={gpu:g}: no node of the Ray cluster has both, and a trial runs on "
        "one node"
    )


def autoscaling_cluster() -> bool:
    """Whether this driver runs on the head of a cluster-launcher cluster, whose autoscaler adds nodes on demand: the
    launcher leaves ``~/ray_bootstrap_config.yaml`` there; Ray Tune tells the same way
    (``ray/tune/execution/cluster_info.py``)."""
    return Path("~/ray_bootstrap_config.yaml").expanduser().exists()


def autoscaler_node_groups() -> list[dict[str, float]]:
    """The resources of one node of each group the cluster's autoscaler may start (with ``max_count``), from the
    cluster config it published in the GCS; empty without an autoscaler. Ray Data reads the config the same way
    (``ray/data/_internal/cluster_autoscaler/util.py``)."""
    from ray._private import state

    try:
        config = state.state.get_cluster_config()
    except Exception:  # a private API: an upgrade that changes it must not stop a sweep that needs no autoscaler
        return []
    if config is None:
        return []
    groups = []
    for group in config.node_group_configs:
        if group.max_count != 0:
            count = float("inf") if group.max_count == -1 else float(group.max_count)
            groups.append({**{k: float(v) for k, v in group.resources.items()}, "max_count": count})
    return groups


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a cluster address nothing listens on; ray.init would retry for minutes."""
    if address in ("auto", "local"):
        return
    if address.startswith("ray://"):
        # Ray Client runs the driver's callbacks on the cluster, so Parquet and MLflow would be written there, not
        # in this sweep folder (and the trackers would be pickled before they start): refused rather than half-run.
        raise SweepError(
            f"Ray Client addresses ({address!r}) are not supported: run sweeper on the head node with --address "
            "HOST:PORT (or RAY_ADDRESS), or submit it as a Ray Job: ray job submit --working-dir . -- sweeper run SPEC"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SweepError(f"invalid Ray address {address!r}; expected host:port (the head's GCS port) or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise SweepError(f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc}") from None
