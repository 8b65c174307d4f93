"""The pure PyTorch training loop (no Ray, no MLflow)."""

from sweeper.train.config import TrainConfig
from sweeper.train.loop import Report, TrainState, fit
from sweeper.train.losses import LOSSES, MultiTaskLoss
from sweeper.train.metrics import evaluate

__all__ = ["LOSSES", "MultiTaskLoss", "Report", "TrainConfig", "TrainState", "evaluate", "fit"]
