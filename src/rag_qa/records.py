"""Frozen records that flow between pipeline stages."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from rag_qa.text.councils import council_named
from rag_qa.text.frameworks import COMBINED_FACT, ILACS_KEYS, framework_of, graded
from rag_qa.text.vocabulary import MONTHS


@dataclass(frozen=True)
class Page:
    """Cleaned text of one page; ``number`` is 1-based, None for unpaginated text files."""

    number: int | None
    text: str


@dataclass(frozen=True)
class DateMention:
    """A date read from a document, with how it was found (shown by ``rag-qa docs``)."""

    role: str  # "document", "published", "visit_start", "visit_end"
    date: str  # ISO YYYY-MM-DD
    rule: str  # which rule matched, e.g. "inspection-dates-line", "file-name", "sidecar"
    evidence: str  # the matched text
    page: int | None = None


@dataclass(frozen=True)
class Fact:
    """A fact read from a document (its council, kind, judgements, inspectors), with where
    it was read."""

    name: str  # "council", "kind", "judgement.<area key>", "lead_inspector", "inspectors", ...
    value: str
    rule: str  # which rule found it, e.g. "title", "subject-sentence", "visit-length"
    evidence: str  # the text it was read from
    page: int | None = None


@dataclass(frozen=True)
class Document:
    doc_id: str
    source: str  # path relative to the corpus folder, POSIX separators
    title: str
    doc_type: str  # see text.vocabulary.DOC_TYPES
    date: str | None  # the document's own date (letter date or publication date)
    visit_start: str | None
    visit_end: str | None
    dates: tuple[DateMention, ...]
    pages: tuple[Page, ...]
    content_hash: str
    source_url: str | None = None
    warnings: tuple[str, ...] = ()
    council: str | None = None  # the council it is about (rag_qa.ingest.facts), if any
    kind: str = "document"  # the report kind, finer than doc_type (text.vocabulary.KINDS)
    facts: tuple[Fact, ...] = ()

    @functools.cached_property
    def label(self) -> str:
        """The title, led by the council when the title does not name it ("Dudley:
        Inspection of children's social care services"): what a citation shows. Kept once
        read: an answer's page shows it 15-20 times, and reading the title for councils
        took 5 of the chat's 17 ms a question (cProfile, shipped corpus)."""
        if self.council and not council_named(self.council, self.title):
            return f"{self.council}: {self.title}"
        return self.title

    def fact(self, name: str) -> Fact | None:
        return next((f for f in self.facts if f.name == name), None)

    @property
    def judgements(self) -> dict[str, str]:
        """Area key (text.frameworks.AREAS) -> grade, for the areas this report grades."""
        prefix = "judgement."
        return {f.name[len(prefix) :]: f.value for f in self.facts if f.name.startswith(prefix)}

    @property
    def lead_inspector(self) -> str | None:
        found = self.fact("lead_inspector")
        return found.value if found else None

    @property
    def inspectors(self) -> tuple[str, ...]:
        """The other inspectors the report names (deputy, team, shadow; a visit's second)."""
        found = self.fact("inspectors")
        return tuple(found.value.split("; ")) if found else ()

    @property
    def ocr_pages(self) -> frozenset[int]:
        """The pages whose text was read by OCR (scans): their citations say so."""
        found = self.fact("ocr_pages")
        return frozenset(int(n) for n in found.value.split(", ")) if found else frozenset()

    @property
    def framework(self) -> str | None:
        return framework_of(self.kind)

    def dated_within(self, start: str, end: str) -> bool:
        """Whether the report's inspection or publication falls in [start, end] (ISO days)."""
        days = (self.visit_start, self.visit_end, self.published)
        return any(start <= d <= end for d in days if d)

    @property
    def published(self) -> str | None:
        """The publication date the report states or its file name gives, else its own date."""
        stated = sorted(
            (m for m in self.dates if m.role == "published"), key=lambda m: m.rule == "file-name"
        )
        return stated[0].date if stated else self.date

    def report_facts(self) -> dict:
        """The report's facts as one flat record: what ``docs --json`` and ``--csv`` write and
        the Index tab shows. ``judgements`` is None for a report that grades nothing; an ILACS
        report always has its five keys (None where the text gave no grade)."""
        grades = self.judgements
        if framework_of(self.kind) == "ILACS" and graded(self.kind):
            grades = {key: grades.get(key) for key in ILACS_KEYS}
        judged = [f for f in self.facts if f.name.startswith("judgement.")]
        return {
            "source": self.source,
            "title": self.title,
            "council": self.council,
            "doc_type": self.doc_type,
            "kind": self.kind,
            "framework": self.framework,
            "date": self.date,
            "published": self.published,
            "visit_start": self.visit_start,
            "visit_end": self.visit_end,
            "lead_inspector": self.lead_inspector,
            "inspectors": list(self.inspectors),
            "judgements": grades or None,
            "judgement_page": judged[0].page if judged else None,
            "in_care_and_care_leavers_combined": self.fact(COMBINED_FACT) is not None,
        }

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def year(self) -> int | None:
        """The year a document belongs to: its own date's, else its visit's."""
        when = self.date or self.visit_end or self.visit_start
        return int(when[:4]) if when else None


@dataclass(frozen=True)
class Chunk:
    """A passage of one document.

    ``char_start`` is an offset into the text of ``page_start`` and ``char_end`` an offset
    into the text of ``page_end``; for a one-page chunk ``text == page.text[start:end]``, for a
    chunk over several pages the page slices are joined with ``PAGE_JOIN``.
    """

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    section: str | None
    token_count: int


PAGE_JOIN = "\n"


@dataclass(frozen=True)
class Passage:
    """One ranked search result: a chunk with its document's citation fields."""

    rank: int
    score: float
    chunk: Chunk
    document: Document
    also_in: tuple[tuple[str, int | None], ...] = ()  # (source, page) of the same passage elsewhere
    scores: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def citation(self) -> str:
        return citation_label(self.document, self.chunk)

    def to_json(self) -> dict:
        """The passage as ``rag-qa ask --json`` prints it (a stable contract: add, never
        rename or remove fields)."""
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "doc_id": self.document.doc_id,
            "source": self.document.source,
            "title": self.document.title,
            "council": self.document.council,
            "kind": self.document.kind,
            "date": self.document.date,
            "page": self.chunk.page_start,
            "page_end": self.chunk.page_end,
            "text": self.chunk.text,
            "chunk_id": self.chunk.chunk_id,
            "section": self.chunk.section,
            "doc_type": self.document.doc_type,
            "visit_start": self.document.visit_start,
            "visit_end": self.document.visit_end,
            "citation": self.citation,
            "also_in": [{"source": s, "page": page} for s, page in self.also_in],
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
        }


