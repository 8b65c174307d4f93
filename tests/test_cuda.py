"""The GPU path: data resident on the device, no host sync per training batch, bf16 autocast, and fractional GPUs
packing several trials on one device. These run where torch sees a CUDA GPU and are skipped elsewhere (CI has none).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from sweeper.data import make_synthetic
from sweeper.models import ModelConfig, build_model
from sweeper.testing import NO_CONFIRM, tiny_spec
from sweeper.train import TrainConfig, fit
from sweeper.train.loop import _train_epoch
from sweeper.train.optim import build_loss, build_optimizer

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)"),
]


def _config(precision: str = "fp32") -> TrainConfig:
    model = ModelConfig(fusion="cross_attention", hidden_dim=16)
    return TrainConfig(model=model, max_epochs=2, batch_size=64, lr=1e-2, precision=precision)  # type: ignore[arg-type]


def _syncs_in_one_epoch(batch_size: int) -> int:
    """How many times one training epoch made the host wait for the GPU (CUDA's sync debug mode warns each time)."""
    import warnings

    data = make_synthetic(512, seed=0).to("cuda")
    config = TrainConfig(**{**_config().__dict__, "batch_size": batch_size})
    model = build_model(data.spec, config.model).to("cuda")
    criterion = build_loss(data.spec, config).to("cuda")
    optimizer = build_optimizer([*model.parameters(), *criterion.parameters()], config)
    generator = torch.Generator().manual_seed(0)
    _train_epoch(model, criterion, optimizer, data, config, generator)  # warm-up: lazy CUDA initialisation
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _train_epoch(model, criterion, optimizer, data, config, generator)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def test_a_training_epoch_waits_for_the_gpu_once_not_once_per_batch() -> None:
    eight, sixteen = _syncs_in_one_epoch(64), _syncs_in_one_epoch(32)  # 8 and 16 batches
    assert eight == sixteen <= 2  # the loss read at the end (and at most the shuffled index's copy)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fit_on_the_gpu_keeps_the_data_resident_and_learns(precision: str) -> None:
    data = make_synthetic(600, seed=0).to("cuda")
    assert all(t.is_cuda for t in [*data.inputs.values(), *data.targets.values(), *data.splits.values()])
    metrics: list[dict[str, float]] = []
    last = fit(_config(precision), data, lambda m, _state: metrics.append(m), device="cuda")
    assert len(metrics) == 2 and torch.isfinite(torch.tensor(last["train/loss"]))
    assert metrics[-1]["train/loss"] < metrics[0]["train/loss"] * 1.5  # trained, did not blow up


def test_fractional_gpus_pack_trials_on_one_device(ray_session: None, tmp_path: Path) -> None:
    from sweeper.tracking import read_trials
    from sweeper.tune import run_sweep

    spec = tiny_spec(
        resources={"cpu": 0.25, "gpu": 0.25},
        budget={"num_samples": 4, "max_epochs": 3, "grace_period": 3, "max_concurrent": 4},
        confirm=NO_CONFIRM,
    )
    run_sweep(spec, tmp_path / "packed", quiet=True)
    trials = read_trials(tmp_path / "packed").to_pylist()
    assert len(trials) == 4 and all(t["device"] == "cuda" for t in trials)
    spans = sorted((t["started_at"], t["ended_at"]) for t in trials)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))  # ran side by side
