"""The spam catalog, as plain data (no torch import): the TF-IDF family and the nlp domain's encoders.

The transformer encoders are the nlp domain's own catalog entries, re-registered under ``spam/`` so that
``--model spam/all-minilm-l6-v2`` (or ``--model all-minilm-l6-v2``) loads the same weights the nlp domain does.
"""
from __future__ import annotations

from transferkit.core.specs import ModelSource
from transferkit.plugins.nlp.models import catalog as nlp_catalog

TFIDF_MODEL = "spam/tfidf-linear"
DEFAULT_MODEL = "spam/all-minilm-l6-v2"


def catalog() -> list[ModelSource]:
    """The models of the spam domain.

    Example:
        >>> [m.id for m in catalog()][:2]
        ['spam/tfidf-linear', 'spam/all-minilm-l6-v2']
    """
    tfidf = ModelSource(
        id=TFIDF_MODEL,
        domain="spam",
        description="TF-IDF on words (1-2-grams) and characters (3-5-grams), hashed into 2x131,072 columns, "
        "and a calibrated logistic regression: the baseline beside every result, and a fast filter of its own "
        "(no pretrained weights, no GPU); fitted on your data",
        kind="scratch",
        location="transferkit.plugins.spam.tfidf",
        requires=["sklearn", "scipy"],
        install="pip install 'transferkit[spam]'",
        license="apache-2.0",
        feature_dim=2 * 2**17,
        options={"architecture": "tfidf-hashing"},
    )
    encoders = [
        source.model_copy(update={"id": "spam/" + source.id.split("/", 1)[1], "domain": "spam", "plugin": ""})
        for source in nlp_catalog()
    ]
    return [tfidf, *encoders]
