"""Multi-view images and volumes: a list column holds each row's views, file paths or encoded bytes, one or more.

    views: [["lesion7/front.png", "lesion7/side.png"], ["lesion8/front.png"], ...]

becomes (N, V, C, H, W) float32 (volumes (N, V, C, D, H, W)), V the most views of any row, a row's missing views
NaN throughout: the mask the model reads (``sweeper.models.views``). Each view is decoded and resized as a single
image or volume is; 8-bit images are scaled to [0, 1] and kept as float32, as NaN needs a float. Streaming from disk
(``storage: stream``) does not take multi-view columns yet and says so.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sweeper.data.dataset import ModalitySpec
from sweeper.data.manifest.images import Source, load_images, load_volumes
from sweeper.data.manifest.section import ImageModality, VolumeModality
from sweeper.data.manifest.table import Manifest, is_list, list_rows
from sweeper.errors import DataError


def is_multi_view(manifest: Manifest, column: str) -> bool:
    """Whether ``column`` holds a list of views per row rather than one file or blob."""
    return is_list(manifest.column(column).type)


def prepare_views(
    manifest: Manifest,
    name: str,
    modality: ImageModality | VolumeModality,
    media: tuple[list[Source], list[str]],
    *,
    streamed: bool,
) -> tuple[ModalitySpec, Tensor]:
    """The spec and (N, V, *shape) values of multi-view modality ``name``; ``media`` holds every row's views in
    turn (``sources``)."""
    column = modality.column
    if streamed:
        raise DataError(
            f"modality {name!r}: column {column!r} holds several views per row, which cannot be streamed from disk "
            "yet; set storage: memory in the data section (storage: auto streams above stream_above_gb)"
        )
    rows = list_rows(manifest.column(column), column, modality.kind)  # (T,) the row of each view
    if isinstance(modality, ImageModality):
        flat = load_images(*media, column, name, modality.size, modality.channels, rows=rows)  # (T, C, H, W)
    else:
        flat = load_volumes(*media, column, modality.size, rows=rows)  # (T, C, D, H, W)
    values = torch.from_numpy(stack_views(flat, rows, manifest.num_rows))  # (N, V, *shape)
    return ModalitySpec(name, modality.kind, tuple(values.shape[2:]), views=values.shape[1]), values


def stack_views(flat: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """(T, *shape) views, each of row ``rows[t]`` (ascending) -> (N, V, *shape) float32, missing views NaN; uint8
    views stand for value / 255."""
    counts = np.bincount(rows, minlength=n_rows)  # (N,) views per row
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])  # (N,) index of each row's first view
    place = np.arange(len(rows)) - first[rows]  # (T,) each view's place among its row's
    out = np.full((n_rows, int(counts.max()), *flat.shape[1:]), np.nan, dtype=np.float32)
    out[rows, place] = flat / np.float32(255.0) if flat.dtype == np.uint8 else flat
    return out
