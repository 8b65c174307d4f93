"""Kill the driver of a real sweep, resume it, and find nothing lost and nothing done twice.

The sweep runs as `sweeper run` in its own process, joined to the test session's Ray cluster (as a driver on a
cluster's head node would be); the test SIGKILLs it (or sends Ctrl-C) at a chosen moment, then resumes the sweep
from its folder and audits Parquet, MLflow and Optuna (``sweeper.tune.audit``).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from sweeper.errors import SweepError, SweepInterrupted
from sweeper.spec import load_spec
from sweeper.sweep_folder import read_tracking
from sweeper.testing import NO_CONFIRM, TINY
from sweeper.tracking import read_trials
from sweeper.tune.audit import audit_sweep
from sweeper.tune.runner import resume_sweep, run_sweep

N = 6  # search trials


def _spec(tmp_path: Path, confirm: dict[str, Any], **budget: Any) -> Path:
    spec = {
        **TINY,
        "name": "killed",
        "budget": {
            "num_samples": N, "max_epochs": 4, "grace_period": 1, "reduction_factor": 3, "max_concurrent": 2,
            **budget,
        },
        "confirm": confirm,
    }  # fmt: skip
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _start(tmp_path: Path, spec: Path) -> subprocess.Popen:
    import ray

    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    command = [sys.executable, "-m", "sweeper", "run", str(spec), "--sweeps-dir", str(tmp_path), "--no-recommend"]
    log = (tmp_path / "driver.log").open("w")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _rows(sweep: Path) -> list[dict[str, Any]]:
    try:
        return read_trials(sweep).to_pylist()
    except SweepError:
        return []


def _wait(
    proc: subprocess.Popen,
    sweep: Path,
    ready: Callable[[list[dict[str, Any]]], bool],
    what: str,
    stage: str = "search",
) -> None:
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {(sweep.parent / 'driver.log').read_text()[-2000:]}")
        if ready([{**r, "sweep_dir": sweep} for r in _rows(sweep) if r["stage"] == stage]):
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _ended(rows: list[dict[str, Any]]) -> int:
    return sum(r["status"] in ("completed", "pruned", "failed") for r in rows)


def _first_epoch_only(rows: list[dict[str, Any]]) -> bool:
    """The first trials run and one has reported an epoch; none has ended."""
    from sweeper.tracking import read_epochs

    if not rows or _ended(rows):
        return False
    try:
        return read_epochs(rows[0]["sweep_dir"]).num_rows > 0
    except SweepError:
        return False


KILL_POINTS = {
    "during the first trial": _first_epoch_only,
    "mid-sweep": lambda rows: _ended(rows) >= N // 2,
    "during the last trial": lambda rows: _ended(rows) >= N - 1,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_sweep_killed_with_sigkill_resumes_with_nothing_lost_or_doubled(
    ray_session: None, tmp_path: Path, point: str
) -> None:
    # The last point also runs the confirmation stage, which a resume must go on to.
    confirm = {"seeds": 1, "small_val": 0} if point == "during the last trial" else NO_CONFIRM
    # During the first trial: ASHA may not stop a trial before its 4th epoch, else the first trials can all end
    # within one poll of their first epoch (a CI run saw the whole 5 s search end before the kill).
    budget = {"grace_period": 4} if point == "during the first trial" else {}
    proc = _start(tmp_path, _spec(tmp_path, confirm, **budget))
    sweep = tmp_path / "killed"
    _wait(proc, sweep, KILL_POINTS[point], point)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    outcome = resume_sweep(sweep, quiet=True)

    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    search = [r for r in read_trials(sweep).to_pylist() if r["stage"] == "search"]
    assert len(search) == N
    assert sum(outcome.counts.values()) == N
    if confirm.get("enabled", True):
        assert outcome.confirm_counts == {"completed": 4, "pruned": 0, "failed": 0, "interrupted": 0}  # 4 families


def _confirming(rows: list[dict[str, Any]]) -> bool:
    return _ended(rows) >= 1 and any(r["status"] == "running" for r in rows) and len(rows) < 8


def _one_ended_and_one_early_in_training(rows: list[dict[str, Any]]) -> bool:
    """A trial has ended, and another has trained its first epoch of several that ASHA cannot cut short."""
    from sweeper.tracking import read_epochs

    running = {r["trial_id"] for r in rows if r["status"] == "running"}
    if not _ended(rows) or not running:
        return False
    try:
        epochs = read_epochs(rows[0]["sweep_dir"]).to_pylist()
    except SweepError:
        return False
    last: dict[str, float] = {}
    for epoch in epochs:
        last[epoch["trial_id"]] = max(last.get(epoch["trial_id"], 0.0), epoch["epoch"])
    return any(last.get(trial_id) == 1 for trial_id in running)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_gracefully_then_resume_finishes(
    ray_session: None, tmp_path: Path, stop: signal.Signals
) -> None:
    """SIGTERM is what `kill`, `timeout`, Slurm's scancel, Kubernetes and `docker stop` send: it stops the sweep as
    Ctrl-C does. Ray's driver alone exits at once on it, printing a C++ stack trace, its trials left running."""
    # The signal must land while a trial trains: every epoch reported (and checkpointed), none stopped before epoch
    # 4. (Landing between two trials is the bridge tests' case.)
    proc = _start(tmp_path, _spec(tmp_path, NO_CONFIRM, max_epochs=5, grace_period=4, report_every_s=0))
    sweep = tmp_path / "killed"
    _wait(proc, sweep, _one_ended_and_one_early_in_training, "a trial ended and another trained one epoch")
    proc.send_signal(stop)
    assert proc.wait(timeout=120) == 128 + stop
    output = (tmp_path / "driver.log").read_text()
    assert f"Continue with: sweeper resume {sweep}" in output
    assert "Traceback" not in output and "SIGTERM received" not in output
    assert ("interrupted (SIGTERM): " in output) is (stop == signal.SIGTERM)
    client = MlflowClient(read_tracking(sweep)["tracking_uri"])
    assert client.get_run(read_tracking(sweep)["parent_run_id"]).info.status == "KILLED"

    rows = read_trials(sweep).to_pylist()
    interrupted = {r["trial_id"] for r in rows if r["status"] == "interrupted"}
    assert interrupted, rows
    for trial_id in interrupted:
        (run,) = client.search_runs(
            [client.get_experiment_by_name("killed").experiment_id],  # type: ignore[union-attr]
            f"tags.`sweeper.trial_id` = '{trial_id}'",
        )
        assert run.info.status == "KILLED" and run.data.tags["status"] == "interrupted"

    # Resumed into another MLflow store: what Parquet holds is replayed there, and the sweep goes on in it.
    other = f"sqlite:///{tmp_path / 'other.db'}"
    resume_sweep(sweep, tracking_uri=other, quiet=True)
    assert read_tracking(sweep)["tracking_uri"] == other
    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    final = {r["trial_id"]: r for r in read_trials(sweep).to_pylist()}
    assert len(final) == N
    assert all(final[t]["status"] in ("completed", "pruned") for t in interrupted)  # continued, not started again


