"""TF-IDF on words and characters as a transferkit backbone: texts in, one TF-IDF vector per text out.

Words and character n-grams are hashed (scikit-learn's ``HashingVectorizer``) into a fixed number of
columns, so there is no vocabulary to store and memory stays bounded however much mail is read: the only
fitted state is the inverse document frequency of each column, a buffer saved in ``model.safetensors``.
Because the columns do not depend on the data, a model adapted to new mail (generic to specific) sees the
same columns as the generic model it starts from, and the generic weights can serve as its prior.
The linear model on top is the core's head (``nn.Linear``), fitted by :mod:`.linear`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from transferkit.core.backbone import Backbone
from transferkit.errors import UsageError

DEFAULTS: dict[str, Any] = {
    "architecture": "tfidf-hashing",
    "word_ngrams": [1, 2],
    "char_ngrams": [3, 5],
    "hash_bits": 17,  # per analyzer: 2**17 word columns + 2**17 character columns
    "max_chars": 3000,  # texts are cut before vectorizing: the spam signal is early, and cost grows with length
    "sublinear_tf": True,
}


class TfidfBackbone(Backbone):
    """Hashed word and character n-gram counts, weighted by a fitted inverse document frequency.

    ``forward(texts)`` returns a ``[batch, 2 * 2**hash_bits]`` float tensor of l2-normalised
    TF-IDF rows (as a sparse tensor); :meth:`sparse` returns the same rows as a SciPy CSR matrix for fitting.

    Example:
        >>> tb = TfidfBackbone(hash_bits=10)
        >>> _ = tb.fit_idf(["win a prize now", "meeting at noon"])  # returns the training rows
        >>> tb(["win now"]).shape
        torch.Size([1, 2048])
    """

    def __init__(self, **config: Any):
        super().__init__()
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise UsageError(f"unknown TF-IDF option(s) {', '.join(unknown)}", fix=f"allowed: {', '.join(DEFAULTS)}")
        self.settings = {**DEFAULTS, **config}
        bits = int(self.settings["hash_bits"])
        if not 8 <= bits <= 22:
            raise UsageError(f"hash_bits must be between 8 and 22, got {bits}", field="preprocess.hash_bits")
        self.n_columns = 2**bits
        self.feature_dim = 2 * self.n_columns
        # Fitted state (saved with the weights): idf per column; 1.0 everywhere means "not fitted yet".
        self.register_buffer("idf", torch.ones(self.feature_dim, dtype=torch.float32))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.float32))
        self._vectorizers = self._make_vectorizers()

    def _make_vectorizers(self) -> tuple[Any, Any]:
        from sklearn.feature_extraction.text import HashingVectorizer

        common = {"n_features": self.n_columns, "alternate_sign": False, "norm": None, "lowercase": True,
                  "dtype": np.float32}
        # \w+ keeps one-character tokens and digits: "£", "2", "u" carry signal in SMS spam.
        words = HashingVectorizer(ngram_range=tuple(self.settings["word_ngrams"]), token_pattern=r"(?u)\b\w+\b",
                                  **common)
        chars = HashingVectorizer(analyzer="char_wb", ngram_range=tuple(self.settings["char_ngrams"]), **common)
        return words, chars

    # ------------------------------------------------------------------ vectorizing
    def counts(self, texts: list[str]) -> Any:
        """Raw hashed n-gram counts, a CSR matrix ``[len(texts), feature_dim]``."""
        from scipy.sparse import hstack

        limit = int(self.settings["max_chars"])
        texts = [str(t)[:limit] for t in texts]
        words, chars = self._vectorizers
        return hstack([words.transform(texts), chars.transform(texts)], format="csr", dtype=np.float32)

    def fit_idf(self, texts: list[str] | None = None, *, counts: Any = None) -> Any:
        """Learn the inverse document frequency of each column from ``texts`` (no labels needed).

        Pass ``counts`` (from :meth:`counts`) instead to reuse a vectorization; returns the counts.
        """
        from sklearn.feature_extraction.text import TfidfTransformer

        counts = self.counts(texts or []) if counts is None else counts
        transformer = TfidfTransformer(sublinear_tf=bool(self.settings["sublinear_tf"])).fit(counts)
        self.idf.copy_(torch.from_numpy(transformer.idf_.astype(np.float32)))
        self.fitted.fill_(1.0)
        return counts

    def sparse(self, texts: list[str] | None = None, *, counts: Any = None) -> Any:
        """l2-normalised TF-IDF rows of ``texts`` (or of their ``counts``) as a CSR matrix."""
        from sklearn.feature_extraction.text import TfidfTransformer

        transformer = TfidfTransformer(sublinear_tf=bool(self.settings["sublinear_tf"]))
        transformer.idf_ = self.idf.numpy().astype(np.float64)  # the fitted idf, as saved in the artifact
        counts = self.counts(texts or []) if counts is None else counts
        return transformer.transform(counts).astype(np.float32)

    def forward(self, inputs: list[str]) -> torch.Tensor:
        """A sparse COO ``[batch, feature_dim]`` tensor: ``nn.Linear`` multiplies it without densifying,
        which would cost a 1 MB row of zeros per message."""
        if not float(self.fitted):
            raise UsageError("the TF-IDF backbone has not been fitted on any text yet",
                             fix="train it first: transferkit train --domain spam --model spam/tfidf-linear ...")
        rows = self.sparse(list(inputs)).tocoo()
        indices = torch.from_numpy(np.vstack([rows.row, rows.col]).astype(np.int64))
        return torch.sparse_coo_tensor(indices, torch.from_numpy(rows.data), rows.shape, check_invariants=True).coalesce()

    # ------------------------------------------------------------------ protocol
    def layer_groups(self) -> list[nn.Module]:
        """None: nothing here is trained by gradient descent (the idf is fitted, not learned)."""
        return []

    def config(self) -> dict[str, Any]:
        """The vectorizer settings; the idf travels in ``model.safetensors``."""
        return dict(self.settings)
