"""A real multi-node Ray cluster on one machine, for tests and benchmarks: `ray start` per node, each node on its own
loopback address and in its own process session, so one node can be killed as a machine would die.

    with LocalCluster(workers=2, cpus_per_worker=1) as cluster:
        subprocess.run(["sweeper", "run", "spec.yaml", "--address", cluster.address], env=cluster.env)
        cluster.kill_worker(0)  # SIGKILL the node's every process

If Ray's token file exists (``~/.ray/auth_token``), the head turns token authentication on; ``env`` then carries
``RAY_AUTH_MODE=token`` so drivers and worker nodes authenticate too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


class LocalCluster:
    """A head (no CPUs: it runs drivers, not trials) on 127.0.0.1 and ``workers`` nodes on 127.0.0.2, .3, ..."""

    def __init__(
        self,
        workers: int = 2,
        cpus_per_worker: float = 1,
        head_cpus: float = 0,
        *,
        gpus_per_worker: float = 0,
        dashboard: bool = False,
    ) -> None:
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker  # declared to Ray (`--num-gpus`), whether or not the machine has them
        self.head_cpus = head_cpus
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Ray's dashboard (Ray Jobs' API) on loopback, when asked for; it needs ray[default].
        self.dashboard_port = _free_port() if dashboard else None
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}" if dashboard else None
        self.env = {**os.environ, "RAY_ADDRESS": self.address}
        if "RAY_AUTH_MODE" not in self.env and (Path.home() / ".ray" / "auth_token").is_file():
            self.env["RAY_AUTH_MODE"] = "token"
        self.head: subprocess.Popen | None = None
        self.logs: list[Path] = []  # each node's `ray start` output, for a node that does not come up
        self.nodes: list[subprocess.Popen | None] = []

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()  # __exit__ does not run when __enter__ fails: the nodes started would outlive the caller
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, timeout_s: float = 240) -> None:
        dashboard = ["--include-dashboard=false"]
        if self.dashboard_port:
            port = f"--dashboard-port={self.dashboard_port}"
            dashboard = ["--include-dashboard=true", "--dashboard-host=127.0.0.1", port]
        self.head = self._ray_start(
            "--head", f"--port={self.port}", "--node-ip-address=127.0.0.1", f"--num-cpus={self.head_cpus:g}", *dashboard
        )
        self._wait(lambda cpus: True, timeout_s, "the head")
        # One node at a time: two raylets starting together on a 2-core machine can time out registering.
        for i in range(self.workers):
            node = (f"--address={self.address}", f"--node-ip-address=127.0.0.{i + 2}")
            resources = (f"--num-cpus={self.cpus_per_worker:g}", f"--num-gpus={self.gpus_per_worker:g}")
            self.nodes.append(self._ray_start(*node, *resources))
            want = self.head_cpus + (i + 1) * self.cpus_per_worker
            self._wait(lambda cpus, want=want: cpus >= want, timeout_s, f"worker node 127.0.0.{i + 2}")
        if self.dashboard:
            self._wait_for_jobs(timeout_s)

    def _wait_for_jobs(self, timeout_s: float) -> None:
        """Until Ray Jobs accepts a job: the dashboard answers before its job agent registers, and a submission in
        between fails with "No available agent to submit job, please try again later" (seen on a loaded machine)."""
        ray = str(Path(sys.executable).parent / "ray")
        command = [ray, "job", "submit", "--address", str(self.dashboard), "--", sys.executable, "-c", "pass"]
        deadline = time.monotonic() + timeout_s
        while True:
            done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout_s)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Ray Jobs did not accept a job in {timeout_s:.0f} s: {done.stderr[-500:]}")
            time.sleep(1.0)

    def kill_worker(self, index: int) -> None:
        """SIGKILL every process of worker node ``index`` (its raylet, object store and trial workers)."""
        node = self.nodes[index]
        if node is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait()
            self.nodes[index] = None

    def stop(self) -> None:
        for i in range(len(self.nodes)):
            self.kill_worker(i)
        if self.head is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.head.pid, signal.SIGTERM)
            try:
                # With the dashboard up, `ray start --block` outlives its processes' SIGTERM (30 s and more were
                # seen), so what has not stopped within seconds is killed.
                self.head.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.head.pid, signal.SIGKILL)
                self.head.wait()
            self.head = None
        for log in self.logs:
            log.unlink(missing_ok=True)
        self.logs = []

    def _ray_start(self, *args: str) -> subprocess.Popen:
        ray = str(Path(sys.executable).parent / "ray")
        log = tempfile.NamedTemporaryFile("w", prefix="sweeper-ray-node-", suffix=".log", delete=False)  # noqa: SIM115
        self.logs.append(Path(log.name))
        # A small object store per node: several nodes share this machine's memory. Each node's agent gets a free
        # port: Ray's default (52365) is taken on 127.0.0.1 by any other Ray on this machine (a local one listens
        # there too), and the head's agent then never registers ("No available agent to submit job").
        agent = f"--dashboard-agent-listen-port={_free_port()}"
        command = [ray, "start", "--block", "--disable-usage-stats", "--object-store-memory=200000000", agent, *args]
        return subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait(self, ready: Any, timeout_s: float, what: str) -> None:
        """Until `ray status`-like cluster resources say ``ready(cpus)``; asked from a short-lived driver."""
        probe = "import ray; ray.init(); print(ray.cluster_resources().get('CPU', 0))"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(node is not None and node.poll() is not None for node in [self.head, *self.nodes]):
                break  # a node's `ray start` exited: it will not come up
            out = subprocess.run(
                [sys.executable, "-c", probe], env=self.env, capture_output=True, text=True, timeout=60
            )  # fmt: skip
            lines = out.stdout.strip().splitlines()
            if out.returncode == 0 and lines and ready(float(lines[-1])):
                return
            time.sleep(1.0)
        tails = "\n".join(f"--- {p.name}:\n" + "\n".join(p.read_text().splitlines()[-15:]) for p in self.logs)
        self.stop()
        raise RuntimeError(f"{what} did not come up (waited up to {timeout_s:.0f} s); the nodes said:\n{tails}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
