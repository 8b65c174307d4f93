"""Datasets: the in-memory tensor dataset and the built-in synthetic generator."""

from sweeper.data.dataset import Batch, DatasetSpec, ModalitySpec, MultimodalDataset, TaskSpec
from sweeper.data.synthetic import make_synthetic

__all__ = ["Batch", "DatasetSpec", "ModalitySpec", "MultimodalDataset", "TaskSpec", "make_synthetic"]