@pytest.mark.parametrize("how", ["terminal closed", "timeout"])
def test_a_signal_to_the_whole_job_stops_gracefully_then_resume_finishes(
    ray_session: None, tmp_path: Path, how: str
) -> None:
    """Signals that reach the whole job, its local Ray included: a closed terminal (or ssh session) hangs up and the
    shell sends SIGHUP to the job; `timeout`, and Slurm's scancel, send SIGTERM to every process of it. The sweep
    stops as at Ctrl-C, resumable; before, its Ray died under it (trials lost mid-epoch; after SIGTERM the driver
    hung 60 s on the dead GCS)."""
    spec = _spec(tmp_path, NO_CONFIRM, max_epochs=5, grace_period=4, report_every_s=0)
    command = [sys.executable, "-m", "sweeper", "run", str(spec), "--sweeps-dir", str(tmp_path), "--no-recommend"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray of its own, as in a terminal
    log = tmp_path / "driver.log"
    sweep = tmp_path / "killed"
    if how == "timeout":
        proc, stop = _start_local(command, env, log), signal.SIGTERM
        _wait(proc, sweep, _one_ended_and_one_early_in_training, "a trial ended and another trained one epoch")
        os.killpg(proc.pid, stop)  # what `timeout` does: it runs the command in a process group of its own
    else:
        terminal, slave = pty.openpty()

        def controlling_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        proc = subprocess.Popen(
            command, env=env, stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_terminal, close_fds=True
        )
        os.close(slave)
        stop = signal.SIGHUP
        reader = threading.Thread(target=_drain, args=(terminal, log), daemon=True)  # a full terminal blocks writes
        reader.start()
        try:
            _wait(proc, sweep, _one_ended_and_one_early_in_training, "a trial ended and another trained one epoch")
        finally:
            os.close(terminal)  # the hang-up
            os.killpg(proc.pid, stop)  # and what the shell does then
    assert proc.wait(timeout=60) == 128 + stop, log.read_text()[-2000:]
    client = MlflowClient(read_tracking(sweep)["tracking_uri"])
    assert client.get_run(read_tracking(sweep)["parent_run_id"]).info.status == "KILLED"
    rows = read_trials(sweep).to_pylist()
    interrupted = {r["trial_id"] for r in rows if r["status"] == "interrupted"}
    assert interrupted and not [r for r in rows if r["status"] in ("running", "failed")], rows

    resume_sweep(sweep, quiet=True)
    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    final = {r["trial_id"]: r for r in read_trials(sweep).to_pylist()}
    assert len(final) == N and all(final[t]["status"] in ("completed", "pruned") for t in interrupted)


def _start_local(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.parametrize("nohup", [False, True], ids=["terminal", "nohup"])
def test_sighup_stops_a_sweep_unless_nohup_ignores_it(ray_session: None, nohup: bool) -> None:
    from sweeper.tune.runner import _ray_session
    from sweeper.tune.stopping import StopRequest

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN if nohup else signal.SIG_DFL)
    try:
        with _ray_session(None, 1):
            during = signal.getsignal(signal.SIGHUP)
        after = signal.getsignal(signal.SIGHUP)
    finally:
        signal.signal(signal.SIGHUP, before)
    assert during == (signal.SIG_IGN if nohup else StopRequest.on_signal)
    assert after == (signal.SIG_IGN if nohup else signal.SIG_DFL)


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_sweep_folder_moved_or_copied_resumes_where_it_is_now(ray_session: None, tmp_path: Path, how: str) -> None:
    """Tune's saved state, the Optuna storage and the MLflow store name the folder the sweep ran in. A moved folder's
    resume failed; a copy's would have written into the original. Both now resume in place, the original untouched."""
    # Copied: stopped in the confirmation stage, whose grid creates trials after the restore too (they once
    # checkpointed into the original).
    confirm = NO_CONFIRM if how == "moved" else {"seeds": 2, "small_val": 0}
    proc = _start(tmp_path, _spec(tmp_path, confirm, max_epochs=5, grace_period=4, report_every_s=0))
    sweep = tmp_path / "killed"
    if how == "moved":
        _wait(proc, sweep, _one_ended_and_one_early_in_training, "a trial ended and another trained one epoch")
    else:
        _wait(proc, sweep, _confirming, "a confirmation run ended and another runs", stage="confirm")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    there = tmp_path / "elsewhere" / "renamed"
    there.parent.mkdir()
    (shutil.move if how == "moved" else shutil.copytree)(sweep, there)
    original = {p: p.read_bytes() for p in sorted(sweep.rglob("*")) if p.is_file()} if how == "copied" else {}

    resume_sweep(there, quiet=True)
    audit = audit_sweep(there)
    assert audit.ok, audit.details
    assert len(read_trials(there)) == N + (0 if how == "moved" else 8)  # 4 families x 2 seeds
    saved = read_tracking(there)
    assert saved["tracking_uri"] == f"sqlite:///{there.resolve() / 'mlflow.db'}"
    client = MlflowClient(saved["tracking_uri"])
    parent = client.get_run(saved["parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.info.artifact_uri.startswith(
        (there / "mlartifacts").resolve().as_uri()
    )
    if how == "moved":
        assert not sweep.exists()
    else:  # the original, byte for byte as it was
        assert {p: p.read_bytes() for p in sorted(sweep.rglob("*")) if p.is_file()} == original


def _drain(terminal: int, log: Path) -> None:
    with log.open("wb") as out:
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # closed, or the driver's side is gone
                return
            if not chunk:
                return
            out.write(chunk)


def _tuner(tmp_path: Path, callbacks: list[Any]) -> Any:
    """Three one-result trials, one at a time."""
    from ray import tune

    def trainable(config: dict[str, Any]) -> None:
        tune.report({"x": float(config["i"])})

    return tune.Tuner(
        trainable,
        param_space={"i": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
        run_config=tune.RunConfig(name="t", storage_path=str(tmp_path), verbose=0, callbacks=callbacks),
    )


def test_ctrl_c_between_two_trials_stops_the_stage_as_interrupted(ray_session: None, tmp_path: Path) -> None:
    """Tune's fit returns normally after Ctrl-C; when it lands after a trial ended and before the next started, no
    trial is running to say so (what CI once caught: `sweeper run` exited 0 with the search unfinished)."""
    from ray import tune

    from sweeper.tune.runner import _fit

    class CtrlCAfterFirstTrial(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            if sum(t.status == "TERMINATED" for t in trials) == 1:
                os.kill(os.getpid(), signal.SIGINT)  # the driver's main thread, as a terminal's Ctrl-C

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SweepInterrupted, match=r"it stopped between two trials; .* sweeper resume"):
        _fit(_tuner(tmp_path, [CtrlCAfterFirstTrial()]), tmp_path, "t")
    assert signal.getsignal(signal.SIGINT) is before


def test_sigusr1_stops_the_stage_as_interrupted_without_tunes_sigint_handler(
    ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TUNE_DISABLE_SIGINT_HANDLER set Tune still stops at SIGUSR1 (a batch scheduler's notice before its time
    limit) and changes no handler that would tell; its warning after the stop does."""
    from ray import tune

    from sweeper.tune.runner import _fit

    class Usr1AfterFirstTrial(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            if sum(t.status == "TERMINATED" for t in trials) == 1:
                os.kill(os.getpid(), signal.SIGUSR1)

    monkeypatch.setenv("TUNE_DISABLE_SIGINT_HANDLER", "1")
    before = signal.getsignal(signal.SIGUSR1)
    with pytest.raises(SweepInterrupted, match=r"it stopped between two trials"):
        _fit(_tuner(tmp_path, [Usr1AfterFirstTrial()]), tmp_path, "t")
    assert signal.getsignal(signal.SIGUSR1) is before


def test_ctrl_c_after_a_stage_still_stops_the_driver(ray_session: None, tmp_path: Path) -> None:
    """Tune leaves its Ctrl-C handler behind after a fit that ran to its end (ray-project/ray#37737), so Ctrl-C
    between the stages or during the recommendation would only set an event nothing reads."""
    from sweeper.tune.runner import _fit

    before = signal.getsignal(signal.SIGINT)
    _fit(_tuner(tmp_path, []), tmp_path, "t")  # ran to its end: not interrupted
    assert signal.getsignal(signal.SIGINT) is before


def _snapshot(experiment: Path, prefixes: tuple[str, ...]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in experiment.iterdir() if p.name.startswith(prefixes)}


@pytest.mark.parametrize("newer", ["searcher", "experiment state"])
def test_a_resume_aligns_state_files_that_a_kill_left_out_of_step(
    ray_session: None, tmp_path: Path, newer: str
) -> None:
    """Tune copies its three state files to storage one by one; a kill mid-copy leaves them from two checkpoints.

    "searcher": the searcher and search generator had counted a trial that the experiment state never saved (what
    CI once caught: the sweep ended a trial short, its Optuna twin left RUNNING). "experiment state": the searcher
    files are older and know fewer trials than the experiment state.
    """
    searcher_files = ("searcher-state-", "search_gen_state-")
    proc = _start(tmp_path, _spec(tmp_path, NO_CONFIRM))
    sweep = tmp_path / "killed"
    experiment = sweep / "ray"
    _wait(proc, sweep, _first_epoch_only, "the first epoch")
    early = _snapshot(experiment, searcher_files)
    _wait(proc, sweep, lambda rows: _ended(rows) >= N // 2 and len(rows) > _ended(rows), "half the trials ended")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    state_file = max(experiment.glob("experiment_state-*.json"))
    state = json.loads(state_file.read_text())
    if newer == "searcher":  # the state as saved before its newest trial was created
        state["trial_data"] = state["trial_data"][:-1]
        state_file.write_text(json.dumps(state))
    else:
        assert early, "Tune saved the searcher before the first epoch ended"
        for name in _snapshot(experiment, searcher_files):
            (experiment / name).unlink()
        for name, content in early.items():
            (experiment / name).write_bytes(content)

    outcome = resume_sweep(sweep, quiet=True)

    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    assert len([r for r in read_trials(sweep).to_pylist() if r["stage"] == "search"]) == N
    assert sum(outcome.counts.values()) == N


def test_a_trial_optuna_was_told_of_but_parquet_was_not_ends_as_optuna_has_it(
    ray_session: None, tmp_path: Path
) -> None:
    """Tune tells the searcher that a trial ended before it tells the callbacks; a kill in between leaves Optuna's
    trial PRUNED while Parquet and Tune's saved state still show it running (what CI once caught: the resumed trial
    reported to a finished Optuna trial and the resume crashed)."""
    import optuna

    from sweeper.tracking import read_epochs
    from sweeper.tune.reconcile import STATE_PREFIX, saved_trials
    from sweeper.tune.runner import OPTUNA_DB

    proc = _start(tmp_path, _spec(tmp_path, NO_CONFIRM))
    sweep = tmp_path / "killed"
    victim: dict[str, Any] = {}

    def running_trial_saved_by_tune(rows: list[dict[str, Any]]) -> bool:
        try:
            saved = saved_trials(max((sweep / "ray").glob(f"{STATE_PREFIX}*.json")).read_text())
            reported = {e["trial_id"]: e for e in read_epochs(sweep).to_pylist()}
        except (ValueError, OSError, SweepError):  # not saved yet, or caught mid-write
            return False
        for row in rows:
            if row["status"] == "running" and row["trial_id"] in reported and row["trial_id"] in saved:
                victim.update(reported[row["trial_id"]])
                return not saved[row["trial_id"]].ended
        return False

    _wait(proc, sweep, running_trial_saved_by_tune, "a running trial with an epoch in Tune's saved state")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    study = optuna.load_study(study_name="killed", storage=f"sqlite:///{sweep / OPTUNA_DB}")
    (twin,) = [t for t in study.trials if t.user_attrs.get("trial_id") == victim["trial_id"]]
    epochs = [e for e in read_epochs(sweep).to_pylist() if e["trial_id"] == victim["trial_id"]]
    last = max(epochs, key=lambda e: e["epoch"])
    study.tell(twin.number, state=optuna.trial.TrialState.PRUNED)  # what the killed driver had done

    outcome = resume_sweep(sweep, quiet=True)

    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    assert sum(outcome.counts.values()) == N
    (row,) = [r for r in read_trials(sweep).to_pylist() if r["trial_id"] == victim["trial_id"]]
    assert (row["status"], row["epochs"]) == ("pruned", last["epoch"])


def test_a_resume_that_tune_cannot_restore_stops_with_one_line_and_ray_gets_a_lock_folder_of_its_own(
    ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tune locks the state it copies back in <tmp>/_ray_lockfiles; where another user of the machine made that folder,
    the lock fails. Tune then logs the error and starts the stage over (the resumed search ran one trial and said it
    was done); the resume must stop instead, and keep what ran. Without RAY_TMPDIR set, Ray gets a folder of its own.
    Here a file stands where the folder would be, which fails the same way for root as another user's folder does."""
    proc = _start(tmp_path, _spec(tmp_path, NO_CONFIRM))
    sweep = tmp_path / "killed"
    _wait(proc, sweep, lambda rows: _ended(rows) >= 2, "two trials ended")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_trials(sweep).to_pylist()
    shared = tmp_path / "tmp"
    shared.mkdir()
    (shared / "_ray_lockfiles").write_text("")
    monkeypatch.setenv("TMPDIR", str(shared))  # Ray's temp folder on Linux, unless RAY_TMPDIR says another

    monkeypatch.setenv("RAY_TMPDIR", str(shared))  # the user's own choice: kept
    with pytest.raises(SweepError, match=r"^cannot restore the interrupted stage \(FileExistsError: .*_ray_lockfiles"):
        resume_sweep(sweep, quiet=True)
    assert read_trials(sweep).to_pylist() == before

    monkeypatch.delenv("RAY_TMPDIR")
    outcome = resume_sweep(sweep, quiet=True)
    assert os.environ["RAY_TMPDIR"] == str(shared / f"ray-{os.getuid()}")
    assert (shared / f"ray-{os.getuid()}" / "_ray_lockfiles").is_dir()
    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    assert sum(outcome.counts.values()) == N


def test_a_second_driver_of_a_running_sweep_is_refused_and_the_first_finishes(
    ray_session: None, tmp_path: Path
) -> None:
    """A resume (or an --overwrite run) of a sweep whose driver still runs: a second terminal, a batch job started
    again. Both drivers wrote the same records; the first crashed on Optuna, MLflow runs were deleted under it."""
    spec = _spec(tmp_path, NO_CONFIRM)
    proc = _start(tmp_path, spec)
    sweep = tmp_path / "killed"
    _wait(proc, sweep, lambda rows: bool(rows), "the first trial")
    with pytest.raises(SweepError, match=rf"^sweep folder '{sweep}' is in use by sweeper \(pid {proc.pid} on "):
        resume_sweep(sweep, quiet=True)
    with pytest.raises(SweepError, match="is in use by sweeper"):
        run_sweep(load_spec(spec), sweep, overwrite=True, quiet=True)
    assert proc.wait(timeout=240) == 0, (tmp_path / "driver.log").read_text()[-2000:]
    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    assert len(read_trials(sweep)) == N
    resume_sweep(sweep, quiet=True)  # its driver ended: free again
