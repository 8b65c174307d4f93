"""Text renderer: short sentences of filler words in which topic words, chosen by a latent class, are planted.

A ``Topic`` is a class per sample and, for each class, a few synonyms. Each sentence has a random length; each topic
is mentioned at one random position with probability ``mention_prob`` (otherwise the sentence says nothing about
it), and every other position holds a filler word that carries no information. The first word is capitalised and
the sentence ends with a full stop, so the tokenizer's lowercasing and punctuation handling are exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# Words that carry no information in any scenario (no topic word may be one of them).
_FILLER_TEXT = (
    "the a and then with after before today later again near some this that was were has had seen noted "
    "during while also still very quite patient clinic morning evening"
)
FILLER = tuple(_FILLER_TEXT.split())


@dataclass(frozen=True)
class Topic:
    """Which class each sample's text mentions, and the synonyms of every class (the same number per class)."""

    classes: Tensor  # (N,) int64 in [0, len(synonyms))
    synonyms: tuple[tuple[str, ...], ...]  # synonyms[c] = words that name class c
    mention_prob: float  # chance a sentence names its class at all


def topic_sentences(
    topics: list[Topic], g: torch.Generator, *, min_words: int = 6, max_words: int = 12, filler: tuple[str, ...] = ()
) -> list[str]:
    """N sentences of ``min_words``..``max_words`` words; topic words at distinct random positions."""
    filler = filler or FILLER
    n = len(topics[0].classes)
    if min_words < len(topics):
        raise ValueError(f"min_words={min_words} cannot hold {len(topics)} topic words")
    table = list(filler)  # every word a sentence can use; a sentence is a row of indices into it
    lengths = torch.randint(min_words, max_words + 1, (n,), generator=g)  # (N,)
    ids = torch.randint(0, len(filler), (n, max_words), generator=g)  # (N, W) filler everywhere first
    columns = torch.arange(max_words)
    # A random order of each row's used positions (positions past the row's length sort last).
    order = torch.argsort(torch.rand(n, max_words, generator=g) + 2.0 * (columns[None] >= lengths[:, None]), dim=1)
    rows = torch.arange(n)
    for k, topic in enumerate(topics):
        per_class = len(topic.synonyms[0])
        offset = len(table)
        table.extend(word for words in topic.synonyms for word in words)
        synonym = torch.randint(0, per_class, (n,), generator=g)
        mentioned = torch.rand(n, generator=g) < topic.mention_prob
        word = offset + topic.classes * per_class + synonym  # (N,)
        ids[rows, order[:, k]] = torch.where(mentioned, word, ids[rows, order[:, k]])
    return [
        " ".join(table[i] for i in row[:length]).capitalize() + "."
        for row, length in zip(ids.tolist(), lengths.tolist(), strict=True)
    ]
