"""The YAML search space as an Optuna define-by-run function: conditions, fixed values, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import optuna
import pytest

from sweeper.spec import SweepSpec, load_spec, parse_spec
from sweeper.tune.space import define_by_run, sample_configs

DEMO = Path(__file__).resolve().parents[2] / "search_spaces" / "demo.yaml"
N_SAMPLES = 60


def _spec(parameters: dict[str, Any]) -> SweepSpec:
    return parse_spec({"name": "space-test", "parameters": parameters}, "space-test.yaml")


def _study(seed: int = 0) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))


@pytest.fixture(scope="module")
def demo_spec() -> SweepSpec:
    return load_spec(DEMO)


@pytest.fixture(scope="module")
def demo_configs(demo_spec: SweepSpec) -> list[dict[str, Any]]:
    return sample_configs(demo_spec, N_SAMPLES, seed=0)


def test_demo_samples_every_fusion(demo_configs: list[dict[str, Any]]) -> None:
    # otherwise the conditional checks below could pass without exercising a condition
    assert len(demo_configs) == N_SAMPLES
    assert {c["fusion"] for c in demo_configs} == {"concat", "gated", "cross_attention", "low_rank"}


def test_heads_only_for_cross_attention(demo_configs: list[dict[str, Any]]) -> None:
    for config in demo_configs:
        assert ("heads" in config) == (config["fusion"] == "cross_attention"), config
        if "heads" in config:
            assert config["heads"] in (1, 2, 4), config


def test_rank_only_for_low_rank(demo_configs: list[dict[str, Any]]) -> None:
    for config in demo_configs:
        assert ("rank" in config) == (config["fusion"] == "low_rank"), config
        if "rank" in config:
            assert isinstance(config["rank"], int) and 2 <= config["rank"] <= 16, config


def test_unconditional_params_within_their_ranges(demo_configs: list[dict[str, Any]]) -> None:
    for config in demo_configs:
        assert set(config) - {"heads", "rank"} == {"fusion", "fusion_layers", "lr"}, config
        assert 1e-3 <= config["lr"] <= 1e-2, config
        assert config["fusion_layers"] in (1, 2), config
    assert len({c["lr"] for c in demo_configs}) > N_SAMPLES // 2  # actually sampled, not a constant


def test_every_sampled_config_makes_a_trial_config(demo_spec: SweepSpec, demo_configs: list[dict[str, Any]]) -> None:
    for config in demo_configs:
        trial = demo_spec.trial_config(config)
        assert trial.model.fusion == config["fusion"]
        assert trial.model.heads == config.get("heads")
        assert trial.model.rank == config.get("rank")


def test_fixed_params_are_returned_not_sampled() -> None:
    spec = _spec(
        {
            "fusion": {"type": "choice", "values": ["concat", "cross_attention"]},
            "hidden_dim": 16,
            "dropout": {"type": "fixed", "value": 0.25},
            "heads": {"type": "fixed", "value": 2, "when": {"fusion": "cross_attention"}},
        }
    )
    sample = define_by_run(spec)
    study = _study()
    seen = set()
    for _ in range(20):
        trial = study.ask()
        fixed = sample(trial)
        fusion = trial.params["fusion"]
        seen.add(fusion)
        expected = {"hidden_dim": 16, "dropout": 0.25} | ({"heads": 2} if fusion == "cross_attention" else {})
        assert fixed == expected
        assert set(trial.params) == {"fusion"}
        study.tell(trial, 0.0)
    assert seen == {"concat", "cross_attention"}
    for config in sample_configs(spec, 10):
        assert config["hidden_dim"] == 16 and config["dropout"] == 0.25


def test_condition_on_a_fixed_param_holds() -> None:
    spec = _spec(
        {
            "fusion": "low_rank",
            "rank": {"type": "int", "low": 2, "high": 8, "when": {"fusion": "low_rank"}},
            "heads": {"type": "choice", "values": [1, 2], "when": {"fusion": "cross_attention"}},
        }
    )
    for config in sample_configs(spec, 10):
        assert config["fusion"] == "low_rank"
        assert 2 <= config["rank"] <= 8
        assert "heads" not in config


def test_nested_condition() -> None:
    spec = _spec(
        {
            "fusion": {"type": "choice", "values": ["concat", "cross_attention"]},
            "heads": {"type": "choice", "values": [1, 4], "when": {"fusion": ["cross_attention"]}},
            "dropout": {"type": "float", "low": 0.0, "high": 0.3, "when": {"heads": [4]}},
        }
    )
    configs = sample_configs(spec, N_SAMPLES, seed=1)
    for config in configs:
        assert ("dropout" in config) == (config["fusion"] == "cross_attention" and config.get("heads") == 4), config
    kinds = {(c["fusion"], c.get("heads"), "dropout" in c) for c in configs}
    assert kinds == {("concat", None, False), ("cross_attention", 1, False), ("cross_attention", 4, True)}


def test_define_by_run_survives_pickling(demo_spec: SweepSpec) -> None:
    sample = define_by_run(demo_spec)
    restored = pickle.loads(pickle.dumps(sample))
    original_study, restored_study = _study(seed=5), _study(seed=5)
    for _ in range(10):
        a, b = original_study.ask(), restored_study.ask()
        assert sample(a) == restored(b)
        assert a.params == b.params
        original_study.tell(a, 0.0)
        restored_study.tell(b, 0.0)


def test_optuna_records_no_distribution_for_an_inactive_param(demo_spec: SweepSpec) -> None:
    sample = define_by_run(demo_spec)
    study = _study()
    for fusion in ("concat", "cross_attention"):
        study.enqueue_trial({"fusion": fusion})
        trial = study.ask()
        sample(trial)
        study.tell(trial, 0.0)
    concat, attention = study.trials
    assert concat.params["fusion"] == "concat"
    assert "heads" not in concat.distributions and "rank" not in concat.distributions
    assert set(concat.distributions) == {"fusion", "fusion_layers", "lr"}
    assert attention.distributions["heads"] == optuna.distributions.CategoricalDistribution([1, 2, 4])
