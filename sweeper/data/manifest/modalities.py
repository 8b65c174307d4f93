"""One modality's tensor and spec from its columns; statistics and vocabularies come from the training rows only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch
from torch import Tensor

from sweeper.data.dataset import ModalitySpec
from sweeper.data.manifest.images import Source, load_images, load_volumes
from sweeper.data.manifest.numeric import Scaler, fit_scaler, list_matrix, scalar_matrix, signal_array, standardize
from sweeper.data.manifest.section import (
    FeaturesModality,
    ImageModality,
    Modality,
    SignalModality,
    TabularModality,
    TextModality,
    VolumeModality,
)
from sweeper.data.manifest.table import Manifest, check_no_nulls, column_error, first_true, is_text, type_error
from sweeper.data.manifest.views import is_multi_view, prepare_views
from sweeper.data.mapped import MappedArray, create
from sweeper.data.text import Tokenizer


@dataclass
class PreparedModality:
    spec: ModalitySpec
    values: Tensor | MappedArray  # (N, *spec.shape): float32, int64 token ids for text, or streamed from disk
    tokenizer: Tokenizer | None = None


@dataclass(frozen=True)
class Fitted:
    """What preparing a modality learns from the training rows: a tabular modality's scaler, a text's tokenizer.
    Given to ``prepare_modality``, it is applied instead of learnt: new rows are prepared as training's were."""

    scaler: Scaler | None = None
    tokenizer: Tokenizer | None = None


def prepare_modality(
    manifest: Manifest,
    name: str,
    modality: Modality,
    train_rows: np.ndarray,
    media: tuple[list[Source], list[str]] | None = None,
    stream_dir: Path | None = None,
    fitted: Fitted | None = None,
) -> PreparedModality:
    """The tensor of modality ``name``; ``media`` holds an image or volume column's files or bytes, read already.

    With ``stream_dir``, an image or volume modality is written to ``stream_dir/<name>.npy`` (uint8 for 8-bit
    images) and returned as a ``MappedArray``: it never sits in memory whole. With ``fitted``, scalers and
    tokenizers are not fitted on ``train_rows`` but taken from it.
    """
    if isinstance(modality, TextModality):
        return _text(manifest, name, modality, train_rows, fitted.tokenizer if fitted else None)
    if isinstance(modality, ImageModality | VolumeModality) and is_multi_view(manifest, modality.column):
        assert media is not None
        return PreparedModality(*prepare_views(manifest, name, modality, media, streamed=stream_dir is not None))
    if isinstance(modality, ImageModality | VolumeModality) and stream_dir is not None:
        return _streamed(name, modality, media, stream_dir)
    if isinstance(modality, ImageModality):
        assert media is not None
        values = load_images(*media, modality.column, name, modality.size, modality.channels)  # (N, C, H, W)
    elif isinstance(modality, VolumeModality):
        assert media is not None
        values = load_volumes(*media, modality.column, modality.size)  # (N, C, D, H, W)
    elif isinstance(modality, TabularModality):
        raw = tabular_matrix(manifest, modality)
        values = standardize(raw, fitted.scaler if fitted and fitted.scaler else fit_scaler(raw, train_rows))  # (N, F)
    elif isinstance(modality, SignalModality):
        values = signal_array(manifest, modality.column, modality.channels)  # (N, C, L)
    elif isinstance(modality, FeaturesModality):
        values = list_matrix(manifest, modality.column)  # (N, D)
    else:  # pragma: no cover - the section's discriminated union admits no other kind
        raise TypeError(f"unknown modality options {type(modality).__name__}")
    compact = values.dtype == np.uint8  # 8-bit images stay uint8 (value / 255), in memory and on the device
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=None if compact else np.float32))
    return PreparedModality(ModalitySpec(name, modality.kind, tuple(tensor.shape[1:])), tensor)


def tabular_matrix(manifest: Manifest, modality: TabularModality) -> np.ndarray:
    """A tabular modality's raw values, before scaling: (N, F) float32."""
    columns = modality.source_columns()
    return scalar_matrix(manifest, columns) if modality.columns else list_matrix(manifest, columns[0])


def _streamed(
    name: str,
    modality: ImageModality | VolumeModality,
    media: tuple[list[Source], list[str]] | None,
    folder: Path,
) -> PreparedModality:
    """Decode into ``folder/<name>.npy`` (under a temporary name until complete) and map it."""
    assert media is not None
    final = folder / f"{name}.npy"
    partial = folder / f"{name}.npy.{os.getpid()}.partial"
    made: list[Path] = []

    def store(shape: tuple[int, ...], dtype: type) -> np.ndarray:
        path = partial.with_name(partial.name + str(len(made)))  # a widened store is a new file
        made.append(path)
        return create(path, shape, dtype)

    try:
        if isinstance(modality, ImageModality):
            values = load_images(*media, modality.column, name, modality.size, modality.channels, store)
        else:
            values = load_volumes(*media, modality.column, modality.size, store)
        if isinstance(values, np.memmap):
            values.flush()
        os.replace(made[-1], final)
    finally:
        for path in made:
            path.unlink(missing_ok=True)
    array = MappedArray(str(final), tuple(int(n) for n in values.shape), str(values.dtype))
    return PreparedModality(ModalitySpec(name, modality.kind, array.shape[1:]), array)


def _text(
    manifest: Manifest, name: str, modality: TextModality, train_rows: np.ndarray, tokenizer: Tokenizer | None
) -> PreparedModality:
    column = modality.column
    array = manifest.column(column)
    if not is_text(array.type):
        raise type_error(column, array, f"strings for text modality {name!r}")
    check_no_nulls(array, column, "a text in every row")
    empty = first_true(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(array)), 0))
    if empty is not None:
        raise column_error(column, f"text {array[empty].as_py()!r} is empty; expected at least one word", empty)
    texts = array.to_pylist()
    tokenizer = tokenizer or Tokenizer.fit((texts[i] for i in train_rows.tolist()), max_vocab=modality.max_vocab)
    ids = tokenizer.encode(texts, modality.max_len)  # (N, L) int64
    spec = ModalitySpec(name, "text", (modality.max_len,), vocab_size=tokenizer.vocab_size)
    return PreparedModality(spec, ids, tokenizer)
