"""Images (N, C, H, W) and volumes (N, C, D, H, W) from a manifest column of file paths or encoded bytes.

Paths are relative to the manifest's folder. Images are decoded with Pillow (PNG, JPEG, ...) or numpy (.npy),
scaled to [0, 1] (integer pixels divided by their type's maximum) and resized bilinearly to the section's size.
Volumes are .npy arrays (D, H, W) or (C, D, H, W), resized trilinearly, values kept as stored.
Decoding runs on a few threads (Pillow and numpy release the GIL); errors still name the first bad row.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from sweeper.data.manifest.numeric import check_finite
from sweeper.data.manifest.table import (
    Manifest,
    check_no_nulls,
    column_error,
    first_true,
    is_bytes,
    is_list,
    is_text,
    list_rows,
    type_error,
)
from sweeper.errors import DataError

_NPY_MAGIC = b"\x93NUMPY"
_HIGH_DEPTH = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0, "F": 1.0}  # mode -> full scale
_GRAY_MODES = ("1", "L", "LA", "La")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as Pillow's convert("L")

Source = Path | bytes
T = TypeVar("T")


def sources(manifest: Manifest, column: str, what: str) -> tuple[list[Source], list[str]]:
    """Each row's file (resolved against the manifest's folder; it must exist) or bytes, and how each was written.

    A list column (several views per row, see ``sweeper.data.manifest.views``) gives every row's items in turn;
    ``list_rows`` tells whose each is.
    """
    array = original = manifest.column(column)
    check_no_nulls(array, column, f"a file path or encoded {what} in every row")
    rows, views = np.arange(len(array)), ""
    if is_list(array.type):
        rows, array = list_rows(array, column, f"{what} (a file path or encoded {what})"), array.flatten()
        views = " or lists of them"
        if array.null_count:
            item = first_true(array.is_null())
            raise column_error(
                column, f"a list holds null; expected a file path or encoded {what} in each", int(rows[item])
            )
    if is_bytes(array.type):
        blobs = array.to_pylist()
        return blobs, ["<bytes>"] * len(blobs)
    if not is_text(array.type):
        raise type_error(column, original, f"file paths (strings) or encoded {what} (binary){views}")
    written = array.to_pylist()
    files: list[Source] = []
    for item, text in enumerate(written):
        path = Path(text).expanduser()
        path = path if path.is_absolute() else manifest.root / path
        if not path.is_file():
            problem = f"file {text!r} does not exist (resolved to '{path}'); expected an existing {what} file"
            raise column_error(column, problem, int(rows[item]))
        files.append(path)
    return files, written


Store = Callable[[tuple[int, ...], type], np.ndarray]  # (shape, dtype) -> a new array to fill


def _in_memory(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.empty(shape, dtype=dtype)


def load_images(
    items: list[Source],
    written: list[str],
    column: str,
    modality: str,
    size: tuple[int, int],
    channels: int | None,
    store: Store = _in_memory,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Every item's image as (N, C, H, W) in [0, 1]; C is ``channels`` or, unset, the same in every image.

    Images from 8-bit sources are kept as uint8, ``round(255 * value)``: a quarter of float32's size, in memory, on
    the device and on disk. One image of a higher bit depth makes the whole array float32. ``store`` makes the
    output array (in memory, or a file on disk). ``rows``: the manifest row of each item, for messages, where a
    row holds several (views); by default item i is row i.
    """
    row_of = rows if rows is not None else np.arange(len(items))

    def prepare(item: int) -> tuple[np.ndarray, bool]:
        row = int(row_of[item])
        pixels = _guard(decode_image, items[item], column, row, written[item], "image")  # (c, h, w)
        eight_bit = _eight_bit(items[item])
        if channels is not None:
            pixels = _convert_channels(pixels, channels, column, row)
        return _resize_image(pixels, size), eight_bit  # (C, H, W)

    out: np.ndarray | None = None
    for item, (pixels, eight_bit) in enumerate(_parallel(prepare, len(items))):
        if out is None:
            shape = (len(items), *pixels.shape)  # (N, C, H, W)
            out = store(shape, np.uint8 if eight_bit else np.float32)
        elif pixels.shape[0] != out.shape[1]:
            raise column_error(
                column,
                f"image has {pixels.shape[0]} channels but row 0 has {out.shape[1]}; expected the same in every row "
                f"(set channels: 1 or 3 on modality {modality!r} to convert every image)",
                int(row_of[item]),
            )
        if out.dtype == np.uint8 and not eight_bit:  # a deeper image after 8-bit ones: widen what is stored
            wider = store(out.shape, np.float32)
            wider[:item] = out[:item] / np.float32(255.0)
            out = wider
        out[item] = np.rint(pixels * 255.0) if out.dtype == np.uint8 else pixels
    assert out is not None  # a manifest has rows
    if out.dtype != np.uint8:
        _check_finite(out, column, row_of)  # .npy images may hold NaN
    return out


def _eight_bit(source: Source) -> bool:
    """Whether an image's pixels are 8-bit (Pillow's 1, L, P, RGB, RGBA, ... modes, or a uint8 .npy)."""
    if _is_npy(source):  # the header says, without reading the array
        with io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as stream:
            version = np.lib.format.read_magic(stream)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            return bool(read(stream)[2] == np.uint8)
    with Image.open(_stream(source)) as image:
        return image.mode not in _HIGH_DEPTH


