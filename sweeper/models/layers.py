"""Small building blocks shared by fusions, encoders and heads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

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


class NameDict(nn.ModuleDict):
    """A ModuleDict keyed by user-given names (modalities, tasks), any of which may clash with a Module attribute.

    nn.ModuleDict refuses a key such as ``type``, ``train`` or ``forward`` (a task called "type" is ordinary). Keys
    are stored with a prefix and handed back without it, so ``heads["type"]``, ``keys()`` and ``items()`` read as
    the user wrote them.
    """

    _PREFIX = "_"

    def __init__(self, modules: Mapping[str, nn.Module] | None = None) -> None:
        super().__init__(modules)  # ModuleDict.update stores each through __setitem__, which adds the prefix

    def __getitem__(self, key: str) -> nn.Module:
        return super().__getitem__(self._PREFIX + key)

    def __setitem__(self, key: str, module: nn.Module) -> None:
        super().__setitem__(self._PREFIX + key, module)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self._PREFIX + key)

    def __iter__(self) -> Iterator[str]:
        return (k.removeprefix(self._PREFIX) for k in super().__iter__())

    def keys(self) -> list[str]:  # type: ignore[override]
        return list(self)

    def items(self) -> list[tuple[str, nn.Module]]:  # type: ignore[override]
        return [(k.removeprefix(self._PREFIX), v) for k, v in super().items()]


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters: what a model, fusion or encoder is counted as (the one way sweeper counts them)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
