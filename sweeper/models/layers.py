"""Small building blocks shared by fusions, encoders and heads."""

from __future__ import annotations

from torch import nn

from sweeper.errors import ConfigError


def require_positive(name: str, value: int) -> None:
    """Raise ConfigError unless ``value`` is an integer >= 1 (depths, widths, heads, ranks)."""
    if value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, but got {name}={value}")


def mlp(input_dim: int, output_dim: int, layers: int, *, name: str = "fusion_layers") -> nn.Sequential:
    """``layers`` Linear layers with GELU between them: input_dim -> output_dim -> ... -> output_dim.

    The last layer has no activation, so the output is a free linear read-out. ``name`` is the hyperparameter
    that set ``layers``, for the error message.
    """
    require_positive(name, layers)
    modules: list[nn.Module] = [nn.Linear(input_dim, output_dim)]
    for _ in range(layers - 1):
        modules += [nn.GELU(), nn.Linear(output_dim, output_dim)]
    return nn.Sequential(*modules)
