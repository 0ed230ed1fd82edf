"""The judgements and inspectors of a report, read from its text, each with its page.

ILACS reports open with a table ("Judgement Grade", then each area followed by its grade, last
"Overall effectiveness"); where the table cannot be read, the report's section headings
("The experiences and progress of children in care: good") give the same grades. SIF reports
open with "Children's services in X are good" (or "The overall judgement is good") and a
numbered list of areas; the LSCB's grade is on the cover or heads its review section.

The lead inspector is on the cover of ILACS reports ("Lead inspector: Name, His Majesty's
Inspector") and in the team list of SIF reports (with the deputy, team and shadow
inspectors); a focused or monitoring visit letter is signed by its lead inspector and names
the inspectors in its first paragraph. A report of a kind this module does not know gets no
judgements; its inspectors are still read where a "Lead inspector:" line is found.
"""

from __future__ import annotations

import re

from rag_qa.ingest.facts import Found
from rag_qa.text.frameworks import COMBINED_FACT as COMBINED
from rag_qa.text.frameworks import GRADE_WORDS, graded, normal_grade

_G = rf"\s*[:\-–]?\s*(?P<grade>{GRADE_WORDS})\b"
_PROGRESS = r"(?:experiences\s+and\s+)?progress\s+of\s+"
_ILACS = (
    (
        "impact_of_leaders",
        r"impact\s+of\s+leaders\s+on\s+social\s+work\s+practice\s+with\s+children\s+and\s+families",
    ),
    ("help_and_protection", _PROGRESS + r"children\s+who\s+need\s+help\s+and\s+protection"),
    ("in_care_and_care_leavers", _PROGRESS + r"children\s+in\s+care\s+and\s+care\s+leavers"),
    ("in_care", _PROGRESS + r"children\s+in\s+care(?!\s+and\s+care\s+leavers)"),
    ("care_leavers", _PROGRESS + r"care\s+leavers"),
    ("overall_effectiveness", r"overall\s+effectiveness"),
)
_SIF = (
    (
        "overall_effectiveness",
        r"(?:children['’]s\s+services\s+in\s+[^.]{2,60}?\s+"
        r"|the\s+overall\s+judgement\s+is\s+(?:that\s+children['’]s\s+services\s+)?)"
        r"(?:are\s+|is\s+)?",
    ),
    ("help_and_protection", r"1\.\s*children\s+who\s+need\s+help\s+and\s+protection"),
    ("looked_after", r"2\.\s*children\s+looked\s+after\s+and\s+achieving\s+permanence"),
    ("adoption", r"2\.1\.?\s*adoption\s+performance"),
    ("care_leavers", r"2\.2\.?\s*experiences\s+and\s+progress\s+of\s+care\s+leavers"),
    ("leadership", r"3\.\s*leadership,?\s+management\s+and\s+governance"),
)
_LSCB = re.compile(
    r"\b(?:the\s+effectiveness\s+of\s+)?the\s+(?:local\s+safeguarding\s+children\s+board"
    r"(?:\s*\(LSCB\))?|LSCB)(?:\s+in\s+[A-Z][\w’' -]{1,40}?)?\s+(?:is\s+|are\s+)?"
    rf"(?P<grade>{GRADE_WORDS})\b",
    re.I,
)
TABLE_PAGES = 2  # the judgement table and the SIF cover list are on the first pages


def _flat(text: str) -> str:
    return " ".join(text.split())


def _grade_at(pattern: str, pages, flags=re.I) -> Found | None:
    rx = re.compile(r"\b" + pattern + _G, flags)
    for number, text in pages:
        m = rx.search(_flat(text))
        if m:
            return Found(normal_grade(m["grade"]), "", m.group(0)[-160:], number)
    return None


def find_judgements(kind: str, pages: list[tuple[int | None, str]]) -> dict[str, Found]:
    """Area key -> its grade (text.frameworks.AREAS keys), for ILACS and SIF inspections."""
    if not graded(kind):
        return {}
    if kind.startswith("SIF"):
        return _sif(pages)
    return _ilacs(pages)


def _ilacs(pages) -> dict[str, Found]:
    found: dict[str, Found] = {}
    head = pages[:TABLE_PAGES]
    for key, pattern in _ILACS:
        hit = _grade_at(pattern, head)
        rule = "judgement-table"
        if hit is None and key != "overall_effectiveness":
            hit, rule = _grade_at(pattern, pages[TABLE_PAGES:]), "section-heading"
        if hit is not None:
            found[key] = Found(hit.value, rule, hit.evidence, hit.page)
    both = found.pop("in_care_and_care_leavers", None)
    if both is not None:
        for key in ("in_care", "care_leavers"):
            found.setdefault(key, Found(both.value, "combined-row", both.evidence, both.page))
        found[COMBINED] = Found("yes", "combined-row", both.evidence, both.page)
    return found


