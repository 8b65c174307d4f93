"""Early, late, hybrid and single-modality models: same contract as intermediate fusion."""

from __future__ import annotations

import pytest
import torch

from sweeper.data import make_synthetic
from sweeper.errors import RegistryError
from sweeper.models import FUSIONS, ModelConfig, build_model, known_fusions

DATA = make_synthetic(120, seed=1)
BATCH = next(DATA.batches("train", 16))
ARCHITECTURES = [name for name in known_fusions(DATA.spec) if name not in FUSIONS]  # strategies, only:<m>


def _build(fusion: str, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(DATA.spec, ModelConfig(fusion=fusion, hidden_dim=8, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("fusion", ARCHITECTURES)
def test_strategy_contract(fusion: str) -> None:
    model = _build(fusion)
    out = model(BATCH.inputs)
    assert {t: tuple(v.shape) for t, v in out.items()} == {"agree": (16, 2), "grade": (16, 3)}
    sum(o.sum() for o in out.values()).backward()  # type: ignore[union-attr]
    used = [fusion.removeprefix("only:")] if fusion.startswith("only:") else DATA.spec.modality_names
    for name, module in model.named_modules():
        params = list(module.parameters(recurse=False))
        owner = next((m for m in DATA.spec.modality_names if f".{m}" in f".{name}"), None)
        if owner and owner in used and params:
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params), f"no gradient in {name}"
    model.eval()
    with torch.no_grad():
        first, second = model(BATCH.inputs), model(BATCH.inputs)
    assert all(torch.equal(first[t], second[t]) and torch.isfinite(first[t]).all() for t in first)
    assert model.num_parameters() > 0


def test_single_modality_baseline_ignores_the_other_modalities() -> None:
    model = _build("only:tabular").eval()
    changed = dict(BATCH.inputs, image=torch.randn_like(BATCH.inputs["image"]))
    with torch.no_grad():
        assert torch.equal(model(BATCH.inputs)["grade"], model(changed)["grade"])


def test_late_fusion_is_the_mean_of_per_modality_logits() -> None:
    model = _build("late", dropout=0.0).eval()
    with torch.no_grad():
        logits = model(BATCH.inputs)["agree"]
        features = [enc(BATCH.inputs[m]) for m, enc in model.encoders.items()]
        each = [model.modality_heads[m]["agree"](z) for m, z in zip(model.encoders, features, strict=True)]
    assert torch.allclose(logits, torch.stack(each).mean(dim=0), atol=1e-6)


def test_modality_dropout_only_acts_in_training_and_keeps_one_modality() -> None:
    model = _build("late", modality_dropout=0.9, dropout=0.0)
    torch.manual_seed(3)
    _, keep = model.mixer([torch.ones(64, 8)] * 3)
    assert keep.sum(dim=1).min() >= 1 and keep.mean() < 0.5
    model.eval()
    _, keep = model.mixer([torch.ones(64, 8)] * 3)
    assert bool((keep == 1).all())


def test_modality_scales_are_learnable_per_channel() -> None:
    model = _build("concat", modality_scales=True)
    assert tuple(model.mixer.scales.shape) == (3, 8) and model.mixer.scales.requires_grad


def test_unknown_modality_in_a_baseline_lists_the_choices() -> None:
    with pytest.raises(
        RegistryError, match=r"unknown fusion 'only:eeg'; known: .*only:image, only:tabular, only:signal"
    ):
        _build("only:eeg")
    assert "early" in known_fusions() and "only:<modality>" in known_fusions()
