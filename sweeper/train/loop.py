"""The training loop: pure PyTorch, no Ray and no MLflow.

``fit`` trains one multimodal multi-task model and hands every epoch's metrics and its resumable state to a
``report`` callable; the caller decides what to do with them (Ray Tune reports them and stores a checkpoint,
a test collects them). Given the state of an earlier epoch it continues from the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from sweeper.data.dataset import MultimodalDataset
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig, build_model
from sweeper.train.metrics import evaluate

TrainState = dict[str, Any]  # {"epoch", "model", "optimizer", "generator", "torch_rng"}: all a resume needs
Report = Callable[[dict[str, float], TrainState], None]


@dataclass
class TrainConfig:
    """Everything one trial trains with; the flat hyperparameters of a sweep map onto these fields."""

    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 3e-3  # AdamW learning rate
    weight_decay: float = 1e-4  # AdamW weight decay
    batch_size: int = 128  # samples per optimisation step
    max_epochs: int = 6  # the full budget; test metrics are computed after the last epoch
    label_smoothing: float = 0.0  # cross-entropy label smoothing, every task
    seed: int = 0  # model initialisation and batch order
    objective: str = "val/mean_macro_f1"  # the metric a sweep optimises (reported every epoch)


def fit(
    config: TrainConfig,
    data: MultimodalDataset,
    report: Report,
    *,
    resume: TrainState | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Train for ``config.max_epochs`` epochs (from ``resume['epoch'] + 1`` if given); return the last metrics."""
    if config.max_epochs < 1 or config.batch_size < 1:
        raise ConfigError(f"max_epochs and batch_size must be >= 1, but got {config.max_epochs=}, {config.batch_size=}")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    model = build_model(data.spec, config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    n_parameters = sum(p.numel() for p in model.parameters())
    first_epoch = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])
        torch.set_rng_state(resume["torch_rng"])  # dropout masks continue as if never interrupted
        first_epoch = resume["epoch"] + 1

    metrics: dict[str, float] = {}
    reporting_s = 0.0  # time spent inside report(): the caller's overhead, not training
    for epoch in range(first_epoch, config.max_epochs + 1):
        epoch_start = time.perf_counter()
        train_loss = _train_epoch(model, optimizer, data, config, generator)
        metrics = {"epoch": float(epoch), "train/loss": train_loss, "model/parameters": float(n_parameters)}
        metrics |= evaluate(model, data, "val", config.batch_size)
        if epoch == config.max_epochs:
            metrics |= evaluate(model, data, "test", config.batch_size)
        if config.objective not in metrics:
            known = ", ".join(k for k in metrics if k.startswith("val/"))
            raise ConfigError(f"unknown objective {config.objective!r}; known: {known}")
        now = time.perf_counter()
        metrics["time/epoch_s"] = now - epoch_start
        metrics["time/train_s"] = now - started - reporting_s  # cumulative time in this process, reports excluded
        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        report(metrics, state)
        reporting_s += time.perf_counter() - now
    return metrics


def _train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: MultimodalDataset,
    config: TrainConfig,
    generator: torch.Generator,
) -> float:
    model.train()
    total, seen = 0.0, 0
    for batch in data.batches("train", config.batch_size, shuffle=True, generator=generator):
        logits = model(batch.inputs)  # {task: (B, C)}
        loss = sum(
            F.cross_entropy(logits[t], y, label_smoothing=config.label_smoothing) for t, y in batch.targets.items()
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        optimizer.step()
        total += float(loss.detach()) * len(batch)  # type: ignore[union-attr]
        seen += len(batch)
    return total / seen
