"""The first trial on each slot, and on each slot of the next stage, starts in an idle worker with torch imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A fresh local Ray, started the way `sweeper run` starts it, in a process of its own (the suite's Ray is shared).
PRELUDE = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    import ray
    from ray import tune

    from sweeper.tune.callbacks import WarmNextStage
    from sweeper.tune.runner import _init_ray

    def workers():
        pids = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::IDLE"):  # a worker's process title while it waits for work
                pids.add(int(pid))
        return pids
    """
)
SCRIPT = PRELUDE + textwrap.dedent(
    """
    def trainable(config):
        tune.report({"pid": os.getpid(), "torch": "torch" in sys.modules})

    assert _init_ray(None, slots=os.cpu_count())  # as if a trial ran on every core: every idle worker is warmed
    deadline = time.time() + 60
    while len(workers()) < 2 and time.time() < deadline:  # the idle workers start as the driver connects
        time.sleep(0.2)
    time.sleep(1.5)  # longer than Ray's default idle limit (1 s): they must outlive it
    idle = workers()
    results = tune.Tuner(
        trainable,
        param_space={"x": tune.grid_search([0, 1, 2, 3])},
        tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=2),
        run_config=tune.RunConfig(storage_path=sys.argv[1], verbose=0),
    ).fit()
    print(json.dumps({"idle": sorted(idle), "trials": [r.metrics for r in results]}))
    ray.shutdown()
    """
)


@pytest.mark.slow
def test_trials_start_in_idle_preloaded_workers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["idle"]) >= 2
    trials = out["trials"]
    assert len(trials) == 4
    assert all(t["torch"] for t in trials)  # imported before the trial ran: the trainable itself never imports it
    assert {t["pid"] for t in trials} <= set(out["idle"])  # no new process for any trial


# Two stages in one local Ray: the second's trials must start in workers that came up while the first's last trial ran.
TWO_STAGES = PRELUDE + textwrap.dedent(
    """
    def trainable(config):
        seen = set()
        deadline = time.time() + config["x"]  # the long trial is the stage's last: the others end while it runs
        while time.time() < deadline:
            seen |= workers() - set(config["before"])  # idle workers that came up during the stage
            time.sleep(0.2)
        tune.report({"pid": os.getpid(), "idle_seen": sorted(seen)})

    def stage(name, xs, callbacks):
        return tune.Tuner(
            trainable,
            param_space={"x": tune.grid_search(xs), "before": sorted(workers())},
            tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=2),
            run_config=tune.RunConfig(name=name, storage_path=sys.argv[1], verbose=0, callbacks=callbacks),
        ).fit()

    assert _init_ray(None, slots=2)
    deadline = time.time() + 60
    while len(workers()) < 2 and time.time() < deadline:  # the first idle workers, which the first stage takes
        time.sleep(0.2)
    warm = [WarmNextStage(planned=3, slots=2)] if sys.argv[2] == "warm" else []
    first = [r.metrics for r in stage("search", [12, 0, 0], warm)]
    deadline = time.time() + 10
    while len(workers()) < 2 and time.time() < deadline:
        time.sleep(0.2)
    idle = workers()
    second = [r.metrics for r in stage("confirm", [0, 0], [])]
    print(json.dumps({"first": first, "idle": sorted(idle), "second": second}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_the_next_stage_starts_in_workers_started_during_the_last_trials(tmp_path: Path, mode: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", TWO_STAGES, str(tmp_path), mode], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    last = next(t for t in out["first"] if t["config"]["x"])
    second = {t["pid"] for t in out["second"]}
    assert not second & {t["pid"] for t in out["first"]}  # the first stage's actors ended with it
    if mode == "cold":  # without the callback no idle worker is left for the next stage: what the test relies on
        assert not second & (set(out["idle"]) | set(last["idle_seen"]))
        return
    assert second & set(last["idle_seen"])  # a worker that came up while the last trial still ran
    assert second <= set(out["idle"])  # no new process for the next stage's trials


def test_workers_import_the_trial_code_only_where_most_will_run_a_trial() -> None:
    from sweeper.tune.workers import warm_workers

    assert "preload_python_modules" in warm_workers(slots=2, cpus=2)  # the demo on this machine
    assert "preload_python_modules" in warm_workers(slots=2, cpus=4)
    # 64 idle workers for 2 trials: 62 would hold torch for nothing (about 250 MB each)
    assert "preload_python_modules" not in warm_workers(slots=2, cpus=64)
    assert all(c["idle_worker_killing_time_threshold_ms"] >= 60_000 for c in (warm_workers(2, 2), warm_workers(2, 64)))


def test_trial_slots_follow_the_budget_and_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from sweeper.testing import tiny_spec
    from sweeper.tune.runner import trial_slots

    spec = tiny_spec()
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    budget = spec.budget.model_copy(update={"max_concurrent": 3})
    assert trial_slots(spec.model_copy(update={"budget": budget})) == 3
    resources = spec.resources.model_copy(update={"cpu": 4.0})
    assert trial_slots(spec.model_copy(update={"budget": budget, "resources": resources})) == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert trial_slots(spec.model_copy(update={"budget": budget, "resources": resources})) == 1
