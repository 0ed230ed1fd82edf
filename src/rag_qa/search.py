"""Ranking passages for a question (dense search over the FAISS index)."""

from __future__ import annotations

import numpy as np

from .embedding import Embedder
from .index import LoadedIndex
from .records import Passage


class Retriever:
    """Holds a loaded index and the embedder; one per process, reused across questions."""

    def __init__(self, index: LoadedIndex, embedder: Embedder):
        self.index = index
        self.embedder = embedder

    def search(self, question: str, k: int = 5) -> list[Passage]:
        k = max(1, min(k, self.index.vectors.ntotal))
        vec = self.embedder.encode([question])
        scores, ids = self.index.vectors.search(np.asarray(vec, dtype=np.float32), k)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        chunks = self.index.chunks([i for i, _ in found])
        passages = []
        for vec_id, score in found:
            chunk = chunks[vec_id]
            doc = self.index.documents[chunk.doc_id]
            passages.append(Passage(len(passages) + 1, score, chunk, doc))
        return passages
