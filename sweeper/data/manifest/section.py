"""The ``data`` section for a user's own data: a Parquet manifest, its modalities, tasks and split, as pydantic models.

Unknown keys are errors everywhere, reported with the allowed keys; each modality kind takes only its own options.
``parse_manifest_section`` turns every problem into one ``ConfigError`` line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from sweeper.schema import StrictModel, Union, parse_mapping

# Modality and task names end up in metric keys such as val/<task>/acc.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _check_size(value: Any, names: str) -> tuple[int, ...]:
    """``size`` as len(names) positive integers, e.g. [H, W]; anything else is one clear error."""
    ok = isinstance(value, list | tuple) and len(value) == len(names)
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ValueError(f"expected [{', '.join(names)}] ({len(names)} positive integers), got {value!r}")
    return tuple(value)


class ImageModality(StrictModel):
    kind: Literal["image"]
    column: str  # file paths (PNG, JPEG, NPY), relative to the manifest's folder, or encoded image bytes
    size: tuple[int, int]  # [H, W] every image is resized to
    channels: Literal[1, 3] | None = None  # convert every image to gray (1) or RGB (3); unset: all must agree

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> tuple[int, ...]:
        return _check_size(value, "HW")

    def source_columns(self) -> list[str]:
        return [self.column]


class VolumeModality(StrictModel):
    kind: Literal["volume"]
    column: str  # .npy files (D, H, W) or (C, D, H, W), or .npy bytes
    size: tuple[int, int, int]  # [D, H, W] every volume is resized to

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> tuple[int, ...]:
        return _check_size(value, "DHW")

    def source_columns(self) -> list[str]:
        return [self.column]


class TextModality(StrictModel):
    kind: Literal["text"]
    column: str  # one string per row
    max_len: int = Field(64, ge=1)  # words kept per text; shorter texts are padded
    max_vocab: int = Field(5000, ge=3)  # token ids in all, padding and unknown included

    def source_columns(self) -> list[str]:
        return [self.column]


class TabularModality(StrictModel):
    kind: Literal["tabular"]
    columns: list[str] | None = None  # numeric columns, one feature each
    column: str | None = None  # or one list column with the same number of numbers in every row

    @model_validator(mode="after")
    def _one_source(self) -> TabularModality:
        if (self.columns is None) == (self.column is None):
            given = "both" if self.columns is not None else "neither"
            raise ValueError(f"a tabular modality takes 'columns' (a list) or 'column' (a list column), got {given}")
        if self.columns is not None and not self.columns:
            raise ValueError("'columns' must name at least one column, got []")
        return self

    def source_columns(self) -> list[str]:
        return list(self.columns) if self.columns is not None else [str(self.column)]


class SignalModality(StrictModel):
    kind: Literal["signal"]
    column: str  # list<number> per row (C*L, channel after channel) or list<list<number>> (C lists of L)
    channels: int | None = Field(None, ge=1)  # C; a flat list defaults to 1, a nested one gives its own

    def source_columns(self) -> list[str]:
        return [self.column]


class FeaturesModality(StrictModel):
    kind: Literal["features"]
    column: str  # list<number> with the same length D in every row, e.g. a precomputed embedding

    def source_columns(self) -> list[str]:
        return [self.column]


Modality = Annotated[
    ImageModality | VolumeModality | TextModality | TabularModality | SignalModality | FeaturesModality,
    Field(discriminator="kind"),
]
MODALITY_OPTIONS = {
    "image": ImageModality,
    "volume": VolumeModality,
    "text": TextModality,
    "tabular": TabularModality,
    "signal": SignalModality,
    "features": FeaturesModality,
}


class TaskColumn(StrictModel):
    column: str  # labels of any scalar type; classes are its sorted unique values


class ColumnSplit(StrictModel):
    by: Literal["column"] = "column"
    column: str  # values train, val or test


class DrawnSplit(StrictModel):
    """A split drawn with a seed: the fractions of rows in val and test, the rest in train."""

    by: str  # narrowed by each subclass; declared here so it is listed first among the allowed keys
    val: float = Field(0.15, gt=0, lt=1)  # fraction of rows in the validation split
    test: float = Field(0.15, gt=0, lt=1)  # fraction of rows in the test split
    seed: int = 0

    @model_validator(mode="after")
    def _room_for_train(self) -> DrawnSplit:
        if self.val + self.test >= 1:
            raise ValueError(f"val + test must be below 1 to leave training rows, got {self.val} + {self.test}")
        return self


class RandomSplit(DrawnSplit):
    by: Literal["random"]


class StratifiedSplit(DrawnSplit):
    by: Literal["stratified"]
    stratify: str | None = None  # the task whose class proportions every split keeps; default: the first task


SPLIT_KINDS = ("column", "random", "stratified")


def _split_tag(value: Any) -> str:
    by = value.get("by", "column") if isinstance(value, dict) else getattr(value, "by", "column")
    return by if isinstance(by, str) else repr(by)


Split = Annotated[
    Annotated[ColumnSplit, Tag("column")]
    | Annotated[RandomSplit, Tag("random")]
    # the stratified split is the default; see ManifestSection.split
    | Annotated[StratifiedSplit, Tag("stratified")],
    Discriminator(
        _split_tag,
        custom_error_type="split_by",
        custom_error_message=f"'by' must be one of {', '.join(SPLIT_KINDS)}",
    ),
]


class ManifestSection(StrictModel):
    source: Literal["manifest"] = "manifest"
    path: str  # a Parquet file or a folder of Parquet files; image and volume paths are relative to its folder
    id: str | None = None  # optional sample id column; duplicate ids are an error
    modalities: dict[str, Modality]
    tasks: dict[str, TaskColumn]
    split: Split = StratifiedSplit(by="stratified")
    cache: bool = True  # keep the prepared tensors in the dataset cache, keyed by content
    # Where images and volumes live while trials train: "memory" (tensors, moved to the device whole), "stream" (an
    # .npy file per modality in the dataset cache, memory-mapped and streamed batch by batch; uint8 for 8-bit images)
    # or "auto": stream when they would take more than stream_above_gb as float32.
    storage: Literal["auto", "memory", "stream"] = "auto"
    stream_above_gb: float = Field(4.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> ManifestSection:
        if not self.modalities:
            raise ValueError("modalities: a manifest needs at least one modality, got none")
        if not self.tasks:
            raise ValueError("tasks: a manifest needs at least one task, got none")
        for section, names in (("modalities", self.modalities), ("tasks", self.tasks)):
            for name in names:
                if not _NAME.fullmatch(name):
                    raise ValueError(
                        f"{section}: name {name!r} is not allowed; expected letters, digits, '_', '.' or '-' "
                        "(names become parts of metric keys)"
                    )
        if isinstance(self.split, StratifiedSplit) and self.split.stratify not in (None, *self.tasks):
            raise ValueError(f"split.stratify: unknown task {self.split.stratify!r}; tasks: {', '.join(self.tasks)}")
        return self

    @property
    def stratify_task(self) -> str | None:
        """The task a stratified split keeps the proportions of (None for other splits)."""
        if isinstance(self.split, StratifiedSplit):
            return self.split.stratify or next(iter(self.tasks))
        return None

    def input_columns(self) -> list[str]:
        """The columns the modalities read, each once: all a row needs to be predicted."""
        return list(dict.fromkeys(c for m in self.modalities.values() for c in m.source_columns()))

    def source_columns(self) -> list[str]:
        """Every column the manifest reads, each once, in a stable order."""
        names = [self.id] if self.id else []
        names += self.input_columns()
        names += [t.column for t in self.tasks.values()]
        if isinstance(self.split, ColumnSplit):
            names.append(self.split.column)
        return list(dict.fromkeys(names))


def resolve_paths(section: ManifestSection, base_dir: str | Path) -> ManifestSection:
    """``section`` with a relative ``path`` made absolute against ``base_dir`` (the spec file's folder)."""
    path = Path(section.path).expanduser()
    if not path.is_absolute():
        path = Path(base_dir).expanduser().resolve() / path
    return section.model_copy(update={"path": str(path)})


def parse_manifest_section(data: Any, source: str = "data") -> ManifestSection:
    """Validate a parsed ``data`` mapping; every problem is one ``ConfigError`` line prefixed by ``source``."""
    what = "a manifest data section must be a mapping"
    return parse_mapping(ManifestSection, data, source, UNIONS, INPUTS, what=what, key_path=True)


# The manifest section's tagged unions, and what a bad split shows of its input (the value of 'by').
UNIONS = (
    Union("kind", "kind", tuple(MODALITY_OPTIONS), at=("modalities.*",)),
    Union("by", "split", SPLIT_KINDS, at=("split",)),
)
INPUTS = {"split_by": _split_tag}
