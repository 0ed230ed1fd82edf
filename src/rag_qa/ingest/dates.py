"""Reading dates out of document text.

Every date found is returned as a ``DateMention`` that records the rule and the matched
text, so that a wrong date can be traced to the phrase that produced it.
"""

from __future__ import annotations

import re
from datetime import date

from rag_qa.records import DateMention
from rag_qa.text.vocabulary import MONTH_ALTERNATION as _MONTH_ALT
from rag_qa.text.vocabulary import month_number as _month

_DASH = r"(?:-|–|—|─|‒|−|to|until)"  # hyphen, en, em, box-drawing, figure dash, minus
_DAY = r"(?P<{}>\d{{1,2}})(?:st|nd|rd|th)?"
_MON = r"(?P<{}>" + _MONTH_ALT + r")\.?"
_YEAR = r"(?P<{}>(?:19|20)\d\d)"

# "21 January 2019 to 1 February 2019", "19 November – 11 December 2013",
# "10-11 January 2018", "19 and 20 November 2025", "30 April and 1 May 2024",
# "10 January to 14 February 2023", "12 January 2026".
RANGE_RE = re.compile(
    r"(?<![\w/])"
    + _DAY.format("d1")
    + r"(?:\s+"
    + _MON.format("m1")
    + r"(?:\s+"
    + _YEAR.format("y1")
    + r")?)?"
    + r"\s*(?:"
    + _DASH
    + r"|and|&)\s*"
    + _DAY.format("d2")
    + r"\s+"
    + _MON.format("m2")
    + r",?\s+"
    + _YEAR.format("y2")
    + r"\b",
    re.IGNORECASE,
)
SINGLE_RE = re.compile(
    r"(?<![\w/])"
    + _DAY.format("d")
    + r"\s+"
    + _MON.format("m")
    + r",?\s+"
    + _YEAR.format("y")
    + r"\b",
    re.IGNORECASE,
)
NUMERIC_RE = re.compile(r"(?<![\w/])(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?![\w/])")
MONTH_YEAR_RE = re.compile(
    r"(?:(?P<q>early|mid|late)[- ])?" + _MON.format("m") + r"\s+" + _YEAR.format("y") + r"\b",
    re.IGNORECASE,
)


