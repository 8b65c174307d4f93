"""The contract every registered view aggregator keeps; a new aggregator is tested here with no edits.

Views are (B, V, D) with a (B, V) mask: samples have different numbers of real views (one of them only one), and the
padding holds NaN, which an aggregator must ignore exactly.
"""

from __future__ import annotations

import pytest
import torch

from sweeper.errors import RegistryError
from sweeper.models.views import VIEW_AGGREGATORS, ViewAggregator

DIM = 32  # wide enough that every real view wins some feature of a max
COUNTS = [1, 3, 2, 4, 1]  # real views per sample; V = 4
NAMES = VIEW_AGGREGATORS.names()


def _views(counts: list[int] = COUNTS, views: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.arange(views)[None] < torch.tensor(counts)[:, None]  # (B, V)
    x = torch.randn(len(counts), views, DIM)
    return x.masked_fill(~mask.unsqueeze(-1), float("nan")).requires_grad_(), mask


def _create(name: str) -> ViewAggregator:
    torch.manual_seed(0)
    return VIEW_AGGREGATORS.create(name, DIM)


@pytest.mark.parametrize("name", NAMES)
def test_view_aggregator_contract(name: str) -> None:
    aggregator = _create(name)
    torch.manual_seed(1)
    x, mask = _views()

    out = aggregator(x, mask)
    assert out.shape == (len(COUNTS), DIM)
    assert torch.isfinite(out).all(), "NaN padding leaked into the output (or a one-view sample gave NaN)"
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    per_view = x.grad.abs().sum(dim=-1)  # (B, V)
    assert (per_view[mask] > 0).all(), f"no gradient reaches real views {(~(per_view > 0) & mask).nonzero().tolist()}"
    assert (per_view[~mask] == 0).all(), "padded views must get no gradient"
    for p in aggregator.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    if aggregator.weights is not None:
        assert aggregator.weights.shape == mask.shape and not aggregator.weights.requires_grad
        assert (aggregator.weights[~mask] == 0).all(), "a padded view must get no weight"
        torch.testing.assert_close(aggregator.weights.sum(dim=1), torch.ones(len(COUNTS)))

    aggregator.eval()
    with torch.no_grad():
        assert torch.equal(aggregator(x, mask), aggregator(x, mask))
    assert aggregator.num_parameters() >= 0


@pytest.mark.parametrize("name", NAMES)
def test_view_aggregator_ignores_padding_exactly(name: str) -> None:
    aggregator = _create(name).eval()
    torch.manual_seed(2)
    x, mask = _views()
    with torch.no_grad():
        reference = aggregator(x, mask)
        padded = torch.cat([x, torch.randn(len(COUNTS), 3, DIM) * 1e3], dim=1)  # three more views, huge values
        more = torch.cat([mask, torch.zeros(len(COUNTS), 3, dtype=torch.bool)], dim=1)
        torch.testing.assert_close(aggregator(padded, more), reference, rtol=1e-6, atol=1e-6)
        changed = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, -7.0))  # other padding values
        assert torch.equal(aggregator(changed, mask), reference)
        # the views of each sample alone (no padding at all) give that sample's row
        for b, count in enumerate(COUNTS):
            alone = aggregator(x[b : b + 1, :count], mask[b : b + 1, :count])
            torch.testing.assert_close(alone[0], reference[b], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_one_view_is_the_view_itself_for_the_pooling_ones(name: str) -> None:
    aggregator = _create(name).eval()
    x, mask = _views([1, 1], views=3)
    with torch.no_grad():
        out = aggregator(x, mask)
    assert torch.isfinite(out).all()
    # every aggregator is a weighted combination or a maximum of the real views: one view is returned as it is
    torch.testing.assert_close(out, x[:, 0].detach())


@pytest.mark.parametrize("name", NAMES)
def test_view_aggregator_runs_under_bf16_autocast(name: str) -> None:
    aggregator = _create(name)
    x, mask = _views()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = aggregator(x.detach().bfloat16().requires_grad_(), mask)
    assert out.shape == (len(COUNTS), DIM) and torch.isfinite(out.float()).all()


def test_mean_and_max_are_what_they_say() -> None:
    x = torch.tensor([[[1.0, 5.0], [3.0, -1.0], [float("nan"), float("nan")]]])  # (1, 3, 2), one padded view
    mask = torch.tensor([[True, True, False]])
    assert VIEW_AGGREGATORS.create("mean", 2)(x, mask).tolist() == [[2.0, 2.0]]
    assert VIEW_AGGREGATORS.create("max", 2)(x, mask).tolist() == [[3.0, 5.0]]


def test_attention_pooling_can_pick_out_one_view() -> None:
    # A view that scores far higher takes (almost) all the weight, which a mean never does.
    aggregator = VIEW_AGGREGATORS.create("attention", 2)
    with torch.no_grad():
        aggregator.content.weight.copy_(torch.eye(2))
        aggregator.content.bias.zero_()
        aggregator.score.weight.copy_(torch.tensor([[50.0, 0.0]]))
        aggregator.score.bias.zero_()
    x = torch.tensor([[[1.0, 10.0], [0.0, -3.0], [0.0, 4.0]]])
    out = aggregator(x, torch.ones(1, 3, dtype=torch.bool))
    torch.testing.assert_close(out, x[:, 0], atol=1e-3, rtol=0)


def test_unknown_aggregation_lists_the_known_ones() -> None:
    with pytest.raises(RegistryError, match=r"^unknown view aggregation 'avg'; known: attention, gated, max, mean$"):
        VIEW_AGGREGATORS.create("avg", DIM)