def citation_label(doc: Document, chunk: Chunk) -> str:
    parts = [doc.label]
    if doc.date:
        parts.append(format_date(doc.date))
    if chunk.page_start is not None:
        if chunk.page_end is not None and chunk.page_end != chunk.page_start:
            parts.append(f"p. {chunk.page_start}-{chunk.page_end}")
        else:
            parts.append(f"p. {chunk.page_start}")
        ocr = doc.ocr_pages
        if ocr and any(chunk.page_start <= n <= (chunk.page_end or chunk.page_start) for n in ocr):
            parts[-1] += " (OCR)"
    return ", ".join(parts)


def format_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{int(day)} {MONTHS[int(month) - 1]} {year}"


@dataclass(frozen=True)
class FactRow:
    """One report's judgement in a facts table: what a question about judgements is answered
    with, citing the report and the page the grade was read from."""

    document: Document
    area: str  # the area asked about (text.frameworks key), e.g. "overall_effectiveness"
    grade: str | None  # its grade, None if the report does not grade that area
    page: int | None  # where the grade was read
    evidence: str  # Ofsted's words it was read from

    @property
    def citation(self) -> str:
        page = f", p. {self.page}" if self.page else ""
        when = self.document.visit_start or self.document.date or "undated"
        return f"{self.document.label} ({when}){page}"

    def to_json(self) -> dict:
        doc = self.document
        return {
            "doc_id": doc.doc_id,
            "source": doc.source,
            "council": doc.council,
            "kind": doc.kind,
            "visit_start": doc.visit_start,
            "visit_end": doc.visit_end,
            "published": doc.published,
            "lead_inspector": doc.lead_inspector,
            "area": self.area,
            "grade": self.grade,
            "judgements": doc.judgements,
            "page": self.page,
            "evidence": self.evidence,
        }
