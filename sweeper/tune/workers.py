"""Ray's trial workers, ready before the trials need them: the first of a sweep, and those of its next stage.

A trial actor in a new Python process pays for the process, Ray's own start and the imports of torch and the trial
code: 3 to 5 s on 2 cores (``benchmarks/overhead.py``). A local Ray started by sweeper keeps idle workers that have
imported all of that (``warm_workers``), and Tune's trial actors take them (``use_idle_workers``). The search's
actors end with its Tuner.fit and Ray starts none in their place; ``sweeper.tune.callbacks.WarmNextStage`` has it
start them (``prestart_workers``) during the search's last trials, on the cores those trials leave idle, for the
confirmation stage that follows.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)
PRELOADED = ("torch", "sweeper.tune.trainable", "ray.tune")  # what a warm worker imports before its first trial
KEEP_ALIVE_S = 3600  # how long a prestarted worker waits for a trial before Ray's idle limit applies to it


def warm_workers(slots: int, cpus: int) -> dict[str, Any]:
    """The raylet settings of a local Ray whose idle workers are ready for the first trial on each slot.

    The raylet starts one idle worker per CPU as the driver connects. Each is kept past Ray's 1 s idle limit until
    the first trials take it. Where at least half of them will host a trial, each also imports torch, the trial code
    and Ray Tune while the driver builds the sweep, instead of in the trial (3 to 5 s on 2 cores; see
    ``benchmarks/overhead.py``). Elsewhere that would cost about 250 MB of memory per worker that never runs a trial.
    """
    config: dict[str, Any] = {"idle_worker_killing_time_threshold_ms": 30 * 60 * 1000}
    if cpus <= 2 * slots:
        config["preload_python_modules"] = list(PRELOADED)
    return config


def use_idle_workers() -> None:
    """Let trial actors start in the raylet's idle workers rather than in new processes.

    Ray Tune gives every trial actor a runtime environment with ``PL_DISABLE_FORK=1``, a PyTorch Lightning setting
    (ray-project/ray#28197, ``ray/tune/execution/class_cache.py``); a task with its own environment variables needs a
    dedicated new worker, so no trial could use an idle one. sweeper's trials do not use Lightning.
    """
    from ray.tune.execution import class_cache

    class_cache.DEFAULT_ENV_VARS.pop("PL_DISABLE_FORK", None)


def prestart_workers(count: int) -> bool:
    """Ask the raylet of this driver's node to start ``count`` idle workers for this job; True if it was asked.

    Only on a single-node Ray: on a cluster the next trials may be placed on any node. Workers that once ran a
    task are not given to actors (Ray's worker pool keeps the two apart), so a throwaway task cannot do this; the
    raylet's ``PrestartWorkers`` call, which Ray's Python API does not expose in 2.x, can. A prestarted worker
    imports what ``preload_python_modules`` names, as the first idle workers do. Any failure only costs the speed.
    """
    import ray

    try:
        from ray._common.network_utils import build_address
        from ray._private.grpc_utils import init_grpc_channel
        from ray.core.generated import common_pb2, node_manager_pb2, node_manager_pb2_grpc

        if count < 1 or sum(bool(entry["Alive"]) for entry in ray.nodes()) != 1:
            return False
        node: Any = ray._private.worker.global_worker.node
        common: Any = common_pb2  # generated protobuf modules: no types for mypy
        messages: Any = node_manager_pb2
        request = messages.PrestartWorkersRequest(
            language=common.Language.PYTHON,
            job_id=bytes.fromhex(ray.get_runtime_context().get_job_id()),
            keep_alive_duration_secs=KEEP_ALIVE_S,
            num_workers=count,
        )
        with init_grpc_channel(build_address(node.node_ip_address, node.node_manager_port)) as channel:
            node_manager_pb2_grpc.NodeManagerServiceStub(channel).PrestartWorkers(request, timeout=5)
    except Exception as exc:  # an internal API of Ray: a later Ray may move it; the sweep goes on without
        logger.debug("could not prestart %d trial workers: %s", count, exc)
        return False
    return True
