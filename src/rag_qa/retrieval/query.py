"""What a question asks for besides its topic: a period, document types, councils, "latest".

``analyse`` reads a question such as "What did the 2023 inspection say about care leavers?"
into a ``QueryIntent`` that the retriever uses to rank passages from matching documents first.
Every decision keeps the phrase that caused it in ``evidence``.

Periods
-------
A period is built from *time expressions* found in the question:

- a year, standing alone as a word and between 1990 and 2099 ("in 2018", "2018's",
  "the 2019 inspection"); not a count ("2,000 children", "over 2000 children"), money ("£2019"),
  a percentage, a reference ("Section 2019", "page 2019") or part of a longer number;
- a month and year ("November 2025", "Nov 2025", "mid-June 2017": the whole month);
- a season or part of a year ("summer 2017" Jun-Aug, "spring" Mar-May, "autumn" Sep-Nov,
  "winter 2015" Dec 2015-Feb 2016; "early 2018" Jan-Apr, "mid-2017" May-Aug, "late 2015" or
  "end of 2015" Sep-Dec, "first half of 2019" Jan-Jun, "second half of 2019" Jul-Dec);
- a full date ("12 July 2024", "12/07/2024", "2024-07-12", "July 12, 2024"): that one day;
- a short year range ("2016-19", "2019/20");
- relative phrases, resolved against ``newest`` (the newest document's date), else ``today``,
  else ``date.today()``: "last year", "this year", "the year before last", "two years ago",
  "the past two years" (the two years up to that date). Labels show the resolution, e.g.
  "last year (2025)".

Expressions joined by "to", "until", "-", "and" ("2016 to 2019", "between 2016 and 2019",
"from 2016 to 2019") make one range from the start of the first to the end of the last. A single
expression can be opened: "since 2020" runs to the reference date, "after 2020" starts in 2021,
"before 2015" ends on 31 December 2014, "until 2015"/"up to 2015" ends on 31 December 2015,
"2020 onwards" is "since 2020". Separate expressions ("in 2016 and 2019", or "the 2018
inspection compared with 2024") give the span covering them all: the retriever ranks documents
in the whole span, which includes the years between; the label names each part ("2016 and 2019").
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from rag_qa.records import format_date
from rag_qa.text.councils import council_mentions
from rag_qa.text.vocabulary import DOC_TYPES as METADATA_TYPES
from rag_qa.text.vocabulary import FRAMING, MONTH_NUM, month_number

# The document types a question can name: metadata's, less its catch-all.
DOC_TYPES = tuple(t for t in METADATA_TYPES if t != "document")
OPEN_START = date(1900, 1, 1)


@dataclass(frozen=True)
class Period:
    start: date  # inclusive
    end: date  # inclusive
    label: str  # how the user said it, e.g. "2018", "November 2025", "last year (2025)"


@dataclass(frozen=True)
class QueryIntent:
    question: str
    period: Period | None
    doc_types: tuple[str, ...]  # subset of DOC_TYPES, in order found
    councils: tuple[str, ...]  # canonical council names (see councils.py)
    latest: bool  # "latest", "most recent", "newest", "current", "last inspection"
    evidence: tuple[str, ...]  # the matched phrases, in the order they occur
    topic: str = ""  # the question without its framing and councils (see ``topic_words``)
    kinds: tuple[str, ...] = ()  # report kinds named ("re-inspection", "SIF", "JTAI", ...)
    asks_when: bool = False  # "when did the visit take place?"
    asks_judgement: bool = False  # "what was X judged?", "what grade / rating did X get?"
    asks_overall: bool = False  # "the overall effectiveness judgement", "the overall grade"
    steer_types: tuple[str, ...] = ()  # the document types to rank first (``steering_types``)


# ---------------------------------------------------------------------------------------------
# Document types and "latest"

# "focused visit", "ILACS focused visit", "monitoring visit letter": the words "inspection",
# "ILACS" and "visit" inside these phrases do not also name an inspection report or any visit.
_VISIT_PHRASE = re.compile(
    r"\b(?:(?:ILACS|SIF|inspection)\s+)?(?:focus?sed|monitoring)\s+visits?"
    r"(?:\s+(?:inspections?|letters?|reports?))?\b",
    re.IGNORECASE,
)
_INSPECTION = ("inspection report",)
_ANY_VISIT = ("focused visit letter", "monitoring visit letter")
_DOC_TYPE_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (_INSPECTION, re.compile(r"\b(?:inspect(?:ions?|ed)?|ILACS|SIF)\b", re.I)),
    (("focused visit letter",), re.compile(r"\bfocus?sed\s+visits?\b", re.I)),
    (("monitoring visit letter",), re.compile(r"\bmonitoring\s+visits?\b", re.I)),
    (_ANY_VISIT, re.compile(r"\bvisits?\b", re.I)),
    (
        ("news release",),
        re.compile(
            r"\b(?:(?:press|news)\s+releases?|trust\s+(?:said|says|announced|stated))\b", re.I
        ),
    ),
    (("news article",), re.compile(r"\b(?:articles?|newspapers?|news\s+reports?)\b", re.I)),
    (("news article",), re.compile(r"\bCommunity\s+Care\b")),
    (
        ("minutes",),
        re.compile(
            r"(?<!\d)(?<!\d\s)\bminutes\b|\bscrutiny\s+(?:panel|committee)s?\b"
            r"|\b(?:committee|panel)\s+meetings?\b",
            re.I,
        ),
    ),
)
# "the latest inspection", "most recent report", "the last one" (a follow-up's too).
LATEST = re.compile(
    r"\b(?:latest|most\s+recent(?:ly)?|newest|current(?!\s+year)"
    r"|last\s+(?:(?:ofsted|ilacs|full|focus?sed|monitoring|published)\s+)?"
    r"(?:inspect(?:ions?|ed)|visit(?:s|ed)?|reports?|letters?|one))"
    r"(?:\s+(?:one|inspection|visit|report|letter))?\b",
    re.IGNORECASE,
)
# "The 2015 inspection" names an event that articles and news releases also report: it steers
# to inspection reports only when the question says so.
_EXPLICIT_REPORT = re.compile(r"\binspection reports?\b|\bILACS\b|\bSIF\b|\bjudgements?\b", re.I)
_ASKS_JUDGEMENT = re.compile(
    r"\b(?:judge?ments?|judged|grade[ds]?|graded|rated|ratings?|overall\s+effectiveness)\b", re.I
)
_ASKS_OVERALL = re.compile(r"\boverall\s+(?:effectiveness|judge?ment|grade|rating)\b", re.I)
_ASKS_WHEN = re.compile(
    r"\b(?:when|what dates?|which dates?|on what date|how long)\b.*\b(?:visit|inspection|inspected|"
    r"took place|take place|carried out)\b",
    re.I,
)


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(s <= span[0] and span[1] <= e for s, e in spans)


# Report kinds a question can name (text.vocabulary.KINDS), most specific first.
_KIND_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("SIF re-inspection",), re.compile(r"\bre-?inspect(?:ion|ed)\b", re.I)),
    (
        ("SIF inspection", "SIF re-inspection"),
        re.compile(r"\bSIF\b|\bsingle\s+inspection(?:\s+framework)?\b", re.I),
    ),
    (("ILACS short inspection",), re.compile(r"\bshort\s+(?:ILACS\s+)?inspection\b", re.I)),
    (("ILACS standard inspection",), re.compile(r"\bstandard\s+(?:ILACS\s+)?inspection\b", re.I)),
    (
        ("ILACS standard inspection", "ILACS short inspection", "ILACS inspection"),
        re.compile(r"\bILACS\b(?!\s+focus)", re.I),
    ),
    (
        ("joint targeted area inspection",),
        re.compile(r"\bjoint\s+targeted\s+area\s+inspections?\b|\bJTAIs?\b", re.I),
    ),
    (("joint area review",), re.compile(r"\bjoint\s+area\s+reviews?\b|\bJARs?\b")),
    (
        ("looked-after children inspection",),
        re.compile(r"\blooked[\s-]+after\s+children\s+inspections?\b", re.I),
    ),
)


def find_kinds(question: str) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(offset, phrase, report kinds) for each report-kind phrase; the first rule that
    matches a stretch of the question wins."""
    found: list[tuple[int, str, tuple[str, ...]]] = []
    taken: list[tuple[int, int]] = []
    for kinds, pattern in _KIND_RULES:
        for m in pattern.finditer(question):
            if not _inside(m.span(), taken):
                found.append((m.start(), m.group(0), kinds))
                taken.append(m.span())
    return tuple(sorted(found, key=lambda f: f[0]))


