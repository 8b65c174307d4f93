"""Per-task evaluation with torchmetrics: loss, accuracy, macro-F1 and AUROC on a whole split."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_f1_score,
)

from sweeper.data.dataset import MultimodalDataset

TASK_METRICS = ("loss", "acc", "macro_f1", "auroc")


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: MultimodalDataset, split: str, batch_size: int) -> dict[str, float]:
    """``{f"{split}/{task}/{metric}"}`` for every task, plus the means over tasks and the summed loss."""
    model.eval()
    logits: dict[str, list[torch.Tensor]] = {t: [] for t in data.spec.task_names}
    for batch in data.batches(split, batch_size):
        for task, out in model(batch.inputs).items():
            logits[task].append(out.float())
    targets = {t: data.targets[t][data.splits[split]] for t in data.spec.task_names}

    metrics: dict[str, float] = {}
    for task in data.spec.tasks:
        z = torch.cat(logits[task.name])  # (n, C)
        y = targets[task.name]  # (n,)
        k = task.num_classes
        prefix = f"{split}/{task.name}"
        metrics[f"{prefix}/loss"] = F.cross_entropy(z, y).item()
        metrics[f"{prefix}/acc"] = multiclass_accuracy(z, y, num_classes=k, average="micro").item()
        metrics[f"{prefix}/macro_f1"] = multiclass_f1_score(z, y, num_classes=k, average="macro").item()
        metrics[f"{prefix}/auroc"] = multiclass_auroc(z.softmax(-1), y, num_classes=k, average="macro").item()
    names = data.spec.task_names
    for metric in TASK_METRICS[1:]:
        metrics[f"{split}/mean_{metric}"] = sum(metrics[f"{split}/{t}/{metric}"] for t in names) / len(names)
    metrics[f"{split}/loss"] = sum(metrics[f"{split}/{t}/loss"] for t in names)
    return metrics
