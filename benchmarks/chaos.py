"""Kill a sweep's driver at random moments, resume it each time, and count what was lost or done twice.

Each round starts a real sweep (`python -m sweeper run`), SIGKILLs it at a random moment, then runs
`python -m sweeper resume` and SIGKILLs that too, up to ``--kills`` times, before letting a last resume finish.
The finished sweep is then audited (``sweeper.tune.audit``): search trials short of or beyond ``num_samples``,
confirmation runs done twice, epochs missing or stored twice in Parquet, MLflow runs missing, extra, duplicated or
left RUNNING, Optuna trials RUNNING or disagreeing with their Ray trial. The goal is 0 lost and 0 duplicated.

By default the drivers join one Ray cluster that this script starts (`ray start --head`, as on a cluster's head node,
where a killed driver leaves the cluster up). ``--everything`` instead gives each driver its own local Ray and kills
the driver's whole process group with it, as a reboot would.

    python benchmarks/chaos.py                 # 5 rounds x up to 3 kills each
    python benchmarks/chaos.py --rounds 20 --kills 4 --everything
    python benchmarks/chaos.py --choices       # a space smaller than the sweep: repeats turned away, then run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from sweeper.testing import TINY

# The tests' tiny spec, two trials at a time (kills then hit trials running side by side), one seed x two folds.
SPEC: dict[str, Any] = {
    **TINY,
    "budget": {"num_samples": 8, "max_epochs": 4, "grace_period": 1, "reduction_factor": 3, "max_concurrent": 2},
    "confirm": {"seeds": 1, "folds": 2},
}
# --choices: 6 configurations for the 8 trials, so the searcher turns repeated proposals away, then runs repeats.
CHOICES = {
    **TINY["parameters"],
    "rank": {"type": "choice", "values": [2, 4], "when": {"fusion": ["low_rank"]}},
    "lr": {"type": "choice", "values": [3e-3]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="sweeps to run (default 5)")
    parser.add_argument("--kills", type=int, default=3, help="most kills per sweep (default 3)")
    parser.add_argument("--max-wait", type=float, default=25.0, help="latest kill, in s after a driver starts")
    parser.add_argument("--everything", action="store_true", help="each driver has its own Ray, killed with it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--choices", action="store_true", help="a space of 6 configurations, smaller than the sweep")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    from sweeper.tune.audit import Audit, audit_sweep

    folder = Path(tempfile.mkdtemp(prefix="sweeper-chaos-"))
    env = {**os.environ}
    if "RAY_AUTH_MODE" not in env and (Path.home() / ".ray" / "auth_token").is_file():
        # Ray's token file is there, so a head started with `ray start` uses token auth; drivers must say so too.
        env["RAY_AUTH_MODE"] = "token"
    head = None if args.everything else _start_head(env)
    if head is not None:
        env["RAY_ADDRESS"] = head[1]
    totals = Audit()
    kills = 0
    started = time.monotonic()
    try:
        for n in range(args.rounds):
            spec = {**SPEC, "budget": {**SPEC["budget"], "seed": n}}
            if args.choices:
                spec["parameters"] = CHOICES
            spec_file = folder / f"round{n}.yaml"
            spec_file.write_text(yaml.safe_dump({**spec, "name": f"chaos{n}"}))
            sweep = folder / "sweeps" / f"chaos{n}"
            command = ["run", str(spec_file), "--sweeps-dir", str(folder / "sweeps"), "--no-recommend"]
            planned = rng.randint(1, args.kills)
            moments = []
            for _ in range(planned):
                wait = rng.uniform(1.0, args.max_wait)
                code = _run(command, env, folder / f"round{n}.log", kill_after=wait)
                if code is not None:  # the sweep finished before the kill
                    break
                moments.append(f"{wait:.1f}s")
                kills += 1
                # `run --resume` starts the sweep if the kill came before its folder held one, else resumes it.
                command = [*command[:4], "--no-recommend", "--resume"]
            else:
                code = _run(command, env, folder / f"round{n}.log", kill_after=None)
            if code != 0:
                print(f"round {n}: the last resume exited {code}; see {folder / f'round{n}.log'}")
                sys.exit(1)
            audit = audit_sweep(sweep)
            for kind in ("lost_trials", "duplicate_trials", "lost_epochs", "duplicate_epochs", "mlflow", "optuna"):
                setattr(totals, kind, getattr(totals, kind) + getattr(audit, kind))
            totals.details += [f"round {n}: {d}" for d in audit.details]
            print(f"round {n}: killed at {', '.join(moments) or 'never (finished first)'}; "
                  f"{'whole' if audit.ok else 'NOT whole: ' + '; '.join(audit.details)}", flush=True)  # fmt: skip
    finally:
        if head is not None:
            _stop_group(head[0])
    print()
    print(f"rounds: {args.rounds}   kills: {kills}   mode: {'everything' if args.everything else 'driver only'}   "
          f"wall: {time.monotonic() - started:.0f} s")  # fmt: skip
    print(f"lost trials: {totals.lost_trials}   duplicated trials: {totals.duplicate_trials}")
    print(f"lost epochs: {totals.lost_epochs}   duplicated epochs: {totals.duplicate_epochs}")
    print(f"MLflow mismatches: {totals.mlflow}   Optuna mismatches: {totals.optuna}")
    print("command: python benchmarks/chaos.py " + " ".join(sys.argv[1:]))
    sys.exit(0 if totals.ok else 1)


def _run(args: list[str], env: dict[str, str], log: Path, kill_after: float | None) -> int | None:
    """Run one `sweeper` command; SIGKILL its process group after ``kill_after`` s. None if it was killed."""
    with log.open("a") as out:
        out.write(f"\n$ sweeper {' '.join(args)}\n")
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sweeper", *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            return proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            _stop_group(proc, signal.SIGKILL)
            time.sleep(2.0)  # the cluster notices the dead driver and stops its trials
            return None


def _start_head(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        "ray", "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
        "--node-ip-address=127.0.0.1",
    ]  # fmt: skip
    bindir = Path(sys.executable).parent
    proc = subprocess.Popen(
        [str(bindir / command[0]), *command[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(3.0)  # the GCS listens before the node has registered
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    _stop_group(proc)
    raise SystemExit("the Ray head did not start within 60 s")


def _stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
