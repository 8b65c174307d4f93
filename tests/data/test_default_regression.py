"""The ``default`` scenario is pinned: the demo's results depend on it producing the same tensors as before.

The figures below were taken from the generator before it was split into scenarios (demo arguments: 6000 samples,
seed 0, every other argument at its default). If one changes, the demo's numbers change with it.
"""

from __future__ import annotations

import pytest
import torch

from sweeper.data import make_synthetic

# name -> (sum of all values, first three values, last value)
PINNED: dict[str, tuple[float, list[float], float]] = {
    "image": (
        -4601.568613758345,
        [-0.15415836870670319, -0.17242678999900818, 0.11779715120792389],
        0.16971981525421143,
    ),
    "tabular": (-380.5164790090348, [2.2368242740631104, 0.38055670261383057, -0.6621774435043335], -1.327060341835022),
    "signal": (-68.95364897317631, [-0.03505717217922211, 1.4491262435913086, 1.9825917482376099], 0.8746387958526611),
    "agree": (3027, [0, 1, 1], 1),
    "grade": (5995, [2, 1, 2], 2),
    "val": (2695567, [2, 3, 6], 5975),
    "test": (2674381, [1, 9, 11], 5997),
    "train": (12627052, [0, 4, 5], 5999),
}


def test_default_scenario_reproduces_the_pinned_demo_data() -> None:
    data = make_synthetic(6000, seed=0)
    tensors = {**data.inputs, **data.targets, **data.splits}
    assert set(tensors) == set(PINNED)
    for name, (total, first, last) in PINNED.items():
        values = tensors[name]
        if values.dtype == torch.int64:
            assert values.sum().item() == total, name
            assert values[:3].tolist() == first and values[-1].item() == last, name
        else:
            assert values.double().sum().item() == pytest.approx(total, rel=1e-6, abs=1e-3), name
            assert values.flatten()[:3].tolist() == pytest.approx(first, abs=1e-6), name
            assert values.flatten()[-1].item() == pytest.approx(last, abs=1e-6), name


def test_naming_the_default_scenario_changes_nothing() -> None:
    implicit, explicit = make_synthetic(300, seed=5), make_synthetic(300, scenario="default", seed=5)
    for name in implicit.inputs:
        assert torch.equal(implicit.inputs[name], explicit.inputs[name]), name
    for task in implicit.targets:
        assert torch.equal(implicit.targets[task], explicit.targets[task]), task
    assert implicit.spec == explicit.spec
