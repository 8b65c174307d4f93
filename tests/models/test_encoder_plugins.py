"""The optional plug-in encoders: ltc and cfc (ncps), spiking (snntorch); each registers only when installed."""

from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from sweeper.errors import ConfigError
from sweeper.models.encoders import ENCODERS

needs_ncps = pytest.mark.skipif(importlib.util.find_spec("ncps") is None, reason="ncps is not installed (plugins)")
needs_snntorch = pytest.mark.skipif(
    importlib.util.find_spec("snntorch") is None, reason="snntorch is not installed (plugins)"
)


@pytest.mark.slow  # a fresh interpreter
def test_plug_ins_register_only_when_their_package_imports() -> None:
    # A fresh interpreter in which the plug-in packages cannot be imported (None in sys.modules blocks an import).
    code = (
        "import sys\n"
        "for m in ('ncps', 'ncps.torch', 'ncps.wirings', 'snntorch'): sys.modules[m] = None\n"
        "from sweeper.models.encoders import ENCODERS\n"
        "print(' '.join(ENCODERS.names()))\n"
    )
    names = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "cnn1d" in names and not {"ltc", "cfc", "spiking"} & set(names)


@needs_ncps
@pytest.mark.parametrize("name", ["ltc", "cfc"])
def test_liquid_encoders_run_with_an_auto_ncp_wiring(name: str) -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.create(name, (3, 20), 8, units=12, depth=2, wiring="auto_ncp")
    x = torch.randn(4, 3, 20, requires_grad=True)
    out = encoder(x)
    assert out.shape == (4, 8) and torch.isfinite(out).all()
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@needs_ncps
def test_liquid_encoders_reject_bad_wirings() -> None:
    with pytest.raises(
        ConfigError, match=r"^unknown wiring 'ncp' for encoder 'cfc'; known: fully_connected, auto_ncp$"
    ):
        ENCODERS.create("cfc", (3, 20), 8, wiring="ncp")
    with pytest.raises(ConfigError, match=r"^wiring 'auto_ncp' needs units >= 4 .*, but got units=3$"):
        ENCODERS.create("ltc", (3, 20), 8, units=3, wiring="auto_ncp")


@needs_snntorch
def test_spiking_gradient_crosses_spikes_through_the_surrogate() -> None:
    # With two layers, the first synapse reaches the read-out only through the first layer's spikes.
    torch.manual_seed(0)
    encoder = ENCODERS.create("spiking", (2, 30), 4, depth=2)
    encoder(torch.randn(8, 2, 30) * 3).square().sum().backward()
    first = encoder.get_submodule("synapses.0")
    assert isinstance(first, nn.Linear) and first.weight.grad is not None and first.weight.grad.abs().sum() > 0


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run on one torch thread: a loop over time of tiny ops is many times slower on two when cores are busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@needs_snntorch
@pytest.mark.usefixtures("one_thread")
def test_spiking_encoder_learns_a_simple_signal_task() -> None:
    torch.manual_seed(0)
    labels = torch.randint(0, 2, (32,))
    x = torch.randn(32, 2, 8) * 0.5
    x[:, 0] += labels[:, None] * 2.0 - 1.0  # channel 0 sits above or below zero by class
    encoder = ENCODERS.create("spiking", (2, 8), 2, width=8)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(encoder(x), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@needs_snntorch
def test_spiking_encoder_leaves_no_state_behind() -> None:
    import snntorch

    known = len(snntorch.SpikingNeuron.instances)
    encoder = ENCODERS.create("spiking", (2, 10), 4)
    assert len(snntorch.SpikingNeuron.instances) == known  # snntorch's global neuron list does not keep ours
    encoder(torch.randn(3, 2, 10)).sum().backward()
    copy.deepcopy(encoder)  # no graph-attached membrane buffer left over


@needs_snntorch
def test_spiking_rejects_a_decay_outside_0_1() -> None:
    with pytest.raises(
        ConfigError, match=r"^beta, the membrane decay per step, must be in \(0, 1\], but got beta=1.5$"
    ):
        ENCODERS.create("spiking", (2, 10), 4, beta=1.5)
