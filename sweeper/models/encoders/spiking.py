"""Spiking encoder for signals, from the optional ``snntorch`` package: ``spiking``.

Each time step of the signal (B, C, L) drives ``depth`` layers of leaky integrate-and-fire neurons (a Linear
synapse, then snntorch's Leaky neuron). The read-out sees, for the last layer, each neuron's spike rate and mean
membrane potential over time. Spikes are steps, so training relies on snntorch's surrogate gradient (arctan).
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.layers import require_positive

# snntorch is an optional plug-in (the 'plugins' extra): without it spiking is simply not registered.
try:
    import snntorch
    from snntorch import surrogate
except ImportError:
    pass


@ENCODERS.register(
    "spiking",
    "leaky integrate-and-fire layers from snntorch (width, depth, beta), rate read-out",
    requires="snntorch",
)
class SpikingEncoder(Encoder):
    kind = "signal"

    def __init__(
        self, input_shape: tuple[int, ...], output_dim: int, *, width: int = 32, depth: int = 2, beta: float = 0.9
    ) -> None:
        super().__init__(input_shape, output_dim)
        require_positive("width", width)
        require_positive("depth", depth)
        if not 0.0 < beta <= 1.0:
            raise ConfigError(f"beta, the membrane decay per step, must be in (0, 1], but got {beta=}")
        sizes = [input_shape[0]] + [width] * depth
        self.synapses = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.neurons = nn.ModuleList(snntorch.Leaky(beta=beta, spike_grad=surrogate.atan()) for _ in range(depth))
        # snntorch lists every neuron ever made in a class attribute (for its init_hidden mode, unused here); drop
        # ours so a long-lived Ray worker does not keep every trial's neurons alive.
        for neuron in self.neurons:
            snntorch.SpikingNeuron.instances.remove(neuron)
        self.width = width
        self.out = nn.Linear(2 * width, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        steps = x.transpose(1, 2)  # (B, L, C)
        batch, length, _ = steps.shape
        membranes = [x.new_zeros(batch, self.width) for _ in self.neurons]  # depth x (B, width)
        spike_sum = membrane_sum = x.new_zeros(batch, self.width)  # (B, width)
        for t in range(length):
            h = steps[:, t]  # (B, C)
            for i, (synapse, neuron) in enumerate(zip(self.synapses, self.neurons, strict=True)):
                h, membranes[i] = neuron(synapse(h), membranes[i])  # spikes (B, width), membrane (B, width)
            spike_sum = spike_sum + h
            membrane_sum = membrane_sum + membranes[-1]
        # Leaky also keeps the last membrane in a buffer; reset it, since a graph-attached buffer would keep the
        # graph alive and make copy.deepcopy(model) fail.
        for neuron in self.neurons:
            neuron.reset_mem()  # type: ignore[operator]  # an nn.Module attribute is typed Tensor | Module
        readout = torch.cat([spike_sum, membrane_sum], dim=1) / length  # (B, 2 * width): rate, mean membrane
        return self.out(readout)  # (B, output_dim)
