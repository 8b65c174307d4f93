"""A local sweep offers nothing to the network: every socket its processes listen on is reachable from this machine
only. The sweep is a real ``sweeper run`` process with its own local Ray; the test reads the listening sockets of
every process of it from ``/proc`` while trials run. And it runs where the machine's host name resolves to an address
of its network, which the sweep's namespace lacks, as in a Docker container."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sweeper.errors import SweepError
from sweeper.testing import NO_CONFIRM, TINY
from sweeper.tracking import read_epochs


def _why_not_isolated() -> str | None:
    if not sys.platform.startswith("linux"):
        return "reads Linux's /proc"
    if shutil.which("unshare") is None:
        return "needs util-linux's unshare"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True)
    return "user namespaces are turned off on this machine" if probe.returncode else None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_why_not_isolated()), reason=str(_why_not_isolated()))]


def _listening(pid: int) -> list[str]:
    """The addresses of the TCP sockets listening in ``pid``'s network namespace."""
    found = []
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            raw = bytes.fromhex(local.split(":")[0])
            # /proc writes each 32-bit word of the address in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.append(str(ipaddress.ip_address(words)))
    return found


def _interfaces(pid: int) -> set[str]:
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return {line.split(":")[0].strip() for line in lines}


def _session(leader: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == leader:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


# A line Ray logs: from Python ("<date>\tWARNING file.py:85 -- ...") or C++ ("[<date> W <pid> <tid>] file.cc:330:")
RAY_LOG_LINE = re.compile(
    r"^\[?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\s+(?:[WEF] \d+ \d+\]|WARNING|ERROR|CRITICAL)", re.M
)


def _sweep_command(tmp_path: Path) -> list[str]:
    spec = {
        **TINY,
        "name": "local",
        "data": {"n_samples": 2000, "seed": 0},
        "budget": {"num_samples": 2, "max_epochs": 3, "grace_period": 3, "max_concurrent": 2},
        "confirm": NO_CONFIRM,
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    return [sys.executable, "-m", "sweeper", "run", str(tmp_path / "spec.yaml"), "--sweeps-dir", str(tmp_path),
            "--no-recommend"]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "SWEEPER_NETWORK_ISOLATION")}


def test_a_local_sweep_listens_on_loopback_only(tmp_path: Path) -> None:
    log = (tmp_path / "driver.log").open("w")
    proc = subprocess.Popen(
        _sweep_command(tmp_path), env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        while True:  # until a trial has reported an epoch: Ray, its workers and agents are all up
            assert proc.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no epoch reported in time"
            try:
                if len(read_epochs(tmp_path / "local")):
                    break
            except SweepError:
                pass
            time.sleep(0.2)
        exposed = {}
        for pid in _session(proc.pid):
            try:
                only_loopback = _interfaces(pid) == {"lo"}
                addresses = _listening(pid)
            except OSError:  # the process ended meanwhile
                continue
            for address in addresses:
                ip = ipaddress.ip_address(address)
                if not (ip.is_loopback or (ip.is_unspecified and only_loopback) or _mapped_loopback(ip)):
                    exposed[pid] = address
        assert not exposed, f"listening beyond loopback: {exposed}"
        assert _interfaces(proc.pid) == {"lo"}  # the driver and its Ray run in a namespace with loopback only
        assert os.readlink(f"/proc/{proc.pid}/ns/net") != os.readlink("/proc/self/ns/net")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _mapped_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback


def test_a_local_sweep_runs_where_the_host_name_resolves_off_loopback(tmp_path: Path) -> None:
    """In a Docker container /etc/hosts maps the host name to the container's address. Ray resolves a local node's
    address through the host name when it cannot reach 8.8.8.8, as in the sweep's namespace, where that address is
    on no interface: the driver waited forever for its own GCS. Here /etc/hosts is replaced so, in a mount namespace
    of the test's own; the sweep must run to its end and print nothing from Ray's logs."""
    outer = ["unshare", "--user", "--map-root-user", "--mount"]
    if subprocess.run([*outer, "true"], capture_output=True).returncode:
        pytest.skip("mount namespaces are turned off on this machine")
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n172.17.0.2 {socket.gethostname()}\n")
    script = f'mount --bind {shlex.quote(str(hosts))} /etc/hosts && exec "$@"'
    done = subprocess.run(
        [*outer, "sh", "-c", script, "sh", *_sweep_command(tmp_path)],
        env=_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "search finished" in output
    assert not RAY_LOG_LINE.findall(output), output
