"""A dataset on disk, as a user has it: `sweeper data demo` writes PNGs, text, tables and signals; `data check`
validates them; a real tiny sweep trains on them and keeps the class names."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from sweeper.cli import app

runner = CliRunner()


def test_demo_dataset_checks_and_sweeps(ray_session: None, tmp_path: Path) -> None:
    out = tmp_path / "example"
    result = runner.invoke(app, ["data", "demo", str(out), "--samples", "160"])
    assert result.exit_code == 0, result.output
    assert len(list((out / "photos").glob("*.png"))) == 160 and (out / "manifest.parquet").is_file()

    check = runner.invoke(app, ["data", "check", str(out / "sweep.yaml")])
    assert check.exit_code == 0, check.output
    assert "data valid" in check.output and "pressure_ulcer" in check.output and "photo" in check.output

    spec = yaml.safe_load((out / "sweep.yaml").read_text())
    spec["budget"] = {"num_samples": 2, "max_epochs": 2, "grace_period": 1, "max_concurrent": 2}
    spec["confirm"] = {"seeds": 1, "folds": 2}
    (out / "sweep.yaml").write_text(yaml.safe_dump(spec))
    run = runner.invoke(app, ["run", str(out / "sweep.yaml"), "--sweeps-dir", str(tmp_path / "sweeps")])
    assert run.exit_code == 0, run.output
    assert "best default fusion: " in run.output
    classes = json.loads((tmp_path / "sweeps" / "wounds_example" / "data" / "classes.json").read_text())
    assert classes["severity"] == ["mild", "moderate", "severe"]
    assert (tmp_path / "sweeps" / "wounds_example" / "data" / "tokenizer_note.json").is_file()


def test_demo_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["data", "demo", str(tmp_path)])
    assert result.exit_code == 1 and "exists and is not an empty folder" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
