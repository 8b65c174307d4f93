"""Liquid neural networks for signals, from the optional ``ncps`` package: ``ltc`` and ``cfc``.

The signal (B, C, L) is read as a sequence of L steps of C features by ``depth`` stacked recurrent layers; the last
layer's final hidden state goes through a Linear read-out. ``wiring`` picks a fully connected layer or an
AutoNCP (a sparse neural circuit policy whose outputs are its motor neurons). LTC integrates an ODE at every step
and so is slow on long signals; CfC is its closed-form approximation and much faster.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.layers import require_positive

# ncps is an optional plug-in (the 'plugins' extra): without it ltc and cfc are simply not registered.
try:
    from ncps.torch import LTC, CfC
    from ncps.wirings import AutoNCP, FullyConnected
except ImportError:
    pass

WIRINGS = ("fully_connected", "auto_ncp")


class LiquidEncoder(Encoder):
    """Shared by ltc and cfc; a subclass only says which recurrent layer it stacks."""

    kind = "signal"

    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_dim: int,
        *,
        units: int = 16,
        depth: int = 1,
        wiring: str = "fully_connected",
    ) -> None:
        super().__init__(input_shape, output_dim)
        require_positive("units", units)
        require_positive("depth", depth)
        if wiring not in WIRINGS:
            raise ConfigError(f"unknown wiring {wiring!r} for encoder {self.name!r}; known: {', '.join(WIRINGS)}")
        if wiring == "auto_ncp" and units < 4:
            raise ConfigError(
                f"wiring 'auto_ncp' needs units >= 4 (motor, command and inter neurons), but got {units=}"
            )
        layers: list[nn.Module] = []
        size = input_shape[0]
        for _ in range(depth):
            # An NCP's outputs are its motor neurons: a quarter of the units, near the ~0.3 ncps suggests.
            circuit = FullyConnected(units) if wiring == "fully_connected" else AutoNCP(units, max(1, units // 4))
            layers.append(self.recurrent_layer(size, circuit))
            size = circuit.output_dim  # the next layer reads this one's outputs
        self.layers = nn.ModuleList(layers)
        self.out = nn.Linear(units, output_dim)

    @staticmethod
    @abstractmethod
    def recurrent_layer(input_size: int, wiring: Any) -> nn.Module:
        """A batch-first ncps layer returning (outputs (B, L, O), final hidden state (B, units))."""

    def forward(self, x: Tensor) -> Tensor:
        h = x.transpose(1, 2)  # (B, L, C): one step per sample
        for layer in self.layers:
            h, state = layer(h)  # (B, L, outputs), (B, units)
        return self.out(state)  # (B, output_dim)


@ENCODERS.register(
    "ltc", "liquid time-constant RNN from ncps (units, depth, wiring), final state read out", requires="ncps"
)
class LTCEncoder(LiquidEncoder):
    @staticmethod
    def recurrent_layer(input_size: int, wiring: Any) -> nn.Module:
        # Softplus-constrained parameters, so training needs no apply_weight_constraints() after each step.
        return LTC(input_size, wiring, batch_first=True, implicit_param_constraints=True)


@ENCODERS.register(
    "cfc", "closed-form continuous-time RNN from ncps (units, depth, wiring), final state read out", requires="ncps"
)
class CfCEncoder(LiquidEncoder):
    @staticmethod
    def recurrent_layer(input_size: int, wiring: Any) -> nn.Module:
        return CfC(input_size, wiring, batch_first=True)
