"""Tune's storage filesystem: a process killed while it copies a file leaves the previous file whole."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from sweeper.tune.storage import atomic_local_fs


def test_a_copy_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    source, target = tmp_path / "staging", tmp_path / "storage"
    (source / "sub").mkdir(parents=True)
    (source / "experiment_state.json").write_text('{"trials": 2}')
    (source / "sub" / "checkpoint.pt").write_bytes(b"\x00" * 1000)
    target.mkdir()
    (target / "experiment_state.json").write_text('{"trials": 1}')

    pafs.copy_files(str(source), str(target), destination_filesystem=atomic_local_fs())

    assert (target / "experiment_state.json").read_text() == '{"trials": 2}'
    assert (target / "sub" / "checkpoint.pt").read_bytes() == b"\x00" * 1000
    assert sorted(p.name for p in target.rglob("*")) == ["checkpoint.pt", "experiment_state.json", "sub"]


@pytest.mark.slow  # a fresh Python process, killed mid-write
def test_a_writer_killed_mid_file_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "experiment_state.json"
    target.write_text('{"trials": 1}')
    writer = textwrap.dedent(f"""
        import os
        from sweeper.tune.storage import atomic_local_fs
        stream = atomic_local_fs().open_output_stream({str(target)!r})
        stream.write(b'{{"trials": ')
        stream.flush()
        os._exit(9)  # as SIGKILL: no close, no cleanup
    """)
    assert subprocess.run([sys.executable, "-c", writer]).returncode == 9
    assert target.read_text() == '{"trials": 1}'


def test_it_travels_to_ray_workers(tmp_path: Path) -> None:
    fs = pickle.loads(pickle.dumps(atomic_local_fs()))
    with fs.open_output_stream(str(tmp_path / "f")) as out:
        out.write(b"whole")
    assert (tmp_path / "f").read_bytes() == b"whole"
    assert fs == atomic_local_fs()


def test_a_damaged_experiment_state_is_refused_in_one_line_not_started_over(tmp_path: Path) -> None:
    from sweeper.errors import SweepError
    from sweeper.spec import SweepSpec
    from sweeper.testing import TINY
    from sweeper.tune.runner import restore_tuner

    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "tuner.pkl").write_bytes(b"")
    (tmp_path / "ray" / "experiment_state-2026-01-01_00-00-00.json").write_text("")  # cut by a kill, before the fix
    with pytest.raises(SweepError, match=r"is damaged .* it cannot be resumed"):
        restore_tuner(tmp_path, "ray", SweepSpec.model_validate(TINY), None)  # type: ignore[arg-type]
