"""Datasets: the in-memory tensor dataset, the built-in synthetic scenarios and the word tokenizer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeper._lazy import lazy_exports

if TYPE_CHECKING:
    from sweeper.data.dataset import Batch, DatasetSpec, ModalitySpec, MultimodalDataset, TaskSpec
    from sweeper.data.synthetic import make_synthetic, scenario_names
    from sweeper.data.text import Tokenizer

__all__ = [
    "Batch",
    "DatasetSpec",
    "ModalitySpec",
    "MultimodalDataset",
    "TaskSpec",
    "Tokenizer",
    "make_synthetic",
    "scenario_names",
]
__getattr__, __dir__ = lazy_exports(__name__, __file__)
