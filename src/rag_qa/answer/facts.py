"""Answers built from report facts: a facts table (one row per report, citing its report and
the page of the judgement) and a timeline (a passage per report, in visit order)."""

from __future__ import annotations

from dataclasses import dataclass

from rag_qa.answer.extract import Answer, passage_sentences
from rag_qa.records import FactRow
from rag_qa.retrieval.facts import FactsQuestion
from rag_qa.retrieval.timeline import Timeline, TimelineEntry
from rag_qa.text.frameworks import AREA_LABELS
from rag_qa.text.vocabulary import tokenize

QUOTE_CHARS = 400  # of a timeline sentence, in the answer text (the passage itself is whole)


@dataclass(frozen=True)
class FactsTable:
    asked: FactsQuestion
    rows: tuple[FactRow, ...]
    description: str  # what the table holds, for people

    def to_json(self) -> dict:
        return {"description": self.description, "rows": [r.to_json() for r in self.rows]}


def _visit(row: FactRow) -> str:
    d = row.document
    if d.visit_start and d.visit_end and d.visit_start != d.visit_end:
        return f"inspected {d.visit_start} to {d.visit_end}"
    return f"inspected {d.visit_start}" if d.visit_start else f"dated {d.date or 'unknown'}"


def table_text(table: FactsTable) -> str:
    """The table as the answer's text: a line per report, each cited."""
    if not table.rows:
        return f"No report in the index matches: {table.description}."
    lines = [f"{table.description} ({len(table.rows)} report(s)):"]
    for i, row in enumerate(table.rows, 1):
        area = AREA_LABELS.get(row.area, row.area)
        grade = row.grade or f"not graded ({area} is not an area of this framework)"
        words = f' ("{row.evidence}")' if row.evidence else ""
        lead = row.document.lead_inspector
        who = f", lead inspector {lead}" if lead else ""
        council = row.document.council or "-"
        lines.append(f"{i}. {council}, {_visit(row)}{who}: {grade}{words} [{row.citation}]")
    return "\n".join(lines)


def facts_answer(table: FactsTable, extracted: Answer) -> Answer:
    """The table is the answer; the passages' own sentences follow when they were found."""
    text = table_text(table)
    if not extracted.abstained and extracted.text:
        text += "\n\nFrom the passages: " + extracted.text
    return Answer(text, False, extracted.sentences, "", extracted.similarity)


def entry_quote(entry: TimelineEntry, topic: str) -> str:
    """The sentence of an entry's passage that says most about the topic (by the words they
    share, each counted once), whole; the passage's opening if none shares a word."""
    if entry.passage is None:
        return ""
    wanted = set(tokenize(topic))
    sentences = passage_sentences(entry.passage.chunk.text)
    best = max(sentences, key=lambda s: len(wanted & set(tokenize(s))), default="")
    if not best or not wanted & set(tokenize(best)):
        best = " ".join(entry.passage.chunk.text.split())
    return best if len(best) <= QUOTE_CHARS else best[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"


def timeline_text(timeline: Timeline) -> str:
    if not timeline.entries:
        return timeline.note
    lines = [timeline.note]
    for e in timeline.entries:
        grade = f" (overall: {e.grade})" if e.grade else ""
        head = f"{e.when} {e.document.kind}{grade}"
        if e.passage is None:
            lines.append(f"- {head}: nothing on this topic.")
            continue
        lines.append(f'- {head}: "{entry_quote(e, timeline.topic)}" [{e.passage.citation}]')
    return "\n".join(lines)
