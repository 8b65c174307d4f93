"""`sweeper train`: the recommended (or a chosen) configuration trained, logged, registered, loaded and used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import mlflow.pytorch
import pandas as pd
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweeper.cli import app
from sweeper.data.manifest.testing import WOUND_TYPES, example_section, write_example_manifest
from sweeper.data.rows import RowReader, sample_rows
from sweeper.deploy import chosen_params, parse_sets
from sweeper.errors import ConfigError
from sweeper.spec import build_dataset, parse_spec
from sweeper.testing import TINY

runner = CliRunner()


def _trained(args: list[str]) -> str:
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _accuracy(predicted: pd.DataFrame, reader: RowReader, dataset: Any, rows: torch.Tensor, task: str) -> float:
    truth = [reader.classes[task][i] for i in dataset.targets[task][rows].tolist()]
    return sum(p == t for p, t in zip(predicted[task], truth, strict=True)) / len(truth)


@pytest.mark.slow
def test_a_sweeps_recommendation_is_trained_registered_and_predicts(tiny_sweep: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'store.db'}"  # not the session sweep's own store, which other tests read
    output = _trained([str(tiny_sweep), "--register", "tiny-default", "--tracking-uri", uri])
    assert "registered: models:/tiny-default/1" in output

    client = MlflowClient(uri)
    version = client.get_model_version("tiny-default", "1")
    run = client.get_run(version.run_id)
    assert run.data.tags["sweeper.stage"] == "final" and run.info.run_name.startswith("final-")
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/tiny-default/1")

    spec = parse_spec(TINY)
    dataset = build_dataset(spec.data)
    test_rows = dataset.splits["test"]
    reader = RowReader.for_dataset(dataset, None)
    rows, root = sample_rows(dataset, reader, test_rows)
    predicted = model.predict(rows.to_pandas(), params={"root": str(root)})
    for task in dataset.spec.task_names:
        assert set(predicted[task]) <= set(reader.classes[task])
        # the pyfunc reads rows exactly as training read the data: its accuracy is the logged test accuracy
        accuracy = _accuracy(predicted, reader, dataset, test_rows, task)
        assert accuracy == pytest.approx(run.data.metrics[f"test/{task}/acc"])

    # the PyTorch flavour in the same run is the same model, for users who want the module
    logged = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    torch_model = mlflow.pytorch.load_model(next(m.model_uri for m in logged if m.name == "model"))
    with torch.no_grad():
        logits = torch_model.eval()(reader.read(rows, root))
    for task, values in logits.items():
        assert [reader.classes[task][i] for i in values.argmax(-1).tolist()] == list(predicted[task])


@pytest.mark.slow
def test_a_manifest_model_predicts_class_names_from_manifest_rows(tmp_path: Path) -> None:
    manifest = write_example_manifest(tmp_path / "data", n_rows=60)
    spec = {
        **{k: v for k, v in TINY.items() if k != "parameters"},
        "name": "wounds",
        "data": example_section(manifest),
        "parameters": {"fusion": {"type": "choice", "values": ["gated"]}, "lr": {"type": "fixed", "value": 0.01}},
    }
    spec_file = tmp_path / "wounds.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    output = _trained([str(spec_file), "--sweeps-dir", str(tmp_path / "sweeps"), "--register", "wounds"])
    assert "type" in output and "severity" in output  # the test table names both tasks

    mlflow.set_tracking_uri(f"sqlite:///{(tmp_path / 'sweeps' / 'wounds' / 'mlflow.db').resolve()}")
    model = mlflow.pyfunc.load_model("models:/wounds/1")
    rows = pd.read_parquet(manifest)
    test = rows[rows["split"] == "test"].drop(columns=["wound_type", "severity", "split"])
    predicted = model.predict(test, params={"root": str(manifest.parent)})
    assert len(predicted) == len(test)
    assert set(predicted["type"]) <= set(WOUND_TYPES)
    assert predicted["severity_probability"].between(0, 1).all()

    with pytest.raises(Exception, match="rows lack column 'photo_path'"):
        model.predict(test.drop(columns=["photo_path"]), params={"root": str(manifest.parent)})


def test_chosen_params_take_fixed_values_sets_and_conditions() -> None:
    spec = parse_spec(TINY)
    assert chosen_params(spec, {"fusion": "gated", "lr": 0.01}) == {"fusion": "gated", "lr": 0.01}
    assert chosen_params(spec, {"fusion": "low_rank", "rank": 4, "lr": 0.01})["rank"] == 4
    with pytest.raises(ConfigError, match=r"parameters.fusion is searched .*--set fusion=VALUE"):
        chosen_params(spec, {"lr": 0.01})
    with pytest.raises(ConfigError, match=r"parameters.rank is searched \(2 to 8\)"):
        chosen_params(spec, {"fusion": "low_rank", "lr": 0.01})
    with pytest.raises(ConfigError, match="--set lrr: unknown key; known: "):
        chosen_params(spec, {"lrr": 0.01})


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "lr"], "--set 'lr' is not key=value"),
        (["--set", "nope=1"], "--set nope: unknown key"),
    ],
)
def test_bad_train_options_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(yaml.safe_dump(TINY))
    result = runner.invoke(app, ["train", str(spec_file), "--sweeps-dir", str(tmp_path), *args])
    assert result.exit_code == 1 and expected in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_train_names_a_missing_target() -> None:
    result = runner.invoke(app, ["train", "no/such/sweep"])
    assert result.exit_code == 1 and "neither a sweep folder nor a spec file" in result.output


def test_parse_sets_reads_yaml_scalars() -> None:
    assert parse_sets(["lr=1e-3", "fusion=gated", "fusion_layers=2"]) == {
        "lr": 0.001,
        "fusion": "gated",
        "fusion_layers": 2,
    }
