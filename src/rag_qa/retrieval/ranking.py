"""Candidates and fusion: BM25 and dense scores for a question, each part of the index (the
steered documents first, then the rest) ranked by the fused score (rag_qa.retrieval.fusion)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rag_qa.embed.model import Embedder
from rag_qa.index.loaded import LoadedIndex
from rag_qa.index.vectors import DenseIndex
from rag_qa.retrieval import fusion
from rag_qa.settings import Settings


@dataclass(frozen=True)
class Ranking:
    order: list[int]  # vec_ids, best first (those in ``first`` before the rest)
    dense: np.ndarray  # cosine per passage (0, or -inf where an approximate index did not score)
    lexical: np.ndarray  # BM25 per passage
    timings: dict = field(default_factory=dict, compare=False)
    question: np.ndarray | None = field(default=None, compare=False, repr=False)  # its vector


def top_ids(scores: np.ndarray, pool: np.ndarray, depth: int) -> np.ndarray:
    """The ``depth`` ids of ``pool`` with the highest ``scores``, best first, ties in pool
    order: exactly ``pool[argsort(-scores[pool], stable)[:depth]]``, without sorting it all."""
    values = scores[pool]
    if depth <= 0 or values.size == 0:
        return pool[:0]
    if depth < values.size:
        kth = np.partition(values, values.size - depth)[values.size - depth]
        keep = values >= kth
        pool, values = pool[keep], values[keep]
    return pool[np.argsort(-values, kind="stable")[:depth]]


def _parts(first: np.ndarray | None, within: np.ndarray | None) -> list[np.ndarray | None]:
    """The index's parts in rank order: the passages in ``first``, then the rest, all within
    ``within`` (None: everything)."""
    if first is None:
        return [within]
    if within is None:
        return [first, ~first]
    return [first & within, ~first & within]


class Ranker:
    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings):
        self.index = index
        self.embedder = embedder
        self.settings = settings.retrieval
        self.dense = DenseIndex(
            index.vectors,
            ef_search=settings.index.hnsw_ef_search,
            mask_ef_factor=settings.index.mask_ef_factor,
        )

    def scores(self, question: str, topic: str, mode: str, vector: np.ndarray | None = None):
        """The question's vector (None in bm25 mode; ``vector``: already encoded), BM25 and
        dense score arrays."""
        n = self.dense.size
        t0 = time.perf_counter()
        q = None
        if mode in ("dense", "hybrid"):
            q = vector if vector is not None else self.embedder.encode([question])[0]
        t1 = time.perf_counter()
        lexical = (
            self.index.bm25.scores(topic if self.settings.strip_query else question)
            if mode in ("bm25", "hybrid")
            else np.zeros(n, np.float32)
        )
        t2 = time.perf_counter()
        if q is None:
            dense = np.zeros(n, dtype=np.float32)
        elif self.dense.exact:
            dense = self.dense.all_scores(q)
        else:
            dense = np.full(n, -np.inf, dtype=np.float32)  # scored: the candidates only
        spent = {"encode": t1 - t0, "bm25": t2 - t1, "faiss": time.perf_counter() - t2}
        return q, lexical, dense, spent

    def rank(
        self,
        question: str,
        mode: str,
        first: np.ndarray | None = None,
        need: int | None = None,
        topic: str | None = None,
        within: np.ndarray | None = None,
        promotable: np.ndarray | None = None,
        vector: np.ndarray | None = None,
    ) -> Ranking:
        """Candidate vec_ids in rank order: those where the passage mask ``first`` is set come
        first, unless a passage outside it, where ``promotable`` is set, matches the question
        clearly better (``promote``; None: no promotion); none outside ``within``. With ``need``, the passages outside ``first`` are ranked in
        full only when ``first`` gives fewer than ``need`` (otherwise only their best few, for
        promotion). ``topic``: what BM25 reads (default: the question); ``vector``: the
        question already encoded (questions asked together are encoded in one call)."""
        topic = question if topic is None else topic
        q, lexical, dense, spent = self.scores(question, topic, mode, vector)
        spent["fusion"] = 0.0
        matched = lexical > 0
        orders: list[list[int]] = []
        early = False
        for i, part in enumerate(_parts(first, within)):
            depth = self.settings.candidates
            if i == 1 and need is not None and len(orders[0]) >= need:
                early = True  # the rest would all rank after the first ``need``: but for
                depth = self.settings.promote_pool  # the few that might be promoted
            orders.append(self._rank_part(q, part, lexical, dense, matched, mode, depth, spent))
        if len(orders) < 2:
            return Ranking(orders[0] if orders else [], dense, lexical, spent, q)
        steered, rest = orders
        promoted = []
        if promotable is not None:
            candidates = [i for i in rest if promotable[i]]
            promoted = self.promote(steered, candidates, dense, lexical, mode)
        if early:
            return Ranking(promoted + steered, dense, lexical, spent, q)
        taken = set(promoted)
        order = promoted + steered + [i for i in rest if i not in taken]
        return Ranking(order, dense, lexical, spent, q)

    def _rank_part(self, q, part, lexical, dense, matched, mode, depth: int, spent) -> list[int]:
        """One part's ranking (``part``: a passage mask, None for the whole index)."""
        n = self.dense.size
        ta = time.perf_counter()
        # The part's BM25 candidates: found once, for the dense candidates and the fusion.
        hits = np.flatnonzero(matched if part is None else part & matched)
        b_top = top_ids(lexical, hits, depth)
        tb = time.perf_counter()
        size = n if part is None else int(np.count_nonzero(part))
        if size == 0:
            return []
        if size == n:
            part = None  # the whole index: no mask
        d_pool = self._dense_pool(q, part, size, b_top, dense, depth)
        tc = time.perf_counter()
        order = self._fuse(dense, lexical, d_pool, size, mode, b_top, depth)
        spent["bm25"] += tb - ta
        spent["faiss"] += tc - tb
        spent["fusion"] += time.perf_counter() - tc
        return order

    def evidence(self, ids: list[int], dense, lexical, mode: str) -> np.ndarray:
        """Scores comparable across parts: the fusion's formula with the maxima taken over
        ``ids`` together (each part's own fusion normalises within the part)."""
        d = np.maximum(dense[ids], 0.0) if mode != "bm25" else np.zeros(len(ids))
        b = lexical[ids] if mode != "dense" else np.zeros(len(ids))
        d = d / d.max() if d.size and d.max() > 0 else d
        b = b / b.max() if b.size and b.max() > 0 else b
        w = {"dense": 1.0, "bm25": 0.0}.get(mode, self.settings.dense_weight)
        return w * d + (1 - w) * b

    def promote(self, steered: list[int], rest: list[int], dense, lexical, mode: str) -> list[int]:
        """The passages outside the steered documents that match the question clearly better
        than any inside (by ``promote_margin`` of the comparable evidence), best first: a
        near-verbatim passage or a rare name is not buried behind the period or council the
        question named."""
        if not steered or not rest:
            return []
        head = steered[: self.settings.promote_pool]
        pool = rest[: self.settings.promote_pool]
        scores = self.evidence(head + pool, dense, lexical, mode)
        bar = scores[: len(head)].max() + self.settings.promote_margin
        better = [(s, i) for s, i in zip(scores[len(head) :], pool, strict=True) if s >= bar]
        return [i for _, i in sorted(better, key=lambda x: (-x[0], x[1]))]

    def _dense_pool(self, q, part, size: int, b_top, dense, depth: int) -> np.ndarray:
        """A part's passages with a dense score, ascending. Exact index: all of them. Approximate
        index: a part's graph neighbours and BM25 candidates (a small part: all its passages),
        their exact cosines written into ``dense``."""
        if q is None or self.dense.exact:
            return np.arange(self.dense.size) if part is None else np.flatnonzero(part)
        if part is not None and size <= self.settings.exact_pool:
            ids = np.flatnonzero(part)
        else:
            found = self.dense.top(q, depth, part)
            ids = np.unique(np.concatenate([found, b_top]))
        dense[ids] = self.dense.scores(ids, q)
        return ids

    def _fuse(self, dense, lexical, d_pool, size: int, mode: str, b_top, depth: int) -> list[int]:
        """One part's ranking: ``d_pool``, its passages with a dense score (ascending ids);
        ``b_top``, its BM25 candidates (best first); ``size``, its number of passages."""
        depth = min(depth, size)
        d_top = top_ids(dense, d_pool, depth).tolist()
        b_top = b_top[:depth].tolist()
        if mode == "dense":
            return d_top
        if mode == "bm25":
            seen = set(b_top)
            return b_top + [i for i in d_top if i not in seen]  # no word in common: dense order
        s = self.settings
        if s.fusion == "rrf":
            weights = [s.dense_weight, 1 - s.dense_weight]
            scores = fusion.rrf([d_top, b_top], k=s.rrf_k, weights=weights)
        else:
            scores = fusion.weighted(
                {i: float(dense[i]) for i in d_top},
                {i: float(lexical[i]) for i in b_top},
                s.dense_weight,
            )
        return fusion.ranked(scores)
