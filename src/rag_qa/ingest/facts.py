"""What a report is about and what kind of report it is, read from its own text.

The council comes from the first of: the title; a sentence that names the subject of a report
or letter ("Focused visit to Central Bedfordshire local authority children's services",
"Inspection of Dudley local authority children's services", "Children's services in Stockport
are good", "Joint targeted area inspection of the multi-agency response to ... in Kent"); the
opening lines of the first page (where older reports put "London Borough of Hounslow" above
the title); and, failing those, the council the first pages name most often. Every council is
looked up in the gazetteer (rag_qa.text.councils): no council is named here.

The kind refines the document type for the frameworks Ofsted has used: ILACS (standard or
short inspection, focused visit, monitoring visit), SIF (single inspection framework, 2013-2018,
and its re-inspections), joint targeted area inspections, joint area reviews, looked-after
children and safeguarding inspections.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from rag_qa.text.councils import council_mentions, first_council

_CUES = (
    re.compile(
        r"\b(?:focused|monitoring|assurance)\s+visit\s+to\s+(?P<x>[^.\n]{2,90}?)\s+"
        r"(?:local\s+authority|children|council|borough|county)",
        re.I,
    ),
    re.compile(
        r"\binspection\s+of\s+(?P<x>[^.\n]{2,90}?)\s+(?:local\s+authority|children['’]s\s+services"
        r"|council|borough|county)",
        re.I,
    ),
    re.compile(
        r"\bchildren['’]s\s+services\s+(?:in|for)\s+(?P<x>[^.\n]{2,60}?)\s+(?:are|is|were|was|have|has)\b",
        re.I,
    ),
    re.compile(
        r"\bjoint\s+targeted\s+area\s+inspection\b[^.]{0,200}?\bin\s+(?P<x>[^.\n]{2,60})", re.I
    ),
)
HEAD_LINES = 4  # opening lines of the first page that may name the council
FREQUENT_PAGES = 3  # pages counted for the most-named council


@dataclass(frozen=True)
class Found:
    value: str
    rule: str  # which rule matched: "title", "subject-sentence", "first-lines", "most-named"
    evidence: str  # the text it was read from
    page: int | None = None


# (kind, pattern on the title and the opening of the first page), first match wins.
_KIND_RULES = (
    ("joint targeted area inspection", re.compile(r"\bjoint\s+targeted\s+area\s+inspection", re.I)),
    ("joint area review", re.compile(r"\bjoint\s+area\s+review", re.I)),
    ("SIF re-inspection", re.compile(r"\bre-inspection\s+of\s+services\s+for\s+children", re.I)),
    (
        "SIF inspection",
        re.compile(r"\binspection\s+of\s+services\s+for\s+children\s+in\s+need", re.I),
    ),
    (
        "looked-after children inspection",
        re.compile(r"\binspection\s+of\s+(?:services\s+for\s+)?looked[\s-]+after\s+children", re.I),
    ),
    ("safeguarding inspection", re.compile(r"\binspection\s+of\s+safeguarding\b", re.I)),
    ("focused visit", re.compile(r"\bfocus?sed\s+visit\b", re.I)),
    ("monitoring visit", re.compile(r"\bmonitoring\s+visit\b", re.I)),
    (
        "ILACS inspection",
        re.compile(
            r"\binspection\s+of\s+(?:[^.\n]{0,80}\s)?(?:local\s+authority\s+)?children['’]s\s+"
            r"(?:social\s+care\s+)?services",
            re.I,
        ),
    ),
)
# An ILACS short inspection is on site for one week (authorities judged good or
# outstanding), a standard one for two: read from the inspection dates.
SHORT_INSPECTION_DAYS = 7
_OTHER_KINDS = {"news release", "news article", "minutes"}


def find_kind(
    title: str, doc_type: str, first_page: str, visit: tuple[str | None, str | None]
) -> Found:
    """The report kind (text.vocabulary.KINDS) from the title and the first page's opening;
    a news release, article or minutes keeps its document type."""
    if doc_type in _OTHER_KINDS:
        return Found(doc_type, "document-type", doc_type)
    head = title + "\n" + " ".join(first_page[:600].split())
    for kind, pattern in _KIND_RULES:
        m = pattern.search(head)
        if m is None:
            continue
        if kind == "monitoring visit" and doc_type != "monitoring visit letter":
            continue  # news of a monitoring visit is not the letter itself
        if kind == "ILACS inspection":
            return _ilacs_length(m.group(0), visit)
        return Found(kind, "title-or-cover", m.group(0))
    return Found("document", "none", "")


def _ilacs_length(evidence: str, visit: tuple[str | None, str | None]) -> Found:
    start, end = visit
    if not (start and end):
        return Found("ILACS inspection", "title-or-cover", evidence)
    days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    kind = (
        "ILACS short inspection" if days <= SHORT_INSPECTION_DAYS else "ILACS standard inspection"
    )
    return Found(kind, "visit-length", f"{evidence}; on site {start} to {end} ({days} days)")


def find_council(title: str, pages: list[tuple[int | None, str]]) -> Found | None:
    """The council a report is about (see the module doc), or None for a document that
    names none (a BEIR passage, a generic note)."""
    name = first_council(title)
    if name:
        return Found(name, "title", title)
    for number, text in pages[:2]:
        flat = " ".join(text.split())
        for cue in _CUES:
            for m in cue.finditer(flat):
                name = first_council(m["x"])
                if name:
                    return Found(name, "subject-sentence", m.group(0)[:160], number)
    if pages:
        number, text = pages[0]
        head = " ".join(ln.strip() for ln in text.splitlines()[:HEAD_LINES] if ln.strip())
        name = first_council(head)
        if name:
            return Found(name, "first-lines", head[:160], number)
    counts = Counter(m.name for _, text in pages[:FREQUENT_PAGES] for m in council_mentions(text))
    if counts:
        name, n = counts.most_common(1)[0]
        return Found(name, "most-named", f"{name} named {n} times", pages[0][0])
    return None