def _sif(pages) -> dict[str, Found]:
    found: dict[str, Found] = {}
    head = pages[:TABLE_PAGES]
    for key, pattern in _SIF:
        hit = _grade_at(pattern, head)
        if hit is not None:
            found[key] = Found(hit.value, "cover-list", hit.evidence, hit.page)
    for where, rule in ((head, "cover-list"), (pages[TABLE_PAGES:], "lscb-section")):
        for number, text in where:
            m = _LSCB.search(_flat(text))
            if m:
                found["lscb"] = Found(normal_grade(m["grade"]), rule, m.group(0)[-160:], number)
                return found
    return found


_NOT_NAME = re.compile(
    r"\b(?:HMI|SCRI|OI|AI|H[ei][rs]\s+Majesty['’]s\s+Inspectors?|Ofsted\s+Inspectors?|"
    r"Social\s+Care\s+Regulatory\s+Inspector)\b|\([^)]*\)",
    re.I,
)
_NAME = re.compile(r"(?:[A-ZÀ-Þ][\w’'\-]*\.?)(?:\s+(?:[A-ZÀ-Þ][\w’'\-]*|de|van|von|du|le|la|da))*")
_STOP = (
    r"(?=\s*(?:Deputy|Team\s+inspectors?|Shadow|Senior|Quality|Judgement|Inspection\s+dates?|"
    r"Information|Any\s+complaints|\d|$))"
)
# The lead's name ends at a comma or a title too ("Jane Example, His Majesty's Inspector").
_LEAD_STOP = _STOP.replace("(?:", r"(?:,|H[ei][rs]\s+Majesty|HMI\b|", 1)
_LEAD = re.compile(r"(?<!deputy\s)\blead\s+inspector\s*:\s*(?P<x>.{2,80}?)" + _LEAD_STOP, re.I)
_LISTED = re.compile(
    r"\b(?P<role>deputy\s+lead\s+inspector|team\s+inspectors?|shadow\s+inspectors?)\s*:\s*"
    r"(?P<x>.{2,500}?)" + _STOP,
    re.I,
)
_VISITORS = re.compile(
    r"\b(?:inspectors\s+for\s+this\s+visit\s+were|the\s+inspectors\s+were|carried\s+out\s+by"
    r"(?:\s+H[ei][rs]\s+Majesty['’]s\s+Inspectors)?)\s+(?P<x>[^.]{3,300})\.",
    re.I,
)
_SIGNED = re.compile(r"Yours\s+sincerely\s*\n(?:\s*\n)*\s*(?P<x>[^\n]{3,60})", re.I)


def names(text: str) -> list[str]:
    """The people's names in a list such as "Louise Hocking HMI, Andy Whippey HMI and Jo Smith"."""
    out: list[str] = []
    for part in re.split(r",|;|\band\b|&", _NOT_NAME.sub(" ", text)):
        part = " ".join(part.split()).strip(" .:")
        m = _NAME.fullmatch(part)
        if m and 2 <= len(part.split()) <= 5 and part not in out:
            out.append(part)
    return out


def find_inspectors(kind: str, pages) -> tuple[Found | None, list[str]]:
    """The lead inspector (with where it was read) and the other inspectors named, in order."""
    lead: Found | None = None
    others: list[str] = []
    for number, text in pages:
        flat = _flat(text)
        m = _LEAD.search(flat) if lead is None else None
        if m and names(m["x"]):
            lead = Found(names(m["x"])[0], "lead-inspector-line", m.group(0)[:160], number)
        for listed in _LISTED.finditer(flat):
            others += [n for n in names(listed["x"]) if n not in others]
    if lead is None and kind in ("focused visit", "monitoring visit"):
        lead, others = _letter_inspectors(pages)
    if lead is not None:
        others = [n for n in others if n != lead.value]
    return lead, others


def _letter_inspectors(pages) -> tuple[Found | None, list[str]]:
    """A visit letter: the inspectors its opening names; the lead is the one who signs it."""
    named: list[str] = []
    for _number, text in pages[:2]:
        m = _VISITORS.search(_flat(text))
        if m:
            named = names(m["x"])
            break
    for number, text in reversed(pages):
        m = _SIGNED.search(text)
        if m and names(m["x"]):
            return Found(names(m["x"])[0], "letter-signatory", m.group(0)[:160], number), named
    if named:
        return Found(named[0], "first-named-inspector", named[0], pages[0][0]), named[1:]
    return None, named
