"""``TrainConfig``: everything one trial trains with. It lives apart from the loop so that the optimiser and loss
builders (``optim.py``), augmentation and the sweep spec can name it without importing the loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field

from sweeper.models.config import ModelConfig


@dataclass
class TrainConfig:
    """Everything one trial trains with; the flat hyperparameters of a sweep map onto these scalar fields."""

    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 3e-3  # AdamW learning rate
    weight_decay: float = 1e-4  # AdamW weight decay
    batch_size: int = 128  # samples per forward pass
    accumulate_steps: int = 1  # batches whose gradients are summed before one optimiser step
    clip_grad_norm: float = 0.0  # clip the global gradient norm to this; 0 = no clipping
    max_epochs: int = 6  # the full budget; test metrics are computed after the last epoch
    schedule: Literal["constant", "cosine", "step"] = "constant"  # learning rate per epoch
    warmup_epochs: int = 0  # linear warm-up from lr/10 before the schedule
    step_size: int = 10  # "step" schedule: epochs between decays
    lr_decay: float = 0.1  # "step" schedule: factor at each decay
    loss: str = "cross_entropy"  # LOSSES key for every task ...
    task_losses: dict[str, str] = field(default_factory=dict)  # ... unless a task names its own here
    label_smoothing: float = 0.0  # every loss
    focal_gamma: float = 2.0  # focal loss: focusing exponent
    focal_alpha: float = 0.25  # focal loss: positive-class weight (binary) or every class' weight; 0 = none
    dynamic_alpha: bool = False  # focal loss: per-batch inverse class frequencies instead of focal_alpha
    task_weights: dict[str, float] = field(default_factory=dict)  # fixed loss weight per task (default 1)
    task_weighting: Literal["fixed", "uncertainty"] = "fixed"  # or learned (Kendall et al. 2018)
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 autocast (mixed precision) on GPU, or on CPU if asked
    # Image and volume augmentation on the device, training batches only (sweeper/train/augment.py); off by default.
    augment_crop: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0  # random crop: the box's side >= (1 - this)
    augment_flip: bool = False  # mirror left-right with probability 1/2
    augment_jitter: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0  # intensity x * (1 + a) + b, a and b in +-this
    # Distillation (the spec's `distill:` section): applies when the dataset carries a teacher's logits.
    distill_alpha: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5  # weight of the teacher's soft targets in the loss
    distill_temperature: Annotated[float, Field(gt=0.0)] = 2.0  # softens teacher and student alike
    seed: int = 0  # model initialisation and batch order
    objective: str = "val/mean_macro_f1"  # the metric a sweep optimises (reported every epoch)
