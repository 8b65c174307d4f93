"""What each registered fusion costs at one fixed input size: parameters, forward+backward time, memory.

Every fusion gets N modality feature vectors of width D and a batch of B (defaults: 3 x 32, batch 128, the sizes
the demo sweeps use) and fuses them to D. Fusions that take exactly two modalities get two. Printed per fusion:
  - parameters;
  - forward + backward time on CPU: the median of --repeats runs after warm-up, with --threads torch threads;
  - memory: parameters + their gradients + the tensors autograd saves for backward (measured with
    torch.autograd.graph.saved_tensors_hooks, counting each storage once), which is what training holds per step;
    on a GPU (--device cuda) also torch.cuda.max_memory_allocated.

    python benchmarks/fusion_cost.py
    python benchmarks/fusion_cost.py --modalities 4 --dim 64 --batch 256
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sweeper.errors import ConfigError
from sweeper.models import FUSIONS
from sweeper.models.config import ModelConfig
from sweeper.models.parts import build_fusion


def saved_bytes(fusion: torch.nn.Module, inputs: list[torch.Tensor]) -> int:
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fusion(inputs)
    out.sum().backward()
    return sum(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modalities", type=int, default=3)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    print(f"N={args.modalities} modalities x D={args.dim}, batch {args.batch}, {args.threads} thread(s), {device}")
    print(f"{'fusion':<24}{'N':>3}{'parameters':>12}{'fwd+bwd ms':>12}{'memory MiB':>12}{'GPU peak MiB':>14}")
    for name in FUSIONS.names():
        config = ModelConfig(fusion=name, hidden_dim=args.dim, fusion_layers=1, heads=4, rank=4)
        n = args.modalities
        try:
            torch.manual_seed(0)
            fusion = build_fusion(name, n, config).to(device)
        except ConfigError:
            n = 2  # fusions such as bilinear take exactly two modalities
            fusion = build_fusion(name, n, config).to(device)
        inputs = [torch.randn(args.batch, args.dim, device=device, requires_grad=True) for _ in range(n)]
        params = sum(p.numel() for p in fusion.parameters())
        param_bytes = sum(p.numel() * p.element_size() for p in fusion.parameters())
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        memory = (2 * param_bytes + saved_bytes(fusion, inputs)) / 2**20
        times = []
        for i in range(args.repeats + 5):
            start = time.perf_counter()
            fusion(inputs).sum().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= 5:  # warm-up
                times.append((time.perf_counter() - start) * 1000)
        gpu = f"{torch.cuda.max_memory_allocated(device) / 2**20:14.1f}" if device.type == "cuda" else f"{'-':>14}"
        print(f"{name:<24}{n:>3}{params:>12,}{statistics.median(times):>12.3f}{memory:>12.2f}{gpu}")


if __name__ == "__main__":
    main()
