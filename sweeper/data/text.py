"""A word-level tokenizer fitted on the training split only: texts in, (N, L) int64 token ids out.

Words are lowercase runs of letters and digits (an apostrophe may join two runs: "don't"). The vocabulary keeps the
``max_vocab - 2`` most frequent words, ties broken alphabetically, so the same texts always give the same ids.
Two ids are reserved: 0 pads a text shorter than ``max_len`` and 1 stands for any word not in the vocabulary.
A fitted tokenizer round-trips through JSON, so a sweep can save it next to its model.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from sweeper.errors import DataError

PAD_ID = 0
UNKNOWN_ID = 1
_RESERVED = 2  # ids below this are PAD_ID and UNKNOWN_ID
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_FORMAT = "sweeper.word_tokenizer/1"


def split_words(text: str) -> list[str]:
    """The words of ``text``: lowercased, punctuation and whitespace dropped."""
    return _WORD.findall(text.lower())


class Tokenizer:
    """Maps words to ids: 0 = padding, 1 = unknown word, 2.. = the vocabulary by descending frequency."""

    def __init__(self, words: Sequence[str]) -> None:
        if len(set(words)) != len(words):
            raise DataError(f"a tokenizer vocabulary must not repeat words, but got {len(words)} words with repeats")
        self.words = list(words)  # the word with id i + 2 is words[i]
        self._ids = {word: i + _RESERVED for i, word in enumerate(self.words)}

    @classmethod
    def fit(cls, texts: Iterable[str], *, max_vocab: int = 10_000) -> Tokenizer:
        """Learn the vocabulary of ``texts`` (pass the training split only); at most ``max_vocab`` ids in all."""
        if max_vocab < _RESERVED:
            raise DataError(f"max_vocab must be >= {_RESERVED} (padding and unknown), but got {max_vocab=}")
        counts = Counter(word for text in texts for word in split_words(text))
        ranked = sorted(counts, key=lambda word: (-counts[word], word))
        return cls(ranked[: max_vocab - _RESERVED])

    @property
    def vocab_size(self) -> int:
        """Number of ids, reserved ones included: every id lies in [0, vocab_size)."""
        return len(self.words) + _RESERVED

    def encode(self, texts: Sequence[str], max_len: int) -> Tensor:
        """Token ids (N, max_len) int64: each text's first ``max_len`` words, then padding."""
        if max_len < 1:
            raise DataError(f"max_len must be >= 1, but got {max_len=}")
        rows = []
        for text in texts:
            tokens = [self._ids.get(word, UNKNOWN_ID) for word in split_words(text)[:max_len]]
            rows.append(tokens + [PAD_ID] * (max_len - len(tokens)))
        return torch.tensor(rows, dtype=torch.int64).reshape(len(texts), max_len)  # (N, L)

    def decode(self, ids: Sequence[int]) -> list[str]:
        """The words of one row of ids, padding dropped and unknown words shown as "<unk>"."""
        return [self.words[i - _RESERVED] if i >= _RESERVED else "<unk>" for i in ids if i != PAD_ID]

    def to_json(self) -> str:
        return json.dumps({"format": _FORMAT, "words": self.words})

    @classmethod
    def from_json(cls, text: str) -> Tokenizer:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"a saved tokenizer must be JSON, but parsing failed: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise DataError(f"a saved tokenizer must have format {_FORMAT!r}, but got {found!r}")
        words = data.get("words")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise DataError("a saved tokenizer's 'words' must be a list of strings")
        return cls(words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.words == other.words

    def __hash__(self) -> int:
        return hash(tuple(self.words))

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size})"
