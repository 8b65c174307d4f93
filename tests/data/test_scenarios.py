"""Every built-in scenario: determinism, shapes and dtypes against its spec, splits, labels, text tokenization."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sweeper.data import MultimodalDataset, make_synthetic
from sweeper.data.synthetic import scenario_names, scenario_sizes
from sweeper.data.text import UNKNOWN_ID, Tokenizer
from sweeper.errors import DataError

SCENARIOS = scenario_names()
EXPECTED = {
    "default": {"image", "tabular", "signal"},
    "rare_disease": {"image", "tabular"},
    "rare_disease_3d": {"volume", "tabular"},
    "eeg_audio": {"eeg", "audio"},
    "four_modal": {"vision", "audio", "text", "sensor"},
    "wound": {"photo", "note", "vitals"},
    "radiology": {"scan", "caption"},
    "noisy_modality": {"image", "noise"},
    "lesion": {"views", "history"},
}
N = 300


@pytest.fixture(scope="module", params=SCENARIOS)
def dataset(request: pytest.FixtureRequest) -> MultimodalDataset:
    return make_synthetic(N, scenario=request.param, seed=1)


def test_every_documented_scenario_is_registered() -> None:
    assert set(SCENARIOS) == set(EXPECTED)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_seed_same_data_and_another_seed_other_data(scenario: str) -> None:
    a, b, c = (make_synthetic(120, scenario=scenario, seed=s) for s in (4, 4, 5))
    assert a.spec == b.spec
    for name in a.inputs:  # NaN marks a multi-view modality's padded views: equal to itself here
        assert torch.equal(a.inputs[name].nan_to_num(), b.inputs[name].nan_to_num()), name
        assert not torch.equal(a.inputs[name].nan_to_num(), c.inputs[name].nan_to_num()), name
    for task in a.targets:
        assert torch.equal(a.targets[task], b.targets[task]), task
    for split in a.splits:
        assert torch.equal(a.splits[split], b.splits[split]), split
    assert a.tokenizers == b.tokenizers


def test_inputs_match_the_spec(dataset: MultimodalDataset) -> None:
    spec = dataset.spec
    assert set(spec.modality_names) == set(dataset.inputs)
    assert set(spec.modality_names) in EXPECTED.values()
    for modality in spec.modalities:
        x = dataset.inputs[modality.name]
        if modality.views:  # (N, V, *shape): every sample has 1..V real views, then padded views NaN throughout
            assert x.shape == (N, modality.views, *modality.shape), modality.name
            real = ~x.flatten(2).isnan().all(dim=2)  # (N, V)
            assert real[:, 0].all() and (real.long().diff(dim=1) <= 0).all(), "real views come first"
            x = x[real]  # (R, *shape): the real views, checked below like any modality's values
        else:
            assert x.shape == (N, *modality.shape), modality.name
        if modality.kind == "text":
            assert x.dtype == torch.int64, modality.name
            assert x.min() >= 0 and x.max() < modality.vocab_size, modality.name
            assert modality.vocab_size == dataset.tokenizers[modality.name].vocab_size
            assert (x[:, 0] != 0).all(), "every text has at least one word"
            assert (x == 0).any(), "shorter texts are padded"
        else:
            assert x.dtype == torch.float32, modality.name
            assert torch.isfinite(x).all(), modality.name
            assert modality.vocab_size == 0
    assert set(dataset.tokenizers) == {m.name for m in spec.modalities if m.kind == "text"}


def test_labels_are_int64_in_range_with_every_class_present(dataset: MultimodalDataset) -> None:
    assert set(dataset.targets) == set(dataset.spec.task_names)
    for task in dataset.spec.tasks:
        labels = dataset.targets[task.name]
        assert labels.shape == (N,) and labels.dtype == torch.int64
        assert set(labels.tolist()) == set(range(task.num_classes)), task


def test_splits_are_disjoint_and_cover_every_sample(dataset: MultimodalDataset) -> None:
    everything = torch.cat([dataset.splits[s] for s in ("train", "val", "test")])
    assert sorted(everything.tolist()) == list(range(N))
    assert dataset.split_size("val") == dataset.split_size("test") == int(N * 0.15)


def test_tokenizer_is_fitted_on_the_training_texts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    original = Tokenizer.fit.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Tokenizer], texts: Any, **kwargs: Any) -> Tokenizer:
        seen.append(list(texts))
        return original(cls, seen[-1], **kwargs)

    monkeypatch.setattr(Tokenizer, "fit", classmethod(spy))
    data = make_synthetic(200, scenario="radiology", seed=2)
    (texts,) = seen
    train = data.splits["train"]
    assert len(texts) == len(train)
    tokenizer = data.tokenizers["caption"]
    assert torch.equal(tokenizer.encode(texts, 12), data.inputs["caption"][train])
    assert not (data.inputs["caption"][train] == UNKNOWN_ID).any()


def test_tokenizer_survives_a_json_round_trip_and_a_move() -> None:
    data = make_synthetic(120, scenario="wound")
    restored = Tokenizer.from_json(data.tokenizers["note"].to_json())
    assert restored == data.tokenizers["note"]
    assert data.to("cpu").tokenizers == data.tokenizers


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if "image_size" in scenario_sizes(s)])
def test_image_size_resizes_every_image(scenario: str) -> None:
    data = make_synthetic(80, scenario=scenario, image_size=12)
    images = [m for m in data.spec.modalities if m.kind == "image"]
    assert images and all(m.shape[1:] == (12, 12) for m in images)


def test_a_size_the_scenario_does_not_take_is_a_one_line_error() -> None:
    with pytest.raises(DataError) as info:
        make_synthetic(100, scenario="eeg_audio", signal_length=64)
    message = str(info.value)
    assert "'eeg_audio'" in message and "signal_length=64" in message and "\n" not in message
    assert "signal_length" not in scenario_sizes("eeg_audio")


def test_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(DataError) as info:
        make_synthetic(100, scenario="wnd")
    assert str(info.value) == f"unknown scenario 'wnd'; known: {', '.join(SCENARIOS)}"
