"""Stratified k-fold cross-validation over train+val, for confirming on small data; the test split is untouched.

Fold ``f`` of ``k`` trains on the other k-1 folds of train+val and validates on fold ``f``; over the k folds every
train+val sample is validated exactly once, so each seed yields out-of-fold predictions for all of them. The
partition depends on the seed (repeated cross-validation), and is the same for every fusion family with that seed,
so families are compared on the same folds.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from sweeper.data.dataset import MultimodalDataset
from sweeper.errors import DataError


def stratification_key(data: MultimodalDataset, folds: int) -> np.ndarray:
    """Per train+val sample, the label combination to stratify on: every task's label if each combination has at
    least ``folds`` samples, else the first task's labels alone."""
    pool = _pool(data)
    labels = np.stack([data.targets[t][pool].cpu().numpy() for t in data.spec.task_names], axis=1)  # (n, T)
    combined = np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)
    if np.bincount(combined).min() >= folds:
        return combined
    return labels[:, 0]


def check_folds(data: MultimodalDataset, folds: int) -> None:
    """Fail in one line when a class of the first task has fewer train+val samples than folds."""
    pool = _pool(data)
    task = data.spec.task_names[0]
    counts = np.bincount(data.targets[task][pool].cpu().numpy())
    present = counts[counts > 0]
    if len(present) and present.min() < folds:
        cls = int(np.flatnonzero(counts == present.min())[0])
        raise DataError(
            f"confirm.folds={folds}: class {cls} of task {task!r} has only {int(present.min())} train+val samples; "
            f"stratified folds need at least {folds} per class (lower confirm.folds)"
        )


def with_fold(data: MultimodalDataset, fold: int, folds: int, seed: int) -> MultimodalDataset:
    """A view of ``data`` whose train and val splits are fold ``fold`` of ``folds`` over train+val (test kept)."""
    from sklearn.model_selection import StratifiedKFold

    if not 0 <= fold < folds:
        raise DataError(f"fold must be in [0, {folds}), but got {fold=}")
    check_folds(data, folds)
    pool = _pool(data)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    train_pos, val_pos = list(splitter.split(np.zeros(len(pool)), stratification_key(data, folds)))[fold]
    splits = {
        "train": torch.sort(pool[torch.from_numpy(train_pos)]).values,
        "val": torch.sort(pool[torch.from_numpy(val_pos)]).values,
        "test": data.splits["test"],
    }
    return dataclasses.replace(data, splits=splits)


def _pool(data: MultimodalDataset) -> torch.Tensor:
    return torch.sort(torch.cat([data.splits["train"], data.splits["val"]]).cpu()).values  # (n_train + n_val,)
