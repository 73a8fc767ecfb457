"""A small TF-IDF index (smooth idf, l2-normalised rows) on scipy sparse matrices."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from scipy import sparse

TOKEN = re.compile(r"[a-z0-9]+")


class TfidfIndex:
    def __init__(self, documents: list[str]):
        tokenised = [TOKEN.findall(d.lower()) for d in documents]
        self.vocabulary = {w: i for i, w in enumerate(sorted({w for doc in tokenised for w in doc}))}
        document_frequency = Counter(w for doc in tokenised for w in set(doc))
        n = len(documents)
        self.idf = np.array([np.log((1 + n) / (1 + document_frequency[w])) + 1 for w in self.vocabulary])
        self.matrix = self._vectorise(tokenised)

    def _vectorise(self, tokenised: list[list[str]]) -> sparse.csr_matrix:
        rows, cols, values = [], [], []
        for row, doc in enumerate(tokenised):
            for word, count in Counter(w for w in doc if w in self.vocabulary).items():
                column = self.vocabulary[word]
                rows.append(row)
                cols.append(column)
                values.append(count * self.idf[column])
        matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(tokenised), len(self.vocabulary)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ matrix

    def similarity(self, queries: list[str]) -> np.ndarray:
        """Cosine similarity of each query to each indexed document, shape (queries, documents)."""
        vectors = self._vectorise([TOKEN.findall(q.lower()) for q in queries])
        return np.asarray((vectors @ self.matrix.T).todense())
