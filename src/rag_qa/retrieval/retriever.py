"""Ranking passages for a question: BM25 and dense search fused, steered by the question's
dates, document types and councils, near-duplicates merged.

Steering: when the question names a period ("in 2018", "the November 2025 visit"), a document
type ("focused visit"), a council, or asks for the latest report, passages from the documents
that match are ranked first (each group ranked by the fused score); when nothing in the index
matches, a note says so and the answer abstains.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from rag_qa.embed.model import Embedder
from rag_qa.index.bm25 import tokenize
from rag_qa.index.loaded import LoadedIndex
from rag_qa.index.vectors import DenseIndex
from rag_qa.records import Document, Passage
from rag_qa.retrieval import fusion
from rag_qa.retrieval.query import QueryIntent, analyse
from rag_qa.settings import Settings
from rag_qa.text.councils import council_of_title, find_councils

MODES = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class SearchResult:
    question: str
    passages: list[Passage]
    intent: QueryIntent
    notes: tuple[str, ...] = ()
    no_match: bool = False  # the question's period, council or type matches no document
    top_dense: float = 0.0  # cosine of the best passage: the evidence strength
    coverage: float = 0.0  # idf-weighted share of the question's words in the top passages
    timings: dict = field(default_factory=dict, compare=False)


def overlaps(doc: Document, start: date, end: date) -> bool:
    spans = []
    if doc.visit_start and doc.visit_end:
        spans.append((doc.visit_start, doc.visit_end))
    if doc.date:
        spans.append((doc.date, doc.date))
    s, e = start.isoformat(), end.isoformat()
    return any(a <= e and b >= s for a, b in spans)


_WORD = re.compile(r"[a-z0-9]+")


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    """The text's runs of ``n`` words (one run of all of them when it is shorter)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {tuple(words)}
    # The tuples are made in C, not in a loop; the shorter slices end the runs on purpose.
    return set(zip(*(words[i:] for i in range(n)), strict=False))


def near_duplicate(a: str, b: str, threshold: float = 0.5) -> bool:
    return _shingles_overlap(_shingles(a), _shingles(b), threshold)


