"""A local sweep in a network namespace of its own, where loopback is the only interface.

Ray 2.60's core processes (GCS, raylets, workers, agents) listen on every interface, whatever ``--node-ip-address``
says: the address is chosen in Ray's C++ and no setting narrows it (checked by listing the sockets of a local Ray
started with ``_node_ip_address="127.0.0.1"``). Token authentication guards them, but a laptop or a shared machine
should not offer them to its network at all. A local sweep needs no network: local Ray, the MLflow SQLite store, the
Optuna study and the results are on this machine. So ``sweeper run``/``resume``/``confirm`` without ``--address``
re-run themselves under ``unshare --user --map-root-user --net``: a new user namespace (no privileges needed, the
user is mapped to itself) with a new network namespace whose only interface is loopback. Everything Ray starts
inherits it; files are written as the same user.

Not isolated: a sweep that joins a cluster, logs to an MLflow server, or keeps its storage in a bucket (they need the
network); a machine without ``unshare`` or where user namespaces are turned off (the sweep then runs as before, and
says so once); and ``SWEEPER_NETWORK_ISOLATION=0``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys

ENV = "SWEEPER_NETWORK_ISOLATION"  # "0": never; "inside": set on the re-run, which brings loopback up
# The local Ray's node address inside the namespace. Ray 2.60 takes no address, "127.0.0.1", "localhost" or "::1"
# to mean "find this machine's reachable address": it connects a UDP socket towards 8.8.8.8, which fails where
# loopback is the only interface (and warns, network_util.cc), then resolves the host name. Where that name maps to
# an address of the machine's network (as /etc/hosts does in a Docker container), no interface here has it and the
# driver waits forever for a GCS it cannot reach. Any other loopback address is taken as given.
NODE_IP = "127.0.0.2"
_UNSHARE = ("--user", "--map-root-user", "--net")


def isolate_network(argv: list[str]) -> str | None:
    """Re-run ``python -m sweeper *argv`` in a private network namespace (this call then never returns), or bring
    loopback up if this is that re-run. Returns why not isolated, or None when isolated."""
    if isolated():
        _loopback_up()
        return None
    if os.environ.get(ENV) == "0":
        return f"{ENV}=0"
    unshare = shutil.which("unshare")
    if not sys.platform.startswith("linux") or unshare is None:
        return "this system has no `unshare` (Linux's util-linux)"
    probe = subprocess.run([unshare, *_UNSHARE, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"user namespaces are not available here ({probe.stderr.strip() or probe.returncode})"
    os.environ[ENV] = "inside"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(unshare, [unshare, *_UNSHARE, "--", sys.executable, "-m", "sweeper", *argv])
    return None  # not reached


def isolated() -> bool:
    """Whether this process is a sweep re-run in its own network namespace (``isolate_network``)."""
    return os.environ.get(ENV) == "inside"


def _loopback_up() -> None:
    """A new network namespace starts with ``lo`` down; ``ip link set lo up`` without iproute2."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), siocgifflags, request))[1]
        if not flags & iff_up:
            fcntl.ioctl(s.fileno(), siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))
