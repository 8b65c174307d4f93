"""``--storage s3://...`` against a real S3-compatible server on loopback (moto's server mode): a sweep whose driver
is SIGKILLed mid-sweep resumes from Tune's state and checkpoints in the bucket, and `sweeper recommend` reads the
results from the bucket.

The drivers are real ``sweeper`` processes that start their own local Ray, as a user's would; the storage
credentials reach them (and the Ray workers they start) through the environment, or inside the URI once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sweeper.cli import app
from sweeper.errors import SweepError
from sweeper.testing import NO_CONFIRM, TINY, free_port, stop_process_group
from sweeper.tracking import read_trials
from sweeper.tune.audit import audit_sweep

pytestmark = pytest.mark.slow
BUCKET = "sweeps-bucket"
KEYS = {"AWS_ACCESS_KEY_ID": "sweeper-test-key", "AWS_SECRET_ACCESS_KEY": "sweeper-test-secret-9f2c"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The endpoint (host:port) of a moto S3 server on loopback, with an empty bucket."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if server is None:
        pytest.skip("needs moto's server mode: pip install 'moto[server]'")
    port = free_port()
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import boto3

        deadline = time.monotonic() + 30
        while True:
            try:
                client = boto3.client(
                    "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                    aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
                )  # fmt: skip
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        stop_process_group(proc)


def _uri(endpoint: str, credentials: str = "") -> str:
    return f"s3://{credentials}{BUCKET}/sweeps?endpoint_override={endpoint}&scheme=http&region=us-east-1"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", *KEYS)}
    return {**env, "AWS_EC2_METADATA_DISABLED": "true"}


def test_a_sweep_on_s3_survives_a_killed_driver_and_is_recommended_from_the_bucket(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {
        **TINY,
        "name": "on-s3",
        "budget": {"num_samples": 5, "max_epochs": 3, "grace_period": 1, "reduction_factor": 3, "max_concurrent": 2},
        "confirm": NO_CONFIRM,
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    sweep = tmp_path / "on-s3"
    # The key pair given once, inside the URI: sweeper moves it to the environment of this driver and its Ray.
    secret_uri = _uri(s3, f"{KEYS['AWS_ACCESS_KEY_ID']}:{KEYS['AWS_SECRET_ACCESS_KEY']}@")
    log = (tmp_path / "driver.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(tmp_path / "spec.yaml"), "--sweeps-dir", str(tmp_path),
         "--storage", secret_uri, "--no-recommend"],
        env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # kill it once two trials have ended
        assert proc.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        try:
            if sum(r["status"] != "running" for r in read_trials(sweep).to_pylist()) >= 2:
                break
        except SweepError:
            pass
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (sweep / "ray").exists()  # Tune's state and checkpoints went to the bucket only

    # The resume finds its storage in the sweep folder; the key pair comes from the environment this time.
    resumed = subprocess.run(
        [sys.executable, "-m", "sweeper", "resume", str(sweep), "--no-recommend"],
        env={**_env(), **KEYS}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"storage: s3://{BUCKET}/sweeps" in resumed.stdout
    audit = audit_sweep(sweep)
    assert audit.ok, audit.details
    assert len(read_trials(sweep)) == 5

    logs = (tmp_path / "driver.log").read_text() + resumed.stdout + resumed.stderr
    kept = "".join(p.read_text(errors="replace") for p in sweep.rglob("*") if p.is_file() and p.suffix != ".db")
    for secret in (KEYS["AWS_SECRET_ACCESS_KEY"], KEYS["AWS_ACCESS_KEY_ID"]):
        assert secret not in logs and secret not in kept

    import pyarrow.fs as pafs

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    fs, root = pafs.FileSystem.from_uri(_uri(s3))
    stored = {
        i.path.removeprefix(f"{root}/on-s3/")
        for i in fs.get_file_info(pafs.FileSelector(f"{root}/on-s3", recursive=True))
    }
    assert {"spec.yaml", "results/trials.parquet", "ray/tuner.pkl"} <= stored
    assert any(p.startswith("ray/experiment_state-") for p in stored)
    assert any("/checkpoint_" in p for p in stored)

    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(app, ["recommend", _uri(s3).replace("/sweeps?", "/sweeps/on-s3?"), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    # Every trial, read from the bucket's results (ASHA may stop all five early, so none need have completed).
    assert report["sweep"] == "on-s3" and sum(report["search"]["counts"].values()) == 5
    assert (tmp_path / "report" / "on-s3" / "recommendation.md").is_file()


def test_a_storage_uri_that_cannot_be_used_is_one_line(s3: str, tmp_path: Path) -> None:
    from sweeper.tune.storage import check_storage_uri

    with pytest.raises(SweepError, match=r"unsupported --storage 'ftp://u:\*\*\*@host/x'"):
        check_storage_uri("ftp://u:secret@host/x")
    with pytest.raises(SweepError, match="relative path"):
        check_storage_uri("shared/sweeps")
    unreachable = f"s3://{BUCKET}/x?endpoint_override=127.0.0.1:{free_port()}&scheme=http&region=us-east-1"
    with pytest.raises(SweepError, match="cannot use --storage"):
        check_storage_uri(unreachable)
