"""Image and volume augmentation: off by default, what each option does, reproducible, searchable in the spec."""

from __future__ import annotations

import pytest
import torch

from sweeper.data import make_synthetic
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig
from sweeper.spec import parse_spec
from sweeper.testing import TINY
from sweeper.train import TrainConfig, fit
from sweeper.train.augment import augment

KINDS = {"scan": "image", "ct": "volume", "vitals": "tabular"}


def _inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {
        "scan": torch.rand(16, 3, 12, 12, generator=g),
        "ct": torch.rand(4, 1, 6, 6, 6, generator=g),
        "vitals": torch.rand(16, 5, generator=g),
    }


def _config(**augment: float | bool) -> TrainConfig:
    return TrainConfig(model=ModelConfig(fusion="concat", hidden_dim=8), max_epochs=2, batch_size=64, **augment)  # type: ignore[arg-type]


def test_off_by_default_it_returns_the_batch_untouched() -> None:
    inputs = _inputs()
    assert augment(inputs, KINDS, TrainConfig(), torch.Generator()) is inputs


def test_flip_mirrors_some_samples_left_right_and_leaves_the_others() -> None:
    inputs = _inputs()
    out = augment(inputs, KINDS, _config(augment_flip=True), torch.Generator().manual_seed(0))
    x, y = inputs["scan"], out["scan"]
    same = [torch.allclose(y[i], x[i], atol=1e-5) for i in range(len(x))]
    mirrored = [torch.allclose(y[i], x[i].flip(-1), atol=1e-5) for i in range(len(x))]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert any(same) and any(mirrored)  # 16 fair coins
    assert out["vitals"] is inputs["vitals"]  # not an image


def test_crop_and_jitter_change_images_and_volumes_keep_shapes_and_repeat_with_the_seed() -> None:
    inputs, config = _inputs(), _config(augment_crop=0.3, augment_jitter=0.2)
    first = augment(inputs, KINDS, config, torch.Generator().manual_seed(7))
    again = augment(inputs, KINDS, config, torch.Generator().manual_seed(7))
    other = augment(inputs, KINDS, config, torch.Generator().manual_seed(8))
    for name in ("scan", "ct"):
        assert first[name].shape == inputs[name].shape and torch.isfinite(first[name]).all()
        assert not torch.allclose(first[name], inputs[name])
        assert torch.equal(first[name], again[name]) and not torch.equal(first[name], other[name])


def test_a_crop_keeps_the_box_inside_the_image() -> None:
    """A constant image stays constant under any crop: no sample reaches outside the image (no zero padding)."""
    inputs = {"scan": torch.full((8, 1, 10, 10), 0.5)}
    out = augment(inputs, {"scan": "image"}, _config(augment_crop=0.5), torch.Generator().manual_seed(0))
    assert torch.allclose(out["scan"], inputs["scan"], atol=1e-6)


def test_training_with_augmentation_resumes_where_it_stopped() -> None:
    data = make_synthetic(300, seed=0)  # the default scenario has an image modality
    assert any(m.kind == "image" for m in data.spec.modalities)
    config = _config(augment_crop=0.2, augment_flip=True, augment_jitter=0.1)
    states: list = []
    last = fit(config, data, lambda m, s: states.append({k: v for k, v in s.items()}))
    one = TrainConfig(**{**config.__dict__, "max_epochs": 1})
    first: list = []
    fit(one, data, lambda m, s: first.append(s))
    resumed = fit(config, data, lambda m, s: None, resume=first[-1])
    assert resumed["train/loss"] == pytest.approx(last["train/loss"], rel=1e-5)  # same draws after the resume


def test_the_spec_sets_and_searches_it_and_refuses_a_bad_value_in_one_line() -> None:
    spec = parse_spec(
        {
            **TINY,
            "train": {"augment_flip": True},
            "parameters": {**TINY["parameters"], "augment_crop": {"type": "choice", "values": [0.0, 0.2]}},
        },
        "s.yaml",
    )
    config = spec.trial_config({**spec.default_point(), "augment_crop": 0.2})
    assert config.augment_flip and config.augment_crop == 0.2
    with pytest.raises(ConfigError, match=r"s.yaml: train.augment_jitter: Input should be less than or equal to 0.5"):
        parse_spec({**TINY, "train": {"augment_jitter": 2}}, "s.yaml")


def test_multi_view_images_are_augmented_view_by_view_and_padding_stays_padding() -> None:
    g = torch.Generator().manual_seed(2)
    views = torch.rand(16, 3, 1, 8, 8, generator=g)  # (B, V, C, H, W)
    views[::2, 2] = float("nan")  # every other sample has two views
    out = augment({"lesion": views}, {"lesion": "image"}, _config(augment_flip=True, augment_jitter=0.1), g)["lesion"]
    assert out.shape == views.shape
    real = ~views.flatten(2).isnan().all(dim=2)  # (B, V)
    assert out[~real].isnan().all() and torch.isfinite(out[real]).all()
    changed = [[not torch.allclose(out[b, v], views[b, v], atol=0.25) for v in range(3)] for b in range(16)]
    flipped = torch.tensor(changed)  # (B, V): jitter moves a pixel by at most 0.2, a flip by more somewhere
    assert (flipped.any(dim=1) & ~flipped.all(dim=1) & real.all(dim=1)).any(), "the views of a sample share one draw"