def _shingles_overlap(sa: set, sb: set, threshold: float = 0.5) -> bool:
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
        rows = index.store.db.execute(
            "SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id ORDER BY MIN(vec_id)"
        ).fetchall()
        # Each passage's document as a small integer, its code (passages are stored document
        # by document, so this is a run-length decoding). Steering works on arrays indexed by
        # code, and ``passage_mask`` spreads a boolean per code over the code's passages.
        self.doc_ids = [r[0] for r in rows]
        self._code = {d: i for i, d in enumerate(self.doc_ids)}
        self._doc_size = np.array([r[1] for r in rows], dtype=np.int64)
        self.doc_code = np.repeat(np.arange(len(rows), dtype=np.int32), self._doc_size)
        self.dense = DenseIndex(
            index.vectors,
            ef_search=self.settings.index.hnsw_ef_search,
            mask_ef_factor=self.settings.index.mask_ef_factor,
        )
        self.matrix = self.dense.matrix
        coded = [self.docs[d] for d in self.doc_ids]
        by_title: dict[str, str | None] = {}  # many reports share a title pattern
        for d in coded:
            if d.title not in by_title:
                by_title[d.title] = council_of_title(d.title)
        councils = [by_title[d.title] for d in coded]
        self._council_no = {c: i for i, c in enumerate(sorted({c for c in councils if c}))}
        self._types_no = {t: i for i, t in enumerate(sorted({d.doc_type for d in coded}))}
        self._council = np.array([self._council_no.get(c, -1) for c in councils], dtype=np.int32)
        self._type = np.array([self._types_no[d.doc_type] for d in coded], dtype=np.int32)
        # Dates as YYYYMMDD integers, 0 where missing: a period is a few comparisons.
        both = [bool(d.visit_start and d.visit_end) for d in coded]
        self._visit_ok = np.array(both, dtype=bool)
        spans = [(d.visit_start, d.visit_end) if d.visit_start and d.visit_end else (None, None)
                 for d in coded]  # fmt: skip
        self._visit_start = _days([a for a, _ in spans])
        self._visit_end = _days([b for _, b in spans])
        self._date_ok = np.array([bool(d.date) for d in coded], dtype=bool)
        self._doc_date = _days([d.date for d in coded])
        self._newest_key = _days([d.date or d.visit_end for d in coded])  # what "latest" means
        dated = [d.date or d.visit_end for d in coded if d.date or d.visit_end]
        self.newest = date.fromisoformat(max(dated)) if dated else None

    @property
    def doc_of(self) -> np.ndarray:
        """Each passage's doc_id (an object array: for reports, not for per-query work)."""
        return np.array(self.doc_ids, dtype=object)[self.doc_code]

    def doc_mask(self, doc_ids) -> np.ndarray:
        """Boolean mask of the passages that belong to one of ``doc_ids``."""
        wanted = np.zeros(len(self.doc_ids), dtype=bool)
        wanted[[self._code[d] for d in doc_ids if d in self._code]] = True
        return self.passage_mask(wanted)

    def passage_mask(self, per_doc: np.ndarray) -> np.ndarray:
        """A boolean per document code, spread to its passages (``per_doc[doc_code]``, by
        run lengths: 4x faster than the lookup at 1M passages)."""
        return np.repeat(per_doc, self._doc_size)

    # -- steering ------------------------------------------------------------------------
    def steer(self, intent: QueryIntent) -> tuple[np.ndarray | None, list[str], np.ndarray | None]:
        """Documents to rank first (a boolean per document code), notes for the user, and,
        when the question's period or council matches no document, the passages whose text
        mentions it (the only evidence left: without any, the answer abstains)."""
        allowed = np.ones(len(self.doc_ids), dtype=bool)
        notes: list[str] = []
        steered = False
        mention: np.ndarray | None = None
        if not intent.councils and self.settings.retrieval.council in self._council_no:
            # A question that names no council is about the deployment's own council.
            allowed &= self._council == self._council_no[self.settings.retrieval.council]
            steered = True
        if intent.councils:
            wanted = [self._council_no[c] for c in intent.councils if c in self._council_no]
            if wanted:
                allowed &= np.isin(self._council, wanted)
                steered = True
            else:
                names = ", ".join(intent.councils)
                notes.append(f"The index holds no report about {names}.")
                mention = self._mentions_any(intent.councils)
        if intent.period:
            p = intent.period
            in_period = allowed & self._in_period(p.start, p.end)
            if in_period.any():
                allowed = in_period
                steered = True
            else:
                notes.append(f"No report in the index is from {p.label}.")
                years = self._mentions_years(p.start.year, p.end.year)
                if mention is None:
                    mention = years
                else:  # both a council and a period: passages naming both, else either
                    both = mention & years
                    mention = both if both.any() else mention | years
        types = _document_types(intent)
        if types and self.settings.retrieval.steer_types:
            codes = [self._types_no[t] for t in types if t in self._types_no]
            typed = allowed & np.isin(self._type, codes)
            if typed.any():
                allowed = typed
                steered = True
            else:
                kinds = " or ".join(types)
                notes.append(f"No {kinds} matches; showing other documents.")
        if intent.latest and allowed.any():
            newest = self._newest_key[allowed].max()
            allowed &= self._newest_key == newest
            steered = True
        return (allowed if steered else None), notes, mention

    def _in_period(self, start: date, end: date) -> np.ndarray:
        """Per document code, whether its visit or own date overlaps the period: ``overlaps``
        for every document, vectorised."""
        s, e = _day(start.isoformat()), _day(end.isoformat())
        hit = self._visit_ok & (self._visit_start <= e) & (self._visit_end >= s)
        hit |= self._date_ok & (self._doc_date <= e) & (self._doc_date >= s)
        return hit

    @functools.cached_property
    def date_chunks(self) -> list[int]:
        """For each document, the passage holding the phrase its visit dates were read from
        (found at the first "when did the visit take place?": 8 s at 1M passages)."""
        found = []
        for doc in self.docs.values():
            evidence = {
                m.evidence for m in doc.dates if m.role.startswith("visit") and m.rule != "sidecar"
            }
            if not evidence:
                continue
            # Rows are read lazily: the phrase is usually in the first passage or two, and a
            # Chunk per passage of every document made loading an index of 1M passages slow.
            rows = self.index.store.db.execute(
                "SELECT vec_id, text FROM chunks WHERE doc_id = ? ORDER BY vec_id", (doc.doc_id,)
            )
            for vec_id, text in rows:
                flat = " ".join(text.split())
                if any(e in flat for e in evidence):
                    found.append(vec_id)
                    break
        return found

    def _mentions_any(self, names: tuple[str, ...]) -> np.ndarray:
        """Passages that name one of these councils (checked on the text, so that "reading"
        the word is not Reading the council)."""
        mask = np.zeros(self.index.bm25.size, dtype=bool)
        for name in names:
            mask |= self.index.bm25.containing_all(name)
        candidates = np.flatnonzero(mask).tolist()
        for vec_id, chunk in self.index.chunks(candidates).items():
            mask[vec_id] = bool(set(find_councils(chunk.text)) & set(names))
        return mask

    def _mentions_years(self, first: int, last: int) -> np.ndarray:
        mask = np.zeros(self.index.bm25.size, dtype=bool)
        for year in range(max(first, 1990), min(last, 2100) + 1):
            mask[self.index.bm25.postings(str(year))] = True
        return mask

    def coverage(self, question: str, passages: list[Passage]) -> float:
        """How much of the question the top passages speak to: the idf-weighted share of its
        content words (dates and report words aside) that they contain."""
        words = set(tokenize(_topic_words(question)))
        if not words or not passages:
            return 0.0
        present: set[str] = set()
        for p in passages:
            extra = " ".join([p.document.title, p.chunk.section or ""])
            present |= set(tokenize(p.chunk.text + " " + extra))
        weights = {w: self.index.bm25.idf(w) for w in words}
        total = sum(weights.values())
        return sum(v for w, v in weights.items() if w in present) / total if total else 0.0

    # -- ranking -------------------------------------------------------------------------
    def search(
        self,
        question: str,
        k: int = 5,
        mode: str | None = None,
        steer: bool = True,
        today: date | None = None,
    ) -> SearchResult:
        mode = mode or self.settings.retrieval.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        t0 = time.perf_counter()
        intent = analyse(question, today=today, newest=self.newest)
        allowed, notes, mention = self.steer(intent) if steer else (None, [], None)
        t1 = time.perf_counter()

        first = None
        if allowed is not None:
            first = self.passage_mask(allowed)
        if mention is not None:
            first = mention if first is None else first & mention
        no_match = mention is not None and not mention.any()
        if _ASKS_WHEN.search(question):
            # "When did the visit take place?": the passages the visit dates were read from.
            dated = np.zeros(len(self.doc_code), dtype=bool)
            dated[self.date_chunks] = True
            if first is not None:
                dated &= first
            if dated.any():
                first = dated if first is None else first & dated
        order, dense, lexical, more = self.rank(question, mode, first, need=_head(k))
        t4 = time.perf_counter()
        passages = self._passages(order, dense, lexical, k, by_dense=mode != "bm25")
        t5 = time.perf_counter()
        return SearchResult(
            question=question,
            passages=passages,
            intent=intent,
            notes=tuple(notes),
            no_match=no_match,
            top_dense=float(dense[order[0]]) if order and mode != "bm25" else 0.0,
            coverage=self.coverage(question, passages[:3]),
            timings={"analyse": t1 - t0, **more, "passages": t5 - t4},
        )

    def rank(
        self, question: str, mode: str, first: np.ndarray | None = None, need: int | None = None
    ) -> tuple[list[int], np.ndarray, np.ndarray, dict]:
        """Candidate vec_ids in rank order (those where the mask ``first`` is set come first),
        with the dense and BM25 score arrays and the time each part took. With ``need``, the
        passages outside ``first`` are ranked only when ``first`` gives fewer than ``need``
        (the first ``need`` of the order are the same either way)."""
        t1 = time.perf_counter()
        n = self.dense.size
        q = self.embedder.encode([question])[0] if mode in ("dense", "hybrid") else None
        t2 = time.perf_counter()
        lexical = (
            self.index.bm25.scores(
                _topic_words(question) if self.settings.retrieval.strip_query else question
            )
            if mode in ("bm25", "hybrid")
            else np.zeros(n, np.float32)
        )
        matched = lexical > 0
        t3 = time.perf_counter()
        if q is None:
            dense = np.zeros(n, dtype=np.float32)
        elif self.dense.exact:
            dense = self.dense.all_scores(q)
        else:
            dense = np.full(n, -np.inf, dtype=np.float32)  # scored: the candidates only
        spent = {"bm25": t3 - t2, "faiss": time.perf_counter() - t3, "fusion": 0.0}
        order: list[int] = []
        for i in range(1 if first is None else 2):
            if i == 1 and need is not None and len(order) >= need:
                break  # the passages outside ``first`` would all rank after the first ``need``
            part = None if first is None else first if i == 0 else ~first
            ta = time.perf_counter()
            # The part's BM25 candidates: found once, for the dense candidates and the fusion.
            hits = np.flatnonzero(matched if part is None else part & matched)
            b_top = top_ids(lexical, hits, self.settings.retrieval.candidates)
            tb = time.perf_counter()
            size = n if part is None else int(np.count_nonzero(part))
            if size == 0:
                continue
            if size == n:
                part = None  # the whole index: no mask
            if q is not None and not self.dense.exact:
                d_pool = self._dense_candidates(q, part, size, b_top, dense)
            elif part is None:
                d_pool = np.arange(n)
            else:
                d_pool = np.flatnonzero(part)
            tc = time.perf_counter()
            order += self._fuse(dense, lexical, d_pool, size, mode, b_top)
            td = time.perf_counter()
            spent["bm25"] += tb - ta
            spent["faiss"] += tc - tb
            spent["fusion"] += td - tc
        return order, dense, lexical, {"encode": t2 - t1, **spent}

    def _dense_candidates(
        self, q: np.ndarray, part: np.ndarray | None, size: int, b_top: np.ndarray, dense
    ) -> np.ndarray:
        """Approximate index: a part's graph neighbours and BM25 candidates (a small part: all
        its passages), their exact cosines written into ``dense``; their ids, ascending."""
        if part is not None and size <= EXACT_POOL:
            ids = np.flatnonzero(part)
        else:
            found = self.dense.top(q, self.settings.retrieval.candidates, part)
            ids = np.unique(np.concatenate([found, b_top]))
        dense[ids] = self.dense.scores(ids, q)
        return ids

    def _fuse(
        self, dense: np.ndarray, lexical: np.ndarray, d_pool, size: int, mode: str, b_top
    ) -> list[int]:
        """One part's ranking: ``d_pool``, its passages with a dense score (ascending ids);
        ``b_top``, its BM25 candidates (best first); ``size``, its number of passages."""
        depth = min(self.settings.retrieval.candidates, size)
        d_top = top_ids(dense, d_pool, depth).tolist()
        b_top = b_top[:depth].tolist()
        if mode == "dense":
            return d_top
        if mode == "bm25":
            seen = set(b_top)
            return b_top + [i for i in d_top if i not in seen]  # no word in common: dense order
        s = self.settings
        if s.retrieval.fusion == "rrf":
            scores = fusion.rrf(
                [d_top, b_top],
                k=s.retrieval.rrf_k,
                weights=[s.retrieval.dense_weight, 1 - s.retrieval.dense_weight],
            )
        else:
            scores = fusion.weighted(
                {i: float(dense[i]) for i in d_top},
                {i: float(lexical[i]) for i in b_top},
                s.retrieval.dense_weight,
            )
        return fusion.ranked(scores)

    def _passages(
        self, order: list[int], dense: np.ndarray, lexical: np.ndarray, k: int, by_dense: bool
    ) -> list[Passage]:
        """Top ``k`` passages, a passage also found in another file merged into the first;
        each scored by its cosine (``by_dense``) or else its BM25 score."""
        head = order[: _head(k)]
        chunks = self.index.chunks(head)
        shingles: dict[int, set] = {}  # each passage's shingles, made once (not per pair)

        def shingles_of(vec_id: int) -> set:
            if vec_id not in shingles:
                shingles[vec_id] = _shingles(chunks[vec_id].text)
            return shingles[vec_id]

        kept: list[tuple[int, list[tuple[str, int | None]]]] = []
        for vec_id in head:
            chunk = chunks[vec_id]
            dup = next(
                (
                    entry
                    for entry in kept
                    if chunks[entry[0]].doc_id != chunk.doc_id
                    and _shingles_overlap(shingles_of(entry[0]), shingles_of(vec_id))
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
                    score=float(dense[vec_id] if by_dense else lexical[vec_id]),
                    chunk=chunk,
                    document=self.docs[chunk.doc_id],
                    also_in=tuple(also),
                    scores={"dense": float(dense[vec_id]), "bm25": float(lexical[vec_id])},
                )
            )
        return passages


