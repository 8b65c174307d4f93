"""Per-task evaluation with torchmetrics: loss, accuracy, macro-F1 and AUROC on a whole split."""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from sweeper.data.dataset import MultimodalDataset
from sweeper.train._lean_torchmetrics import lean_import

with lean_import():  # without scipy.signal and matplotlib: 1.5 s less per trial worker (see that module)
    from torchmetrics.functional.classification import (
        multiclass_accuracy,
        multiclass_auroc,
        multiclass_f1_score,
    )

TASK_METRICS = ("loss", "acc", "macro_f1", "auroc")


# One split's per-sample outputs: the sample indices (n,), and per task the labels (n,) and probabilities (n, C).
SplitOutputs = dict[str, Any]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    data: MultimodalDataset,
    split: str,
    batch_size: int,
    outputs: dict[str, SplitOutputs] | None = None,
) -> dict[str, float]:
    """``{f"{split}/{task}/{metric}"}`` for every task, plus the means over tasks and the summed loss.

    Also ``time/infer_ms`` (milliseconds per batch of forward passes) and ``time/infer_us_per_sample``; for an
    attention fusion, ``{split}/attention/{modality}``, the mean attention each modality received; for a routing
    fusion, ``{split}/routing/{modality}`` (the fraction of samples routed to it) and ``{split}/routing/compute``
    (the mean share of the compute a sample used). When
    ``outputs`` is given, the split's per-sample probabilities are stored in it under ``split``: what a paired
    bootstrap over samples needs.
    """
    model.eval()
    logits: dict[str, list[torch.Tensor]] = {t: [] for t in data.spec.task_names}
    started, n_batches = time.perf_counter(), 0
    fusion = getattr(model, "fusion", None)
    attended = getattr(fusion, "modality_attention", lambda: None)
    attention: torch.Tensor | None = None  # (N,) summed over samples
    routing: torch.Tensor | None = None  # (N + 1,): samples routed to each modality, then compute, summed
    for batch in data.batches(split, batch_size):
        for task, out in model(batch.inputs).items():
            logits[task].append(out.float())
        n_batches += 1
        if (weights := attended()) is not None:
            attention = weights.float().sum(dim=0) + (0 if attention is None else attention)
        if (routed := getattr(fusion, "routing", None)) is not None:  # a routing fusion: where samples went
            compute = getattr(fusion, "expected_compute").float().sum().reshape(1)  # noqa: B009
            routing = torch.cat([routed.float().sum(dim=0), compute]) + (0 if routing is None else routing)
    if torch.device(data.splits[split].device).type == "cuda":
        torch.cuda.synchronize()  # CUDA runs ahead of Python: the forward passes may not have finished yet
    elapsed_ms = (time.perf_counter() - started) * 1000
    infer_ms = elapsed_ms / max(n_batches, 1)
    targets = {t: data.targets[t][data.splits[split]] for t in data.spec.task_names}
    if outputs is not None:
        outputs[split] = {
            "index": data.splits[split].cpu(),
            "labels": {t: y.cpu() for t, y in targets.items()},
            "probs": {t: torch.cat(z).softmax(-1).cpu() for t, z in logits.items()},
        }

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
    if attention is not None:  # the mean attention each modality received over the split
        shares = (attention / len(data.splits[split])).tolist()
        metrics |= {f"{split}/attention/{m}": w for m, w in zip(data.spec.modality_names, shares, strict=True)}
    if routing is not None:  # the fraction of samples routed to each modality, and the mean compute per sample
        means = (routing / len(data.splits[split])).tolist()
        metrics |= {f"{split}/routing/{m}": f for m, f in zip(data.spec.modality_names, means, strict=False)}
        metrics[f"{split}/routing/compute"] = means[-1]
    metrics["time/infer_ms"] = infer_ms
    metrics["time/infer_us_per_sample"] = elapsed_ms * 1000 / max(len(data.splits[split]), 1)
    return metrics
