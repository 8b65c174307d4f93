"""Images and volumes streamed from disk: chosen by size or by the spec, stored compactly, the same values and the
same training as in memory, and a few bytes for Ray to ship."""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sweeper.data import MultimodalDataset
from sweeper.data.manifest import load_manifest, parse_manifest_section
from sweeper.data.manifest.testing import example_section, write_example_manifest
from sweeper.data.mapped import MappedArray
from sweeper.models import ModelConfig
from sweeper.train import TrainConfig, fit


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SWEEPER_CACHE_DIR", str(tmp_path / "cache"))
    return write_example_manifest(tmp_path / "data", n_rows=80)


def _load(path: Path, **overrides: Any) -> MultimodalDataset:
    return load_manifest(parse_manifest_section(example_section(path, **overrides)))


def test_memory_is_the_default_for_small_data_and_stream_can_be_asked_for(manifest: Path) -> None:
    assert not _load(manifest).streamed
    streamed = _load(manifest, storage="stream")
    assert streamed.streamed
    assert isinstance(streamed.inputs["photo"], MappedArray) and streamed.inputs["photo"].dtype == "uint8"
    assert isinstance(streamed.inputs["sketch"], MappedArray) and streamed.inputs["sketch"].dtype == "uint8"
    assert isinstance(streamed.inputs["scan"], MappedArray) and streamed.inputs["scan"].dtype == "float32"
    assert isinstance(streamed.inputs["vitals"], torch.Tensor)  # only images and volumes go to disk


def test_auto_streams_above_the_threshold(manifest: Path) -> None:
    assert _load(manifest, stream_above_gb=1e-6).streamed  # 80 rows of images and volumes: more than 1 kB
    assert not _load(manifest, stream_above_gb=1.0).streamed


def test_streamed_batches_hold_the_in_memory_values(manifest: Path) -> None:
    memory, streamed = _load(manifest), _load(manifest, storage="stream")
    assert memory.spec == streamed.spec
    for a, b in zip(memory.batches("train", 16), streamed.batches("train", 16), strict=True):
        for name, x in a.inputs.items():
            y = b.inputs[name]
            assert y.dtype == x.dtype and y.shape == x.shape
            # 8-bit images are stored as uint8: resized values are rounded to the nearest of 256 levels
            assert torch.allclose(x.double(), y.double(), atol=0.5 / 255 + 1e-6), name
        assert all(torch.equal(t, b.targets[k]) for k, t in a.targets.items())


def test_ray_ships_a_few_bytes_not_the_images(manifest: Path) -> None:
    streamed = _load(manifest, storage="stream")
    photo = streamed.inputs["photo"]
    assert isinstance(photo, MappedArray)
    assert len(pickle.dumps(photo)) < 5000 < photo.array.nbytes  # its path, and how a node rebuilds it
    again = pickle.loads(pickle.dumps(streamed))
    assert np.array_equal(again.inputs["photo"].array, photo.array)


def test_a_second_load_maps_the_same_files(manifest: Path) -> None:
    first, again = _load(manifest, storage="stream", cache=True), _load(manifest, storage="stream", cache=True)
    assert first.inputs["photo"] == again.inputs["photo"]  # same path, shape and dtype: not decoded again


def test_training_on_streamed_data_matches_training_in_memory(manifest: Path) -> None:
    config = TrainConfig(model=ModelConfig(fusion="concat", hidden_dim=8), max_epochs=2, batch_size=16, lr=1e-2)
    memory = fit(config, _load(manifest), lambda m, s: None)
    streamed = fit(config, _load(manifest, storage="stream"), lambda m, s: None)
    assert streamed["train/loss"] == pytest.approx(memory["train/loss"], rel=0.05)
    assert streamed["epoch"] == memory["epoch"] == 2


def _take_on_a_node(pickled: bytes, log: str) -> np.ndarray:
    """A trial on a node: unpickle the dataset, count its builds of the manifest, read a batch."""
    from sweeper.data.manifest import load

    build = load._build

    def counted(*args: Any, **kwargs: Any) -> Any:
        with open(log, "a") as out:
            out.write("built\n")
        time.sleep(2)  # a slow build, so that the other trial arrives while it runs
        return build(*args, **kwargs)

    load._build = counted  # type: ignore[assignment]
    data = pickle.loads(pickled)
    return data.inputs["photo"].take(torch.arange(10)).numpy()


@pytest.mark.slow  # two fresh Python processes importing torch
def test_a_node_without_the_stream_files_builds_its_own_copy_once(manifest: Path, tmp_path: Path) -> None:
    import multiprocessing

    driver = _load(manifest, storage="stream")
    photo = driver.inputs["photo"]
    assert isinstance(photo, MappedArray)
    expected = photo.take(torch.arange(10)).numpy()
    folder = Path(photo.path).parent
    for path in [*folder.iterdir(), *folder.parent.glob(f"{folder.name}*")]:  # the node has none of the driver's cache
        if path.is_file():
            path.unlink()
    assert not Path(photo.path).exists()

    log = tmp_path / "builds.log"
    with multiprocessing.get_context("spawn").Pool(2) as pool:  # two trials start on the node at once
        batches = pool.starmap(_take_on_a_node, [(pickle.dumps(driver), str(log))] * 2)
    assert all(np.array_equal(batch, expected) for batch in batches)
    assert log.read_text().count("built") == 1  # one built it under the lock; the other waited and mapped it
    assert Path(photo.path).is_file()
