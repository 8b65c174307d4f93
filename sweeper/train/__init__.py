"""The pure PyTorch training loop (no Ray, no MLflow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeper._lazy import lazy_exports

if TYPE_CHECKING:
    from sweeper.train.config import TrainConfig
    from sweeper.train.loop import Report, TrainState, fit
    from sweeper.train.losses import LOSSES, MultiTaskLoss
    from sweeper.train.metrics import evaluate

__all__ = ["LOSSES", "MultiTaskLoss", "Report", "TrainConfig", "TrainState", "evaluate", "fit"]
__getattr__, __dir__ = lazy_exports(__name__, __file__)
