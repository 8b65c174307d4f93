"""Routing fusions: discrete routing in the forward pass, deterministic in evaluation, a penalty the training loss
really minimises, and where samples went reported."""

from __future__ import annotations

import pytest
import torch

from sweeper.data import make_synthetic
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig
from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion.routing import EnergyAwareFusion, MixtureOfExpertsFusion
from sweeper.train import TrainConfig, fit

DIMS = [8, 6, 4]


def _features(batch: int = 32) -> list[torch.Tensor]:
    return [torch.randn(batch, d) for d in DIMS]


def test_moe_routes_each_sample_to_top_k_experts_deterministically_in_eval() -> None:
    torch.manual_seed(0)
    moe = FUSIONS.create("moe", DIMS, 16, top_k=2)
    assert isinstance(moe, MixtureOfExpertsFusion)
    x = _features()
    moe.eval()
    with torch.no_grad():
        first, second = moe(x), moe(x)
    assert torch.equal(first, second)
    assert moe.routing is not None and moe.expected_compute is not None
    assert torch.equal(moe.routing.sum(dim=-1), torch.full((32,), 2.0))  # exactly top_k experts per sample
    assert torch.allclose(moe.expected_compute, torch.full((32,), 2 / 3))
    moe.train()
    out = moe(x)
    (out.square().mean() + moe.auxiliary_loss).backward()  # type: ignore[operator]
    assert moe.router.weight.grad is not None and moe.router.weight.grad.abs().sum() > 0  # straight-through
    with pytest.raises(ConfigError, match=r"fusion 'moe' needs top_k in 1\.\.3 \(its 3 modality experts\), but got"):
        FUSIONS.create("moe", DIMS, 16, top_k=4)


def test_energy_aware_keeps_the_cheapest_modality_and_charges_each_sample_its_compute() -> None:
    torch.manual_seed(0)
    fusion = FUSIONS.create("energy_aware", DIMS, 16, energy=0.5, modality_costs=[6.0, 3.0, 1.0])
    assert isinstance(fusion, EnergyAwareFusion)
    with torch.no_grad():
        fusion.gates.bias.copy_(torch.tensor([-9.0, 9.0, -9.0]))  # skip the costly one, keep the middle one
    fusion.eval()
    x = _features()
    with torch.no_grad():
        assert torch.equal(fusion(x), fusion(x))
    assert fusion.routing is not None and fusion.expected_compute is not None
    assert torch.equal(fusion.routing[:, 2], torch.ones(32))  # the cheapest is never skipped
    assert torch.equal(fusion.routing[:, 0], torch.zeros(32))
    assert torch.allclose(fusion.expected_compute, torch.full((32,), 0.4))  # (3 + 1) / 10
    assert fusion.auxiliary_loss is not None and float(fusion.auxiliary_loss) == pytest.approx(0.5 * 0.4)


def test_the_compute_penalty_is_part_of_the_training_loss() -> None:
    data = make_synthetic(400, seed=0)

    def compute(energy: float) -> float:
        model = ModelConfig(fusion="energy_aware", hidden_dim=8, fusion_options={"energy": energy})
        last = fit(TrainConfig(model=model, max_epochs=4, batch_size=64, lr=3e-2, seed=0), data, lambda m, s: None)
        assert {f"val/routing/{m}" for m in data.spec.modality_names} <= set(last)
        return last["val/routing/compute"]

    free, charged = compute(0.0), compute(20.0)
    assert charged < free - 0.2, (free, charged)  # a heavy price makes the model skip modalities