def _head(k: int) -> int:
    """Ranked passages looked at for the top ``k`` (near-duplicates among them are merged)."""
    return max(k * 4, 20)


def _day(iso: str | None) -> int:
    """An ISO date as the integer YYYYMMDD (ordered as the dates are), 0 for none."""
    return int(iso[:10].replace("-", "")) if iso else 0


def _days(isos: list[str | None]) -> np.ndarray:
    return np.array([_day(d) for d in isos], dtype=np.int64)


# Below this many passages, a steered part of an approximate index is scored exactly.
EXACT_POOL = 20_000


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


_FRAME = re.compile(
    r"\b(?:ofsted|slough|inspectors?|inspections?|inspected|reports?|said|say|says|find|found|"
    r"focused|visits?|monitoring|letters?|(?:19|20)\d\d|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|latest|recent|what|how|did|does|were|was)\b",
    re.I,
)


def _topic_words(question: str) -> str:
    """The question without its framing (dates, Ofsted, report words)."""
    return _FRAME.sub(" ", question)


_EXPLICIT_REPORT = re.compile(r"\binspection reports?\b|\bILACS\b|\bSIF\b|\bjudgements?\b", re.I)


def _document_types(intent: QueryIntent) -> tuple[str, ...]:
    """Document types to steer by. "The 2015 inspection" names an event that articles and
    news releases also report, so it steers to inspection reports only when the question
    says so ("inspection report", "ILACS", "judgement")."""
    types = intent.doc_types
    if "inspection report" in types and not _EXPLICIT_REPORT.search(intent.question):
        types = tuple(t for t in types if t != "inspection report")
    return types


_ASKS_WHEN = re.compile(
    r"\b(?:when|what dates?|which dates?|on what date|how long)\b.*\b(?:visit|inspection|inspected|"
    r"took place|take place|carried out)\b",
    re.I,
)
