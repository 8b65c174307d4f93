"""The sweep spec: loading YAML, one-line errors for every mistake, and the TrainConfig of one trial."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sweeper.errors import ConfigError, SweeperError
from sweeper.models import FUSIONS
from sweeper.spec import DataSection, FixedParam, build_dataset, load_spec, parse_spec
from sweeper.testing import TINY

DEMO = Path(__file__).resolve().parents[1] / "search_spaces" / "demo.yaml"
DEMO_DATA: dict[str, Any] = yaml.safe_load(DEMO.read_text())
KNOWN_FUSIONS = ", ".join(FUSIONS.names())
PARAM_TYPES = "choice, int, float, fixed"


def _write(tmp_path: Path, data: Any, name: str = "my_sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _demo(mutate: Callable[[dict[str, Any]], object] = lambda d: None) -> dict[str, Any]:
    data = copy.deepcopy(DEMO_DATA)
    mutate(data)
    return data


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message, f"a ConfigError must be one line, got {message!r}"
    return message


def test_demo_spec_loads() -> None:
    spec = load_spec(DEMO)
    assert spec.name == "demo"
    assert list(spec.parameters) == ["fusion", "fusion_layers", "heads", "rank", "lr"]
    assert spec.parameters["heads"].when == {"fusion": ["cross_attention"]}
    assert spec.budget.max_epochs == 8
    assert spec.objective.metric == "val/mean_macro_f1"


def test_config_error_is_a_sweeper_error() -> None:
    assert issubclass(ConfigError, SweeperError)


def _set_param(name: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["parameters"][name].update(fields)


# (mutation of demo.yaml, fragments the message must contain: the key, the value given, what is allowed)
INVALID: dict[str, tuple[Callable[[dict[str, Any]], object], list[str]]] = {
    "unknown top-level key": (lambda d: d.update(bogus=1), ["'bogus'", "allowed:", "parameters", "budget"]),
    "a loss objective maximised": (
        lambda d: d.update(objective={"metric": "val/loss", "mode": "max"}),
        ["objective", "mode 'max' does not fit metric 'val/loss'; expected mode: min"],
    ),
    "a test objective": (
        lambda d: d.update(objective={"metric": "test/mean_acc"}),
        ["objective.metric", "must be a validation metric (val/...), but got 'test/mean_acc'"],
    ),
    "an int step of zero": (_set_param("fusion_layers", step=0), ["parameters.fusion_layers.step", "(got 0)"]),
    "zero confirmation seeds": (lambda d: d.update(confirm={"seeds": 0}), ["confirm.seeds", "(got 0)"]),
    "one fold": (lambda d: d.update(confirm={"folds": 1}), ["confirm.folds", "(got 1)"]),
    "a negative report interval": (
        lambda d: d["budget"].update(report_every_s=-1),
        ["budget.report_every_s", "(got -1)", "greater than or equal to 0"],
    ),
    "unknown budget key": (
        lambda d: d["budget"].update(max_epoch=3),
        ["budget", "'max_epoch'", "allowed:", "max_epochs"],
    ),
    "unknown resources key": (
        lambda d: d["resources"].update(gpus=1),
        ["resources", "'gpus'", "allowed:", "cpu, gpu"],
    ),
    "unknown data key": (lambda d: d["data"].update(rows=5), ["data", "'rows'", "allowed:", "n_samples"]),
    "unknown key in a parameter": (
        _set_param("lr", scale="log"),
        ["parameters.lr", "'scale'", "allowed:", "low", "high", "log"],
    ),
    "unknown fusion in a choice": (
        _set_param("fusion", values=["concat", "gatd"]),
        ["parameters.fusion.values", f"unknown fusion 'gatd'; known: {KNOWN_FUSIONS}"],
    ),
    "unknown fusion as a fixed value": (
        lambda d: d["parameters"].update(fusion="gatd"),
        ["parameters.fusion", f"unknown fusion 'gatd'; known: {KNOWN_FUSIONS}"],
    ),
    "unknown fusion in when": (
        _set_param("heads", when={"fusion": ["cross_attn"]}),
        ["parameters.heads.when.fusion", f"unknown fusion 'cross_attn'; known: {KNOWN_FUSIONS}"],
    ),
    "empty choice": (_set_param("fusion", values=[]), ["parameters.fusion", "empty choice", "at least one"]),
    "empty float range": (
        _set_param("lr", low=0.1, high=0.01, log=False),
        ["parameters.lr", "low=0.1", "high=0.01", "below"],
    ),
    "float range of one point": (_set_param("lr", low=0.01, high=0.01), ["parameters.lr", "low=0.01"]),
    "int range low above high": (
        _set_param("fusion_layers", low=3, high=1),
        ["parameters.fusion_layers", "low=3", "high=1"],
    ),
    "log range with low zero": (_set_param("lr", low=0.0, high=0.01), ["parameters.lr", "low=0.0", "low > 0"]),
    "log int range with negative low": (
        _set_param("rank", low=-2, high=16),
        ["parameters.rank", "low=-2", "low > 0"],
    ),
    "when names an unknown parameter": (
        _set_param("heads", when={"fuson": ["cross_attention"]}),
        ["parameters.heads.when", "'fuson'", "declared before 'heads'", "fusion, fusion_layers"],
    ),
    "when names a parameter declared later": (
        _set_param("heads", when={"lr": [0.01]}),
        ["parameters.heads.when", "'lr'", "declared before 'heads'", "fusion, fusion_layers"],
    ),
    "unknown parameter name": (
        lambda d: d["parameters"].update(learning_rate={"type": "float", "low": 0.1, "high": 1.0}),
        ["parameters", "'learning_rate'", "allowed:", "lr", "hidden_dim"],
    ),
    "unknown parameter type": (
        _set_param("lr", type="uniform"),
        ["parameters.lr.type", "'uniform'", f"allowed: {PARAM_TYPES}"],
    ),
    "missing parameter type": (
        lambda d: d["parameters"]["lr"].pop("type"),
        ["parameters.lr", "'type' is missing", PARAM_TYPES],
    ),
    "grace period beyond max epochs": (
        lambda d: d["budget"].update(grace_period=9, max_epochs=8),
        ["budget", "grace_period=9", "max_epochs=8"],
    ),
    "model value of the wrong type": (
        lambda d: d["model"].update(hidden_dim="abc"),
        ["model.hidden_dim", "'abc'", "integer"],
    ),
    "train value of the wrong type": (
        lambda d: d["train"].update(batch_size="many"),
        ["train.batch_size", "'many'", "integer"],
    ),
    "unknown model key": (
        lambda d: d["model"].update(hidden=8),
        ["model", "'hidden'", "allowed:", "hidden_dim"],
    ),
    "unknown train key": (
        lambda d: d["train"].update(epochs=3),
        ["train", "'epochs'", "allowed:", "weight_decay"],
    ),
    "budget value out of range": (
        lambda d: d["budget"].update(num_samples=0),
        ["budget.num_samples", "0", "greater than or equal to 1"],
    ),
    "data value of the wrong type": (
        lambda d: d["data"].update(n_samples="lots"),
        ["data.n_samples", "'lots'", "integer"],
    ),
    "no parameters": (lambda d: d.update(parameters={}), ["parameters", "at least one parameter"]),
    "unknown view aggregation": (
        lambda d: d["parameters"].update(view_aggregation={"type": "choice", "values": ["mean", "avg"]}),
        ["parameters.view_aggregation", "'avg'", "unknown view aggregation 'avg'; known: attention, gated, max, mean"],
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_spec_is_one_line_naming_file_key_value_and_allowed(tmp_path: Path, case: str) -> None:
    mutate, fragments = INVALID[case]
    message = _error(_write(tmp_path, _demo(mutate)))
    assert message.startswith(str(tmp_path / "my_sweep.yaml") + ": "), message
    for fragment in fragments:
        assert fragment in message, f"{case}: expected {fragment!r} in {message!r}"


@pytest.mark.parametrize("document", [[1, 2], "just text", 42, None], ids=["list", "str", "int", "empty"])
def test_non_mapping_document_is_a_config_error(tmp_path: Path, document: Any) -> None:
    message = _error(_write(tmp_path, document))
    assert "my_sweep.yaml" in message
    assert "must be a YAML mapping" in message
    assert type(document).__name__ in message


def test_parse_spec_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^from-cli: a sweep spec must be a YAML mapping, but got list$"):
        parse_spec([1], "from-cli")


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: demo\nparameters:\n  fusion: {type: choice, values: [concat\n")
    message = _error(path)
    assert message.startswith(f"{path}: not valid YAML at line "), message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    message = _error(tmp_path / "nowhere.yaml")
    assert "nowhere.yaml" in message
    assert "does not exist" in message


def test_a_directory_is_not_a_spec(tmp_path: Path) -> None:
    assert "is not a file" in _error(tmp_path)


def test_scalars_under_parameters_are_fixed(tmp_path: Path) -> None:
    data = {
        "name": "fixed",
        "parameters": {"fusion": "gated", "hidden_dim": 16, "lr": {"type": "float", "low": 1e-3, "high": 1e-2}},
    }
    spec = load_spec(_write(tmp_path, data))
    assert isinstance(spec.parameters["fusion"], FixedParam)
    assert spec.parameters["fusion"].value == "gated"
    config = spec.trial_config(spec.default_point())
    assert (config.model.fusion, config.model.hidden_dim, config.lr) == ("gated", 16, 1e-3)


def test_scalar_when_is_a_one_value_list(tmp_path: Path) -> None:
    as_list = load_spec(_write(tmp_path, _demo(), "list.yaml"))
    scalar = load_spec(_write(tmp_path, _demo(_set_param("heads", when={"fusion": "cross_attention"})), "s.yaml"))
    assert scalar.parameters["heads"].when == {"fusion": ["cross_attention"]}
    assert scalar.parameters == as_list.parameters


def test_trial_config_maps_params_onto_model_and_train() -> None:
    spec = load_spec(DEMO)
    config = spec.trial_config({"fusion": "low_rank", "fusion_layers": 2, "rank": 4, "lr": 0.005})
    assert config.model.fusion == "low_rank"
    assert config.model.fusion_layers == 2
    assert config.model.rank == 4
    assert config.model.heads is None
    assert config.lr == 0.005
    # defaults from the model: and train: sections
    assert config.model.hidden_dim == 32
    assert config.model.dropout == 0.1
    assert config.batch_size == 128
    assert config.weight_decay == 1e-4
    # the budget and objective sections are authoritative
    assert config.max_epochs == spec.budget.max_epochs == 8
    assert config.objective == "val/mean_macro_f1"


def test_max_epochs_belongs_to_the_budget_only(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, _demo(lambda d: d["train"].update(max_epochs=50))))
    assert "train: unknown key 'max_epochs'" in message


def test_trial_config_params_override_section_defaults_and_budget_wins(tmp_path: Path) -> None:
    data = _demo(lambda d: d["train"].update(lr=0.5))
    data["objective"] = {"metric": "val/agree/auroc", "mode": "max"}
    data["budget"]["max_epochs"] = 3
    data["budget"]["grace_period"] = 1
    spec = load_spec(_write(tmp_path, data))
    config = spec.trial_config({"fusion": "gated", "hidden_dim": 8, "batch_size": 16})
    assert (config.model.hidden_dim, config.batch_size) == (8, 16)
    assert config.max_epochs == 3
    assert config.objective == "val/agree/auroc"


def test_trial_config_rejects_a_bad_value_in_one_line() -> None:
    spec = load_spec(DEMO)
    with pytest.raises(ConfigError) as info:
        spec.trial_config({"fusion": "concat", "lr": "fast"})
    message = str(info.value)
    assert "\n" not in message
    assert "train.lr" in message and "'fast'" in message


def test_build_dataset_follows_the_data_section() -> None:
    data = build_dataset(DataSection(n_samples=120, image_size=8, signal_length=16, seed=3))
    assert data.inputs["image"].shape == (120, 1, 8, 8)
    assert data.inputs["signal"].shape == (120, 2, 16)
    assert sum(data.split_size(s) for s in ("train", "val", "test")) == 120


def test_list_under_parameters_names_the_parameter(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, _demo(lambda d: d["parameters"].update(lr=[0.001, 0.01]))))
    assert "parameters.lr" in message
    assert ".value.str" not in message


def test_every_choice_value_is_type_checked(tmp_path: Path) -> None:
    data = _demo(lambda d: d["parameters"].update(hidden_dim={"type": "choice", "values": [16, "wide"]}))
    message = _error(_write(tmp_path, data))
    assert "hidden_dim" in message and "'wide'" in message


def test_a_spec_without_a_name_is_named_after_its_file(tmp_path: Path) -> None:
    data = _demo(lambda d: d.pop("name"))
    assert load_spec(_write(tmp_path, data, "wound_study.yaml")).name == "wound_study"


def test_an_objective_no_task_reports_is_one_line() -> None:
    from sweeper.data import make_synthetic

    spec = parse_spec(_demo(lambda d: d.update(objective={"metric": "val/agree/f1"})), "s")
    with pytest.raises(ConfigError, match=r"objective.metric: 'val/agree/f1' is not reported for this data; known: "):
        spec.check_dataset(make_synthetic(100).spec)


def test_heads_that_do_not_divide_the_hidden_size_are_refused_at_spec_time() -> None:
    data = _demo(
        lambda d: d["parameters"].update(
            heads={"type": "choice", "values": [2, 3], "when": {"fusion": ["cross_attention"]}}
        )
    )
    with pytest.raises(ConfigError, match=r"parameters.heads: value 3 does not fit: .*hidden_dim=32, heads=3"):
        parse_spec(data, "s")


def test_view_aggregation_is_searchable_and_needs_a_multi_view_modality() -> None:
    from sweeper.data import make_synthetic

    choice = {"type": "choice", "values": ["max", "attention"]}
    spec = parse_spec(_demo(lambda d: d["parameters"].update(view_aggregation=choice)), "s")
    assert spec.trial_config({**spec.default_point(), "view_aggregation": "attention"}).model.view_aggregation == (
        "attention"
    )
    with pytest.raises(ConfigError, match=r"^parameters.view_aggregation: applies to multi-view modalities, but none"):
        spec.check_dataset(make_synthetic(100).spec)  # image, tabular, signal: one view each


def test_an_unknown_data_source_names_the_data_sources() -> None:
    # The data section is a union tagged by `source`: its message is about sources, not parameter types.
    expected = r"^s: data.source: unknown data source 'bogus'; allowed: synthetic, manifest$"
    with pytest.raises(ConfigError, match=expected):
        parse_spec({**TINY, "data": {"source": "bogus"}}, "s")


@pytest.mark.parametrize("key", ["task_head", "head"])  # head: the YAML name from before the rename
def test_the_task_head_is_named_task_head_or_head(key: str) -> None:
    spec = parse_spec({**TINY, "model": {"hidden_dim": 8, key: "mlp"}}, "s")
    assert spec.trial_config(spec.default_point()).model.task_head == "mlp"
    searched = {**TINY["parameters"], key: {"type": "choice", "values": ["linear", "mlp"]}}
    spec = parse_spec({**TINY, "parameters": searched}, "s")
    assert spec.trial_config({**spec.default_point(), key: "mlp"}).model.task_head == "mlp"