def _mk(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_range(text: str) -> tuple[str, str, str] | None:
    """First date range in ``text`` as (start, end, matched text)."""
    m = RANGE_RE.search(text)
    if not m:
        return None
    y2, m2 = int(m["y2"]), _month(m["m2"])
    end = _mk(y2, m2, int(m["d2"]))
    m1 = _month(m["m1"]) if m["m1"] else m2
    y1 = int(m["y1"]) if m["y1"] else (y2 - 1 if m1 > m2 else y2)
    start = _mk(y1, m1, int(m["d1"]))
    if not start or not end or start > end:
        return None
    return start, end, m.group(0)


def parse_single(text: str) -> tuple[str, str] | None:
    """First full date ("12 January 2026" or "30/3/17") in ``text`` as (iso, matched text)."""
    best = None
    m = SINGLE_RE.search(text)
    if m:
        iso = _mk(int(m["y"]), _month(m["m"]), int(m["d"]))
        if iso:
            best = (m.start(), iso, m.group(0))
    n = NUMERIC_RE.search(text)
    if n and (best is None or n.start() < best[0]):
        day, month, year = int(n[1]), int(n[2]), int(n[3])
        year = year + 2000 if year < 100 else year
        iso = _mk(year, month, day)  # UK order: day/month/year
        if iso:
            best = (n.start(), iso, n.group(0))
    return (best[1], best[2]) if best else None


def parse_month_year(text: str) -> tuple[str, str, str] | None:
    """ "mid-June 2017" -> a (start, end) span inside that month."""
    m = MONTH_YEAR_RE.search(text)
    if not m:
        return None
    year, month = int(m["y"]), _month(m["m"])
    first, last = 1, 28
    if m["q"]:
        first, last = {"early": (1, 10), "mid": (11, 20), "late": (21, 28)}[m["q"].lower()]
    return _mk(year, month, first), _mk(year, month, last), m.group(0)


# Phrases that introduce the dates of the visit or inspection a document describes.
VISIT_CUES = [
    ("inspection-dates-line", re.compile(r"Inspection dates?\s*:?\s*", re.I)),
    (
        "visit-took-place",
        re.compile(r"(?:visit|inspection)\s*,?\s+took place\s+(?:between|on|in|from)?\s*", re.I),
    ),
    ("visit-on", re.compile(r"(?:focused|monitoring) visit to [^.]{0,120}?\bon\s+", re.I)),
    (
        "visit-between",
        re.compile(r"\b(?:visit|inspection)\b[^.]{0,60}?\b(?:between|from)\s+", re.I),
    ),
    ("inspected-in", re.compile(r"\binspected by Ofsted in\s+", re.I)),
]
PUBLISHED_CUES = [
    ("published-today", re.compile(r"published today\s*\(?\s*", re.I)),
    ("originally-published", re.compile(r"originally\s+published\s+on\s+", re.I)),
    (
        "report-published",
        re.compile(r"(?:report|letter)\s+(?:was\s+)?published\s*:?\s*(?:on\s+)?", re.I),
    ),
]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def find_visit_dates(pages: list[tuple[int | None, str]]) -> list[DateMention]:
    """Dates of the visit/inspection described, from the first cue phrase that parses."""
    for rule, cue in VISIT_CUES:
        for number, raw in pages:
            text = _flat(raw)
            for m in cue.finditer(text):
                tail = text[m.end() : m.end() + 80]
                rng = parse_range(tail)
                if rng and tail.find(rng[2]) <= 3:
                    ev = text[m.start() : m.end()] + rng[2]
                    return [
                        DateMention("visit_start", rng[0], rule, ev.strip(), number),
                        DateMention("visit_end", rng[1], rule, ev.strip(), number),
                    ]
                one = parse_single(tail)
                if one and tail.find(one[1]) <= 3:
                    ev = (text[m.start() : m.end()] + one[1]).strip()
                    return [
                        DateMention("visit_start", one[0], rule, ev, number),
                        DateMention("visit_end", one[0], rule, ev, number),
                    ]
                my = parse_month_year(tail)
                if my and tail.find(my[2]) <= 3 and not re.match(r"\s*\d", tail):
                    ev = (text[m.start() : m.end()] + my[2]).strip()
                    return [
                        DateMention("visit_start", my[0], rule + "+month", ev, number),
                        DateMention("visit_end", my[1], rule + "+month", ev, number),
                    ]
    # "The 3rd Monitoring Visit took place in mid-June 2017": cue without a day.
    return []


def find_published_date(pages: list[tuple[int | None, str]]) -> DateMention | None:
    for rule, cue in PUBLISHED_CUES:
        for number, raw in pages:
            text = _flat(raw)
            for m in cue.finditer(text):
                tail = text[m.end() : m.end() + 40]
                one = parse_single(tail)
                if one and tail.find(one[1]) <= 2:
                    ev = (text[m.start() : m.end()] + one[1]).strip()
                    return DateMention("published", one[0], rule, ev, number)
    return None


LETTER_DATE_LINE = re.compile(r"^\s*(\d{1,2}\s+[A-Za-z]+\.?\s+(?:19|20)\d\d)\s*$")


def find_letter_date(first_page: str, number: int | None) -> DateMention | None:
    """A letter's own date: a line holding only a date, near the top of the first page."""
    lines = [ln for ln in first_page.splitlines() if ln.strip()][:12]
    for line in lines:
        m = LETTER_DATE_LINE.match(line)
        if m:
            one = parse_single(m[1])
            if one:
                return DateMention("document", one[0], "letter-date-line", m[1].strip(), number)
    return None


FILENAME_DATE = re.compile(
    r"(\d{1,2})[ _-]+(" + _MONTH_ALT + r")[ _-]+((?:19|20)\d\d)", re.IGNORECASE
)
FILENAME_ISO = re.compile(r"((?:19|20)\d\d)-(\d\d)-(\d\d)")


def find_filename_date(name: str) -> DateMention | None:
    m = FILENAME_DATE.search(name)
    if m:
        iso = _mk(int(m[3]), _month(m[2]), int(m[1]))
        if iso:
            return DateMention("published", iso, "file-name", m.group(0))
    m = FILENAME_ISO.search(name)
    if m:
        iso = _mk(int(m[1]), int(m[2]), int(m[3]))
        if iso:
            return DateMention("published", iso, "file-name", m.group(0))
    return None
