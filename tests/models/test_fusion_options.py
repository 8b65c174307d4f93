"""Fusion hyperparameters users know from the reference systems: reachable from YAML, named as they name them."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sweeper.catalog import catalog
from sweeper.data import make_synthetic
from sweeper.errors import ConfigError
from sweeper.models import build_model
from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion.film import FiLMFusion
from sweeper.models.fusion.gated import GatedFusion
from sweeper.models.fusion.transformer import TransformerFusion
from sweeper.spec import parse_spec
from sweeper.testing import TINY


def _spec(**changes: Any) -> Any:
    return parse_spec({**TINY, **changes}, "options")


def test_transformer_concat_is_the_transformer_fusion() -> None:
    assert isinstance(FUSIONS.create("transformer_concat", [8, 8], 8), TransformerFusion)
    spec = _spec(parameters={"fusion": {"type": "choice", "values": ["concat", "transformer_concat"]}})
    assert spec.fusions() == ["concat", "transformer"]
    (row,) = [r for r in catalog()["fusions"] if r["name"] == "transformer"]
    assert "transformer_concat" in row["description"]


def test_film_conditioner_is_chosen_by_modality_name() -> None:
    film = FUSIONS.create("film", [8, 8, 8], 8, conditioner="b", modality_names=["a", "b", "c"])
    assert isinstance(film, FiLMFusion) and film.conditioner == 1 and film.modulated == [0, 2]
    with pytest.raises(ConfigError, match=r"conditioner to name one of its modalities \(a, b\).*got conditioner='z'"):
        FUSIONS.create("film", [8, 8], 8, conditioner="z", modality_names=["a", "b"])


def test_film_conditioner_from_yaml_reaches_the_model_and_a_wrong_name_fails_before_the_sweep() -> None:
    data = make_synthetic(60, seed=0)
    last = data.spec.modality_names[-1]
    spec = _spec(model={"fusion": "film", "conditioner": last}, parameters={"lr": 0.01})
    spec.check_dataset(data.spec)
    model = build_model(data.spec, spec.trial_config(spec.default_point()).model)
    assert model.fusion.conditioner == len(data.spec.modality_names) - 1  # type: ignore[union-attr]
    wrong = _spec(model={"fusion": "film", "conditioner": "nope"}, parameters={"lr": 0.01})
    with pytest.raises(ConfigError, match="got conditioner='nope'"):
        wrong.check_dataset(data.spec)


def test_gated_offers_the_reference_sigmoid_gate_on_the_concatenation() -> None:
    torch.manual_seed(0)
    sigmoid = FUSIONS.create("gated", [8, 4], 6, gate="sigmoid")
    assert isinstance(sigmoid, GatedFusion)
    x = [torch.randn(3, 8), torch.randn(3, 4)]
    concat = torch.cat(x, dim=-1)
    expected = sigmoid.mlp(torch.sigmoid(sigmoid.gate(concat)) * concat)
    assert torch.allclose(sigmoid(x), expected)
    assert sigmoid.num_parameters() == (12 * 12 + 12) + (12 * 6 + 6)
    with pytest.raises(ConfigError, match="needs gate in softmax, sigmoid, but got gate='tanh'"):
        FUSIONS.create("gated", [8, 4], 6, gate="tanh")


def test_every_fusion_hyperparameter_is_reachable_and_searchable_from_yaml() -> None:
    spec = _spec(
        parameters={
            "fusion": {"type": "choice", "values": ["compact_bilinear", "bilinear", "gated"]},
            "sketch_dim": {"type": "choice", "values": [32, 64], "when": {"fusion": ["compact_bilinear"]}},
            "gate": {"type": "choice", "values": ["softmax", "sigmoid"], "when": {"fusion": ["gated"]}},
        },
        model={"max_input_dim": 16},
    )
    config = spec.trial_config({"fusion": "compact_bilinear", "sketch_dim": 64})
    assert config.model.fusion_options == {"max_input_dim": 16, "sketch_dim": 64}
    data = make_synthetic(60, seed=0)
    assert build_model(data.spec, config.model).fusion.sketch_dim == 64  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"parameters": {"fusion": "concat", "sketch_dim": {"type": "choice", "values": [32, 64]}}},
            "parameters.sketch_dim: applies to fusion compact_bilinear, which this space never builds; its fusions: "
            "concat",
        ),
        (
            {"model": {"conditioner": "note"}, "parameters": {"lr": 0.01}},
            "model.conditioner: applies to fusion film, which this space never builds; its fusions: concat",
        ),
    ],
)
def test_a_fusion_option_no_fusion_of_the_space_takes_is_one_line(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _spec(**changes)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
