"""Ranking passages for a question: the question read (rag_qa.retrieval.query), steered by its
period, council and document type (steering), BM25 and dense candidates fused (ranking),
near-duplicates merged (dedup), and how well the top passages cover it (evidence).

``Retriever`` only wires those parts together; the engine (rag_qa.engine) builds the one
Retriever of a process and passes a filter as ``within``, a boolean per document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from rag_qa.embed.model import Embedder
from rag_qa.index.loaded import LoadedIndex
from rag_qa.records import Passage
from rag_qa.retrieval.dedup import merge_duplicates
from rag_qa.retrieval.documents import DocumentTable
from rag_qa.retrieval.evidence import coverage
from rag_qa.retrieval.query import QueryIntent, analyse
from rag_qa.retrieval.ranking import Ranker, Ranking
from rag_qa.retrieval.steering import Steering
from rag_qa.settings import MODES, Settings


@dataclass(frozen=True)
class SearchResult:
    question: str
    passages: list[Passage]
    intent: QueryIntent
    notes: tuple[str, ...] = ()
    no_match: bool = False  # the question's period, council or type matches no document
    top_dense: float = 0.0  # cosine of the best passage: the evidence strength
    coverage: float = 0.0  # idf-weighted share of the question's words in the top passages
    # The question asks for a judgement and the top passage states one: evidence in itself,
    # however little a grades table reads like the question (the answer does not abstain on
    # sentence similarity).
    states_judgement: bool = False
    timings: dict = field(default_factory=dict, compare=False)
    # The question's vector (None in bm25 mode): the answer scores sentences against it.
    question_vector: np.ndarray | None = field(default=None, compare=False, repr=False)


class Retriever:
    """Holds a loaded index and the embedder; one per process, reused across questions."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.table = DocumentTable(index)
        self.steering = Steering(index, self.table, settings.retrieval)
        self.ranker = Ranker(index, embedder, settings)

    @property
    def docs(self):
        return self.index.documents

    def prepare(self) -> None:
        """Compute now what the first questions of some kinds would (see Steering.prepare)."""
        self.steering.prepare()

    def head(self, k: int) -> int:
        """Ranked passages looked at for the top ``k`` (near-duplicates among them merged)."""
        s = self.settings.retrieval
        return max(k * s.head_factor, s.head_min)

    def search(
        self,
        question: str,
        k: int | None = None,
        mode: str | None = None,
        steer: bool = True,
        today: date | None = None,
        within: np.ndarray | None = None,
        vector: np.ndarray | None = None,
    ) -> SearchResult:
        """The top ``k`` passages for ``question``; ``within`` (a boolean per document code,
        see DocumentTable) limits them to some documents, as the chat's filters do;
        ``vector``: the question already encoded. ``timings`` holds each stage's seconds."""
        k = k or self.settings.retrieval.top_k
        mode = mode or self.settings.retrieval.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        t0 = time.perf_counter()
        intent = analyse(question, today=today, newest=self.table.newest)
        ta = time.perf_counter()
        first, notes, no_match, promotable, graded = self._first(intent, steer, within)
        t1 = time.perf_counter()
        limit = None if within is None else self.table.passage_mask(within)
        ranking = self.ranker.rank(
            question, mode, first, self.head(k), intent.topic, limit, promotable, vector
        )
        t2 = time.perf_counter()
        passages = self.passages(ranking, k, by_dense=mode != "bm25")
        notes += self._councils_note(intent, passages)
        t3 = time.perf_counter()
        order = ranking.order
        return SearchResult(
            question=question,
            passages=passages,
            intent=intent,
            notes=notes,
            no_match=no_match,
            states_judgement=bool(graded is not None and order and graded[order[0]]),
            top_dense=float(ranking.dense[order[0]]) if order and mode != "bm25" else 0.0,
            coverage=self.coverage(intent, passages),
            timings={
                "analyse": ta - t0,
                "steer": t1 - ta,
                **ranking.timings,
                "passages": t3 - t2,
                "coverage": time.perf_counter() - t3,
            },
            question_vector=ranking.question,
        )

    def _first(self, intent: QueryIntent, steer: bool, within: np.ndarray | None):
        """The passages to rank first (a mask or None), the notes, whether nothing in the
        index matches what the question names (no document of its period or council, and no
        passage of the steered documents that mentions it: the answer abstains), and the
        passages that may be promoted past the steering (None: none may; see Ranker.promote):
        those of the councils named, for a dated question only those whose text names its
        year, and none when only a mention of the period is left, since a passage of another
        year is a wrong answer."""
        if not steer:
            return None, (), False, None, None
        steered = self.steering.steer(intent, within)
        first = None if steered.first is None else self.table.passage_mask(steered.first)
        if first is not None and steered.extra is not None:
            first |= steered.extra
        no_match = False
        promotable = None if steered.councils is None else self.table.passage_mask(steered.councils)
        if first is not None and promotable is None:
            promotable = np.ones(self.table.passages, dtype=bool)
        if first is not None and intent.period:
            # A passage of another period is a wrong answer, unless its own text names the
            # question's year: only those may be promoted.
            p = intent.period
            promotable &= self.steering.mentions_years(p.start.year, p.end.year)
        if steered.mention is not None:
            first = steered.mention if first is None else first & steered.mention
            no_match, promotable = not first.any(), None
        if intent.asks_when:
            dated = self.steering.when_mask(first)
            if dated is not None:
                first = dated
        graded = None
        if (
            not intent.asks_when
            and intent.asks_judgement
            and self.settings.retrieval.steer_judgements
        ):
            graded = self.steering.judgement_mask(first, intent.asks_overall)
            if graded is not None:
                first = graded
        return first, steered.notes, no_match, promotable, graded

    def _councils_note(self, intent: QueryIntent, passages: list[Passage]) -> tuple[str, ...]:
        """When the question names no council (and no default council is set) but the top
        passages come from several, say so: the answer must not silently pick one."""
        if intent.councils or self.settings.retrieval.council:
            return ()
        top = passages[: self.settings.answer.source_passages]
        names = list(dict.fromkeys(p.document.council for p in top if p.document.council))
        if len(names) < 2:
            return ()
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        return (f"The question names no council; the top passages come from {listed}.",)

    def coverage(self, intent: QueryIntent, passages: list[Passage]) -> float:
        top = passages[: self.settings.answer.coverage_passages]
        return coverage(intent.topic, top, self.index.bm25)

    def passages(self, ranking: Ranking, k: int, by_dense: bool) -> list[Passage]:
        """Top ``k`` passages, a passage also found in another file merged into the first;
        each scored by its cosine (``by_dense``) or else its BM25 score."""
        head = ranking.order[: self.head(k)]
        chunks = self.index.chunks(head)
        s = self.settings.retrieval
        kept = merge_duplicates(
            head,
            chunks,
            self.docs,
            k,
            s.duplicate_words,
            s.duplicate_overlap,
        )
        dense, lexical = ranking.dense, ranking.lexical
        return [
            Passage(
                rank=rank,
                score=float(dense[vec_id] if by_dense else lexical[vec_id]),
                chunk=chunks[vec_id],
                document=self.docs[chunks[vec_id].doc_id],
                also_in=tuple(also),
                scores={"dense": float(dense[vec_id]), "bm25": float(lexical[vec_id])},
            )
            for rank, (vec_id, also) in enumerate(kept, start=1)
        ]
