"""The manifest data section: kind-specific options, split variants, one-line errors, relative paths."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from sweeper.data.manifest import (
    ColumnSplit,
    ManifestSection,
    RandomSplit,
    StratifiedSplit,
    TabularModality,
    parse_manifest_section,
    resolve_paths,
)
from sweeper.data.manifest.section import UNIONS
from sweeper.errors import ConfigError
from sweeper.schema import Union, first_error

BASE: dict[str, Any] = {
    "path": "data/wounds.parquet",
    "modalities": {"photo": {"kind": "image", "column": "photo_path", "size": [64, 64]}},
    "tasks": {"type": {"column": "wound_type"}},
}


def _error(**changes: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_manifest_section({**BASE, **changes}, "spec.yaml: data")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_example_section_parses_with_defaults() -> None:
    section = parse_manifest_section(
        {
            **BASE,
            "id": "sample_id",
            "modalities": {
                "photo": {"kind": "image", "column": "photo_path", "size": [64, 48], "channels": 3},
                "note": {"kind": "text", "column": "description"},
                "vitals": {"kind": "tabular", "columns": ["age", "temp"]},
                "eeg": {"kind": "signal", "column": "eeg", "channels": 8},
                "emb": {"kind": "features", "column": "clip"},
                "scan": {"kind": "volume", "column": "scan_path", "size": [16, 32, 32]},
            },
            "tasks": {"type": {"column": "wound_type"}, "severity": {"column": "severity"}},
            "split": {"column": "split"},
        }
    )
    assert section.source == "manifest" and section.cache is True
    photo, note = section.modalities["photo"], section.modalities["note"]
    assert photo.kind == "image" and photo.size == (64, 48)
    assert note.kind == "text" and (note.max_len, note.max_vocab) == (64, 5000)
    assert section.split == ColumnSplit(column="split")
    columns = ["sample_id", "photo_path", "description", "age", "temp", "eeg", "clip", "scan_path"]
    assert section.source_columns() == [*columns, "wound_type", "severity", "split"]


def test_the_default_split_is_stratified_by_the_first_task() -> None:
    section = ManifestSection.model_validate(BASE)
    assert isinstance(section.split, StratifiedSplit)
    assert (section.split.val, section.split.test, section.split.seed) == (0.15, 0.15, 0)
    assert section.stratify_task == "type"
    random = parse_manifest_section({**BASE, "split": {"by": "random", "val": 0.2, "test": 0.1, "seed": 3}})
    assert random.split == RandomSplit(by="random", val=0.2, test=0.1, seed=3) and random.stratify_task is None


@pytest.mark.parametrize(
    ("modality", "expected"),
    [
        (
            {"kind": "image", "column": "p", "size": [8, 8], "max_len": 3},
            "spec.yaml: data.modalities.photo: unknown key 'max_len'; allowed: kind, column, size, channels",
        ),
        (
            {"kind": "text", "column": "p", "size": [8, 8]},
            "spec.yaml: data.modalities.photo: unknown key 'size'; allowed: kind, column, max_len, max_vocab",
        ),
        (
            {"kind": "signal", "column": "p", "columns": ["a"]},
            "spec.yaml: data.modalities.photo: unknown key 'columns'; allowed: kind, column, channels",
        ),
        (
            {"kind": "volume", "column": "p", "size": [8, 8, 8], "channels": 1},
            "spec.yaml: data.modalities.photo: unknown key 'channels'; allowed: kind, column, size",
        ),
        (
            {"kind": "img", "column": "p"},
            "spec.yaml: data.modalities.photo.kind: unknown kind 'img'; "
            "allowed: image, volume, text, tabular, signal, features",
        ),
        (
            {"column": "p"},
            "spec.yaml: data.modalities.photo: 'kind' is missing; "
            "allowed kinds: image, volume, text, tabular, signal, features",
        ),
        (
            {"kind": "image", "column": "p", "size": [8, 8], "channels": 2},
            "spec.yaml: data.modalities.photo.channels: Input should be 1 or 3 (got 2)",
        ),
        (
            {"kind": "image", "column": "p", "size": [8, 0]},
            "spec.yaml: data.modalities.photo.size: expected [H, W] (2 positive integers), got [8, 0]",
        ),
        (
            {"kind": "volume", "column": "p", "size": [8, 8]},
            "spec.yaml: data.modalities.photo.size: expected [D, H, W] (3 positive integers), got [8, 8]",
        ),
        (
            {"kind": "tabular", "columns": ["a"], "column": "b"},
            "spec.yaml: data.modalities.photo: a tabular modality takes 'columns' (a list) or 'column' "
            "(a list column), got both",
        ),
        (
            {"kind": "tabular", "columns": []},
            "spec.yaml: data.modalities.photo: 'columns' must name at least one column, got []",
        ),
    ],
)
def test_modality_options_are_kind_specific_one_line_errors(modality: dict[str, Any], expected: str) -> None:
    assert _error(modalities={"photo": modality}) == expected


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ({"column": "s", "seed": 1}, "spec.yaml: data.split: unknown key 'seed'; allowed: by, column"),
        (
            {"by": "random", "column": "s"},
            "spec.yaml: data.split: unknown key 'column'; allowed: by, val, test, seed",
        ),
        ({"by": "strat"}, "spec.yaml: data.split: 'by' must be one of column, random, stratified (got 'strat')"),
        (
            {"by": "random", "val": 0.6, "test": 0.5},
            "spec.yaml: data.split: val + test must be below 1 to leave training rows, got 0.6 + 0.5",
        ),
        ({"by": "stratified", "test": 0}, "spec.yaml: data.split.test: Input should be greater than 0 (got 0)"),
        (
            {"by": "stratified", "stratify": "typ"},
            "spec.yaml: data: split.stratify: unknown task 'typ'; tasks: type",
        ),
    ],
)
def test_split_variants_report_one_line_errors(split: dict[str, Any], expected: str) -> None:
    assert _error(split=split) == expected


def test_top_level_mistakes_are_one_line_errors() -> None:
    assert _error(pth="x") == (
        "spec.yaml: data: unknown key 'pth'; allowed: source, path, id, modalities, tasks, split, cache, storage, "
        "stream_above_gb"
    )
    assert _error(tasks={}) == "spec.yaml: data: tasks: a manifest needs at least one task, got none"
    assert _error(tasks={"val/acc": {"column": "y"}}).startswith(
        "spec.yaml: data: tasks: name 'val/acc' is not allowed; expected letters, digits"
    )
    assert _error(tasks={"type": {"col": "y"}}) == "spec.yaml: data.tasks.type: unknown key 'col'; allowed: column"


def test_a_tabular_modality_reads_its_columns_or_one_list_column() -> None:
    assert TabularModality(kind="tabular", columns=["a", "b"]).source_columns() == ["a", "b"]
    assert TabularModality(kind="tabular", column="x").source_columns() == ["x"]


def test_resolve_paths_makes_a_relative_path_absolute_against_the_spec_folder(tmp_path: Path) -> None:
    section = ManifestSection.model_validate(BASE)
    resolved = resolve_paths(section, tmp_path)
    assert resolved.path == str(tmp_path.resolve() / "data" / "wounds.parquet")
    assert resolved.modalities == section.modalities
    absolute = ManifestSection.model_validate({**BASE, "path": "/srv/data/m.parquet"})
    assert resolve_paths(absolute, tmp_path).path == "/srv/data/m.parquet"


def test_first_error_drops_the_tags_of_an_enclosing_union_and_of_the_sections_own() -> None:
    class Other(BaseModel):
        source: Literal["synthetic"]

    class Spec(BaseModel):
        data: Annotated[Other | ManifestSection, Field(discriminator="source")]

    modality = {"kind": "image", "column": "p", "size": [8]}
    with pytest.raises(ValidationError) as info:
        Spec.model_validate({"data": {**BASE, "source": "manifest", "modalities": {"photo": modality}}})
    data_union = Union("source", "data source", ("synthetic", "manifest"), at=("data",))
    unions = (data_union, *(union.under("data") for union in UNIONS))
    loc, message = first_error(info.value, unions)
    assert (loc, message) == ("data.modalities.photo.size", "expected [H, W] (2 positive integers), got [8]")
