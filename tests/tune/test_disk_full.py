"""A disk that fills up during a sweep: the sweep stops with one line, keeps what it wrote, and resumes once there is
room. Run for real in a small tmpfs of the test's own (a user and mount namespace); the test fills it after the
first trial ends."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweeper.testing import NO_CONFIRM, TINY

pytestmark = pytest.mark.slow

UNSHARE = ["unshare", "--user", "--map-root-user", "--mount"]

# Runs inside the namespace, where argv[1] is the tmpfs: start the sweep, fill the disk once a trial has ended,
# wait, make room, resume; print what happened as JSON.
SCENARIO = r"""
import json, os, subprocess, sys, time
from pathlib import Path
from sweeper.tracking import read_trials
from sweeper.tune.audit import audit_sweep

disk, spec = Path(sys.argv[1]), sys.argv[2]
sweep = disk / "full"
env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
run = [sys.executable, "-m", "sweeper", "run", spec, "--sweeps-dir", str(disk), "--no-recommend"]
proc = subprocess.Popen(run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
deadline = time.time() + 150
while time.time() < deadline and proc.poll() is None:
    try:
        if any(r["status"] != "running" for r in read_trials(sweep).to_pylist()):
            break
    except Exception:
        pass
    time.sleep(0.2)
filled = 0
with open(disk / "filler", "wb") as f:
    try:
        while True:
            f.write(b"\0" * 2**20)
            f.flush()
            filled += 1
    except OSError:
        pass
out, err = proc.communicate(timeout=180)
(disk / "filler").unlink()
resume = subprocess.run([sys.executable, "-m", "sweeper", "resume", str(sweep), "--no-recommend"], env=env,
                        capture_output=True, text=True, timeout=240)
audit = audit_sweep(sweep)
rows = read_trials(sweep).to_pylist()
print(json.dumps({"rc": proc.returncode, "filled_mib": filled, "stderr": err, "stdout": out,
                  "resume_rc": resume.returncode, "resume_stderr": resume.stderr[-3000:],
                  "audit_ok": audit.ok, "audit": audit.details, "statuses": sorted(r["status"] for r in rows)}))
"""


def test_a_full_disk_stops_the_sweep_in_one_line_and_it_resumes_once_there_is_room(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or subprocess.run([*UNSHARE, "true"], capture_output=True).returncode:
        pytest.skip("needs util-linux's unshare with user and mount namespaces")
    spec = {
        **TINY,
        "name": "full",
        "data": {"n_samples": 2000, "seed": 0},
        "budget": {"num_samples": 6, "max_epochs": 3, "grace_period": 3, "max_concurrent": 2},
        "confirm": NO_CONFIRM,
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "scenario.py").write_text(SCENARIO)
    disk = tmp_path / "disk"
    disk.mkdir()
    script = 'mount -t tmpfs -o size=96m tmpfs "$1" && exec "$2" "$3" "$1" "$4"'
    done = subprocess.run(
        [*UNSHARE, "sh", "-c", script, "sh", str(disk), sys.executable, str(tmp_path / "scenario.py"),
         str(tmp_path / "spec.yaml")],
        capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["filled_mib"] > 0  # the disk was filled while the sweep ran
    last = result["stderr"].strip().splitlines()[-1]
    assert result["rc"] == 1 and last.startswith("error: the disk ran out of space ("), result["stderr"][-3000:]
    assert "sweeper resume" in last and "Traceback" not in result["stderr"], result["stderr"][-3000:]
    # Ray Tune, Ray and MLflow each say what failed in a line, not a traceback (216 lines of stderr before)
    assert len(result["stderr"].strip().splitlines()) <= 12, result["stderr"][-3000:]
    assert result["resume_rc"] == 0, result["resume_stderr"]
    assert result["audit_ok"], result["audit"]
    assert len(result["statuses"]) == 6 and set(result["statuses"]) <= {"completed", "pruned"}, result["statuses"]
