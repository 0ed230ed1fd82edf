"""The engine: one object that opens an index with its model and settings and answers.

The CLI (``rag-qa ask``, ``eval``, ``docs``), the web chat and the BEIR runner all call it, so
that they run the same code: a question (with the conversation so far, for follow-ups) and
optional filters go in, a ``Turn`` (passages, answer, notes, timings) comes out. Filters are an
argument of retrieval (a document mask), so the chat with filters runs exactly the code the eval
suite measures. ``refresh`` switches to the live index generation after a rebuild.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag_qa.answer.extract import Answer, SentenceVectors, build_answer
from rag_qa.answer.facts import FactsTable, facts_answer
from rag_qa.index import generations as G
from rag_qa.index.loaded import LoadedIndex, open_index
from rag_qa.records import Chunk, Document, Passage
from rag_qa.retrieval.facts import fact_rows, read_facts_question
from rag_qa.retrieval.followup import rewrite_follow_up
from rag_qa.retrieval.query import QueryIntent, analyse
from rag_qa.retrieval.retriever import Retriever, SearchResult
from rag_qa.retrieval.timeline import ASKS_CHANGE, Timeline, build_timeline, timeline_topic
from rag_qa.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """Which documents may answer: a year range (inclusive; undated documents are left out
    when it is set), document types, particular documents (by doc_id), councils, report kinds
    and overall judgements (a report's overall effectiveness grade)."""

    year_from: int | None = None
    year_to: int | None = None
    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    councils: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    judgements: tuple[str, ...] = ()  # text.frameworks.GRADES

    @property
    def active(self) -> bool:
        return bool(
            self.year_from is not None
            or self.year_to is not None
            or self.doc_types
            or self.doc_ids
            or self.councils
            or self.kinds
            or self.judgements
        )

    def matches(self, doc: Document) -> bool:
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.doc_types and doc.doc_type not in self.doc_types:
            return False
        if self.councils and doc.council not in self.councils:
            return False
        if self.kinds and doc.kind not in self.kinds:
            return False
        if self.judgements and doc.judgements.get("overall_effectiveness") not in self.judgements:
            return False
        if self.year_from is not None or self.year_to is not None:
            year = doc.year
            if year is None:
                return False
            if self.year_from is not None and year < self.year_from:
                return False
            if self.year_to is not None and year > self.year_to:
                return False
        return True

    def describe(self) -> str:
        parts = []
        if self.year_from is not None or self.year_to is not None:
            parts.append(f"years {self.year_from or '…'}-{self.year_to or '…'}")
        if self.doc_types:
            parts.append(", ".join(self.doc_types))
        if self.doc_ids:
            parts.append(f"{len(self.doc_ids)} chosen report(s)")
        parts += [", ".join(x) for x in (self.councils, self.kinds) if x]
        if self.judgements:
            parts.append("judged " + " or ".join(self.judgements))
        return "; ".join(parts)


@dataclass(frozen=True)
class Turn:
    """One answered question: as asked, as understood (a follow-up rewritten), the search
    result and the answer built from it."""

    asked: str
    question: str
    answer: Answer
    result: SearchResult
    seconds: float
    filters: Filters = field(default_factory=Filters)
    table: FactsTable | None = None  # a question about judgements: one row per report
    timeline: Timeline | None = None  # a topic across the years: a passage per report

    @property
    def passages(self) -> list[Passage]:
        return self.result.passages

    @property
    def notes(self) -> tuple[str, ...]:
        return self.result.notes

    def to_json(self) -> dict:
        """The turn as ``rag-qa ask --json`` prints it (a stable contract: add, never rename
        or remove fields)."""
        return {
            "question": self.question,
            "answer": self.answer.text,
            "abstained": self.answer.abstained,
            "notes": list(self.notes),
            "passages": [p.to_json() for p in self.passages],
            "seconds": round(self.seconds, 4),
            "table": self.table.to_json() if self.table else None,
            "timeline": self.timeline.to_json() if self.timeline else None,
        }


class Engine:
    """The loaded model and the live index's Retriever, swapped behind a lock by ``refresh``.

    ``Engine.open(settings)`` loads the model named in ``settings``; tests and the build pass
    an embedder of their own to ``Engine(settings, embedder)``."""

    def __init__(self, settings: Settings, embedder):
        self.settings = settings
        self.embedder = embedder
        self._lock = threading.Lock()
        self._building = threading.Lock()
        self._retriever = self._open()
        self.answered = 0  # questions answered (the web server's heap trimmer watches it)

    @classmethod
    def open(cls, settings: Settings, embedder_factory: Callable[[], object] | None = None):
        if G.current_generation(settings.index_dir) is None:  # fail before loading the model
            raise G.IndexError_(
                f"no index in {settings.index_dir}; build it with: "
                f"rag-qa index --corpus {settings.corpus_dir}"
            )
        if embedder_factory is None:
            from rag_qa.embed.model import load_embedder

            return cls(
                settings,
                load_embedder(
                    settings.embed.model, settings.embed.precision, settings.embed.query_encoder
                ),
            )
        return cls(settings, embedder_factory())

    def _open(self) -> Retriever:
        return Retriever(open_index(self.settings), self.embedder, self.settings)

    # -- the index -----------------------------------------------------------------------
    @property
    def retriever(self) -> Retriever:
        with self._lock:
            return self._retriever

    @property
    def index(self) -> LoadedIndex:
        return self.retriever.index

    @property
    def generation(self) -> Path:
        return self.index.generation

    @property
    def manifest(self) -> dict:
        return self.index.manifest

    def documents(self) -> list[Document]:
        """Every indexed document (without page texts), by date then source."""
        docs = self.index.documents.values()
        return sorted(docs, key=lambda d: (d.date or d.visit_end or "", d.source))

    def document(self, doc_id: str) -> Document | None:
        """One document with its page texts."""
        return self.index.document(doc_id)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.index.store.chunk(chunk_id)

    def refresh(self) -> bool:
        """Switch to the live index generation if it is not the one loaded (after an upload,
        or ``rag-qa index`` in another process). A damaged new generation is not loaded."""
        live = G.current_generation(self.settings.index_dir)
        if live is None or Path(live).name == Path(self.generation).name:
            return False
        try:
            fresh = self._open()
        except G.IndexError_ as err:
            log.warning("keeping the loaded index: %s", err)
            return False
        fresh.prepare()
        with self._lock:
            self._retriever = fresh
        return True

    def update_index(self, progress: bool = True):
        """Refresh the index from the corpus (incremental) with the loaded model, then load
        it; returns the BuildSummary. Raises BuildLocked while another update runs."""
        from rag_qa.index.build import run_build

        if not self._building.acquire(blocking=False):
            raise G.BuildLocked("an index update is already running; try again shortly")
        try:
            summary = run_build(self.settings, lambda: self.embedder, progress=progress)
        finally:
            self._building.release()
        self.refresh()
        return summary

    # -- questions -----------------------------------------------------------------------
    def search(
        self,
        question: str,
        k: int | None = None,
        mode: str | None = None,
        filters: Filters | None = None,
        steer: bool = True,
        vector=None,
    ) -> SearchResult:
        """The ranked passages for ``question``, within the documents ``filters`` allows
        (``vector``: the question already encoded, see ``encode_questions``)."""
        retriever = self.retriever
        if filters is None or not filters.active:
            return retriever.search(question, k=k, mode=mode, steer=steer, vector=vector)
        allowed = [d.doc_id for d in retriever.docs.values() if filters.matches(d)]
        within = retriever.table.codes_of(allowed)
        result = retriever.search(
            question, k=k, mode=mode, steer=steer, within=within, vector=vector
        )
        if result.passages:
            return result
        note = f"No passage matches the filters ({filters.describe()})."
        return SearchResult(question, [], result.intent, (*result.notes, note), result.no_match)

    def ranking(self, question: str, mode: str | None = None) -> list[int]:
        """Every candidate vec_id in rank order, unsteered: for document-level runs (BEIR)."""
        return self.retriever.ranker.rank(question, mode or self.settings.retrieval.mode).order

    def answer(self, result: SearchResult) -> Answer:
        """The extractive answer: sentences of the top passages scored against the question's
        vector with their stored vectors (the model only for a sentence without one)."""
        s = self.settings.answer
        top = result.passages[: max(s.source_passages, s.across_passages)]
        stored = self.index.sentence_sets([p.chunk.chunk_id for p in top])
        vectors = SentenceVectors(result.question_vector, stored, self.embedder.encode)
        return build_answer(result, self.settings.answer, vectors=vectors)

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
        timeline: bool | None = None,
        vector=None,
    ) -> Turn:
        """Answer ``question``; ``history`` holds the conversation's earlier questions (as
        understood), so that "and in 2024?" is read as a follow-up. A question about
        judgements is answered with a facts table; one about change over time ("how has X
        changed?") or with ``timeline=True`` also gets a timeline (``False``: never).
        ``vector``: the question already encoded (``ask_many``); not used for a follow-up."""
        started = time.perf_counter()
        understood = rewrite_follow_up(question, history) if history else question
        if understood != question:
            vector = None
        result = self.search(understood, k=k, mode=mode, filters=filters, vector=vector)
        t_answer = time.perf_counter()
        answer = self.answer(result)
        result.timings["answer"] = time.perf_counter() - t_answer
        table = self.facts(result.intent, filters)
        if table is not None and table.rows:
            answer = facts_answer(table, answer)
        line = None
        if timeline or (timeline is None and ASKS_CHANGE.search(understood)):
            line = self.timeline(understood, filters, result.intent)
        self.answered += 1
        seconds = time.perf_counter() - started
        return Turn(
            question, understood, answer, result, seconds, filters or Filters(), table, line
        )

    def encode_questions(self, questions: Sequence[str], mode: str | None = None) -> list:
        """The questions' vectors in one model call (None each in bm25 mode)."""
        if (mode or self.settings.retrieval.mode) == "bm25" or not questions:
            return [None] * len(questions)
        return list(
            self.embedder.encode(list(questions), batch_size=self.settings.embed.batch_size)
        )

    def ask_many(self, questions: Sequence[str], **options) -> list[Turn]:
        """``ask`` each question, all of them encoded together first (``ask``'s options)."""
        vectors = self.encode_questions(questions, options.get("mode"))
        return [self.ask(q, vector=v, **options) for q, v in zip(questions, vectors, strict=True)]

    def load_model(self) -> None:
        """Load the model's weights now (an embedder that loads lazily does so at its first
        call); safe to run in a thread while something else is imported."""
        self.embedder.encode(["warm up"])

    def prepare(self) -> None:
        """Load the model and compute what the index's first questions would (the passages
        stating judgements and visit dates), so that none of them waits for it."""
        self.load_model()
        self.retriever.prepare()

    def warm_up(self) -> float:
        """Run the whole question path once, so that the first real question is answered as
        fast as the tenth (the model's first calls, numpy's and SQLite's first reads are
        slow); the seconds it took."""
        started = time.perf_counter()
        self.retriever.prepare()
        self.embedder.encode(["warm up " * n for n in (1, 8, 32)])
        self.ask("What did inspectors find about the quality of practice?", timeline=False)
        self.answered -= 1
        return time.perf_counter() - started

    def facts(self, intent: QueryIntent, filters: Filters | None = None) -> FactsTable | None:
        """The facts table a question about judgements is answered with (None: it is not)."""
        asked = read_facts_question(intent)
        if asked is None:
            return None
        allowed = filters.matches if filters is not None and filters.active else (lambda d: True)
        rows = fact_rows(self.retriever.docs.values(), asked, intent, allowed)
        period = intent.period.label if intent.period else None
        return FactsTable(asked, tuple(rows), asked.describe(period))

    def timeline(
        self, question: str, filters: Filters | None = None, intent: QueryIntent | None = None
    ) -> Timeline:
        """The question's topic across one council's reports, in visit-date order
        (``intent``: the question as already read, if it was)."""
        retriever = self.retriever
        intent = intent or analyse(question, newest=retriever.table.newest)
        docs = [d for d in retriever.docs.values() if filters is None or filters.matches(d)]
        topic = timeline_topic(intent)
        vector = self.encode_questions([topic])[0]  # once, for every report's search

        def best_in(doc: Document) -> Passage | None:
            within = retriever.table.codes_of([doc.doc_id])
            found = retriever.search(topic, k=1, steer=False, within=within, vector=vector)
            return found.passages[0] if found.passages else None

        return build_timeline(intent, docs, best_in)

    def close(self) -> None:
        self.index.close()
