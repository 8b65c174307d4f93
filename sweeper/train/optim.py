"""Optimiser, learning-rate schedule and the multi-task loss a TrainConfig asks for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from sweeper.data.dataset import DatasetSpec
from sweeper.errors import ConfigError
from sweeper.train.losses import LOSSES, MultiTaskLoss

if TYPE_CHECKING:
    from sweeper.train.config import TrainConfig


def build_loss(spec: DatasetSpec, config: TrainConfig) -> MultiTaskLoss:
    """One loss per task (``task_losses`` overrides ``loss``), combined with fixed or learned weights."""
    tasks = {t.name: t.num_classes for t in spec.tasks}
    for field_name, mapping in (("task_losses", config.task_losses), ("task_weights", config.task_weights)):
        for task in mapping:
            if task not in tasks:
                raise ConfigError(f"{field_name} names unknown task {task!r}; known: {', '.join(tasks)}")
    losses = {
        task: LOSSES.create(
            config.task_losses.get(task, config.loss),
            k,
            label_smoothing=config.label_smoothing,
            focal_gamma=config.focal_gamma,
            focal_alpha=config.focal_alpha,
            dynamic_alpha=config.dynamic_alpha,
        )
        for task, k in tasks.items()
    }
    return MultiTaskLoss(losses, config.task_weights, config.task_weighting)


def build_optimizer(params: list[nn.Parameter] | list[dict[str, Any]], config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over ``params``: parameters, or groups (``parameter_groups``) whose own ``lr`` overrides config.lr."""
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def parameter_groups(modules: Sequence[nn.Module], lr: float) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: first every parameter at ``lr``, then one group per learning-rate factor
    that a submodule asks for in its ``lr_factor`` attribute (a pretrained backbone fine-tuned at lr x 0.1, say).

    Parameters that do not learn (a frozen backbone's) are left out. The first group stays first even when empty,
    so ``param_groups[0]["lr"]`` is the base rate; a schedule scales every group's rate alike.
    """
    factors: dict[int, float] = {}  # id(parameter) -> the factor of the outermost module that sets one
    for module in modules:
        for sub in module.modules():
            factor = getattr(sub, "lr_factor", None)
            if isinstance(factor, (int, float)) and factor != 1.0:
                for p in sub.parameters():
                    factors.setdefault(id(p), float(factor))
    groups: dict[float, list[nn.Parameter]] = {1.0: []}
    seen: set[int] = set()
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                groups.setdefault(factors.get(id(p), 1.0), []).append(p)
    return [{"params": params, "lr": lr * factor, "lr_factor": factor} for factor, params in groups.items()]


def build_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch: constant, cosine to zero over max_epochs, or step decay; optional linear warm-up."""
    epochs = config.max_epochs - config.warmup_epochs
    if config.warmup_epochs < 0 or epochs < 1:
        raise ConfigError(
            f"warmup_epochs must be in [0, max_epochs), but got {config.warmup_epochs=} with {config.max_epochs=}"
        )
    main: torch.optim.lr_scheduler.LRScheduler
    if config.schedule == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    elif config.schedule == "step":
        main = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.lr_decay)
    else:
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if config.warmup_epochs == 0:
        return main
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=config.warmup_epochs)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[config.warmup_epochs])
