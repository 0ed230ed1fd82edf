"""A topic across the years: "How has management oversight changed in Slough?".

For one council, each of its Ofsted reports (inspections, focused and monitoring visits) in
visit-date order, with the best passage on the topic within that report and the report's
overall judgement where it has one; the points of a plot of the council's judgements over
time come with it. The council is the one the question names, else the only council the
allowed documents are about; with several and none named, the timeline asks for one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag_qa.records import Document, Passage
from rag_qa.retrieval.query import QueryIntent
from rag_qa.text.vocabulary import STOPWORDS

ASKS_CHANGE = re.compile(
    r"\bhow\s+(?:has|have|did|do|does)\b.{0,80}?\b(?:chang|mov|improv|develop|evolv|progress"
    r"|shift|declin|deteriorat)\w*"
    r"|\b(?:over|across|through)\s+(?:time|the\s+years)\b|\btimeline\b|\btrajectory\b",
    re.I,
)


# The words that ask for change, taken off the topic searched for in each report.
_CHANGE_WORDS = re.compile(
    r"\b(?:how|has|have|had|did|does|do|chang(?:e|ed|es|ing)|mov(?:e|ed)|improv(?:e|ed)"
    r"|develop(?:ed)?|evolv(?:e|ed)|progress(?:ed)?|shift(?:ed)?|declin(?:e|ed)"
    r"|deteriorat(?:e|ed)|over|across|through|time|the\s+years|timeline|trajectory|since)\b",
    re.I,
)


def timeline_topic(intent: QueryIntent) -> str:
    """What to look for in each report: the question's topic without the words of change."""
    words = _CHANGE_WORDS.sub(" ", intent.topic or intent.question).replace("?", " ").split()
    while words and words[-1].lower() in STOPWORDS:  # "... changed in Dudley?" left "in"
        words.pop()
    while words and words[0].lower() in STOPWORDS:
        words.pop(0)
    return " ".join(words) or intent.topic or intent.question


@dataclass(frozen=True)
class TimelineEntry:
    document: Document
    passage: Passage | None  # the best passage on the topic in this report (None: none)
    grade: str | None  # the report's overall effectiveness, for graded reports

    @property
    def when(self) -> str:
        d = self.document
        return d.visit_start or d.published or d.date or ""


@dataclass(frozen=True)
class Timeline:
    council: str | None
    topic: str
    entries: tuple[TimelineEntry, ...]
    note: str = ""  # why there is no timeline, or what it covers

    @property
    def points(self) -> list[tuple[str, str, str]]:
        """(visit date, overall grade, report label) of each graded report: the plot."""
        return [(e.when, e.grade, e.document.label) for e in self.entries if e.grade]

    def to_json(self) -> dict:
        return {
            "council": self.council,
            "topic": self.topic,
            "note": self.note,
            "entries": [
                {
                    "doc_id": e.document.doc_id,
                    "source": e.document.source,
                    "kind": e.document.kind,
                    "when": e.when,
                    "overall_effectiveness": e.grade,
                    "passage": e.passage.to_json() if e.passage else None,
                }
                for e in self.entries
            ],
        }


def _council(intent: QueryIntent, docs: list[Document]) -> str | None:
    if intent.councils:
        return intent.councils[0]
    named = {d.council for d in docs if d.council}
    return named.pop() if len(named) == 1 else None


def _paged(doc: Document) -> bool:
    return doc.source.lower().endswith(".pdf")


def _one_copy(reports: list[Document]) -> list[Document]:
    """A report held twice (a PDF and a text copy of the same letter) once: the PDF, whose
    pages a citation can name, sorts first among those of the same kind and visit."""
    seen: set[tuple] = set()
    out = []
    for d in reports:
        key = (d.kind, d.visit_start, d.visit_end)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def build_timeline(
    intent: QueryIntent,
    docs: list[Document],
    best_in: Callable[[Document], Passage | None],
) -> Timeline:
    """The timeline of ``intent``'s topic over ``docs`` (the documents allowed);
    ``best_in(doc)`` finds the best passage on the topic within one document."""
    topic = timeline_topic(intent)
    council = _council(intent, docs)
    if council is None:
        return Timeline(
            None, topic, (), "Name a council for a timeline (the reports are about several)."
        )
    reports = [
        d for d in docs if d.council == council and d.framework and (d.visit_start or d.date)
    ]
    if intent.period is not None:
        p = intent.period
        reports = [d for d in reports if d.dated_within(p.start.isoformat(), p.end.isoformat())]
    order = sorted(reports, key=lambda d: (d.visit_start or d.date or "", not _paged(d)))
    reports = _one_copy(order)
    entries = tuple(
        TimelineEntry(d, best_in(d), d.judgements.get("overall_effectiveness")) for d in reports
    )
    note = f"{council}: {len(entries)} report(s) in visit-date order, the best passage of each on '{topic}'."
    return Timeline(
        council, topic, entries, note if entries else f"No Ofsted report of {council} in the index."
    )
