"""Tokenize once, truncate at the limit, pad per batch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from transferkit.errors import UsageError
from transferkit.plugins.nlp.tokenize import (
    EncodedTexts,
    SpecialTokens,
    TokenCache,
    TokenIds,
    collate_encoded,
    encode_texts,
    normalize_text,
    truncate_ids,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert), local_files_only=True)


def test_truncation_keeps_start_end_or_both():
    ids = list(range(20))
    assert truncate_ids(ids, 5, "right") == [0, 1, 2, 3, 4]
    assert truncate_ids(ids, 5, "left") == [15, 16, 17, 18, 19]
    assert truncate_ids(ids, 8, "head+tail") == [0, 1, 14, 15, 16, 17, 18, 19]
    assert truncate_ids(ids[:3], 5, "head+tail") == [0, 1, 2]
    with pytest.raises(UsageError, match="truncation"):
        truncate_ids(ids, 5, "middle")


def test_special_tokens_are_found_by_probe(tokenizer):
    special = SpecialTokens.of(tokenizer)
    assert special.prefix == (tokenizer.cls_token_id,) and special.suffix == (tokenizer.sep_token_id,)


def test_encode_respects_max_length_and_keeps_special_tokens(tokenizer):
    long_text = " ".join(["the movie was great"] * 30)
    ids = encode_texts(tokenizer, [long_text, "bad film"], max_length=16, truncation="head+tail")
    first, second = ids[0].tolist(), ids[1].tolist()
    assert len(first) == 16 and first[0] == tokenizer.cls_token_id and first[-1] == tokenizer.sep_token_id
    assert second == tokenizer("bad film")["input_ids"]  # short texts are untouched, no padding
    assert ids.flat.dtype == np.int32 and ids.lengths().tolist() == [16, len(second)]
    with pytest.raises(UsageError, match="no room"):
        encode_texts(tokenizer, ["x"], max_length=2)


def test_token_ids_concat_and_empty():
    joined = TokenIds.concat([TokenIds.from_lists([[1, 2]]), TokenIds.from_lists([[3], [4, 5, 6]])])
    assert [joined[i].tolist() for i in range(len(joined))] == [[1, 2], [3], [4, 5, 6]]
    assert len(TokenIds.concat([])) == 0


def test_collate_pads_to_the_longest_in_the_batch_only(tokenizer):
    ids = encode_texts(tokenizer, ["good", "the movie was great fun", "bad"], max_length=64)
    data = EncodedTexts(ids, [1, 0, 1], pad_id=tokenizer.pad_token_id)
    inputs, targets = collate_encoded([data[0], data[2]])
    assert inputs["input_ids"].shape == (2, 3)  # [CLS] word [SEP]: not 64
    inputs, targets = collate_encoded([data[0], data[1]])
    longest = len(ids[1])
    assert inputs["input_ids"].shape == (2, longest)
    assert inputs["attention_mask"][0].tolist() == [1, 1, 1] + [0] * (longest - 3)
    assert inputs["input_ids"][0, 3:].eq(tokenizer.pad_token_id).all()
    assert targets.tolist() == [1, 0] and targets.dtype == torch.long


def test_prediction_dataset_yields_minus_one_targets(tokenizer):
    data = EncodedTexts(encode_texts(tokenizer, ["good"], 16), None, pad_id=0)
    assert data[0][1] == -1


def test_token_dropout_changes_training_views_but_keeps_special_tokens(tokenizer):
    ids = encode_texts(tokenizer, [" ".join(["the movie was great"] * 5)], max_length=64)
    data = EncodedTexts(ids, [0], pad_id=0, token_dropout=0.3)
    torch.manual_seed(0)
    views = [data[0][0].ids for _ in range(5)]
    assert any(len(v) < len(ids[0]) for v in views)
    assert all(v[0] == tokenizer.cls_token_id and v[-1] == tokenizer.sep_token_id for v in views)
    plain = EncodedTexts(ids, [0], pad_id=0)
    assert plain[0][0].ids.tolist() == ids[0].tolist()


def test_token_cache_computes_once():
    cache, calls = TokenCache(size=2), []
    for key in ("a", "a", "b", "a", "c", "b"):
        cache.get_or_compute(key, lambda: calls.append(1) or len(calls))
    # "a" twice (hit), "b", "a" (hit), "c" evicts the least recent ("b"), "b" again computes.
    assert cache.hits == 2 and len(calls) == 4


def test_normalize_text():
    assert normalize_text("a \n\t b ") == "a \n\t b "
    assert normalize_text("a \n\t b ", whitespace=True) == "a b"
    assert normalize_text("mail me: jo@x.org or www.x.org/p", mask_urls=True) == "mail me: [EMAIL] or [URL]"
