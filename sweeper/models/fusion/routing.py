"""Routing fusions: each sample is sent, discretely, to some modality experts (``moe``) or through some modalities
(``energy_aware``).

The reference recommendation rejected its two routing fusions as high-variance: they routed by sampling, one even
at inference. Here the routing is discrete in the forward pass and differentiable in the backward pass
(straight-through: the hard choice, plus the soft probabilities minus their detached copy), the noise that explores
(Gumbel) is drawn in training only, and evaluation routes deterministically by the router's logits.

Both report, after each forward pass, ``routing`` (B, N): the fraction of each sample sent to each modality, and
``expected_compute`` (B,): the share of the whole cost each sample used; evaluation logs their means as
``val/routing/<modality>`` and ``val/routing/compute``. Both add ``auxiliary_loss`` to the training loss.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import mlp


def _gumbel(shape: torch.Size, like: Tensor) -> Tensor:
    uniform = torch.rand(shape, device=like.device, dtype=like.dtype).clamp(1e-6, 1 - 1e-6)
    return -torch.log(-torch.log(uniform))


@FUSIONS.register("moe", "mixture of modality experts: each sample routed to its top_k experts (straight-through)")
class MixtureOfExpertsFusion(Fusion):
    """One expert MLP per modality; a router over the concatenated features picks ``top_k`` experts per sample.

    The fused vector is the mean of the chosen experts' outputs. ``auxiliary_loss`` is the Switch Transformer
    load-balancing loss, ``balance`` x N x sum_m (fraction routed to m) x (mean router probability of m), so the
    router does not collapse onto one expert.
    """

    def __init__(
        self,
        input_dims: list[int],
        output_dim: int,
        *,
        top_k: int = 1,
        balance: float = 0.01,
        fusion_layers: int = 1,
    ) -> None:
        super().__init__(input_dims, output_dim)
        n = len(input_dims)
        if not 1 <= top_k <= n:
            raise ConfigError(f"fusion 'moe' needs top_k in 1..{n} (its {n} modality experts), but got top_k={top_k}")
        if balance < 0:
            raise ConfigError(f"fusion 'moe' needs balance >= 0, but got balance={balance}")
        self.top_k, self.balance = top_k, balance
        self.experts = nn.ModuleList(mlp(d, output_dim, fusion_layers) for d in input_dims)
        self.router = nn.Linear(sum(input_dims), n)
        self.routing: Tensor | None = None
        self.expected_compute: Tensor | None = None
        self.auxiliary_loss: Tensor | None = None

    def forward(self, features: list[Tensor]) -> Tensor:
        logits = self.router(torch.cat(features, dim=-1))  # (B, N)
        probs = logits.softmax(dim=-1)
        scores = logits + _gumbel(logits.shape, logits) if self.training else logits  # explore in training only
        chosen = torch.zeros_like(probs).scatter(-1, scores.topk(self.top_k, dim=-1).indices, 1.0)  # (B, N) 0/1
        gate = chosen + probs - probs.detach()  # forward: the 0/1 choice; backward: the router's softmax gradient
        outputs = torch.stack([e(x) for e, x in zip(self.experts, features, strict=True)], dim=1)  # (B, N, D)
        # Unchosen experts are computed here too (batched); the routing decides what reaches the output.
        fused = (gate.unsqueeze(-1) * outputs).sum(dim=1) / self.top_k  # (B, D): the mean of the chosen experts
        n = probs.shape[-1]
        self.auxiliary_loss = self.balance * n * (chosen.mean(dim=0) * probs.mean(dim=0)).sum()
        self.routing = chosen.detach()
        self.expected_compute = chosen.detach().sum(dim=-1) / n  # (B,): experts used / experts
        return fused


@FUSIONS.register(
    "energy_aware", "per-sample gates skip costly modalities; a compute penalty in the loss (straight-through)"
)
class EnergyAwareFusion(Fusion):
    """A gate per sample and modality (binary, straight-through Gumbel-sigmoid in training, ``logit > 0`` in
    evaluation) keeps or skips each modality; the kept ones are averaged and passed through an MLP.

    Each modality has a cost: its encoder's parameter count (``modality_costs``, supplied by the model builder),
    normalised to sum to 1; equal costs without it. ``auxiliary_loss`` is ``energy`` x the mean over samples of
    sum_m gate_m x cost_m: the compute a sample uses, wired into the training loss, so the model learns to skip
    costly modalities where the others suffice. The cheapest modality is always kept, so no sample is left with
    nothing. ``expected_compute`` is that sum per sample: the share of the encoders' cost a sample needs.
    """

    def __init__(
        self,
        input_dims: list[int],
        output_dim: int,
        *,
        energy: float = 0.1,
        fusion_layers: int = 1,
        modality_costs: list[float] | None = None,
    ) -> None:
        super().__init__(input_dims, output_dim)
        n = len(input_dims)
        if energy < 0:
            raise ConfigError(f"fusion 'energy_aware' needs energy >= 0, but got energy={energy}")
        costs = torch.tensor(modality_costs if modality_costs is not None else [1.0] * n, dtype=torch.float32)
        if costs.shape != (n,) or (costs <= 0).any():
            raise ConfigError(f"fusion 'energy_aware' needs {n} positive modality costs, but got {modality_costs}")
        self.register_buffer("costs", costs / costs.sum())  # (N,)
        self.always = int(costs.argmin())  # the cheapest modality is never skipped
        self.energy = energy
        self.projections = nn.ModuleList(nn.Linear(d, output_dim) for d in input_dims)
        self.gates = nn.Linear(sum(input_dims), n)
        nn.init.constant_(self.gates.bias, 2.0)  # start with every modality kept (sigmoid(2) ~ 0.88)
        self.mlp = mlp(output_dim, output_dim, fusion_layers)
        self.routing: Tensor | None = None
        self.expected_compute: Tensor | None = None
        self.auxiliary_loss: Tensor | None = None

    def forward(self, features: list[Tensor]) -> Tensor:
        logits = self.gates(torch.cat(features, dim=-1))  # (B, N)
        soft = torch.sigmoid(logits + _gumbel(logits.shape, logits) - _gumbel(logits.shape, logits)) if (
            self.training
        ) else torch.sigmoid(logits)  # fmt: skip
        hard = (soft > 0.5).float()
        hard[:, self.always] = 1.0
        gate = hard + soft - soft.detach()  # forward: keep/skip; backward: the gate's gradient
        z = torch.stack([p(x) for p, x in zip(self.projections, features, strict=True)], dim=1)  # (B, N, D)
        fused = (gate.unsqueeze(-1) * z).sum(dim=1) / hard.sum(dim=-1, keepdim=True)  # mean of the kept
        costs: Tensor = self.costs  # type: ignore[assignment]
        compute = (gate * costs).sum(dim=-1)  # (B,)
        self.auxiliary_loss = self.energy * compute.mean()
        self.routing = hard.detach()
        self.expected_compute = compute.detach()
        return self.mlp(fused)
