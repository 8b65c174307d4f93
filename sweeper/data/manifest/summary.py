"""``summary``: what ``sweeper data check`` prints about a dataset: rows, classes per split, modality shapes."""

from __future__ import annotations

from typing import Any

import torch

from sweeper.data.dataset import MultimodalDataset


def summary(dataset: MultimodalDataset) -> dict[str, Any]:
    """Plain JSON-ready facts about ``dataset``::

    {"rows": N, "splits": {split: rows},
     "tasks": {task: {class name: {split: rows}}},
     "modalities": {name: {"kind": kind, "shape": [per-sample shape], "vocab_size": V (text only),
                           "views": most views per sample (multi-view only)}}}

    Class names come from ``dataset.classes`` (class indices as strings when it has none).
    """
    splits = {split: len(index) for split, index in dataset.splits.items()}
    tasks: dict[str, dict[str, dict[str, int]]] = {}
    for task in dataset.spec.tasks:
        names = dataset.classes.get(task.name) or [str(i) for i in range(task.num_classes)]
        counts = {
            split: torch.bincount(dataset.targets[task.name][index].cpu(), minlength=task.num_classes).tolist()
            for split, index in dataset.splits.items()
        }
        tasks[task.name] = {name: {split: counts[split][i] for split in counts} for i, name in enumerate(names)}
    modalities: dict[str, dict[str, Any]] = {}
    for modality in dataset.spec.modalities:
        modalities[modality.name] = {"kind": modality.kind, "shape": list(modality.shape)}
        if modality.kind == "text":
            modalities[modality.name]["vocab_size"] = modality.vocab_size
        if modality.views:
            modalities[modality.name]["views"] = modality.views
    rows = len(next(iter(dataset.targets.values())))
    return {"rows": rows, "splits": splits, "tasks": tasks, "modalities": modalities}
