"""The final model: one configuration trained on train + val, scored once on test. Pure PyTorch, like ``fit``.

Nothing is chosen here: the configuration and its epochs were chosen on validation by the sweep, so validation
rows can join the training rows, and the test split is reported as the model's held-out score.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from sweeper.data.dataset import MultimodalDataset
from sweeper.models import build_model
from sweeper.train.config import TrainConfig
from sweeper.train.loop import TrainState, fit


@dataclass
class FinalModel:
    model: nn.Module  # in eval mode, on the CPU
    test_metrics: dict[str, float]  # "test/<task>/<metric>" and test aggregates, from the last epoch
    train_losses: list[float]  # per epoch


def with_val_in_train(data: MultimodalDataset) -> MultimodalDataset:
    """``data`` whose training split also holds the validation rows (validation stays, for the loop's checks)."""
    train = torch.cat([data.splits["train"], data.splits["val"]]).sort().values
    return replace(data, splits={**data.splits, "train": train})


def train_final(config: TrainConfig, data: MultimodalDataset, device: str = "cpu") -> FinalModel:
    """Train ``config`` on train + val for ``config.max_epochs``; the model and its test metrics."""
    last: dict[str, TrainState] = {}
    losses: list[float] = []

    def keep(metrics: dict[str, float], state: TrainState) -> None:
        losses.append(metrics["train/loss"])
        last["model"] = state["model"]  # live tensors: after the last epoch they are the final weights

    metrics = fit(config, with_val_in_train(data).to(device), keep, device=device)
    model = build_model(data.spec, config.model)
    model.load_state_dict(last["model"])  # copies them (to the CPU)
    test = {k: v for k, v in metrics.items() if k.startswith("test/")}
    return FinalModel(model.eval(), test, losses)
