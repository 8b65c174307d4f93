"""Per-task losses, registered by the name used in YAML (``loss: focal``), and their multi-task combination.

Every loss is built as ``LOSSES.create(name, num_classes, **hyperparameters)`` and called as
``loss(logits (B, C), target (B,)) -> scalar``. ``MultiTaskLoss`` sums the tasks' losses with fixed weights, or
learns them by homoscedastic uncertainty (Kendall, Gal and Cipolla, 2018).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.layers import NameDict
from sweeper.registry import Registry

LOSSES: Registry[nn.Module] = Registry("loss")


@LOSSES.register("cross_entropy", "cross-entropy with optional label smoothing")
class CrossEntropyLoss(nn.Module):
    def __init__(self, num_classes: int, *, label_smoothing: float = 0.0) -> None:
        super().__init__()
        _check_smoothing(label_smoothing)
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)


@LOSSES.register("focal", "focal loss (Lin et al. 2017) with alpha, gamma, label smoothing and per-batch dynamic alpha")
class FocalLoss(nn.Module):
    """FL = -sum_c q_c * alpha_c * (1 - p_c)^gamma * log p_c, with q the (smoothed) one-hot target.

    ``focal_alpha`` weighs the positive class of a binary task by alpha and the negative one by 1 - alpha; for more
    classes every class gets alpha; 0 turns class weighting off. ``dynamic_alpha`` replaces these by the inverse
    class frequencies of each batch (normalised to mean 1 over the classes present), for tasks whose imbalance is
    not known in advance.
    """

    alpha: Tensor  # (C,) buffer

    def __init__(
        self,
        num_classes: int,
        *,
        focal_gamma: float = 2.0,
        focal_alpha: float = 0.25,
        label_smoothing: float = 0.0,
        dynamic_alpha: bool = False,
    ) -> None:
        super().__init__()
        if focal_gamma < 0:
            raise ConfigError(f"focal_gamma must be >= 0, but got {focal_gamma=}")
        if not 0 <= focal_alpha < 1:
            raise ConfigError(f"focal_alpha must be in [0, 1) (0 = no class weighting), but got {focal_alpha=}")
        _check_smoothing(label_smoothing)
        self.num_classes = num_classes
        self.gamma = focal_gamma
        self.label_smoothing = label_smoothing
        self.dynamic_alpha = dynamic_alpha
        alpha = torch.ones(num_classes)
        if focal_alpha > 0:
            alpha = torch.tensor([1 - focal_alpha, focal_alpha]) if num_classes == 2 else alpha * focal_alpha
        self.register_buffer("alpha", alpha)  # (C,)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_p = F.log_softmax(logits.float(), dim=-1)  # (B, C)
        q = F.one_hot(target, self.num_classes).float()  # (B, C)
        if self.label_smoothing > 0:
            q = q * (1 - self.label_smoothing) + self.label_smoothing / self.num_classes
        alpha = self._batch_alpha(target) if self.dynamic_alpha else self.alpha  # (C,)
        modulation = (1 - log_p.exp()).pow(self.gamma)  # (B, C)
        return -(q * alpha * modulation * log_p).sum(dim=-1).mean()

    def _batch_alpha(self, target: Tensor) -> Tensor:
        counts = torch.bincount(target, minlength=self.num_classes).float()  # (C,)
        inverse = torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros_like(counts))
        return inverse * (counts > 0).sum() / inverse.sum()


class MultiTaskLoss(nn.Module):
    """The training loss of all tasks: fixed per-task weights, or weights learned by uncertainty."""

    def __init__(self, losses: dict[str, nn.Module], weights: dict[str, float], weighting: str) -> None:
        super().__init__()
        if weighting not in ("fixed", "uncertainty"):
            raise ConfigError(f"task_weighting must be 'fixed' or 'uncertainty', but got {weighting!r}")
        self.losses = NameDict(losses)
        self.weighting = weighting
        self.fixed = {task: float(weights.get(task, 1.0)) for task in losses}
        # s_t = log sigma_t^2 per task; loss = sum_t exp(-s_t) L_t + s_t (only trained with "uncertainty").
        self.log_vars = nn.Parameter(torch.zeros(len(losses)), requires_grad=weighting == "uncertainty")

    def forward(self, logits: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
        total = logits[next(iter(logits))].new_zeros(())
        for i, (task, loss_fn) in enumerate(self.losses.items()):
            loss = loss_fn(logits[task], targets[task])
            if self.weighting == "uncertainty":
                total = total + torch.exp(-self.log_vars[i]) * loss + self.log_vars[i]
            else:
                total = total + self.fixed[task] * loss
        return total

    def task_weights(self) -> dict[str, float]:
        """The weight each task's loss currently gets."""
        if self.weighting == "uncertainty":
            return {t: float(torch.exp(-self.log_vars[i].detach())) for i, t in enumerate(self.losses)}
        return dict(self.fixed)


def _check_smoothing(value: float) -> None:
    if not 0 <= value < 1:
        raise ConfigError(f"label_smoothing must be in [0, 1), but got label_smoothing={value}")


def distillation_loss(student: dict[str, Tensor], teacher: dict[str, Tensor], temperature: float) -> Tensor:
    """Hinton et al. (2015): T^2 x KL(softmax(teacher / T) || softmax(student / T)), averaged over the tasks.

    T^2 keeps the soft targets' gradients on the scale of the hard targets' as T grows.
    """
    terms = [
        F.kl_div(
            F.log_softmax(student[task].float() / temperature, dim=-1),
            F.log_softmax(logits.float() / temperature, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
        for task, logits in teacher.items()
    ]
    return temperature**2 * torch.stack(terms).mean()
