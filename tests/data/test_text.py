"""The word tokenizer: vocabulary from the texts it is fitted on, reserved ids, padding, JSON round trip."""

from __future__ import annotations

import pytest
import torch

from sweeper.data.text import PAD_ID, UNKNOWN_ID, Tokenizer, split_words
from sweeper.errors import DataError

TRAIN = ["The cat sat.", "the DOG sat, the dog ran!", "A bird"]


def test_words_are_lowercase_and_punctuation_is_dropped() -> None:
    assert split_words("The DOG's ball, (red) -- 42!") == ["the", "dog's", "ball", "red", "42"]


def test_vocabulary_is_by_frequency_with_ties_alphabetical() -> None:
    tokenizer = Tokenizer.fit(TRAIN)
    # the: 3, dog: 2, sat: 2, then a, bird, cat, ran once each, alphabetically
    assert tokenizer.words == ["the", "dog", "sat", "a", "bird", "cat", "ran"]
    assert tokenizer.vocab_size == 9
    assert Tokenizer.fit(list(reversed(TRAIN))).words == tokenizer.words


def test_max_vocab_counts_the_reserved_ids_and_keeps_the_most_frequent() -> None:
    tokenizer = Tokenizer.fit(TRAIN, max_vocab=4)
    assert tokenizer.words == ["the", "dog"]
    assert tokenizer.vocab_size == 4
    with pytest.raises(DataError, match="max_vocab=1"):
        Tokenizer.fit(TRAIN, max_vocab=1)


def test_encode_pads_with_zero_and_truncates() -> None:
    tokenizer = Tokenizer.fit(TRAIN)
    ids = tokenizer.encode(["the dog", "the cat sat the dog ran"], max_len=4)
    assert ids.dtype == torch.int64 and ids.shape == (2, 4)
    the, dog, sat, cat = (tokenizer.words.index(w) + 2 for w in ("the", "dog", "sat", "cat"))
    assert ids.tolist() == [[the, dog, PAD_ID, PAD_ID], [the, cat, sat, the]]
    assert PAD_ID == 0 and UNKNOWN_ID == 1


def test_unseen_word_maps_to_unknown() -> None:
    tokenizer = Tokenizer.fit(TRAIN)
    ids = tokenizer.encode(["the zebra sat"], max_len=3)[0]
    assert ids[1].item() == UNKNOWN_ID
    assert tokenizer.decode(ids.tolist()) == ["the", "<unk>", "sat"]


def test_fitting_sees_only_the_given_texts() -> None:
    held_out = ["a zebra and a lion"]
    tokenizer = Tokenizer.fit(TRAIN)
    assert "zebra" not in tokenizer.words and "lion" not in tokenizer.words
    ids = tokenizer.encode(held_out, max_len=5)[0].tolist()
    assert ids.count(UNKNOWN_ID) == 3  # zebra, and, lion
    assert "zebra" in Tokenizer.fit(TRAIN + held_out).words


def test_empty_input_gives_an_empty_batch() -> None:
    assert Tokenizer.fit([]).encode([], max_len=3).shape == (0, 3)
    assert Tokenizer.fit(TRAIN).encode([""], max_len=2).tolist() == [[PAD_ID, PAD_ID]]


def test_json_round_trip_keeps_the_ids() -> None:
    tokenizer = Tokenizer.fit(TRAIN)
    restored = Tokenizer.from_json(tokenizer.to_json())
    assert restored == tokenizer
    texts = ["the bird ran", "unknown words here"]
    assert torch.equal(restored.encode(texts, 5), tokenizer.encode(texts, 5))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("not json", "must be JSON"), ('{"format": "other"}', "'other'"), ("[1, 2]", "'list'")],
)
def test_bad_saved_tokenizer_raises_one_line_data_error(text: str, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        Tokenizer.from_json(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_repeated_words_are_rejected() -> None:
    with pytest.raises(DataError, match="repeat"):
        Tokenizer(["a", "b", "a"])
