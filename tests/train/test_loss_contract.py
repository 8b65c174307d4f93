"""The contract every registered loss keeps, as the fusions and encoders keep theirs: a new loss is tested here with
no edits."""

from __future__ import annotations

import pytest
import torch

from sweeper.train import LOSSES

BATCH = 16


@pytest.mark.parametrize("classes", [2, 5])
@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_contract(name: str, classes: int) -> None:
    torch.manual_seed(0)
    loss = LOSSES.create(name, classes)
    target = torch.arange(BATCH) % classes
    logits = torch.randn(BATCH, classes, requires_grad=True)

    value = loss(logits, target)
    assert value.shape == () and torch.isfinite(value) and value.item() >= 0
    value.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0, "no gradient reaches the logits"
    assert torch.equal(loss(logits, target), loss(logits, target)), "a loss is a function of its inputs"

    right = torch.nn.functional.one_hot(target, classes).float() * 8.0  # confident and right
    wrong = torch.nn.functional.one_hot((target + 1) % classes, classes).float() * 8.0  # confident and wrong
    assert loss(right, target) < loss(wrong, target), "right predictions must cost less than wrong ones"
