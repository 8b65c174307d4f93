"""No tracebacks for a user's mistake: every bad spec, manifest or option is exit 1, one exact line, nothing written.

Each case runs the real CLI in a fresh folder holding only its inputs, and fails before Ray starts or data is trained
on. ``{tmp}`` in an expected message is that folder (resolved), ``{port}`` a loopback port nothing listens on.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from sweeper.cli import app
from sweeper.data.synthetic import scenario_names
from sweeper.models import ENCODERS
from sweeper.models.config import known_fusions
from sweeper.spec import SEARCHABLE
from sweeper.testing import TINY, free_port

runner = CliRunner()
Setup = Callable[[Path], None]

FUSIONS = ", ".join(known_fusions())
NAME_RULE = "expected letters, digits, '_', '.' or '-', starting with a letter or digit (it names the sweep's folder)"
SYNTHETIC_METRICS = (
    "val/mean_acc, val/mean_macro_f1, val/mean_auroc, val/loss, val/agree/loss, val/agree/acc, val/agree/macro_f1, "
    "val/agree/auroc, val/grade/loss, val/grade/acc, val/grade/macro_f1, val/grade/auroc"
)
KINDS = "image, volume, text, tabular, signal, features"


def text(content: str | bytes, name: str = "s.yaml") -> Setup:
    def write(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)

    return write


def spec(**sections: Any) -> Setup:
    """s.yaml: the tiny spec with top-level ``sections`` replaced (``None`` leaves one out)."""
    data = {**copy.deepcopy(TINY), **sections}
    return text(yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False))


def section(name: str, **values: Any) -> Setup:
    """s.yaml: the tiny spec with ``values`` set in its section ``name``."""
    return spec(**{name: {**TINY.get(name, {}), **values}})


def parameter(name: str, value: Any) -> Setup:
    return spec(parameters={**TINY["parameters"], name: value})


ROWS: dict[str, list[Any]] = {
    "x": [float(i) for i in range(12)],
    "y": ["a", "b"] * 6,
    "split": ["train"] * 8 + ["val"] * 2 + ["test"] * 2,
}


def manifest(columns: dict[str, list[Any]] | None = None, **data: Any) -> Setup:
    """m.parquet (12 rows: x, y, split, and ``columns``) and s.yaml whose data section reads it, with ``data`` set."""

    def write(folder: Path) -> None:
        pq.write_table(pa.table({**ROWS, **(columns or {})}), folder / "m.parquet")
        section = {
            "path": "m.parquet",
            "modalities": {"x": {"kind": "tabular", "columns": ["x"]}},
            "tasks": {"y": {"column": "y"}},
            "split": {"column": "split"},
            "cache": False,
            **data,
        }
        (folder / "s.yaml").write_text(yaml.safe_dump({"name": "m", "data": section, "parameters": {"lr": 0.01}}))

    return write


def both(*setups: Setup) -> Setup:
    def write(folder: Path) -> None:
        for setup in setups:
            setup(folder)

    return write


def no_files(folder: Path) -> None:
    """No input files: the command is given a path or an option alone."""


SPEC_ONLY_SWEEP = text(yaml.safe_dump(TINY), "sw/spec.yaml")  # a sweep folder in name: its spec, no results yet
CHECK = ["check", "s.yaml"]
DATA_CHECK = ["data", "check", "s.yaml"]
RUN = ["run", "s.yaml", "--sweeps-dir", "sw"]

CASES = [
    # The spec file itself.
    pytest.param(
        no_files,
        ["check", "nope.yaml"],
        "sweep spec 'nope.yaml' does not exist or is not a file",
        id="spec file missing",
    ),
    pytest.param(no_files, ["check", "."], "sweep spec '.' does not exist or is not a file", id="spec is a folder"),
    pytest.param(
        text("name: x\nparameters: {lr: [1, 2\n"),
        CHECK,
        "s.yaml: not valid YAML at line 3: expected ',' or ']', but got '<stream end>'",
        id="YAML syntax error",
    ),
    pytest.param(
        text("name: x\nparameters:\n\tlr: 0.1\n"),
        CHECK,
        r"s.yaml: not valid YAML at line 3: found character '\t' that cannot start any token",
        id="YAML tab indent",
    ),
    pytest.param(
        text(b"name: \xff\xfe\n"),
        CHECK,
        "s.yaml: not UTF-8 text (byte 6); a sweep spec is a YAML text file",
        id="spec not UTF-8",
    ),
    pytest.param(
        text("# to do\n\n"),
        CHECK,
        "s.yaml: the file is empty; a sweep spec is a YAML mapping with at least 'parameters'",
        id="spec empty",
    ),
    pytest.param(
        text("- lr\n- fusion\n"),
        CHECK,
        "s.yaml: a sweep spec must be a YAML mapping, but got list",
        id="spec is a list",
    ),
    # Top-level keys and sections.
    pytest.param(
        spec(bogus=1),
        CHECK,
        "s.yaml: unknown key 'bogus'; allowed: name, description, data, model, train, objective, parameters, budget, "
        "confirm, resources, failure, distill",
        id="unknown top-level key",
    ),
    pytest.param(
        spec(name="my sweep"), CHECK, f"s.yaml: name: 'my sweep' is not allowed; {NAME_RULE}", id="name with a space"
    ),
    pytest.param(spec(parameters=None), CHECK, "s.yaml: parameters: Field required", id="parameters missing"),
    pytest.param(
        spec(parameters={}),
        CHECK,
        "s.yaml: parameters: a search space needs at least one parameter",
        id="parameters empty",
    ),
    pytest.param(
        spec(budget=5),
        CHECK,
        "s.yaml: budget: Input should be a valid dictionary or instance of BudgetSection (got 5)",
        id="budget not a mapping",
    ),
    pytest.param(
        section("model", hidden=8),
        CHECK,
        "s.yaml: model: unknown key 'hidden'; allowed: fusion, fusion_layers, heads, rank, base_fusion, hidden_dim, "
        "dropout, modality_dropout, modality_scales, task_head, view_aggregation, encoders, head, balance, "
        "conditioner, energy, gate, max_fused_size, max_input_dim, sketch_dim, top_k",
        id="unknown model key",
    ),
    pytest.param(
        section("model", hidden_dim=8.5),
        CHECK,
        "s.yaml: model.hidden_dim: Input should be a valid integer, got a number with a fractional part (got 8.5)",
        id="float on an int field",
    ),
    pytest.param(
        section("train", batch_size="big"),
        CHECK,
        "s.yaml: train.batch_size: Input should be a valid integer, unable to parse string as an integer (got 'big')",
        id="string on an int field",
    ),
    pytest.param(
        section("model", head="deep"), CHECK, "s.yaml: unknown head 'deep'; known: linear, mlp", id="unknown head"
    ),
    pytest.param(
        section("train", loss="hinge"),
        CHECK,
        "s.yaml: unknown loss 'hinge'; known: cross_entropy, focal",
        id="unknown loss",
    ),
    pytest.param(
        section("model", encoders={"image": "resnet"}),
        CHECK,
        f"s.yaml: model.encoders.image: unknown encoder 'resnet'; known: {', '.join(ENCODERS.names())}",
        id="unknown encoder",
    ),
    pytest.param(
        section("data", scenario="mnist"),
        CHECK,
        f"s.yaml: data.scenario: unknown scenario 'mnist'; known: {', '.join(scenario_names())}",
        id="unknown scenario",
    ),
    pytest.param(
        section("data", n_samples=10),
        CHECK,
        "s.yaml: data.n_samples: Input should be greater than or equal to 60 (got 10)",
        id="too few samples",
    ),
    pytest.param(
        section("resources", gpu=-1),
        CHECK,
        "s.yaml: resources.gpu: Input should be greater than or equal to 0 (got -1)",
        id="negative gpu",
    ),
    pytest.param(
        section("confirm", seeds=0),
        CHECK,
        "s.yaml: confirm.seeds: Input should be greater than or equal to 1 (got 0)",
        id="zero confirmation seeds",
    ),
    # Objective and budget.
    pytest.param(
        spec(objective={"metric": "val/loss", "mode": "max"}),
        CHECK,
        "s.yaml: objective: mode 'max' does not fit metric 'val/loss'; expected mode: min",
        id="loss maximised",
    ),
    pytest.param(
        spec(objective={"metric": "test/mean_acc"}),
        CHECK,
        "s.yaml: objective.metric: the objective must be a validation metric (val/...), but got 'test/mean_acc'; test "
        "metrics are reported, never used to choose",
        id="test objective",
    ),
    pytest.param(
        spec(objective={"metric": "val/tumour/acc"}),
        DATA_CHECK,
        f"objective.metric: 'val/tumour/acc' is not reported for this data; known: {SYNTHETIC_METRICS}",
        id="objective no task reports",
    ),
    pytest.param(
        section("budget", num_samples=0),
        CHECK,
        "s.yaml: budget.num_samples: Input should be greater than or equal to 1 (got 0)",
        id="zero trials",
    ),
    pytest.param(
        section("budget", max_epochs=-1),
        CHECK,
        "s.yaml: budget.max_epochs: Input should be greater than or equal to 1 (got -1)",
        id="negative max_epochs",
    ),
    pytest.param(
        section("budget", grace_period=5),
        CHECK,
        "s.yaml: budget: grace_period=5 exceeds max_epochs=3",
        id="grace period beyond max_epochs",
    ),
    # Parameters.
    pytest.param(
        text("name: x\nparameters: {1: 0.1}\n"),
        CHECK,
        "s.yaml: parameters: key 1 is int; expected a name (a string)",
        id="parameter name not a string",
    ),
    pytest.param(
        parameter("lrate", 0.01),
        CHECK,
        f"s.yaml: parameters: unknown parameter 'lrate'; allowed: {', '.join(SEARCHABLE)}",
        id="unknown parameter",
    ),
    pytest.param(
        parameter("fusion", {"type": "choice", "values": ["concat", "gatd"]}),
        CHECK,
        f"s.yaml: parameters.fusion.values: unknown fusion 'gatd'; known: {FUSIONS}",
        id="unknown fusion",
    ),
    pytest.param(
        parameter("fusion", {"type": "choice", "values": ["gated[bold]"]}),
        CHECK,
        f"s.yaml: parameters.fusion.values: unknown fusion 'gated[bold]'; known: {FUSIONS}",
        id="brackets in a value are printed as given",
    ),
    pytest.param(
        parameter("lr", {"type": "uniform", "low": 0.001, "high": 0.01}),
        CHECK,
        "s.yaml: parameters.lr.type: unknown parameter type 'uniform'; allowed: choice, int, float, fixed",
        id="unknown parameter type",
    ),
    pytest.param(
        parameter("lr", {"low": 0.001, "high": 0.01}),
        CHECK,
        "s.yaml: parameters.lr: 'type' is missing; allowed types: choice, int, float, fixed",
        id="parameter without type",
    ),
    pytest.param(
        parameter("lr", [0.001, 0.01]),
        CHECK,
        "s.yaml: parameters.lr: a list is not a parameter; write {type: choice, values: [0.001, 0.01]} or a single "
        "fixed value",
        id="list as a parameter",
    ),
    pytest.param(
        parameter("fusion", {"type": "choice", "values": []}),
        CHECK,
        "s.yaml: parameters.fusion: empty choice: values must list at least one value",
        id="empty choice",
    ),
    pytest.param(
        parameter("rank", {"type": "int", "low": 2, "high": 8, "step": 0}),
        CHECK,
        "s.yaml: parameters.rank.step: Input should be greater than or equal to 1 (got 0)",
        id="int step zero",
    ),
    pytest.param(
        parameter("lr", {"type": "float", "low": 0.1, "high": 0.01}),
        CHECK,
        "s.yaml: parameters.lr: empty range: low=0.1 must be below high=0.01",
        id="lr low above high",
    ),
    pytest.param(
        parameter("lr", {"type": "float", "low": 0.0, "high": 0.01, "log": True}),
        CHECK,
        "s.yaml: parameters.lr: a log-scale range needs low > 0, but got low=0.0",
        id="log range from zero",
    ),
    pytest.param(
        parameter("lr", {"type": "float", "high": 0.01}),
        CHECK,
        "s.yaml: parameters.lr.low: Field required",
        id="float range without low",
    ),
    pytest.param(
        parameter("heads", {"type": "choice", "values": [1, 2], "when": {"fuson": ["cross_attention"]}}),
        CHECK,
        "s.yaml: parameters.heads.when names unknown parameter 'fuson'; it must be declared before 'heads': fusion",
        id="when names an unknown parameter",
    ),
    pytest.param(
        spec(parameters={"fusion": "cross_attention", "heads": {"type": "choice", "values": [3]}}),
        CHECK,
        "s.yaml: model.heads: fusion 'cross_attention' needs hidden_dim divisible by heads, but got hidden_dim=8, "
        "heads=3",
        id="heads not dividing hidden_dim",
    ),
    # Options of `run`, checked before Ray starts.
    pytest.param(
        spec(), [*RUN, "--name", "../evil"], f"--name: name: '../evil' is not allowed; {NAME_RULE}", id="run bad --name"
    ),
    pytest.param(
        spec(),
        [*RUN, "--address", "head-node"],
        "invalid Ray address 'head-node'; expected host:port (the head's GCS port) or auto",
        id="run bad --address format",
    ),
    pytest.param(
        spec(),
        [*RUN, "--address", "127.0.0.1:{port}"],
        "cannot reach the Ray cluster at '127.0.0.1:{port}': Connection refused",
        id="run unreachable --address",
    ),
    pytest.param(
        spec(),
        [*RUN, "--tracking-uri", "http://127.0.0.1:{port}"],
        "cannot reach the MLflow tracking server at 'http://127.0.0.1:{port}': Connection refused",
        id="run unreachable --tracking-uri",
    ),
    pytest.param(
        both(spec(), text("x", "sw/tiny")), RUN, "sweep folder 'sw/tiny' is a file", id="run sweep folder is a file"
    ),
    pytest.param(
        both(spec(), text("x", "sw/tiny/notes.txt")),
        RUN,
        "folder 'sw/tiny' holds files but no sweep (spec.yaml is missing); --overwrite only replaces a sweep: choose "
        "another --name or --sweeps-dir",
        id="run into a folder that is no sweep",
    ),
    pytest.param(
        parameter("fusion", "gatd"),
        RUN,
        f"s.yaml: parameters.fusion.value: unknown fusion 'gatd'; known: {FUSIONS}",
        id="run validates the spec first",
    ),
    # The user's own data: a Parquet manifest.
    pytest.param(
        manifest(modalities={"x": {"kind": "tabular", "columns": ["x", "z"]}}),
        DATA_CHECK,
        "column 'z' is missing from '{tmp}/m.parquet'; available: x, y, split",
        id="manifest missing column",
    ),
    pytest.param(
        manifest(tasks={"y": {"column": "label"}}),
        DATA_CHECK,
        "column 'label' is missing from '{tmp}/m.parquet'; available: x, y, split",
        id="manifest missing label column",
    ),
    pytest.param(
        manifest(path="nope.parquet"),
        DATA_CHECK,
        "cannot read '{tmp}/nope.parquet' as Parquet: no such file or folder",
        id="manifest file missing",
    ),
    pytest.param(
        manifest(modalities={"x": {"kind": "audio", "column": "x"}}),
        DATA_CHECK,
        f"s.yaml: data.modalities.x.kind: unknown kind 'audio'; allowed: {KINDS}",
        id="manifest unknown modality kind",
    ),
    pytest.param(
        manifest(modalities={"x": {"column": "x"}}),
        DATA_CHECK,
        f"s.yaml: data.modalities.x: 'kind' is missing; allowed kinds: {KINDS}",
        id="manifest modality without kind",
    ),
    pytest.param(
        manifest(modalities={"x": {"kind": "tabular", "column": "x", "columns": ["x"]}}),
        DATA_CHECK,
        "s.yaml: data.modalities.x: a tabular modality takes 'columns' (a list) or 'column' (a list column), got both",
        id="manifest tabular column and columns",
    ),
    pytest.param(
        manifest(modalities={"x": {"kind": "image", "column": "x", "size": [0, 4]}}),
        DATA_CHECK,
        "s.yaml: data.modalities.x.size: expected [H, W] (2 positive integers), got [0, 4]",
        id="manifest image size zero",
    ),
    pytest.param(
        manifest(tasks={}),
        DATA_CHECK,
        "s.yaml: data: tasks: a manifest needs at least one task, got none",
        id="manifest without tasks",
    ),
    pytest.param(
        manifest(split={"by": "bogus"}),
        DATA_CHECK,
        "s.yaml: data.split: 'by' must be one of column, random, stratified (got 'bogus')",
        id="manifest split by unknown",
    ),
    pytest.param(
        manifest(split={"by": "stratified", "stratify": "z"}),
        DATA_CHECK,
        "s.yaml: data: split.stratify: unknown task 'z'; tasks: y",
        id="manifest stratify unknown task",
    ),
    pytest.param(
        manifest({"y": ["a"] * 12}),
        DATA_CHECK,
        "column 'y': has a single class 'a' in all 12 rows; expected 2 or more",
        id="manifest label with one class",
    ),
    pytest.param(
        manifest({"split": ["train"] * 8 + ["valid"] * 2 + ["test"] * 2}),
        DATA_CHECK,
        "column 'split', row 8: unknown split 'valid'; expected one of train, val, test",
        id="manifest unknown split value",
    ),
    pytest.param(
        manifest({"x": [1.0] * 7 + [float("nan")] + [1.0] * 4}),
        DATA_CHECK,
        "column 'x', row 7: value nan is not finite; expected finite numbers",
        id="manifest nan feature",
    ),
    pytest.param(
        manifest(modalities={"y": {"kind": "tabular", "columns": ["y"]}}),
        DATA_CHECK,
        "column 'y': has type string; expected numbers (integers, floats or booleans)",
        id="manifest text as tabular",
    ),
    pytest.param(
        manifest(
            {"p": [f"{i}.png" for i in range(12)]}, modalities={"p": {"kind": "image", "column": "p", "size": [4, 4]}}
        ),
        DATA_CHECK,
        "column 'p', row 0: file '0.png' does not exist (resolved to '{tmp}/0.png'); expected an existing image file",
        id="manifest image files missing",
    ),
    # A sweep folder given to recommend, confirm or ui.
    pytest.param(no_files, ["recommend", "nope"], "sweep folder 'nope' does not exist", id="recommend missing folder"),
    pytest.param(
        no_files, ["recommend", "."], "'.' is not a sweep folder: spec.yaml is missing", id="recommend non-sweep folder"
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw"],
        "'sw' is not a sweep folder: results/trials.parquet is missing",
        id="recommend folder without results",
    ),
    pytest.param(
        text("name: [tiny\n", "sw/spec.yaml"),
        ["recommend", "sw"],
        "'sw/spec.yaml' is not valid YAML at line 2: expected ',' or ']', but got '<stream end>'; it should be the "
        "sweep's spec",
        id="recommend broken spec.yaml",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw", "--margin", "-1"],
        "margin must be >= 0, but got -1.0",
        id="recommend negative margin",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw", "--prefer", "fastest"],
        "prefer must be one of cheapest, best-mean, but got 'fastest'",
        id="recommend bogus prefer",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw", "--exclude", "gatd"],
        f"--exclude: unknown fusion 'gatd'; known: {FUSIONS}",
        id="recommend exclude unknown fusion",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw", "--mode", "up"],
        "mode must be 'max' or 'min', but got 'up'",
        id="recommend bogus mode",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw", "--mode", "min"],
        "mode 'min' contradicts metric 'val/mean_macro_f1', which is maximised (metrics named ...loss are minimised, "
        "the others maximised)",
        id="recommend mode against the metric",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw", "--metric", "test/mean_acc"],
        "cannot select on 'test/mean_acc': selection uses validation only; test metrics are reported, never used to "
        "choose (use the val/ metric of the same name)",
        id="recommend on a test metric",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["recommend", "sw", "--source", "csv"],
        "source must be 'parquet' or 'mlflow', but got 'csv'",
        id="recommend bogus source",
    ),
    pytest.param(no_files, ["confirm", "nope"], "sweep folder 'nope' does not exist", id="confirm missing folder"),
    pytest.param(
        no_files,
        ["confirm", ".", "--seeds", "0"],
        "'.' is not a sweep folder: spec.yaml is missing",
        id="confirm non-sweep folder",
    ),
    pytest.param(
        SPEC_ONLY_SWEEP, ["confirm", "sw", "--seeds", "0"], "--seeds must be >= 1, but got 0", id="confirm zero seeds"
    ),
    pytest.param(
        no_files,
        ["ui", "."],
        "no MLflow store in '.': mlflow.db is missing (is it a sweep folder?)",
        id="ui non-sweep folder",
    ),
    # Resuming, syncing and confirming a folder that is no sweep, or a sweep whose spec was hand-broken.
    pytest.param(no_files, ["resume", "nope"], "sweep folder 'nope' does not exist", id="resume missing folder"),
    pytest.param(
        no_files, ["resume", "."], "'.' is not a sweep folder: spec.yaml is missing", id="resume non-sweep folder"
    ),
    pytest.param(
        text("name: [x", "sw/spec.yaml"),
        ["confirm", "sw"],
        "sw/spec.yaml: not valid YAML at line 1: expected ',' or ']', but got '<stream end>'",
        id="confirm with a broken spec.yaml",
    ),
    pytest.param(
        no_files, ["sync", "."], "'.' is not a sweep folder: spec.yaml is missing", id="sync non-sweep folder"
    ),
    pytest.param(
        SPEC_ONLY_SWEEP,
        ["sync", "sw", "--tracking-uri", "ftp://x"],
        "unsupported MLflow tracking URI 'ftp://x'; expected http(s)://host:port, sqlite:///path/mlflow.db, a database "
        "URI (postgresql://, mysql://, mssql://), file:///path or a folder",
        id="sync to an unsupported tracking URI",
    ),
    pytest.param(
        spec(),
        [*RUN, "--tracking-uri", "ftp://x"],
        "unsupported MLflow tracking URI 'ftp://x'; expected http(s)://host:port, sqlite:///path/mlflow.db, a database "
        "URI (postgresql://, mysql://, mssql://), file:///path or a folder",
        id="run with an unsupported tracking URI",
    ),
    pytest.param(
        lambda folder: (spec()(folder), text("mine", "notes")(folder)),
        ["run", "s.yaml", "--sweeps-dir", "notes"],
        "sweep folder 'notes/tiny' cannot be made: 'notes' is a file",
        id="run with --sweeps-dir a file",
    ),
    pytest.param(
        both(section("budget", num_samples=9), text(yaml.safe_dump(TINY), "sw/tiny/spec.yaml")),
        [*RUN, "--resume"],
        "s.yaml differs from the spec sweep 'sw/tiny' was started with; --resume continues the sweep as it was "
        "started: undo the change, or pass --name to start another sweep",
        id="run --resume with a changed spec",
    ),
    pytest.param(
        spec(),
        [*RUN, "--address", "ray://head:10001"],
        "Ray Client addresses ('ray://head:10001') are not supported: run sweeper on the head node with --address "
        "HOST:PORT (or RAY_ADDRESS), or submit it as a Ray Job: ray job submit --working-dir . -- sweeper run SPEC",
        id="run with a Ray Client address",
    ),
    pytest.param(
        spec(),
        [*RUN, "--resume", "--overwrite"],
        "--resume continues the sweep in the folder and --overwrite replaces it: choose one",
        id="run --resume --overwrite",
    ),
    # Other commands.
    pytest.param(
        no_files,
        ["list", "fusion"],
        "unknown section 'fusion'; known: fusions, encoders, views, heads, losses, training",
        id="list unknown section",
    ),
    pytest.param(
        text("mine", "out/notes.txt"),
        ["data", "demo", "out"],
        "'out' exists and is not an empty folder; give a new or empty folder",
        id="data demo into a full folder",
    ),
]


def _files(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (None for a folder)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(("setup", "args", "expected"), CASES)
def test_a_bad_input_is_one_exact_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: Setup, args: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    inputs = _files(tmp_path)
    port = str(free_port())
    result = runner.invoke(app, [a.replace("{port}", port) for a in args])

    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an error escaping the CLI
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: " + expected.replace("{tmp}", str(tmp_path.resolve())).replace("{port}", port)
    ]
    assert _files(tmp_path) == inputs, "a bad input must leave the folder as it was"


def test_there_are_at_least_thirty_distinct_bad_inputs() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 30
