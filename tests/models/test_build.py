"""build_model, the heads and the registries as the rest of sweeper uses them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweeper.data.dataset import DatasetSpec, ModalitySpec, TaskSpec
from sweeper.errors import ConfigError, RegistryError
from sweeper.models import FUSIONS, HEADS, ModelConfig, build_model
from sweeper.models.fusion import CrossAttentionFusion

SPEC = DatasetSpec(
    modalities=(
        ModalitySpec("scan", "image", (1, 16, 16)),
        ModalitySpec("labs", "tabular", (8,)),
        ModalitySpec("eeg", "signal", (2, 64)),
    ),
    tasks=(TaskSpec("diagnosis", 3), TaskSpec("severity", 2)),
)


def _inputs(batch: int = 6) -> dict[str, torch.Tensor]:
    return {m.name: torch.randn(batch, *m.shape) for m in SPEC.modalities}


@pytest.mark.parametrize("head", HEADS.names())
@pytest.mark.parametrize(
    "fusion",
    [f for f in FUSIONS.names() if (FUSIONS.get(f).factory.max_modalities or 3) >= 3],  # type: ignore[attr-defined]
)
def test_build_model_gives_logits_per_task(fusion: str, head: str) -> None:
    torch.manual_seed(0)
    model = build_model(SPEC, ModelConfig(fusion=fusion, task_head=head, hidden_dim=16))
    out = model(_inputs())
    assert {k: tuple(v.shape) for k, v in out.items()} == {"diagnosis": (6, 3), "severity": (6, 2)}
    assert list(model.encoders) == ["scan", "labs", "eeg"]
    assert model.num_parameters() > model.fusion.num_parameters() > 0


def test_build_model_honours_heads_and_rank() -> None:
    model = build_model(SPEC, ModelConfig(fusion="cross_attention", heads=2, hidden_dim=16))
    assert isinstance(model.fusion, CrossAttentionFusion)
    attention_layers = [m for m in model.fusion.modules() if isinstance(m, nn.MultiheadAttention)]
    assert [layer.num_heads for layer in attention_layers] == [2]
    small, large = (build_model(SPEC, ModelConfig(fusion="low_rank", rank=r)).fusion.num_parameters() for r in (2, 8))
    assert large > small


def test_build_model_ignores_hyperparameters_that_do_not_apply() -> None:
    plain = build_model(SPEC, ModelConfig(fusion="concat")).num_parameters()
    assert build_model(SPEC, ModelConfig(fusion="concat", heads=8, rank=16)).num_parameters() == plain


def test_build_model_uses_the_configured_encoder() -> None:
    default = build_model(SPEC, ModelConfig()).encoders["labs"]
    assert type(default).__name__ == "MLPEncoder"
    spec = DatasetSpec((ModalitySpec("a", "tabular", (4,)), ModalitySpec("b", "tabular", (4,))), SPEC.tasks)
    with pytest.raises(RegistryError, match="unknown encoder 'transformer'"):
        build_model(spec, ModelConfig(encoders={"tabular": "transformer"}))


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(
        RegistryError, match=r"^unknown fusion 'gatd'; known: add, .*concat, .*gated, .*early, hybrid, late, only:scan"
    ):
        build_model(SPEC, ModelConfig(fusion="gatd"))
    with pytest.raises(RegistryError, match=r"^unknown head 'mpl'; known: linear, mlp"):
        build_model(SPEC, ModelConfig(task_head="mpl"))
    with pytest.raises(ConfigError, match=r"^encoders names unknown modalities or kinds \['imgae'\]; known: "):
        build_model(SPEC, ModelConfig(encoders={"imgae": "cnn2d"}))


def test_dropout_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^dropout must be in \[0, 1\), but got dropout=1.5$"):
        build_model(SPEC, ModelConfig(dropout=1.5))


def test_registering_a_name_twice_is_an_error() -> None:
    with pytest.raises(RegistryError, match="registered twice"):
        HEADS.register("linear", "a second linear head")(lambda input_dim, num_classes: nn.Identity())
    assert "concat" in FUSIONS
    with pytest.raises(RegistryError, match="fusion 'concat' is registered twice"):
        FUSIONS.register("concat", "again")(FUSIONS.get("concat").factory)


def test_model_trains_on_a_separable_problem() -> None:
    torch.manual_seed(0)
    model = build_model(SPEC, ModelConfig(fusion="gated", hidden_dim=16, dropout=0.0))
    inputs = _inputs(64)
    targets = {"diagnosis": (inputs["labs"][:, 0] > 0).long(), "severity": (inputs["labs"][:, 1] > 0).long()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        out = model(inputs)
        loss = torch.stack([nn.functional.cross_entropy(out[t], y) for t, y in targets.items()]).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
