"""Questions answered from the reports' facts rather than their passages: "What was Dudley's
overall effectiveness judgement in 2018?", "Which councils were judged inadequate in 2023?",
"List the reports rated outstanding for care leavers", "Which councils are inadequate now?".

A question is read as a facts question when it asks for a judgement (judged, graded, rated,
judgement, grade, overall effectiveness), or names a grade while asking which councils or
reports. The rows are every graded report (ILACS and SIF inspections) in scope: the councils the
question names (else all), its period (a report counts when its inspection or its publication
falls in it), the latest graded report of each council for "now" / "currently" / "latest",
and, when no council is named, the grade asked for. The areas asked about come from the
frameworks' words (text.frameworks.AREAS); none named means overall effectiveness.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rag_qa.records import Document, FactRow
from rag_qa.retrieval.query import QueryIntent
from rag_qa.text.frameworks import AREA_LABELS, AREAS, GRADE, graded, normal_grade
from rag_qa.text.vocabulary import words

# Besides what the question reader counts as asking for a judgement (intent.asks_judgement).
_ASKS_FACTS = re.compile(r"\b(?:verdicts?|lead\s+inspectors?)\b", re.I)
_ASKS_WHICH = re.compile(
    r"\b(?:which|what|list|how\s+many|name|show)\b.{0,40}?\b(?:councils?|authorit(?:y|ies)|"
    r"las?|reports?|inspections?|areas?)\b",
    re.I,
)
_NOW = re.compile(
    r"\b(?:now|currently|current(?:ly)?|at\s+present|today|latest|most\s+recent)\b", re.I
)


# The words a question about the frameworks' judgements is made of, besides its council and
# period: asking, reports, the areas and the grades. A question with any other word left
# ("How was the youth justice service rated by HMI Probation?", "What share of pupils got
# grade 4?") is about something the reports' judgements do not hold; it gets no table
# (measured: 2 unanswerable questions of the multi-council suite were answered without this).
_FACT_WORDS = frozenset(
    words(
        """ofsted inspection inspections inspected inspector inspectors lead led report reports
        council councils authority authorities local la las area areas children child
        children's young people services service social care work judgement judgements
        judgment judgments judged grade grades graded rated rating ratings rate overall
        effectiveness verdict verdicts receive received get got give given gave awarded
        latest recent now currently current previous last first full standard short ilacs sif
        framework re-inspection reinspection list show name which what who how many year
        years impact leaders leadership management governance help protection need needs
        experiences progress leavers leaver looked after permanence achieving adoption
        performance lscb safeguarding board outstanding good requires require improvement
        inadequate according"""
    )
)


@dataclass(frozen=True)
class FactsQuestion:
    areas: tuple[str, ...]  # area keys asked about, the first is the table's grade column
    grades: tuple[str, ...]  # grades asked for (applied when no council is named)
    councils: tuple[str, ...]
    latest: bool  # each council's latest graded report only

    def describe(self, period_label: str | None) -> str:
        what = AREA_LABELS[self.areas[0]]
        parts = [what]
        if self.grades and not self.councils:
            parts.append("judged " + " or ".join(self.grades))
        if self.councils:
            parts.append(", ".join(self.councils))
        if period_label:
            parts.append(f"inspected or published in {period_label}")
        if self.latest:
            parts.append("each council's latest graded inspection")
        return "; ".join(parts)


def read_facts_question(intent: QueryIntent) -> FactsQuestion | None:
    """The facts a question asks for, or None when it asks about the reports' content."""
    q = intent.question
    grades = tuple(dict.fromkeys(normal_grade(m.group(0)) for m in GRADE.finditer(q)))
    asks = intent.asks_judgement or _ASKS_FACTS.search(q)
    if not (asks or (grades and _ASKS_WHICH.search(q))):
        return None
    if set(words(intent.topic)) - _FACT_WORDS:
        return None  # it asks about something else: a youth justice rating, "grade 4" GCSEs
    areas = []
    for framework_areas in AREAS.values():
        for area in framework_areas:
            if re.search(rf"\b(?:{area.asked})", q, re.I) and area.key not in areas:
                areas.append(area.key)
    areas = [a for a in areas if a != "overall_effectiveness"] or ["overall_effectiveness"]
    return FactsQuestion(
        areas=tuple(areas),
        grades=grades,
        councils=intent.councils,
        latest=bool(intent.latest or _NOW.search(q)),
    )


def fact_rows(
    documents: Iterable[Document],
    asked: FactsQuestion,
    intent: QueryIntent,
    allowed: Callable[[Document], bool] = lambda d: True,
) -> list[FactRow]:
    """One row per graded report in scope (see the module doc), in inspection-date order."""
    docs = [d for d in documents if graded(d.kind) and d.judgements and allowed(d)]
    if asked.councils:
        docs = [d for d in docs if d.council in asked.councils]
    if intent.period is not None:
        p = intent.period
        docs = [d for d in docs if d.dated_within(p.start.isoformat(), p.end.isoformat())]
    if asked.latest:
        newest: dict[str | None, Document] = {}
        for d in docs:
            if d.council not in newest or _when(d) > _when(newest[d.council]):
                newest[d.council] = d
        docs = list(newest.values())
    rows = [_row(d, asked.areas) for d in docs]
    if asked.grades and not asked.councils:
        rows = [r for r in rows if r.grade in asked.grades]
    return sorted(rows, key=lambda r: (_when(r.document), r.document.council or ""))


def _when(doc: Document) -> str:
    return doc.visit_start or doc.published or doc.date or ""


def _row(doc: Document, areas: tuple[str, ...]) -> FactRow:
    """The report's grade for the first area asked that its framework grades ("children in
    care" is ILACS's ``in_care`` and SIF's ``looked_after``)."""
    own = {a.key for a in AREAS.get(doc.framework or "", ())}
    area = next((a for a in areas if a in own), areas[0])
    fact = doc.fact(f"judgement.{area}")
    if fact is None:
        return FactRow(doc, area, None, None, "")
    return FactRow(doc, area, fact.value, fact.page, fact.evidence)
