"""torchmetrics is imported without the optional packages it would import for nothing (train/_lean_torchmetrics.py),
and the metrics it computes are unchanged by that."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torchmetrics.functional.classification import multiclass_auroc

_PROBE = (
    "import sys\n"
    "import sweeper.train.metrics\n"
    "print(' '.join(m for m in ('scipy.signal', 'matplotlib') if m in sys.modules) or 'none')\n"
    "import torchmetrics.utilities.imports as flags\n"
    "print(bool(flags._SCIPY_AVAILABLE), bool(flags._MATPLOTLIB_AVAILABLE))\n"  # truthful again afterwards
    "import lightning_utilities.core.imports as imports\n"
    "print(imports.package_available('scipy'))\n"
)


@pytest.mark.slow
def test_a_trial_worker_imports_neither_scipy_signal_nor_matplotlib() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:3] == ["none", "True True", "True"]


def test_the_metrics_imported_lean_agree_with_a_hand_count() -> None:
    from sweeper.train.metrics import multiclass_accuracy, multiclass_f1_score

    target = torch.tensor([0, 1, 2, 2, 1, 0])
    probs = torch.tensor(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.3, 0.4, 0.3]]
    )
    assert float(multiclass_accuracy(probs, target, num_classes=3, average="micro")) == pytest.approx(4 / 6)
    # per class F1: class 0: P=1/2 R=1/2; class 1: P=2/3 R=1; class 2: P=1 R=1/2
    expected = (0.5 + 0.8 + 2 / 3) / 3
    assert float(multiclass_f1_score(probs, target, num_classes=3, average="macro")) == pytest.approx(expected)
    assert 0.5 < float(multiclass_auroc(probs, target, num_classes=3)) <= 1.0
