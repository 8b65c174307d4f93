"""Behaviour particular to single fusion families: attention weights, size limits, FiLM, sketches, scale."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.fusion import FUSIONS, FiLMFusion

BATCH, DIM = 7, 16


def _features(n: int, dim: int = 8, batch: int = BATCH) -> list[Tensor]:
    return [torch.randn(batch, dim) for _ in range(n)]


def test_new_fusions_list_their_hyperparameters() -> None:
    # What `sweeper list` shows, and what a search space's fusion_layers / heads / rank can reach.
    expected = {
        "add": {"fusion_layers": 1, "dropout": 0.0},
        "additive_attention": {},
        "bilinear": {"max_input_dim": 64, "fusion_layers": 1, "dropout": 0.0},
        "compact_bilinear": {"sketch_dim": 256, "fusion_layers": 1},
        "concat_mlp": {"fusion_layers": 1, "dropout": 0.0},
        "cross_modal_attention": {"heads": 4, "fusion_layers": 1, "dropout": 0.0},
        "film": {"conditioner": 0, "fusion_layers": 1, "dropout": 0.0},
        "hierarchical": {"fusion_layers": 1, "dropout": 0.0},
        "multiply": {"fusion_layers": 1, "dropout": 0.0},
        "self_attention": {"heads": 4, "dropout": 0.0},
        "tensor": {"max_fused_size": 200_000, "fusion_layers": 1},
        "transformer": {"heads": 4, "fusion_layers": 1, "dropout": 0.0},
    }
    assert {name: FUSIONS.get(name).hyperparameters for name in expected} == expected


# name -> the documented shape of ``attention`` for N modalities
ATTENTION_SHAPES = {
    "cross_attention": lambda n: (BATCH, 1, n),
    "cross_modal_attention": lambda n: (BATCH, n, n),
    "transformer": lambda n: (BATCH, n + 1, n + 1),
    "self_attention": lambda n: (BATCH, n, n),
    "additive_attention": lambda n: (BATCH, n),
}


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("name", sorted(ATTENTION_SHAPES))
def test_attention_weights_have_the_documented_shape_and_sum_to_one(name: str, n: int) -> None:
    torch.manual_seed(0)
    fusion = FUSIONS.create(name, [8] * n, DIM)
    assert fusion.attention is None
    fusion(_features(n))
    assert fusion.attention is not None and fusion.attention.shape == ATTENTION_SHAPES[name](n)
    torch.testing.assert_close(fusion.attention.sum(-1), torch.ones(fusion.attention.shape[:-1]))
    assert (fusion.attention >= 0).all()


@pytest.mark.parametrize("name", ["cross_modal_attention", "transformer", "self_attention"])
def test_attention_rows_sum_to_one_in_training_with_dropout(name: str) -> None:
    # These fusions put dropout on the residual branches, not on the weights they report.
    fusion = FUSIONS.create(name, [8, 8, 8], DIM, dropout=0.5).train()
    fusion(_features(3))
    assert fusion.attention is not None
    torch.testing.assert_close(fusion.attention.sum(-1), torch.ones(fusion.attention.shape[:-1]))


def test_cross_modal_attention_never_attends_to_itself() -> None:
    fusion = FUSIONS.create("cross_modal_attention", [8, 8, 8], DIM, fusion_layers=2)
    fusion(_features(3))
    assert fusion.attention is not None
    assert torch.equal(fusion.attention.diagonal(dim1=1, dim2=2), torch.zeros(BATCH, 3))


def test_tensor_refuses_an_oversized_fusion_and_says_what_to_do() -> None:
    with pytest.raises(ConfigError) as info:
        FUSIONS.create("tensor", [32, 32, 32, 32], 32)
    message = str(info.value)
    assert "\n" not in message
    for part in ("fusion 'tensor'", "1185921", "input_dims=[32, 32, 32, 32]", "max_fused_size=200000", "'low_rank'"):
        assert part in message, (part, message)
    assert "hidden_dim" in message


def test_tensor_limit_is_inclusive_and_configurable() -> None:
    assert FUSIONS.create("tensor", [4, 4, 4], DIM, max_fused_size=125).num_parameters() == 125 * DIM + DIM
    with pytest.raises(ConfigError, match=r"= 125 for input_dims=\[4, 4, 4\], above max_fused_size=124;"):
        FUSIONS.create("tensor", [4, 4, 4], DIM, max_fused_size=124)


def test_tensor_is_a_linear_map_of_the_full_outer_product() -> None:
    torch.manual_seed(0)
    fusion = FUSIONS.create("tensor", [3, 4, 2], DIM)
    x = [torch.randn(BATCH, d) for d in (3, 4, 2)]
    a, b, c = (torch.cat([t, torch.ones(BATCH, 1)], dim=-1) for t in x)
    outer = torch.einsum("bi,bj,bk->bijk", a, b, c).reshape(BATCH, -1)  # (B, 4 * 5 * 3)
    torch.testing.assert_close(fusion(x), fusion.linear(outer))


def test_bilinear_refuses_three_modalities_and_projects_wide_inputs() -> None:
    with pytest.raises(ConfigError, match=r"^fusion 'bilinear' needs exactly 2 modalities, but got 3$"):
        FUSIONS.create("bilinear", [8, 8, 8], DIM)
    fusion = FUSIONS.create("bilinear", [100, 8], DIM, max_input_dim=64)
    assert fusion.bilinear.weight.shape == (DIM, 64, 8)
    assert fusion([torch.randn(BATCH, 100), torch.randn(BATCH, 8)]).shape == (BATCH, DIM)


@pytest.mark.parametrize("conditioner", [3, -1])
def test_film_refuses_a_conditioner_out_of_range(conditioner: int) -> None:
    expected = (
        r"^fusion 'film' needs conditioner to name one of its modalities \(0, 1, 2\) or give its index 0\.\.2, "
        rf"but got conditioner={conditioner}$"
    )
    with pytest.raises(ConfigError, match=expected):
        FUSIONS.create("film", [8, 8, 8], DIM, conditioner=conditioner)


def test_film_starts_close_to_an_unmodulated_mean() -> None:
    torch.manual_seed(0)
    fusion = FUSIONS.create("film", [8, 12, 6], DIM, conditioner=1)
    assert isinstance(fusion, FiLMFusion)
    x = _features(1, 8) + _features(1, 12) + _features(1, 6)
    plain = torch.stack([fusion.projections[0](x[0]), fusion.projections[1](x[2])], dim=1).mean(dim=1)
    modulated = fusion(x)
    assert not torch.allclose(modulated, fusion.mlp(plain))  # the conditioner does act ...
    assert (modulated - fusion.mlp(plain)).abs().mean() < 0.2 * fusion.mlp(plain).abs().mean()  # ... gently


def test_compact_bilinear_is_reproducible_under_a_seed_and_keeps_its_sketches_in_the_state_dict() -> None:
    def build(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return FUSIONS.create("compact_bilinear", [8, 12, 6], DIM, sketch_dim=64).eval()

    x = [torch.randn(BATCH, d) for d in (8, 12, 6)]
    first, again, other = build(0), build(0), build(1)
    torch.testing.assert_close(first(x), again(x), rtol=0, atol=0)
    state = first.state_dict()
    assert {f"sketches.{m}.{b}" for m in range(3) for b in ("index", "sign")} <= set(state)
    assert not torch.equal(state["sketches.0.index"], other.state_dict()["sketches.0.index"])
    other.load_state_dict(state)
    torch.testing.assert_close(other(x), first(x), rtol=0, atol=0)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_multiply_product_neither_explodes_nor_vanishes_with_more_modalities(n: int) -> None:
    torch.manual_seed(0)
    fusion = FUSIONS.create("multiply", [32] * n, 32)
    seen: list[Tensor] = []
    fusion.mlp.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    with torch.no_grad():
        fusion(_features(n, 32, batch=512))
    std = seen[0].std().item()  # prod_m (1 + e_m) - 1, the input of the MLP
    assert 0.5 < std < 2, f"multiply product std {std:.3g} with {n} modalities"
