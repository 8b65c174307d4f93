"""The built-in synthetic dataset: determinism, shapes, splits, and the planted dependence of each task."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sweeper.data import MultimodalDataset, make_synthetic
from sweeper.errors import DataError, SweeperError

N_LARGE = 3000  # enough samples that a correlation of 0.1 is ~5 standard errors from zero


def _first_component(x: torch.Tensor) -> torch.Tensor:
    """Per-sample score on the direction of largest variance: (N, ...) -> (N,)."""
    x = x.flatten(1)
    x = x - x.mean(0)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    return x @ vh[0]


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def _sign_product_agreement(data: MultimodalDataset) -> float:
    """How often 'agree' equals 1[image score * signal score > 0], up to the arbitrary sign of each score."""
    u = _first_component(data.inputs["image"])
    v = _first_component(data.inputs["signal"][:, 0])
    hits = ((u * v > 0).long() == data.targets["agree"]).double().mean().item()
    return max(hits, 1 - hits)


@pytest.fixture(scope="module")
def clean() -> MultimodalDataset:
    return make_synthetic(N_LARGE, label_noise=0.0, seed=0)


def test_same_seed_gives_identical_tensors() -> None:
    a, b = make_synthetic(300, seed=7), make_synthetic(300, seed=7)
    for name in a.inputs:
        assert torch.equal(a.inputs[name], b.inputs[name]), name
    for task in a.targets:
        assert torch.equal(a.targets[task], b.targets[task]), task
    for split in a.splits:
        assert torch.equal(a.splits[split], b.splits[split]), split
    assert a.spec == b.spec


def test_another_seed_gives_other_data() -> None:
    a, b = make_synthetic(300, seed=7), make_synthetic(300, seed=8)
    for name in a.inputs:
        assert not torch.equal(a.inputs[name], b.inputs[name]), name
    assert not torch.equal(a.targets["agree"], b.targets["agree"])
    assert not torch.equal(a.splits["val"], b.splits["val"])


def test_shapes_follow_arguments_and_spec() -> None:
    data = make_synthetic(120, image_size=10, signal_length=32, tabular_features=5)
    shapes = {m.name: m.shape for m in data.spec.modalities}
    assert shapes == {"image": (1, 10, 10), "tabular": (5,), "signal": (2, 32)}
    assert {m.name: m.kind for m in data.spec.modalities} == {
        "image": "image",
        "tabular": "tabular",
        "signal": "signal",
    }
    for name, shape in shapes.items():
        assert data.inputs[name].shape == (120, *shape), name
        assert data.inputs[name].dtype == torch.float32, name
        assert torch.isfinite(data.inputs[name]).all(), name
    assert {t.name: t.num_classes for t in data.spec.tasks} == {"agree": 2, "grade": 3}


def test_labels_are_int64_and_in_range() -> None:
    data = make_synthetic(300, label_noise=0.3)
    for task in data.spec.tasks:
        labels = data.targets[task.name]
        assert labels.shape == (300,) and labels.dtype == torch.int64
        assert set(labels.tolist()) == set(range(task.num_classes)), task


@pytest.mark.parametrize(("n", "val_fraction", "test_fraction"), [(300, 0.15, 0.15), (61, 0.2, 0.1), (500, 0.3, 0.5)])
def test_splits_are_disjoint_and_cover_every_sample(n: int, val_fraction: float, test_fraction: float) -> None:
    data = make_synthetic(n, val_fraction=val_fraction, test_fraction=test_fraction)
    assert set(data.splits) == {"train", "val", "test"}
    assert data.split_size("val") == int(n * val_fraction)
    assert data.split_size("test") == int(n * test_fraction)
    everything = torch.cat([data.splits[s] for s in ("train", "val", "test")])
    assert sorted(everything.tolist()) == list(range(n))


def test_grade_is_terciles_without_noise(clean: MultimodalDataset) -> None:
    counts = torch.bincount(clean.targets["grade"], minlength=3).tolist()
    assert all(abs(c - N_LARGE / 3) <= 2 for c in counts), counts


def test_agree_is_the_sign_of_image_times_signal(clean: MultimodalDataset) -> None:
    assert _sign_product_agreement(clean) > 0.85


def test_label_noise_weakens_the_planted_rule(clean: MultimodalDataset) -> None:
    noisy = make_synthetic(N_LARGE, label_noise=0.5, seed=0)
    # half the labels are redrawn uniformly: about a quarter of them change
    assert _sign_product_agreement(clean) - _sign_product_agreement(noisy) > 0.12


def test_no_single_modality_predicts_agree(clean: MultimodalDataset) -> None:
    agree = clean.targets["agree"]
    u = _first_component(clean.inputs["image"])
    v = _first_component(clean.inputs["signal"][:, 0])
    for name, score in {"image": u, "|image|": u.abs(), "signal": v, "|signal|": v.abs()}.items():
        assert abs(_corr(score, agree)) < 0.1, name
    for i in range(clean.inputs["tabular"].shape[1]):
        assert abs(_corr(clean.inputs["tabular"][:, i], agree)) < 0.1, i


def _linear_fit_correlation(data: MultimodalDataset, features: torch.Tensor, task: str) -> float:
    """Least squares on the train split, correlation with the labels on the held-out val+test samples."""
    x = torch.cat([features.flatten(1), torch.ones(len(features), 1)], dim=1).double()
    y = data.targets[task].double()
    train, held_out = data.splits["train"], torch.cat([data.splits["val"], data.splits["test"]])
    weights = torch.linalg.lstsq(x[train], y[train, None]).solution
    return _corr((x[held_out] @ weights).squeeze(1), y[held_out])


def test_grade_is_mostly_tabular_and_a_little_image(clean: MultimodalDataset) -> None:
    grade = clean.targets["grade"]
    assert _linear_fit_correlation(clean, clean.inputs["tabular"], "grade") > 0.75
    assert abs(_linear_fit_correlation(clean, clean.inputs["tabular"], "agree")) < 0.15
    assert 0.1 < abs(_corr(_first_component(clean.inputs["image"]), grade)) < 0.45
    tabular = clean.inputs["tabular"]
    assert _corr(tabular[:, 0], grade) > 0.6
    for noise_feature in range(3, tabular.shape[1]):
        assert abs(_corr(tabular[:, noise_feature], grade)) < 0.1, noise_feature


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_samples": 59}, "n_samples=59"),
        ({"tabular_features": 2}, "tabular_features must be >= 3, but got 2"),
        ({"val_fraction": 0.0}, "val_fraction=0.0"),
        ({"test_fraction": -0.1}, "test_fraction=-0.1"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "sum below 1"),
    ],
)
def test_invalid_arguments_raise_one_line_data_error(kwargs: dict[str, Any], fragment: str) -> None:
    kwargs = {"n_samples": 300, **kwargs}
    with pytest.raises(DataError) as info:
        make_synthetic(**kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message, message
    assert issubclass(DataError, SweeperError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"label_noise": 1.5},
        {"label_noise": -0.1},
        {"image_size": 0},
        {"signal_length": 0},
        {"n_samples": 60, "val_fraction": 0.01},
    ],
    ids=["noise-above-1", "negative-noise", "no-pixels", "no-signal", "empty-val-split"],
)
def test_degenerate_arguments_raise_data_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(DataError):
        make_synthetic(**{"n_samples": 300, **kwargs})
