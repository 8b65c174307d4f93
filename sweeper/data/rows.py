"""New rows in, model inputs out: a trained model reads new samples exactly as its training data was read.

A model trained on a manifest takes rows with the manifest's columns: image and volume paths (relative to a root
folder) or bytes, texts, numbers. The scalers and tokenizers fitted on the training rows are applied, never fitted
again. A model trained on built-in data takes one column per modality holding each sample's values in the
modality's shape (``sweeper list`` and the spec's data section tell the shapes), and a string for a text modality.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import Tensor

from sweeper.data.dataset import DatasetSpec, ModalitySpec, MultimodalDataset, TaskSpec
from sweeper.data.manifest.load import media_sources
from sweeper.data.manifest.modalities import Fitted, prepare_modality, tabular_matrix
from sweeper.data.manifest.numeric import Scaler, fit_scaler
from sweeper.data.manifest.section import ManifestSection, TabularModality
from sweeper.data.manifest.table import Manifest, column_error, read_manifest
from sweeper.data.mapped import as_float
from sweeper.data.text import Tokenizer
from sweeper.errors import DataError

_FORMAT = "sweeper.rows/1"


@dataclass
class RowReader:
    """What reading new rows needs: the dataset's spec and class names, the manifest section (None for built-in
    data), and what was fitted on the training rows. Round-trips through JSON, to travel with a logged model."""

    spec: DatasetSpec
    classes: dict[str, list[str]]  # task -> class names in index order
    section: ManifestSection | None = None
    scalers: dict[str, Scaler] = field(default_factory=dict)  # tabular modality -> (mean, std) of training rows
    tokenizers: dict[str, Tokenizer] = field(default_factory=dict)  # text modality -> its training tokenizer

    @classmethod
    def for_dataset(cls, dataset: MultimodalDataset, section: ManifestSection | None) -> RowReader:
        """The reader of ``dataset``'s rows; a manifest's scalers are fitted again on its training rows."""
        scalers: dict[str, Scaler] = {}
        tabular = {n: m for n, m in (section.modalities.items() if section else []) if isinstance(m, TabularModality)}
        if section is not None and tabular:
            columns = list(dict.fromkeys(c for m in tabular.values() for c in m.source_columns()))
            manifest = read_manifest(section.path, columns)
            train_rows = dataset.splits["train"].cpu().numpy()
            scalers = {n: fit_scaler(tabular_matrix(manifest, m), train_rows) for n, m in tabular.items()}
        tasks = dataset.spec.tasks
        classes = {t.name: dataset.classes.get(t.name) or [str(i) for i in range(t.num_classes)] for t in tasks}
        return cls(dataset.spec, classes, section, scalers, dict(dataset.tokenizers))

    @property
    def columns(self) -> list[str]:
        """The columns a row must have."""
        if self.section is None:
            return self.spec.modality_names
        return self.section.input_columns()

    def read(self, table: pa.Table, root: Path) -> dict[str, Tensor]:
        """``{modality: (N, *shape) float32 or int64 ids}`` for the rows of ``table``; paths are relative to root."""
        missing = [c for c in self.columns if c not in table.column_names]
        if missing:
            raise DataError(
                f"rows lack column {missing[0]!r}; expected the columns {', '.join(self.columns)} "
                f"(got {', '.join(table.column_names) or 'none'})"
            )
        if self.section is None:
            return {m.name: self._built_in(table, m) for m in self.spec.modalities}
        manifest = Manifest(table.select(self.columns), (), root)
        media = media_sources(self.section, manifest)
        inputs = {}
        for name, modality in self.section.modalities.items():
            fitted = Fitted(self.scalers.get(name), self.tokenizers.get(name))
            prepared = prepare_modality(manifest, name, modality, np.arange(0), media.get(name), fitted=fitted)
            assert isinstance(prepared.values, Tensor), "new rows are prepared in memory"
            inputs[name] = as_float(prepared.values)
        return inputs

    def _built_in(self, table: pa.Table, modality: ModalitySpec) -> Tensor:
        cells = table.column(modality.name).to_pylist()
        if modality.kind == "text":
            return self.tokenizers[modality.name].encode([str(c) for c in cells], modality.shape[0])
        size, shape = int(np.prod(modality.shape)), "x".join(map(str, modality.shape))
        views = max(modality.views, 1)  # a multi-view cell holds 1 to `views` samples of the shape, one after another
        rows = []
        for row, cell in enumerate(cells):
            values = np.asarray(cell, dtype=np.float32).reshape(-1)
            if values.size % size or not 0 < values.size // size <= views:
                expected = f"{size}" if not modality.views else f"1 to {views} times {size}"
                problem = f"{values.size} values; expected {expected}, the {modality.kind} shape {shape}"
                raise column_error(modality.name, problem, row)
            if not modality.views:
                rows.append(values.reshape(modality.shape))
                continue
            padded = np.full((views, size), np.nan, dtype=np.float32)  # missing views are NaN, as the loaders pad
            padded[: values.size // size] = values.reshape(-1, size)
            rows.append(padded.reshape(views, *modality.shape))
        return torch.from_numpy(np.stack(rows))  # (N, *shape) or (N, V, *shape)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": _FORMAT,
                "modalities": [[m.name, m.kind, list(m.shape), m.vocab_size, m.views] for m in self.spec.modalities],
                "tasks": [[t.name, t.num_classes] for t in self.spec.tasks],
                "classes": self.classes,
                "section": self.section.model_dump(mode="json") if self.section else None,
                "scalers": {n: [mean.tolist(), std.tolist()] for n, (mean, std) in self.scalers.items()},
                "tokenizers": {n: t.to_json() for n, t in self.tokenizers.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RowReader:
        data: dict[str, Any] = json.loads(text)
        if data.get("format") != _FORMAT:
            raise DataError(f"row reader format {data.get('format')!r} is not known; expected {_FORMAT!r}")
        spec = DatasetSpec(
            modalities=tuple(ModalitySpec(n, k, tuple(s), v, views) for n, k, s, v, views in data["modalities"]),
            tasks=tuple(TaskSpec(n, c) for n, c in data["tasks"]),
        )
        section = ManifestSection.model_validate(data["section"]) if data["section"] else None
        scalers = {n: (np.asarray(mean), np.asarray(std)) for n, (mean, std) in data["scalers"].items()}
        tokenizers = {n: Tokenizer.from_json(t) for n, t in data["tokenizers"].items()}
        return cls(spec, data["classes"], section, scalers, tokenizers)


def sample_rows(dataset: MultimodalDataset, reader: RowReader, rows: Tensor) -> tuple[pa.Table, Path]:
    """Rows ``rows`` of ``dataset`` in ``reader``'s format, and the folder their paths are relative to: an example
    of what the model reads (a manifest's own rows; built-in data's values, with texts written back as words)."""
    index = rows.cpu()
    if reader.section is not None:
        manifest = read_manifest(reader.section.path, reader.columns)
        return manifest.table.take(pa.array(index.numpy())), manifest.root
    columns: dict[str, list[Any]] = {}
    for m in dataset.spec.modalities:
        values = dataset.batch_of(index.to(dataset.splits["train"].device)).inputs[m.name].cpu()
        if m.kind == "text":
            tokenizer = dataset.tokenizers[m.name]
            columns[m.name] = [" ".join(tokenizer.decode([i for i in ids if i])) for ids in values.tolist()]
        else:  # a multi-view sample's padded (NaN) views are left out
            flat = values.reshape(len(index), -1).numpy()
            columns[m.name] = [sample[~np.isnan(sample)].tolist() for sample in flat]
    return pa.table(columns), Path.cwd()
