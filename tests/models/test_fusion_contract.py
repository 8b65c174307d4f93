"""The contract every registered fusion keeps; a new fusion is tested here with no edits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweeper.data.dataset import DatasetSpec, ModalitySpec, TaskSpec
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig, build_model, known_fusions
from sweeper.models.fusion import FUSIONS, Fusion
from sweeper.models.views import VIEW_AGGREGATORS

BATCH, OUTPUT_DIM = 5, 16
INPUT_DIMS = [8, 12, 6, 10]  # distinct sizes, so a fusion that mixes up modalities fails on shapes


def _accepts(name: str, n: int) -> bool:
    fusion_class = FUSIONS.get(name).factory
    assert isinstance(fusion_class, type) and issubclass(fusion_class, Fusion)
    high = fusion_class.max_modalities
    return fusion_class.min_modalities <= n and (high is None or n <= high)


# Forms a hyperparameter switches to, beyond each fusion's defaults.
VARIANTS = [(name, {}) for name in FUSIONS.names()] + [("gated", {"gate": "sigmoid"})]


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=[f"{n}{o or ''}" for n, o in VARIANTS])
def test_fusion_contract(name: str, options: dict, n: int) -> None:
    if not _accepts(name, n):
        pytest.skip(f"{name} does not take {n} modalities")
    torch.manual_seed(0)
    dims = INPUT_DIMS[:n]
    fusion = FUSIONS.create(name, dims, OUTPUT_DIM, **options)
    features = [torch.randn(BATCH, d, requires_grad=True) for d in dims]

    out = fusion(features)
    assert out.shape == (BATCH, OUTPUT_DIM)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    for m, x in enumerate(features):
        assert x.grad is not None and x.grad.abs().sum() > 0, f"no gradient reaches modality {m}"
    assert fusion.attention is None or not fusion.attention.requires_grad, "attention weights must be detached"
    shares = fusion.modality_attention()  # what `val/attention/<modality>` is made of
    if shares is not None:
        assert shares.shape == (BATCH, n) and (shares >= 0).all()
        assert torch.allclose(shares.sum(dim=-1), torch.ones(BATCH), atol=1e-5), "shares over modalities sum to 1"

    fusion.eval()
    with torch.no_grad():
        assert torch.equal(fusion(features), fusion(features))
    assert fusion.num_parameters() > 0


@pytest.mark.parametrize("name", FUSIONS.names())
def test_fusion_refuses_too_few_or_too_many_modalities(name: str) -> None:
    with pytest.raises(ConfigError, match=f"fusion '{name}' needs"):
        FUSIONS.create(name, [8], OUTPUT_DIM)
    high = FUSIONS.get(name).factory.max_modalities  # type: ignore[attr-defined]
    if high is not None:
        with pytest.raises(ConfigError, match=f"but got {high + 1}"):
            FUSIONS.create(name, [8] * (high + 1), OUTPUT_DIM)


def test_fusion_count_message_names_the_allowed_count() -> None:
    class PairOnly(Fusion):
        name = "pair_only"
        max_modalities = 2

        def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
            return features[0]

    with pytest.raises(ConfigError, match=r"^fusion 'pair_only' needs exactly 2 modalities, but got 3$"):
        PairOnly([4, 4, 4], 4)


@pytest.mark.parametrize("name", FUSIONS.names())
def test_fusion_hyperparameters_are_keyword_only_with_defaults(name: str) -> None:
    entry = FUSIONS.get(name)
    assert entry.description
    fusion = FUSIONS.create(name, [8, 8], OUTPUT_DIM, **entry.hyperparameters)
    assert fusion.output_dim == OUTPUT_DIM


def test_cross_attention_honours_heads_and_stores_attention() -> None:
    torch.manual_seed(0)
    fusion = FUSIONS.create("cross_attention", [8, 8, 8], OUTPUT_DIM, heads=2, fusion_layers=2)
    attention_layers = [m for m in fusion.modules() if isinstance(m, nn.MultiheadAttention)]
    assert [layer.num_heads for layer in attention_layers] == [2, 2]
    fusion([torch.randn(BATCH, 8) for _ in range(3)])
    assert fusion.attention is not None and fusion.attention.shape == (BATCH, 1, 3)
    torch.testing.assert_close(fusion.attention.sum(-1), torch.ones(BATCH, 1))


def test_cross_attention_rejects_heads_that_do_not_divide_the_width() -> None:
    with pytest.raises(ConfigError, match=r"divisible by heads, but got output_dim=16, heads=3"):
        FUSIONS.create("cross_attention", [8, 8], OUTPUT_DIM, heads=3)


def test_low_rank_parameter_count_grows_with_rank() -> None:
    counts = [FUSIONS.create("low_rank", [8, 8], OUTPUT_DIM, rank=r).num_parameters() for r in (2, 4)]
    # each extra rank adds one (D_m + 1, D_out) factor slice per modality and one rank weight
    assert counts[1] - counts[0] == 2 * (2 * 9 * OUTPUT_DIM + 1)


def test_low_rank_output_scale_does_not_explode_or_vanish_with_more_modalities() -> None:
    torch.manual_seed(0)
    for n in (2, 3, 4):
        fusion = FUSIONS.create("low_rank", [32] * n, 32)
        with torch.no_grad():
            std = fusion([torch.randn(512, 32) for _ in range(n)]).std().item()
        assert 0.1 < std < 10, f"low_rank output std {std:.3g} with {n} modalities"


@pytest.mark.parametrize("name", [e.name for e in FUSIONS if "fusion_layers" in e.hyperparameters])
def test_fusion_layers_must_be_positive(name: str) -> None:
    with pytest.raises(ConfigError, match=r"fusion_layers must be an integer >= 1, but got fusion_layers=0"):
        FUSIONS.create(name, [8, 8], OUTPUT_DIM, fusion_layers=0)


@pytest.mark.parametrize("name", FUSIONS.names())
def test_fusion_trains_at_sweep_size_with_the_sweep_hyperparameters(name: str) -> None:
    # What build_model passes in a sweep (hidden_dim 32, batch 128): every shared hyperparameter, applicable or not.
    torch.manual_seed(0)
    n = 3 if _accepts(name, 3) else 2
    fusion = FUSIONS.create(name, [32] * n, 32, fusion_layers=2, heads=2, rank=4, dropout=0.1)
    features = [torch.randn(128, 32, requires_grad=True) for _ in range(n)]
    out = fusion(features)
    assert out.shape == (128, 32) and torch.isfinite(out).all()
    out.square().mean().backward()
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in features)


@pytest.mark.parametrize("name", [e.name for e in FUSIONS if "fusion_layers" in e.hyperparameters])
def test_fusion_layers_add_parameters(name: str) -> None:
    shallow, deep = (FUSIONS.create(name, [8, 8], OUTPUT_DIM, fusion_layers=k).num_parameters() for k in (1, 2))
    assert deep > shallow, f"{name} lists fusion_layers but ignores it"


@pytest.mark.parametrize("name", [e.name for e in FUSIONS if "heads" in e.hyperparameters])
def test_attention_fusions_honour_heads(name: str) -> None:
    fusion = FUSIONS.create(name, [8, 8], OUTPUT_DIM, heads=2)
    attention_layers = [m for m in fusion.modules() if isinstance(m, nn.MultiheadAttention)]
    assert attention_layers and all(layer.num_heads == 2 for layer in attention_layers)
    with pytest.raises(
        ConfigError, match=rf"^fusion '{name}' needs output_dim divisible by heads, but got output_dim=16, heads=3$"
    ):
        FUSIONS.create(name, [8, 8], OUTPUT_DIM, heads=3)


@pytest.mark.parametrize("name", FUSIONS.names())
def test_fusion_runs_under_bf16_autocast(name: str) -> None:
    # train.precision = "bf16" wraps the whole model in autocast; features then arrive in bfloat16.
    torch.manual_seed(0)
    fusion = FUSIONS.create(name, [8, 8], OUTPUT_DIM)
    features = [torch.randn(BATCH, 8).bfloat16().requires_grad_() for _ in range(2)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fusion(features)
    out.float().square().sum().backward()
    assert out.shape == (BATCH, OUTPUT_DIM) and torch.isfinite(out.float()).all()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in features)


# A model with a multi-view modality keeps the model contract {modality: tensor} -> {task: logits}: the views of
# `lesion` (up to 3 per sample, padded with NaN) go through one shared encoder and a view aggregator.
MULTI_VIEW_SPEC = DatasetSpec(
    modalities=(ModalitySpec("lesion", "image", (1, 8, 8), views=3), ModalitySpec("history", "tabular", (5,))),
    tasks=(TaskSpec("malignant", 2), TaskSpec("stage", 3)),
)
# Every fusion and strategy, and only:lesion (only:history never reads the multi-view modality).
MODELS = [name for name in known_fusions(MULTI_VIEW_SPEC) if name != "only:history"]


def _multi_view_inputs(counts: list[int], views: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    lesion = torch.randn(len(counts), views, 1, 8, 8)
    padded = torch.arange(views)[None] >= torch.tensor(counts)[:, None]  # (B, V)
    lesion[padded] = float("nan")
    return {"lesion": lesion.requires_grad_(), "history": torch.randn(len(counts), 5)}


@pytest.mark.parametrize("fusion", MODELS)
def test_model_with_a_multi_view_modality_keeps_the_model_contract(fusion: str) -> None:
    aggregation = VIEW_AGGREGATORS.names()[MODELS.index(fusion) % len(VIEW_AGGREGATORS.names())]  # each one in turn
    torch.manual_seed(0)
    model = build_model(MULTI_VIEW_SPEC, ModelConfig(fusion=fusion, hidden_dim=8, view_aggregation=aggregation))
    counts = [1, 3, 2, 1, 3, 2]
    inputs = _multi_view_inputs(counts)

    out = model(inputs)
    assert {t: tuple(v.shape) for t, v in out.items()} == {"malignant": (6, 2), "stage": (6, 3)}
    assert all(torch.isfinite(v).all() for v in out.values()), "NaN padding leaked into the logits"
    sum(v.square().sum() for v in out.values()).backward()  # type: ignore[union-attr]
    grad = inputs["lesion"].grad
    assert grad is not None and torch.isfinite(grad).all()
    per_view = grad.abs().flatten(2).sum(dim=2)  # (B, V)
    real = torch.arange(3)[None] < torch.tensor(counts)[:, None]
    assert (per_view[real] > 0).all(), "a real view gets no gradient"
    assert (per_view[~real] == 0).all(), "a padded view gets a gradient"

    model.eval()
    with torch.no_grad():
        first = model(inputs)
        assert all(torch.equal(first[t], v) for t, v in model(inputs).items()), "not deterministic in eval mode"
        more = {**inputs, "lesion": torch.cat([inputs["lesion"], torch.full((6, 2, 1, 8, 8), float("nan"))], dim=1)}
        for task, logits in model(more).items():  # two more padded views per sample change nothing
            torch.testing.assert_close(logits, first[task], rtol=1e-5, atol=1e-6)
