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


def hidden_mlp(
    input_dim: int, hidden_dim: int, output_dim: int, layers: int, *, dropout: float = 0.0, name: str = "fusion_layers"
) -> nn.Sequential:
    """``layers`` hidden layers (Linear -> GELU -> Dropout) of width ``hidden_dim``, then a Linear read-out.

    Unlike ``mlp``, even ``layers=1`` is non-linear: input_dim -> hidden_dim -> output_dim.
    """
    require_positive(name, layers)
    modules: list[nn.Module] = []
    width = input_dim
    for _ in range(layers):
        modules += [nn.Linear(width, hidden_dim), nn.GELU(), nn.Dropout(dropout)]
        width = hidden_dim
    modules.append(nn.Linear(hidden_dim, output_dim))
    return nn.Sequential(*modules)


def remaining_layers(dim: int, layers: int, *, name: str = "fusion_layers") -> nn.Module:
    """The rest of a ``layers``-deep fusion whose own product already counts as its first layer.

    Nothing for ``layers=1``; otherwise GELU, then ``layers - 1`` Linear layers of width ``dim``.
    """
    require_positive(name, layers)
    if layers == 1:
        return nn.Identity()
    return nn.Sequential(nn.GELU(), mlp(dim, dim, layers - 1, name=name))
