"""Task heads: the fused representation (B, D) in, one task's logits (B, num_classes) out."""

from __future__ import annotations

from torch import nn

from sweeper.registry import Registry

HEADS: Registry[nn.Module] = Registry("head")


@HEADS.register("linear", "a linear read-out of the fused representation")
def linear_head(input_dim: int, num_classes: int) -> nn.Module:
    return nn.Linear(input_dim, num_classes)


@HEADS.register("mlp", "one hidden layer of input_dim units with GELU, then a linear read-out")
def mlp_head(input_dim: int, num_classes: int) -> nn.Module:
    return nn.Sequential(nn.Linear(input_dim, input_dim), nn.GELU(), nn.Linear(input_dim, num_classes))
