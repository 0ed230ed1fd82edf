"""How much of the question the top passages speak to (the answer abstains under a threshold)."""

from __future__ import annotations

from rag_qa.index.bm25 import Bm25Index
from rag_qa.records import Passage
from rag_qa.text.vocabulary import token_set, tokenize


def coverage(topic: str, passages: list[Passage], bm25: Bm25Index) -> float:
    """The idf-weighted share of the question's topic words (``QueryIntent.topic``: without
    its dates, report words and councils) that the passages contain. A question that is all
    framing ("When did the latest inspection of Kent take place?") has nothing to cover: 1."""
    words = set(tokenize(topic))
    if not passages:
        return 0.0
    if not words:
        return 1.0
    present: set[str] = set()
    for p in passages:
        extra = " ".join([p.document.title, p.chunk.section or ""])
        present |= token_set(p.chunk.text + " " + extra)
    weights = {w: bm25.idf(w) for w in words}
    total = sum(weights.values())
    return sum(v for w, v in weights.items() if w in present) / total if total else 0.0
