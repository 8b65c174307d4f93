"""``load_manifest``: a manifest section in, a validated ``MultimodalDataset`` out (from the cache when it can).

Everything is checked before anything is returned or cached: ids, labels, the split, that every class of val and
test is in train, then each modality's values. Cheap checks come first, so a typo fails before images are decoded.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sweeper.data.dataset import DatasetSpec, MultimodalDataset, TaskSpec
from sweeper.data.manifest import cache
from sweeper.data.manifest.images import Source, sources
from sweeper.data.manifest.labels import check_classes_in_train, check_unique_ids, encode_labels
from sweeper.data.manifest.modalities import prepare_modality
from sweeper.data.manifest.section import ColumnSplit, ImageModality, ManifestSection, RandomSplit, VolumeModality
from sweeper.data.manifest.splits import column_split, random_split, split_indices, stratified_split
from sweeper.data.manifest.table import Manifest, read_manifest
from sweeper.data.mapped import MappedArray


def load_manifest(section: ManifestSection, *, cache_dir: Path | None = None) -> MultimodalDataset:
    """The dataset ``section`` describes; with ``section.cache`` a content-keyed copy is reused and kept.

    ``section.path`` should be absolute (see ``resolve_paths``); ``cache_dir`` defaults to ``$SWEEPER_CACHE_DIR``
    or ``~/.cache/sweeper/datasets``.
    """
    # The key needs only the Parquet bytes and the referenced files, so a hit reads no other column.
    media_columns = [m.column for m in section.modalities.values() if isinstance(m, ImageModality | VolumeModality)]
    first = read_manifest(section.path, list(dict.fromkeys(media_columns)))
    media = media_sources(section, first)
    streamed = _should_stream(section, first.num_rows)  # streamed from the cache folder even with cache: false
    if not section.cache and not streamed:
        return _build(section, read_manifest(section.path, section.source_columns()), media)
    files = [item for items, _ in media.values() for item in items if isinstance(item, Path)]
    key = cache.cache_key(section, first.files, files) + ("-stream" if streamed else "")
    directory = cache_dir or cache.default_cache_dir()
    with cache.building(directory, key) if streamed else contextlib.nullcontext():  # one builder per node
        dataset = cache.read_cached(key, directory)
        if dataset is None:
            stream_dir = directory / key if streamed else None
            dataset = _build(section, read_manifest(section.path, section.source_columns()), media, stream_dir)
            cache.write_cached(key, dataset, directory)
    if streamed:
        source = section.model_dump_json()
        for name, values in dataset.inputs.items():
            if isinstance(values, MappedArray):
                copy = NodeCopy(source, str(directory), name)
                dataset.inputs[name] = dataclasses.replace(values, rebuild=copy)
    return dataset


@dataclass(frozen=True)
class NodeCopy:
    """How a node that lacks a streamed modality's file makes its own: it prepares the manifest again, into the
    driver's cache folder path where it can (else its own default one), and gives that file's path.

    The manifest and the files it references must be readable on the node at the same paths."""

    section: str  # the manifest section's JSON
    cache_dir: str
    modality: str

    def __call__(self) -> str:
        section = ManifestSection.model_validate_json(self.section)
        directory = Path(self.cache_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:  # e.g. another user's home on this node
            directory = cache.default_cache_dir()
        values = load_manifest(section, cache_dir=directory).inputs[self.modality]
        assert isinstance(values, MappedArray), "a streamed section streams on every node"
        return values.path


def _should_stream(section: ManifestSection, rows: int) -> bool:
    """``storage: auto``: whether the images and volumes would take more than ``stream_above_gb`` as float32."""
    if section.storage != "auto":
        return section.storage == "stream"
    per_sample = 0
    for m in section.modalities.values():
        if isinstance(m, ImageModality):
            per_sample += (m.channels or 3) * m.size[0] * m.size[1]  # unset channels: counted as colour
        elif isinstance(m, VolumeModality):
            per_sample += m.size[0] * m.size[1] * m.size[2]
    return rows * per_sample * 4 > section.stream_above_gb * 1e9


def media_sources(section: ManifestSection, manifest: Manifest) -> dict[str, tuple[list[Source], list[str]]]:
    """Each image or volume modality's files (checked to exist) or encoded bytes, and the paths as written."""
    return {
        name: sources(manifest, m.column, m.kind)
        for name, m in section.modalities.items()
        if isinstance(m, ImageModality | VolumeModality)
    }


def _build(
    section: ManifestSection,
    manifest: Manifest,
    media: dict[str, tuple[list[Source], list[str]]],
    stream_dir: Path | None = None,
) -> MultimodalDataset:
    if section.id:
        check_unique_ids(manifest, section.id)
    labels = {task: encode_labels(manifest, t.column) for task, t in section.tasks.items()}
    codes = _split_codes(section, manifest, labels)
    splits = split_indices(codes, _split_source(section, manifest.num_rows))
    for task, (values, names) in labels.items():
        check_classes_in_train(section.tasks[task].column, values, names, codes)

    train_rows = splits["train"].numpy()
    prepared = [
        prepare_modality(manifest, name, modality, train_rows, media.get(name), stream_dir)
        for name, modality in section.modalities.items()
    ]
    return MultimodalDataset(
        spec=DatasetSpec(
            modalities=tuple(p.spec for p in prepared),
            tasks=tuple(TaskSpec(task, len(names)) for task, (_, names) in labels.items()),
        ),
        inputs={p.spec.name: p.values for p in prepared},
        targets={task: torch.from_numpy(values) for task, (values, _) in labels.items()},
        splits=splits,
        tokenizers={p.spec.name: p.tokenizer for p in prepared if p.tokenizer is not None},
        classes={task: names for task, (_, names) in labels.items()},
    )


def _split_codes(
    section: ManifestSection, manifest: Manifest, labels: dict[str, tuple[np.ndarray, list[str]]]
) -> np.ndarray:
    split = section.split
    if isinstance(split, ColumnSplit):
        return column_split(manifest, split.column)
    if isinstance(split, RandomSplit):
        return random_split(manifest.num_rows, split)
    stratify = section.stratify_task
    assert stratify is not None
    return stratified_split(labels[stratify][0], split)


def _split_source(section: ManifestSection, n_rows: int) -> str:
    split = section.split
    if isinstance(split, ColumnSplit):
        return f"column {split.column!r}"
    return f"split by {split.by} (val={split.val}, test={split.test} of {n_rows} rows)"
