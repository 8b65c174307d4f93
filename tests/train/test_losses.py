"""Losses: focal loss against its definition, dynamic alpha, uncertainty weighting."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from sweeper.errors import ConfigError
from sweeper.train import LOSSES, MultiTaskLoss


def test_focal_with_gamma_zero_and_no_alpha_is_cross_entropy() -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(32, 4), torch.randint(0, 4, (32,))
    focal = LOSSES.create("focal", 4, focal_gamma=0.0, focal_alpha=0.0, label_smoothing=0.1)
    assert focal(logits, target).item() == pytest.approx(F.cross_entropy(logits, target, label_smoothing=0.1).item())


def test_focal_down_weights_easy_examples() -> None:
    target = torch.tensor([0, 0])
    easy, hard = torch.tensor([[4.0, -4.0]]), torch.tensor([[0.2, 0.0]])
    focal = LOSSES.create("focal", 2, focal_gamma=2.0, focal_alpha=0.0)
    ce = LOSSES.create("cross_entropy", 2)
    ratio_easy = focal(easy, target[:1]) / ce(easy, target[:1])
    ratio_hard = focal(hard, target[:1]) / ce(hard, target[:1])
    assert ratio_easy < 0.01 < ratio_hard


def test_binary_alpha_weights_the_positive_class() -> None:
    logits = torch.zeros(2, 2)
    focal = LOSSES.create("focal", 2, focal_gamma=0.0, focal_alpha=0.75)
    positive, negative = focal(logits[:1], torch.tensor([1])), focal(logits[:1], torch.tensor([0]))
    assert positive.item() == pytest.approx(3 * negative.item())


def test_dynamic_alpha_up_weights_the_rare_class_of_the_batch() -> None:
    logits = torch.zeros(10, 2)
    target = torch.tensor([1] + [0] * 9)
    dynamic = LOSSES.create("focal", 2, focal_gamma=0.0, focal_alpha=0.0, dynamic_alpha=True)
    plain = LOSSES.create("focal", 2, focal_gamma=0.0, focal_alpha=0.0)
    # Counts (9, 1) -> inverse frequencies (1/9, 1) scaled to mean 1 over the classes: (0.2, 1.8); so the
    # batch's mean weight is (9 * 0.2 + 1 * 1.8) / 10 = 0.36 and each class contributes half of the loss.
    assert dynamic(logits, target).item() == pytest.approx(0.36 * plain(logits, target).item())
    grad_rare = torch.zeros(10, 2, requires_grad=True)
    dynamic(grad_rare, target).backward()
    assert grad_rare.grad[0].abs().sum() > 5 * grad_rare.grad[1].abs().sum()  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"focal_gamma": -1.0}, "focal_gamma must be >= 0"), ({"focal_alpha": 1.5}, "focal_alpha must be in [0, 1)")],
)
def test_bad_focal_settings_are_one_line(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        LOSSES.create("focal", 2, **kwargs)


def test_uncertainty_weighting_learns_to_down_weight_the_noisier_task() -> None:
    torch.manual_seed(0)
    losses = {"easy": LOSSES.create("cross_entropy", 2), "noisy": LOSSES.create("cross_entropy", 2)}
    criterion = MultiTaskLoss(losses, {}, "uncertainty")
    optimizer = torch.optim.SGD(criterion.parameters(), lr=0.1)
    target = torch.zeros(64, dtype=torch.long)
    logits = {"easy": torch.tensor([[3.0, -3.0]]).repeat(64, 1), "noisy": torch.zeros(64, 2)}
    for _ in range(200):
        optimizer.zero_grad()
        criterion(logits, {"easy": target, "noisy": target}).backward()
        optimizer.step()
    weights = criterion.task_weights()
    assert weights["easy"] > weights["noisy"]


def test_fixed_weights_scale_each_task() -> None:
    losses = {"a": LOSSES.create("cross_entropy", 2), "b": LOSSES.create("cross_entropy", 2)}
    logits = {"a": torch.zeros(4, 2), "b": torch.zeros(4, 2)}
    target = torch.zeros(4, dtype=torch.long)
    total = MultiTaskLoss(losses, {"b": 3.0}, "fixed")(logits, {"a": target, "b": target})
    assert total.item() == pytest.approx(4 * F.cross_entropy(logits["a"], target).item())