def load_volumes(
    items: list[Source],
    written: list[str],
    column: str,
    size: tuple[int, int, int],
    store: Store | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Every item's volume as (N, C, D, H, W) float32, resized to ``size`` (D, H, W); into ``store`` if given.
    ``rows`` as for ``load_images``."""
    row_of = rows if rows is not None else np.arange(len(items))

    def prepare(item: int) -> np.ndarray:
        row = int(row_of[item])
        voxels = _guard(decode_volume, items[item], column, row, written[item], "volume")
        if voxels.ndim == 3:
            voxels = voxels[None]  # (1, D, H, W)
        elif voxels.ndim != 4:
            shape = tuple(voxels.shape)
            raise column_error(column, f"volume has shape {shape}; expected (D, H, W) or (C, D, H, W)", row)
        if tuple(voxels.shape[1:]) == size:
            return voxels
        tensor = torch.from_numpy(np.ascontiguousarray(voxels))[None]  # (1, C, d, h, w)
        return torch.nn.functional.interpolate(tensor, size=size, mode="trilinear", align_corners=False)[0].numpy()

    out: np.ndarray | None = None
    for item, voxels in enumerate(_parallel(prepare, len(items))):
        if out is None:
            out = (store or _in_memory)((len(items), *voxels.shape), np.float32)  # (N, C, D, H, W)
        elif voxels.shape[0] != out.shape[1]:
            problem = f"volume has {voxels.shape[0]} channels but row 0 has {out.shape[1]}; expected the same"
            raise column_error(column, problem, int(row_of[item]))
        out[item] = voxels
    assert out is not None
    _check_finite(out, column, row_of)
    return out


def _check_finite(values: np.ndarray, column: str, rows: np.ndarray) -> None:
    """``check_finite``, its error naming the manifest row of the item (several items share a row in a list)."""
    try:
        check_finite(values, column)
    except DataError:
        item = int(np.argmin(np.isfinite(values.reshape(len(values), -1)).all(axis=1)))
        bad = values[item][~np.isfinite(values[item])].flat[0]
        raise column_error(column, f"value {bad} is not finite; expected finite numbers", int(rows[item])) from None


def decode_image(source: Source) -> np.ndarray:
    """One image as (C, h, w) float32 in [0, 1], at its own size: C is 1 for gray images, 3 for colour ones."""
    if _is_npy(source):
        array = _scaled(np.load(_stream(source), allow_pickle=False))
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3:
            raise ValueError(f"a .npy image has shape {array.shape}; expected (H, W) or (C, H, W)")
        return array
    with Image.open(_stream(source)) as image:
        image.load()
        if image.mode in _HIGH_DEPTH:
            return (np.asarray(image, dtype=np.float32) / _HIGH_DEPTH[image.mode])[None]  # (1, h, w)
        gray = image.mode in _GRAY_MODES
        pixels = np.asarray(image.convert("L" if gray else "RGB"), dtype=np.float32) / 255.0
    return pixels[None] if gray else pixels.transpose(2, 0, 1)  # (C, h, w)


def decode_volume(source: Source) -> np.ndarray:
    """One .npy volume as float32, values as stored."""
    return np.load(_stream(source), allow_pickle=False).astype(np.float32)


def _convert_channels(pixels: np.ndarray, channels: int, column: str, row: int) -> np.ndarray:
    found = pixels.shape[0]
    if found == channels:
        return pixels
    if found == 1 and channels == 3:
        return np.repeat(pixels, 3, axis=0)
    if found == 3 and channels == 1:
        return np.tensordot(_LUMA, pixels, axes=1)[None].astype(np.float32)
    raise column_error(column, f"image has {found} channels; expected 1 or 3 to convert to channels: {channels}", row)


def _resize_image(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    if pixels.shape[1:] == (height, width):
        return pixels.astype(np.float32, copy=False)
    planes = [np.asarray(Image.fromarray(plane).resize((width, height), Image.Resampling.BILINEAR)) for plane in pixels]
    return np.stack(planes).astype(np.float32, copy=False)  # (C, H, W)


def _guard(
    decode: Callable[[Source], np.ndarray], item: Source, column: str, row: int, written: str, what: str
) -> np.ndarray:
    """``decode(item)``, its failure turned into one line naming the row and the file as written."""
    try:
        return decode(item)
    except UnidentifiedImageError:
        reason = "not a recognised image format"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    name = "the encoded bytes" if isinstance(item, bytes) else f"{what} {written!r}"
    raise column_error(column, f"cannot read {name}: {reason}; expected a readable {what}", row)


def _parallel(prepare: Callable[[int], T], count: int) -> Iterator[T]:
    """``prepare(row)`` for every row on a few threads, yielded in row order; the first error stops the rest."""
    pool = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
    try:
        yield from pool.map(prepare, range(count))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _is_npy(source: Source) -> bool:
    return source[:6] == _NPY_MAGIC if isinstance(source, bytes) else source.suffix.lower() == ".npy"


def _stream(source: Source) -> io.BytesIO | Path:
    return io.BytesIO(source) if isinstance(source, bytes) else source


def _scaled(array: np.ndarray) -> np.ndarray:
    """Integer pixels divided by their type's maximum (uint8 by 255); floats kept as they are."""
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        return (array / np.iinfo(array.dtype).max).astype(np.float32)
    return array.astype(np.float32)
