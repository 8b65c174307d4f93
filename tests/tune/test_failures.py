"""A trial that raises is recorded as failed everywhere, and the sweep carries on with the others."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from sweeper.errors import SweepError
from sweeper.params import FixedParam
from sweeper.spec import SweepSpec
from sweeper.testing import NO_CONFIRM, tiny_spec
from sweeper.tracking import default_tracking_uri, read_trials
from sweeper.tune import run_sweep
from sweeper.tune.runner import OPTUNA_DB


def _failing_spec(seed: int) -> SweepSpec:
    # lr=1e30 overflows at the first step: every cross_attention trial diverges and raises in its first epoch.
    return tiny_spec(
        name="fails",
        parameters={
            "fusion": {"type": "choice", "values": ["concat", "cross_attention"]},
            "lr": {"type": "fixed", "value": 1e30, "when": {"fusion": "cross_attention"}},
        },
        budget={"num_samples": 4, "max_epochs": 2, "grace_period": 2, "max_concurrent": 2, "seed": seed},
        confirm=NO_CONFIRM,
    )


def test_failed_trials_are_failed_in_parquet_mlflow_and_optuna(ray_session: None, tmp_path: Path) -> None:
    run_sweep(_failing_spec(seed=0), tmp_path / "fails", quiet=True)  # TPE seed 0 proposes both fusions
    trials = read_trials(tmp_path / "fails").to_pylist()
    by_status = {t["trial_id"]: t["status"] for t in trials}
    failed = [t for t in trials if t["config/fusion"] == "cross_attention"]
    assert failed, "the seeded sampler should propose cross_attention at least once"
    assert all(t["status"] == "failed" and "became nan at epoch 1 (lr=1e+30)" in (t["error"] or "") for t in failed)
    assert all(t["retries"] == 0 for t in failed)  # a mistake in the configuration is not retried (max_retries: 2)
    assert all(t["status"] == "completed" for t in trials if t["config/fusion"] == "concat")

    client = MlflowClient(default_tracking_uri(tmp_path / "fails"))
    experiment = client.get_experiment_by_name("fails")
    assert experiment is not None
    for run in client.search_runs([experiment.experiment_id], "tags.`sweeper.role` = 'trial'"):
        status = by_status[run.data.tags["sweeper.trial_id"]]
        assert run.data.tags["status"] == status
        assert run.info.status == ("FAILED" if status == "failed" else "FINISHED")

    study = optuna.load_study(study_name="fails", storage=f"sqlite:///{tmp_path / 'fails' / OPTUNA_DB}")
    states = {t.user_attrs["trial_id"]: t.state.name for t in study.trials if "trial_id" in t.user_attrs}
    assert states == {tid: {"failed": "FAIL", "completed": "COMPLETE"}[s] for tid, s in by_status.items()}
    repeats = [t for t in study.trials if "trial_id" not in t.user_attrs]  # proposed again before both were tried
    assert all(t.state.name == "FAIL" and "sweeper.discarded" in t.user_attrs for t in repeats)


def test_a_sweep_whose_every_trial_failed_says_why_and_keeps_its_records(ray_session: None, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"every trial failed; the first with: .*training diverged"):
        # cross_attention alone: every trial raises
        only = _failing_spec(seed=3).model_copy(
            update={
                "parameters": {
                    "fusion": FixedParam(type="fixed", value="cross_attention"),
                    "lr": FixedParam(type="fixed", value=1e30),
                }
            }
        )
        run_sweep(only, tmp_path / "fails", quiet=True)
    assert {t["status"] for t in read_trials(tmp_path / "fails").to_pylist()} == {"failed"}


def test_overwrite_refuses_a_folder_that_is_not_a_sweep(tmp_path: Path) -> None:
    from sweeper.tune.runner import check_sweep_dir

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match=r"holds files but no sweep \(spec.yaml is missing\); --overwrite only"):
        check_sweep_dir(tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"cpu": 1, "gpu": 0.5}, r"resources.gpu=0.5 but the Ray cluster has 0 GPUs; set resources.gpu: 0"),
        # Ray would keep every trial pending, forever: a trial's CPUs must all be on one node
        ({"cpu": 64}, r"resources.cpu=64 but no node of the Ray cluster has 64 CPUs \(the most on one node: \d+\), "
                      r"and a trial runs on one node; set resources.cpu to at most \d+"),
    ],
    ids=["gpu", "cpu"],
)  # fmt: skip
def test_a_request_no_node_can_meet_is_one_line_and_writes_nothing(
    ray_session: None, tmp_path: Path, resources: dict[str, float], message: str
) -> None:
    with pytest.raises(SweepError, match=message):
        run_sweep(tiny_spec(resources=resources), tmp_path / "big", quiet=True)
    assert not (tmp_path / "big").exists()


def test_a_gpu_request_is_accepted_where_the_autoscaler_can_add_gpu_nodes(ray_session: None) -> None:
    """A cluster whose GPU group autoscales from zero (cluster/aws.yaml) has no GPU until trials ask for one. What
    the autoscaler publishes in the GCS is written here as it would (one group of up to 4 one-GPU nodes)."""
    import ray._raylet
    from ray.core.generated import autoscaler_pb2
    from ray.experimental.internal_kv import _internal_kv_del, _internal_kv_put

    from sweeper.tune.runner import check_resources

    config = autoscaler_pb2.ClusterConfig()  # type: ignore[attr-defined]
    group = config.node_group_configs.add()
    group.name, group.min_count, group.max_count = "gpu_worker", 0, 4
    group.resources["CPU"], group.resources["GPU"] = 4, 1
    key = ray._raylet.GCS_AUTOSCALER_CLUSTER_CONFIG_KEY  # type: ignore[attr-defined]
    namespace = ray._raylet.GCS_AUTOSCALER_STATE_NAMESPACE  # type: ignore[attr-defined]
    _internal_kv_put(key, config.SerializeToString(), namespace=namespace)
    try:
        check_resources(tiny_spec(resources={"cpu": 1, "gpu": 0.5}))  # no error: the autoscaler will start a GPU node
        check_resources(tiny_spec(resources={"cpu": 4, "gpu": 1}))  # a whole such node
        with pytest.raises(SweepError, match=r"has 0 GPUs \(its autoscaler can add 4\)"):
            check_resources(tiny_spec(resources={"cpu": 1, "gpu": 8}))
        with pytest.raises(SweepError, match=r"resources.cpu=8 but no node of the Ray cluster has 8 CPUs"):
            check_resources(tiny_spec(resources={"cpu": 8, "gpu": 1}))  # 4 GPU nodes, but a trial runs on one
    finally:
        _internal_kv_del(key, namespace=namespace)


def test_a_gpu_request_is_accepted_on_the_head_of_a_cluster_launcher_cluster(
    ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweeper.tune.runner import check_resources

    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SweepError, match="has 0 GPUs"):
        check_resources(tiny_spec(resources={"cpu": 1, "gpu": 1}))
    (tmp_path / "ray_bootstrap_config.yaml").write_text("cluster_name: sweeper\n")  # what `ray up` leaves on the head
    check_resources(tiny_spec(resources={"cpu": 1, "gpu": 1}))


def test_a_trial_whose_worker_dies_is_retried_from_its_checkpoint(ray_session: None, tmp_path: Path) -> None:
    import threading
    import time

    from sweeper.errors import SweepError as Error
    from sweeper.tracking import read_epochs
    from sweeper.tune.audit import audit_sweep

    spec = tiny_spec(
        name="dies",
        parameters={"fusion": {"type": "fixed", "value": "concat"}, "lr": {"type": "float", "low": 1e-3, "high": 1e-2}},
        # report_every_s 0: every epoch reaches the driver at once, so the test sees the trial mid-run to kill.
        budget={"num_samples": 1, "max_epochs": 8, "grace_period": 8, "max_concurrent": 1, "report_every_s": 0},
        confirm=NO_CONFIRM,
        failure={"max_retries": 2},
    )
    sweep = tmp_path / "dies"
    thread = threading.Thread(target=run_sweep, args=(spec, sweep), kwargs={"quiet": True})
    thread.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if read_epochs(sweep).num_rows >= 2:
                break
        except Error:
            pass
        time.sleep(0.02)
    workers = _processes_named("ray::ImplicitFunc")  # the trial's actor, as Ray titles its process
    assert workers, "the trial's worker process was not found"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)  # the worker process dies mid-trial
    thread.join(timeout=300)

    (trial,) = read_trials(sweep).to_pylist()
    assert trial["status"] == "completed" and trial["retries"] == 1 and trial["epochs"] == 8
    assert sorted(e["epoch"] for e in read_epochs(sweep).to_pylist()) == list(range(1, 9))
    audit = audit_sweep(sweep)
    assert audit.ok, audit.details


def _processes_named(title: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(title.encode()):
                    pids.append(int(entry.name))
            except OSError:  # ended meanwhile
                continue
    return pids


def _reset_fails_once() -> type:
    """A Tune trainable whose first reset (Tune handing a finished trial's actor to the next trial) dies or raises."""
    from ray.tune import Trainable

    class ResetFailsOnce(Trainable):
        def setup(self, config: dict) -> None:
            self.epoch = 0

        def step(self) -> dict:
            self.epoch += 1
            return {"score": float(self.config["x"]), "done": self.epoch >= 2}

        def reset_config(self, new_config: dict) -> bool:
            marker = Path(new_config["marker"])
            if not marker.exists():
                marker.touch()
                if new_config["how"] == "dies":
                    os._exit(1)  # the worker is gone, as on a node that was just lost
                raise RuntimeError("the reset failed")
            self.epoch = 0
            return True

        def save_checkpoint(self, checkpoint_dir: str) -> None:
            return None

        def load_checkpoint(self, checkpoint: object) -> None:
            pass

    return ResetFailsOnce


@pytest.mark.parametrize("how", ["dies", "raises"])
def test_a_trial_whose_reused_worker_fails_before_it_starts_is_retried(
    ray_session: None, tmp_path: Path, how: str
) -> None:
    """Tune recovers only RUNNING trials; a trial failing while PENDING (its reused actor's reset) must be retried too.

    One retry allowed, and one used: when the worker dies, Tune hears of it twice (the actor's death, then the reset
    task's error) and must count it once. Without ``recover_pending_failures`` the second trial ends in ERROR.
    """
    from ray import tune

    from sweeper.tune.runner import recover_pending_failures

    recover_pending_failures()  # what every sweep installs as it starts Ray (`_init_ray`)
    results = tune.Tuner(
        _reset_fails_once(),
        param_space={"x": tune.grid_search([1, 2]), "marker": str(tmp_path / "reset"), "how": how},
        tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=1),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path / "tune"), failure_config=tune.FailureConfig(max_failures=1), verbose=0
        ),
    ).fit()
    assert (tmp_path / "reset").exists(), "Tune did not reuse the first trial's actor"
    assert results.num_errors == 0, [str(r.error) for r in results if r.error]
    assert sorted(r.metrics["score"] for r in results) == [1.0, 2.0]
