"""Users' own data: a Parquet manifest described by a ``data`` section, loaded into a ``MultimodalDataset``.

section = resolve_paths(parse_manifest_section(spec["data"]), spec_file.parent)
dataset = load_manifest(section)      # validated; cached by content
print(summary(dataset))               # what ``sweeper data check`` shows
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeper._lazy import lazy_exports

if TYPE_CHECKING:
    from sweeper.data.manifest.cache import default_cache_dir
    from sweeper.data.manifest.load import load_manifest
    from sweeper.data.manifest.section import (
        ColumnSplit,
        FeaturesModality,
        ImageModality,
        ManifestSection,
        RandomSplit,
        SignalModality,
        StratifiedSplit,
        TabularModality,
        TaskColumn,
        TextModality,
        VolumeModality,
        parse_manifest_section,
        resolve_paths,
    )
    from sweeper.data.manifest.summary import summary

__all__ = [
    "ColumnSplit",
    "FeaturesModality",
    "ImageModality",
    "ManifestSection",
    "RandomSplit",
    "SignalModality",
    "StratifiedSplit",
    "TabularModality",
    "TaskColumn",
    "TextModality",
    "VolumeModality",
    "default_cache_dir",
    "load_manifest",
    "parse_manifest_section",
    "resolve_paths",
    "summary",
]
__getattr__, __dir__ = lazy_exports(__name__, __file__)
