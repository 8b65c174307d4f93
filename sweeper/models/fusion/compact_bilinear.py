"""Multimodal compact bilinear pooling (MCB; Gao et al. 2016, Fukui et al. 2016), for any N >= 2 modalities.

The outer product of all modalities is approximated without ever forming it: each modality is Count-Sketched
to ``sketch_dim`` (a fixed random hash h_m and sign s_m per input feature), and the sketch of an outer product
is the circular convolution of the sketches, i.e. the product of their FFTs. Then signed square root and L2
normalisation, as in the papers, and a Linear read-out. The hashes and signs are buffers drawn from torch's RNG
at construction: a seeded model is reproducible and a checkpoint carries them in its state_dict.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import remaining_layers, require_positive


class CountSketch(nn.Module):
    """A fixed random projection (B, D) -> (B, sketch_dim): y[h(i)] += s(i) * x[i] for every input feature i."""

    index: Tensor
    sign: Tensor

    def __init__(self, input_dim: int, sketch_dim: int) -> None:
        super().__init__()
        self.sketch_dim = sketch_dim
        self.register_buffer("index", torch.randint(sketch_dim, (input_dim,)))  # (D,), h(i)
        self.register_buffer("sign", torch.randint(2, (input_dim,)).float() * 2 - 1)  # (D,), s(i) in {-1, +1}

    def forward(self, x: Tensor) -> Tensor:
        x = x.to(self.sign.dtype)  # full precision under autocast: the FFT product of N spectra needs it
        sketch = x.new_zeros(x.shape[0], self.sketch_dim)  # (B, d)
        return sketch.index_add(1, self.index, x * self.sign)  # (B, d)


@FUSIONS.register("compact_bilinear", "MCB: Count Sketch each modality, product of FFTs, signed sqrt, L2, Linear")
class CompactBilinearFusion(Fusion):
    def __init__(
        self, input_dims: list[int], output_dim: int, *, sketch_dim: int = 256, fusion_layers: int = 1
    ) -> None:
        super().__init__(input_dims, output_dim)
        require_positive("sketch_dim", sketch_dim)
        self.sketch_dim = sketch_dim
        self.sketches = nn.ModuleList(CountSketch(d, sketch_dim) for d in input_dims)
        self.linear = nn.Linear(sketch_dim, output_dim)
        self.mlp = remaining_layers(output_dim, fusion_layers)

    def forward(self, features: list[Tensor]) -> Tensor:
        spectrum: Tensor | None = None
        for sketch, x in zip(self.sketches, features, strict=True):
            f = torch.fft.rfft(sketch(x), dim=-1)  # (B, d // 2 + 1), complex
            spectrum = f if spectrum is None else spectrum * f  # convolution of sketches = product of spectra
        assert spectrum is not None  # the base class guarantees at least 2 modalities
        y = torch.fft.irfft(spectrum, n=self.sketch_dim, dim=-1)  # (B, d), sketch of the outer product
        y = torch.sign(y) * torch.sqrt(y.abs() + 1e-8)  # (B, d), signed square root tames heavy tails
        # Unit L2 norm as in MCB, scaled by sqrt(d) so entries are about unit size for the read-out's init.
        y = F.normalize(y, dim=-1) * math.sqrt(self.sketch_dim)  # (B, d)
        return self.mlp(self.linear(y))  # (B, D_out)
