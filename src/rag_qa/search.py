"""Ranking passages for a question: BM25 and dense search fused, steered by the question's
dates, document types and councils, near-duplicates merged.

Steering: when the question names a period ("in 2018", "the November 2025 visit"), a document
type ("focused visit"), a council, or asks for the latest report, passages from the documents
that match are ranked first (each group ranked by the fused score); when nothing in the index
matches, a note says so and the answer abstains.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from . import fusion
from .councils import council_of_title
from .embedding import Embedder
from .index import LoadedIndex
from .query import QueryIntent, analyse
from .records import Document, Passage, format_date
from .settings import Settings

MODES = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class SearchResult:
    question: str
    passages: list[Passage]
    intent: QueryIntent
    notes: tuple[str, ...] = ()
    no_match: bool = False  # the question's period, council or type matches no document
    top_dense: float = 0.0  # cosine of the best passage: the evidence strength
    timings: dict = field(default_factory=dict, compare=False)


def overlaps(doc: Document, start: date, end: date) -> bool:
    spans = []
    if doc.visit_start and doc.visit_end:
        spans.append((doc.visit_start, doc.visit_end))
    if doc.date:
        spans.append((doc.date, doc.date))
    s, e = start.isoformat(), end.isoformat()
    return any(a <= e and b >= s for a, b in spans)


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def near_duplicate(a: str, b: str, threshold: float = 0.5) -> bool:
    sa, sb = _shingles(a), _shingles(b)
    if not sa or not sb:
        return False
    return len(sa & sb) / min(len(sa), len(sb)) >= threshold


class Retriever:
    """Holds a loaded index and the embedder; one per process, reused across questions."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        self.docs = index.documents
        self.councils = {d.doc_id: council_of_title(d.title) for d in self.docs.values()}
        dated = [d.date or d.visit_end for d in self.docs.values() if d.date or d.visit_end]
        self.newest = date.fromisoformat(max(dated)) if dated else None
        rows = index.store.db.execute(
            "SELECT vec_id, doc_id FROM chunks ORDER BY vec_id"
        ).fetchall()
        self.doc_of = np.array([r[1] for r in rows], dtype=object)
        self.matrix = _matrix(index.vectors)

    # -- steering ------------------------------------------------------------------------
    def steer(self, intent: QueryIntent) -> tuple[set[str] | None, list[str], bool]:
        """Documents to rank first, notes for the user, and whether nothing matched."""
        docs = list(self.docs.values())
        allowed = {d.doc_id for d in docs}
        notes: list[str] = []
        steered = False
        if intent.councils:
            known = {c for c in self.councils.values() if c}
            wanted = [c for c in intent.councils if c in known]
            if not wanted:
                names = ", ".join(intent.councils)
                return None, [f"The index holds no report about {names}."], True
            allowed &= {i for i, c in self.councils.items() if c in wanted}
            steered = True
        if intent.period:
            p = intent.period
            in_period = {d.doc_id for d in docs if overlaps(d, p.start, p.end)}
            if not in_period & allowed:
                return None, [f"No report in the index is from {p.label}."], True
            allowed &= in_period
            steered = True
        if intent.doc_types:
            typed = {i for i in allowed if self.docs[i].doc_type in intent.doc_types}
            if typed:
                allowed = typed
                steered = True
            else:
                kinds = " or ".join(intent.doc_types)
                notes.append(f"No {kinds} matches; showing other documents.")
        if intent.latest and allowed:
            newest = max((self.docs[i].date or self.docs[i].visit_end or "") for i in allowed)
            allowed = {
                i for i in allowed if (self.docs[i].date or self.docs[i].visit_end or "") == newest
            }
            steered = True
        return (allowed if steered else None), notes, False

    # -- ranking -------------------------------------------------------------------------
    def search(
        self,
        question: str,
        k: int = 5,
        mode: str | None = None,
        steer: bool = True,
        today: date | None = None,
    ) -> SearchResult:
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        t0 = time.perf_counter()
        intent = analyse(question, today=today, newest=self.newest)
        allowed, notes, no_match = self.steer(intent) if steer else (None, [], False)
        t1 = time.perf_counter()

        order, dense, lexical, more = self.rank(question, mode, allowed)
        t4 = time.perf_counter()
        passages = self._passages(order, dense, lexical, k)
        t5 = time.perf_counter()
        return SearchResult(
            question=question,
            passages=passages,
            intent=intent,
            notes=tuple(notes),
            no_match=no_match,
            top_dense=float(dense[order[0]]) if order and mode != "bm25" else 0.0,
            timings={"analyse": t1 - t0, **more, "passages": t5 - t4},
        )

    def rank(
        self, question: str, mode: str, allowed: set[str] | None = None
    ) -> tuple[list[int], np.ndarray, np.ndarray, dict]:
        """All candidate vec_ids in rank order (those of ``allowed`` documents first), with
        the dense and BM25 score arrays and the time each part took."""
        t1 = time.perf_counter()
        n = self.matrix.shape[0]
        dense = np.zeros(n, dtype=np.float32)
        if mode in ("dense", "hybrid"):
            q = self.embedder.encode([question])[0]
            dense = self.matrix @ q
        t2 = time.perf_counter()
        lexical = (
            self.index.bm25.scores(question)
            if mode in ("bm25", "hybrid")
            else np.zeros(n, np.float32)
        )
        t3 = time.perf_counter()

        first = np.isin(self.doc_of, list(allowed)) if allowed is not None else np.ones(n, bool)
        order = self._fuse(dense, lexical, first, mode)
        if allowed is not None:
            order += self._fuse(dense, lexical, ~first, mode)
        t4 = time.perf_counter()
        return order, dense, lexical, {"dense": t2 - t1, "bm25": t3 - t2, "fusion": t4 - t3}

    def _fuse(
        self, dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray, mode: str
    ) -> list[int]:
        pool = np.flatnonzero(mask)
        if pool.size == 0:
            return []
        depth = min(self.settings.candidates, pool.size)
        d_top = pool[np.argsort(-dense[pool], kind="stable")[:depth]].tolist()
        b_pool = pool[lexical[pool] > 0]
        b_top = b_pool[np.argsort(-lexical[b_pool], kind="stable")[:depth]].tolist()
        if mode == "dense":
            return d_top
        if mode == "bm25":
            rest = [i for i in d_top if i not in set(b_top)]  # no word in common: keep dense order
            return b_top + rest
        s = self.settings
        if s.fusion == "rrf":
            scores = fusion.rrf(
                [d_top, b_top], k=s.rrf_k, weights=[s.dense_weight, 1 - s.dense_weight]
            )
        else:
            scores = fusion.weighted(
                {i: float(dense[i]) for i in d_top},
                {i: float(lexical[i]) for i in b_top},
                s.dense_weight,
            )
        return fusion.ranked(scores)

    def _passages(
        self, order: list[int], dense: np.ndarray, lexical: np.ndarray, k: int
    ) -> list[Passage]:
        """Top ``k`` passages, a passage also found in another file merged into the first."""
        head = order[: max(k * 4, 20)]
        chunks = self.index.chunks(head)
        kept: list[tuple[int, list[tuple[str, int | None]]]] = []
        for vec_id in head:
            chunk = chunks[vec_id]
            dup = next(
                (
                    entry
                    for entry in kept
                    if chunks[entry[0]].doc_id != chunk.doc_id
                    and near_duplicate(chunks[entry[0]].text, chunk.text)
                ),
                None,
            )
            if dup is not None:
                source = self.docs[chunk.doc_id].source
                if source not in [s for s, _ in dup[1]]:
                    dup[1].append((source, chunk.page_start))
                continue
            if len(kept) < k:
                kept.append((vec_id, []))
        passages = []
        for rank, (vec_id, also) in enumerate(kept, start=1):
            chunk = chunks[vec_id]
            passages.append(
                Passage(
                    rank=rank,
                    score=float(dense[vec_id]) if dense.any() else float(lexical[vec_id]),
                    chunk=chunk,
                    document=self.docs[chunk.doc_id],
                    also_in=tuple(also),
                    scores={"dense": float(dense[vec_id]), "bm25": float(lexical[vec_id])},
                )
            )
        return passages


def _matrix(vectors) -> np.ndarray:
    import faiss

    if isinstance(vectors, faiss.IndexFlat):
        n, d = vectors.ntotal, vectors.d
        return faiss.rev_swig_ptr(vectors.get_xb(), n * d).reshape(n, d)
    return vectors.reconstruct_n(0, vectors.ntotal)


def period_label(doc: Document) -> str:
    if doc.date:
        return format_date(doc.date)
    if doc.visit_end:
        return "visit " + format_date(doc.visit_end)
    return "undated"
