"""BM25 over passage texts (bm25s), saved as arrays and JSON (never pickle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag_qa.text.vocabulary import tokenize


class Bm25Index:
    def __init__(self, model):
        self._model = model
        self._vocab = model.vocab_dict

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float) -> Bm25Index:
        """Lucene BM25 over ``texts`` (``k1``, ``b``: IndexSettings.bm25_k1 / bm25_b; bm25s
        saves them with the arrays, so an index keeps the values it was built with)."""
        import bm25s

        model = bm25s.BM25(k1=k1, b=b, method="lucene")
        corpus = [tokenize(t) or ["\u2205"] for t in texts]
        model.index(corpus, show_progress=False)
        return cls(model)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), allow_pickle=False, mmap=False))

    @property
    def size(self) -> int:
        return int(self._model.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no query word is known)."""
        known = [t for t in tokenize(query) if t in self._vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)

    def postings(self, token: str) -> np.ndarray:
        """Passages that contain ``token`` (already tokenized/stemmed)."""
        tid = self._vocab.get(token)
        if tid is None:
            return np.zeros(0, dtype=np.int64)
        indptr, indices = self._model.scores["indptr"], self._model.scores["indices"]
        return np.asarray(indices[indptr[tid] : indptr[tid + 1]], dtype=np.int64)

    def containing_all(self, text: str) -> np.ndarray:
        """Boolean mask of passages holding every word of ``text``."""
        mask = np.ones(self.size, dtype=bool)
        for token in set(tokenize(text)):
            hit = np.zeros(self.size, dtype=bool)
            hit[self.postings(token)] = True
            mask &= hit
        return mask

    def idf(self, token: str) -> float:
        """Lucene-style idf; a word the index has never seen gets the highest value."""
        n = self.size
        tid = self._vocab.get(token)
        indptr = self._model.scores["indptr"]
        df = 0 if tid is None else int(indptr[tid + 1] - indptr[tid])  # no copy of the postings
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