def find_doc_types(question: str) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(offset, phrase, document types) for each document-type phrase, in order."""
    visit_spans = [m.span() for m in _VISIT_PHRASE.finditer(question)]
    found = [
        (m.start(), m.group(0), types)
        for types, pattern in _DOC_TYPE_RULES
        for m in pattern.finditer(question)
        if types not in (_INSPECTION, _ANY_VISIT) or not _inside(m.span(), visit_spans)
    ]
    return tuple(sorted(found, key=lambda f: f[0]))


# ---------------------------------------------------------------------------------------------
# Time expressions: each rule turns a match into a Period, or None when it is not a date.

_MONTH = "(?:" + "|".join(sorted(MONTH_NUM, key=len, reverse=True)) + r")\.?"
_Y4 = r"(?:19|20)\d\d"
_YEAR = r"(?:199\d|20\d\d)"
_NUM_WORDS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "a couple of": 2,
    "few": 3,
    "a few": 3,
}
_NUM = (
    r"(?:\d{1,2}|a\s+couple\s+of|couple\s+of|a\s+few|few|a|one|two|three|four|five|six|seven"
    r"|eight|nine|ten)"
)
# "Section 2019", "page 2019": a reference, not a year.
_REFERENCE_BEFORE = re.compile(
    r"\b(?:sections?|s\.|paragraphs?|para\.?|pages?|p\.|pp\.|no\.|number|item|tel\.?"
    r"|telephone|phone|ref\.?|reference|room|chapter|clause|regulation|schedule|appendix"
    r"|annex)\s*\Z",
    re.IGNORECASE,
)
# "2000 children" is a count unless a time word comes first ("in 2019 children waited ...").
_COUNT_AFTER = re.compile(
    r"\s+(?:children|child|cases|families|people|young|referrals|staff|workers|households"
    r"|pupils|pounds|places|hours|days|weeks|months|years|adults|babies|carers|posts|calls"
    r"|contacts)(?!['’\w])",
    re.IGNORECASE,
)
_TIME_WORD_BEFORE = re.compile(
    r"(?:\b(?:the|in|during|since|before|after|between|from|until|till|and|by)|['’]s)\s+\Z",
    re.IGNORECASE,
)
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "winter": (12, 14)}
_PARTS = {
    "early": (1, 4),
    "start of": (1, 4),
    "beginning of": (1, 4),
    "mid": (5, 8),
    "middle of": (5, 8),
    "late": (9, 12),
    "end of": (9, 12),
    "first half of": (1, 6),
    "second half of": (7, 12),
}


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _months(year: int, first: int, last: int, label: str) -> Period:
    """Months ``first``..``last`` of ``year``; a ``last`` above 12 runs into the next year."""
    end_year, end_month = (year + 1, last - 12) if last > 12 else (year, last)
    end = date(end_year, end_month, calendar.monthrange(end_year, end_month)[1])
    return Period(date(year, first, 1), end, label)


def _year(year: int, label: str) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), label)


def _day(year: int, month: int, day: int, label: str) -> Period | None:
    try:
        d = date(year, month, day)
    except ValueError:
        return None
    return Period(d, d, _tidy(label))


def _count(word: str) -> int:
    word = _tidy(word).lower()
    return int(word) if word.isdigit() else _NUM_WORDS[word]


def _years_back(anchor: date, n: int) -> date:
    try:
        return anchor.replace(year=anchor.year - n)
    except ValueError:  # 29 February
        return anchor.replace(year=anchor.year - n, day=28)


def _is_year(m: re.Match[str], question: str) -> bool:
    before = question[: m.start()]
    if _REFERENCE_BEFORE.search(before):
        return False
    return not _COUNT_AFTER.match(question, m.end()) or bool(_TIME_WORD_BEFORE.search(before))


def _numeric_date(m: re.Match[str], q: str, anchor: date) -> Period | None:
    year = int(m["y"]) + (2000 if len(m["y"]) == 2 else 0)
    return _day(year, int(m["mo"]), int(m["d"]), m.group(0))  # UK order: day/month/year


def _iso_date(m: re.Match[str], q: str, anchor: date) -> Period | None:
    return _day(int(m["y"]), int(m["mo"]), int(m["d"]), m.group(0))


def _full_date(m: re.Match[str], q: str, anchor: date) -> Period | None:
    return _day(int(m["y"]), month_number(m["m"]), int(m["d"]), m.group(0))


def _month_year(m: re.Match[str], q: str, anchor: date) -> Period | None:
    month = month_number(m["m"])
    return _months(int(m["y"]), month, month, _tidy(m.group(0)))


def _season(m: re.Match[str], q: str, anchor: date) -> Period | None:
    first, last = _SEASONS[m["s"].lower()]
    return _months(int(m["y"]), first, last, _tidy(m.group(0)))


def _part_of_year(m: re.Match[str], q: str, anchor: date) -> Period | None:
    first, last = _PARTS[_tidy(m["q"]).lower()]
    return _months(int(m["y"]), first, last, _tidy(m.group(0)))


def _short_range(m: re.Match[str], q: str, anchor: date) -> Period | None:
    first, tail = int(m["y"]), int(m["yy"])
    if tail <= first % 100 or not _is_year(m, q):
        return None  # "2019-05" is not a range
    return Period(date(first, 1, 1), date(first - first % 100 + tail, 12, 31), m.group(0))


def _plain_year(m: re.Match[str], q: str, anchor: date) -> Period | None:
    return _year(int(m["y"]), m["y"]) if _is_year(m, q) else None


def _last_year(m: re.Match[str], q: str, anchor: date) -> Period | None:
    return _year(anchor.year - 1, f"last year ({anchor.year - 1})")


def _this_year(m: re.Match[str], q: str, anchor: date) -> Period | None:
    return _year(anchor.year, f"this year ({anchor.year})")


def _year_before_last(m: re.Match[str], q: str, anchor: date) -> Period | None:
    return _year(anchor.year - 2, f"the year before last ({anchor.year - 2})")


def _years_ago(m: re.Match[str], q: str, anchor: date) -> Period | None:
    year = anchor.year - _count(m["n"])
    return _year(year, f"{_tidy(m.group(0)).lower()} ({year})")


def _past_years(m: re.Match[str], q: str, anchor: date) -> Period | None:
    if not m["the"] and not m["n"]:
        return None  # "last year" is the calendar year, read by _last_year
    n = _count(m["n"]) if m["n"] else 1
    if m["u"].lower().startswith("decade"):
        n *= 10
    start = _years_back(anchor, n)
    label = f"{_tidy(m.group(0)).lower()} (since {format_date(start.isoformat())})"
    return Period(start, anchor, label)


_Rule = Callable[[re.Match[str], str, date], Period | None]
# A year stands alone: not inside a word or number, not after money, not a percentage or age.
_YEAR_ALONE = (
    r"(?<![\w£$€#/.,:])(?<!\d\s)(?P<y>" + _YEAR + r")(?![\w+%])(?![.,]\d)(?!\s+\d)"
    r"(?!\s*(?:%|per\s*cent|percent))(?![-–]\s*years?)"
)
_RULES: tuple[tuple[re.Pattern[str], _Rule], ...] = (
    (
        re.compile(r"(?<![\w/])(?P<d>\d{1,2})/(?P<mo>\d{1,2})/(?P<y>\d{4}|\d{2})(?![\w/])"),
        _numeric_date,
    ),
    (re.compile(r"(?<![\w/-])(?P<y>" + _Y4 + r")-(?P<mo>\d\d)-(?P<d>\d\d)(?![\w-])"), _iso_date),
    (
        re.compile(
            r"(?<!\w)(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>"
            + _MONTH
            + r"),?\s+(?P<y>"
            + _Y4
            + r")(?!\d)",
            re.I,
        ),
        _full_date,
    ),
    (
        re.compile(
            r"(?<!\w)(?P<m>"
            + _MONTH
            + r")\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>"
            + _Y4
            + r")(?!\d)",
            re.I,
        ),
        _full_date,
    ),
    (
        re.compile(
            r"(?<!\w)(?:(?:early|mid|late|(?:start|beginning|middle|end)\s+of)[\s-]*)?"
            r"(?P<m>" + _MONTH + r"),?\s+(?:of\s+)?(?P<y>" + _Y4 + r")(?!\d)",
            re.I,
        ),
        _month_year,
    ),
    (
        re.compile(
            r"(?<!\w)(?P<s>spring|summer|autumn|winter)\s+(?:of\s+|in\s+)?(?P<y>"
            + _Y4
            + r")(?!\d)",
            re.I,
        ),
        _season,
    ),
    (
        re.compile(
            r"(?<!\w)(?P<q>early|mid|late"
            r"|(?:start|beginning|middle|end|first\s+half|second\s+half)\s+of)"
            r"(?:\s+in\s+|\s*-\s*|\s+)(?P<y>" + _YEAR + r")(?!\d)",
            re.I,
        ),
        _part_of_year,
    ),
    (
        re.compile(
            r"(?<![\w£$€#/.,:])(?<!\d\s)(?P<y>" + _YEAR + r")\s*[-–/]\s*(?P<yy>\d\d)(?![\w%+])"
        ),
        _short_range,
    ),
    (re.compile(_YEAR_ALONE, re.I), _plain_year),
    (re.compile(r"\blast\s+year\b", re.I), _last_year),
    (re.compile(r"\b(?:this|the\s+current)\s+year\b", re.I), _this_year),
    (re.compile(r"\bthe\s+year\s+before\s+last\b", re.I), _year_before_last),
    (re.compile(r"\b(?P<n>" + _NUM + r")\s+years?\s+ago\b", re.I), _years_ago),
    (
        re.compile(
            r"\b(?:(?P<the>the)\s+)?(?:past|last|previous)\s+(?:(?P<n>"
            + _NUM
            + r")\s+)?(?P<u>years?|decades?)\b",
            re.I,
        ),
        _past_years,
    ),
)


@dataclass(frozen=True)
class TimeExpression:
    start: int  # offsets of the expression in the question
    end: int
    period: Period


def _time_expressions(question: str, anchor: date) -> tuple[TimeExpression, ...]:
    """Non-overlapping time expressions, leftmost first; of overlapping ones the longest."""
    found = []
    for order, (pattern, rule) in enumerate(_RULES):
        for m in pattern.finditer(question):
            period = rule(m, question, anchor)
            if period is not None:
                found.append((m.start(), -(m.end() - m.start()), order, m.end(), period))
    found.sort(key=lambda f: f[:3])
    exprs: list[TimeExpression] = []
    for start, _, _, end, period in found:
        if not exprs or start >= exprs[-1].end:
            exprs.append(TimeExpression(start, end, period))
    return tuple(exprs)


# ---------------------------------------------------------------------------------------------
# From time expressions to one period

_PREFIX = re.compile(
    r"\b(?P<op>since|after|before|prior\s+to|until|till|up\s+(?:to|until)|from|between)"
    r"\s+(?:the\s+)?(?:year\s+(?:of\s+)?)?\Z",
    re.IGNORECASE,
)
_SUFFIX = re.compile(
    r"\s+(?P<op>onwards?|(?:or|and)\s+(?:later|after|earlier|before))\b", re.IGNORECASE
)
_JOIN = re.compile(
    r"\s*,?\s*(?P<w>to|until|till|through|and|&|or)\s+(?:the\s+|in\s+)?"
    r"|\s*(?P<dash>[-–—/])\s*|\s*(?P<comma>,)\s*(?:in\s+)?",
    re.IGNORECASE,
)
_RANGE_WORDS = ("between", "from")
_SINCE = ("since", "from", "onward", "onwards", "or later", "and later", "or after", "and after")
_AFTER = ("after",)
_BEFORE = ("before", "prior to")
_UNTIL = (
    "until",
    "till",
    "up to",
    "up until",
    "or earlier",
    "and earlier",
    "or before",
    "and before",
)


@dataclass(frozen=True)
class _Chain:
    start: int  # offsets in the question, including any "since", "between", "onwards"
    end: int
    period: Period


def _open(period: Period, op: str, anchor: date, label: str) -> Period:
    """``period`` opened by "since", "after", "before", "until" or a synonym."""
    if op in _SINCE:
        return Period(period.start, max(anchor, period.end), label)
    if op in _AFTER:
        start = period.end + timedelta(days=1)
        return Period(start, max(anchor, start), label)
    if op in _BEFORE:
        return Period(OPEN_START, period.start - timedelta(days=1), label)
    if op in _UNTIL:
        return Period(OPEN_START, period.end, label)
    return Period(period.start, period.end, label)


def _joining_word(
    question: str, prev: TimeExpression, expr: TimeExpression, ranged: bool
) -> str | None:
    """The word that makes two expressions one range ("to", "-", "and"), or None."""
    gap = question[prev.end : expr.start]
    j = _JOIN.fullmatch(gap)
    if j:
        return (j["w"] or j["dash"] or j["comma"]).lower()
    # "between the 2016 inspection and the 2019 focused visit"
    if ranged and re.search(r"\band\b", gap) and len(gap) < 80 and not re.search(r"[.?!;]", gap):
        return "and"
    return None


_EVENT_AFTER = re.compile(
    r"(?:['’]s)?\s+(?:ofsted\s+)?(?:full\s+|single\s+|ILACS\s+)?"
    r"(?:inspection|(?:focused\s+|monitoring\s+)?visit)\b",
    re.I,
)


def _chain(
    question: str,
    prefix: re.Match[str] | None,
    members: list[TimeExpression],
    words: list[str],
    anchor: date,
) -> _Chain:
    first, last = members[0], members[-1]
    op = _tidy(prefix["op"]).lower() if prefix else ""
    if len(members) > 1:
        labels = [m.period.label for m in members]
        if op in _RANGE_WORDS or not {"and", "&", "or", ","} & set(words):
            label = f"{labels[0]} to {labels[-1]}"
        else:  # "2016, 2017 and 2019"
            label = labels[0] + "".join(
                (", " if w == "," else f" {w} ") + lab
                for w, lab in zip(words, labels[1:], strict=True)
            )
        start = min(m.period.start for m in members)
        end = max(m.period.end for m in members)
        offset = prefix.start() if prefix and op in _RANGE_WORDS else first.start
        return _Chain(offset, last.end, Period(start, end, label))
    if op == "between":
        prefix, op = None, ""
    if op and _EVENT_AFTER.match(question, first.end):
        # "before the 2015 inspection" is about that inspection's time (what led up to it is
        # reported with it), not every year before 2015.
        prefix, op = None, ""
    suffix = _SUFFIX.match(question, first.end)
    after = _tidy(suffix["op"]).lower() if suffix else ""
    if not op and not after:
        return _Chain(first.start, first.end, first.period)
    label = " ".join(part for part in (op, first.period.label, after) if part)
    period = _open(first.period, op or after, anchor, label)
    return _Chain(
        prefix.start() if prefix else first.start, suffix.end() if suffix else first.end, period
    )


def _chains(question: str, exprs: tuple[TimeExpression, ...], anchor: date) -> list[_Chain]:
    """Expressions joined by "to", "-", "and" become ranges; "since", "before" ... open them."""
    groups: list[tuple[re.Match[str] | None, list[TimeExpression], list[str]]] = []
    for expr in exprs:
        if groups:
            prefix, members, words = groups[-1]
            ranged = bool(prefix) and len(members) == 1 and prefix["op"].lower() in _RANGE_WORDS
            word = _joining_word(question, members[-1], expr, ranged)
            if word:
                members.append(expr)
                words.append(word)
                continue
        groups.append((_PREFIX.search(question[: expr.start]), [expr], []))
    return [_chain(question, prefix, members, words, anchor) for prefix, members, words in groups]


def find_period(question: str, anchor: date) -> tuple[Period | None, tuple[tuple[int, str], ...]]:
    """The period a question asks about, with (offset, phrase) evidence; relative phrases and
    open ends are resolved against ``anchor``."""
    chains = _chains(question, _time_expressions(question, anchor), anchor)
    if not chains:
        return None, ()
    evidence = tuple((c.start, question[c.start : c.end]) for c in chains)
    if len(chains) == 1:
        return chains[0].period, evidence
    period = Period(
        min(c.period.start for c in chains),
        max(c.period.end for c in chains),
        " and ".join(c.period.label for c in chains),
    )
    return period, evidence


# ---------------------------------------------------------------------------------------------


def analyse(question: str, today: date | None = None, newest: date | None = None) -> QueryIntent:
    """Read the period, document types, councils and "latest" wish out of ``question``.

    Relative dates ("last year", "since 2020") are resolved against ``newest`` (the newest
    document's date in the index) if given, else ``today``, else ``date.today()``.
    """
    anchor = newest or today or date.today()
    period, period_evidence = find_period(question, anchor)
    type_hits = find_doc_types(question)
    doc_types = tuple(dict.fromkeys(t for _, _, types in type_hits for t in types))
    kind_hits = find_kinds(question)
    latest_hits = [(m.start(), m.group(0)) for m in LATEST.finditer(question)]
    mentions = council_mentions(question)
    hits = sorted(
        {
            *period_evidence,
            *((pos, phrase) for pos, phrase, _ in type_hits),
            *((pos, phrase) for pos, phrase, _ in kind_hits),
            *latest_hits,
            *((m.start, m.text) for m in mentions),
        }
    )
    return QueryIntent(
        question=question,
        period=period,
        doc_types=doc_types,
        councils=tuple(dict.fromkeys(m.name for m in mentions)),
        latest=bool(latest_hits),
        evidence=tuple(phrase for _, phrase in hits),
        topic=topic_words(question, mentions),
        kinds=tuple(dict.fromkeys(k for _, _, kinds in kind_hits for k in kinds)),
        asks_when=bool(_ASKS_WHEN.search(question)),
        asks_judgement=bool(_ASKS_JUDGEMENT.search(question)),
        asks_overall=bool(_ASKS_OVERALL.search(question)),
        steer_types=steering_types(question, doc_types),
    )


def topic_words(question: str, mentions=None) -> str:
    """The question without its framing (dates, Ofsted, report and question words) and the
    councils it names: what BM25 and the answer's word match look for."""
    mentions = council_mentions(question) if mentions is None else mentions
    for m in reversed(mentions):
        question = question[: m.start] + " " + question[m.end :]
    return FRAMING.sub(" ", question)


def steering_types(question: str, doc_types: tuple[str, ...]) -> tuple[str, ...]:
    """The document types to rank first: those named, less "inspection report" unless the
    question says "inspection report", "ILACS", "SIF" or "judgement"."""
    if "inspection report" in doc_types and not _EXPLICIT_REPORT.search(question):
        return tuple(t for t in doc_types if t != "inspection report")
    return doc_types
