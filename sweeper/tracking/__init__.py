"""Trackers fed by the driver as trial results arrive: Parquet (the source of truth) and MLflow."""

from sweeper.sweep_folder import default_tracking_uri
from sweeper.tracking._base import SweepCallback, TrialRecord, TrialStatus
from sweeper.tracking.mlflow_tracker import MlflowTracker
from sweeper.tracking.parquet import ParquetResults, read_epochs, read_trials

__all__ = [
    "MlflowTracker",
    "ParquetResults",
    "SweepCallback",
    "TrialRecord",
    "TrialStatus",
    "default_tracking_uri",
    "read_epochs",
    "read_trials",
]
