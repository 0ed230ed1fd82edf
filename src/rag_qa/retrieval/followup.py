"""Follow-up questions: "and in 2024?" after a question keeps its topic and changes the year."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from rag_qa.retrieval.query import LATEST, find_doc_types, find_period
from rag_qa.text.councils import council_mentions

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Follow-up questions

_LEAD = re.compile(
    r"^\s*(?:(?:and|but|so|also|ok(?:ay)?|then)[\s,]+)?"
    r"(?:(?:what|how)\s+about|what\s+of|(?:the\s+)?same\s+(?:question\s+)?for)\b[\s,]*"
    r"|^\s*(?:and|also)\b[\s,]*",
    re.IGNORECASE,
)
_PREP = r"(?:in|during|for|from|at|on|of|by|since|before|after|until|between)"
_PREP_BEFORE = re.compile(r"\b(?:in|during|for|from|at|of|by)\s+\Z", re.IGNORECASE)
_STARTS_WITH_PREP = re.compile(rf"^{_PREP}\b", re.IGNORECASE)
# Words a follow-up may hold besides its period, document type or council.
_FILLER = set(
    """in the a an for during of at on from by since before after until between to then instead
    year years one ones please same again report reports letter letters ofsted council councils
    it that this those these there they them time period was were did do does is are what how
    about and also say said says find found show showed tell me us""".split()
)


@dataclass(frozen=True)
class _Parts:
    """Where a question names a period, document types, councils or "the latest"."""

    period: tuple[int, int] | None
    types: tuple[tuple[int, int], ...]
    councils: tuple[tuple[int, int], ...]
    latest: tuple[int, int] | None

    @property
    def spans(self) -> list[tuple[int, int]]:
        out = list(self.types) + list(self.councils)
        out += [s for s in (self.period, self.latest) if s]
        return sorted(out)

    @property
    def any(self) -> bool:
        return bool(self.spans)


def _parts(text: str, offset: int = 0) -> _Parts:
    """The parts of ``text`` found at or after ``offset``, with offsets counted from there
    (the words before it still count as context, e.g. "and Reading" is not a sentence start)."""

    def shift(span: tuple[int, int]) -> tuple[int, int]:
        return span[0] - offset, span[1] - offset

    _, evidence = find_period(text, date.today())
    periods = [(a, a + len(phrase)) for a, phrase in evidence if a >= offset]
    types = [(a, a + len(phrase)) for a, phrase, _ in find_doc_types(text) if a >= offset]
    councils = [(m.start, m.end) for m in council_mentions(text) if m.start >= offset]
    latest = next((m.span() for m in LATEST.finditer(text) if m.start() >= offset), None)
    return _Parts(
        shift(periods[0]) if periods else None,
        tuple(shift(s) for s in types),
        tuple(shift(s) for s in councils),
        shift(latest) if latest else None,
    )


def _content_words(text: str, spans: list[tuple[int, int]]) -> list[str]:
    for a, b in sorted(spans, reverse=True):
        text = text[:a] + " " + text[b:]
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _FILLER and len(w) > 1]


_NEEDS_NO_PREP = re.compile(
    r"^(?:last|this|past|previous|the\s+(?:past|last|previous|year|current))\b|\bago$",
    re.IGNORECASE,
)


def _with_prep(phrase: str) -> str:
    """``phrase`` ready to follow a topic: "2024" -> "in 2024"; "since 2020", "last year"
    unchanged; a leading preposition in lower case."""
    if _STARTS_WITH_PREP.match(phrase):
        return phrase[0].lower() + phrase[1:]
    return phrase if _NEEDS_NO_PREP.search(phrase) else f"in {phrase}"


def _replace(text: str, span: tuple[int, int], new: str, keep_prep: bool) -> str:
    """``text`` with ``span`` replaced by ``new``; a preposition before the span ("in 2018")
    is replaced too when ``new`` brings its own (or gets "in")."""
    a, b = span
    before = _PREP_BEFORE.search(text[:a])
    if keep_prep or (not before and not _STARTS_WITH_PREP.match(text[a:b])):
        new = _strip_prep(new)
        if re.search(r"\bthe\s+\Z", text[:a], re.IGNORECASE):
            new = re.sub(r"^the\s+", "", new, flags=re.IGNORECASE)
        return text[:a] + new + text[b:]
    if before:
        a = before.start()
    return text[:a] + _with_prep(new) + text[b:]


def _strip_prep(phrase: str) -> str:
    return re.sub(r"^(?:in|during|for|at|of)\s+", "", phrase, flags=re.IGNORECASE)


def _append(question: str, phrase: str) -> str:
    body = question.rstrip().rstrip("?.!").rstrip()
    return f"{body} {_with_prep(phrase)}?"


def rewrite_follow_up(question: str, history_questions: Sequence[str]) -> str:
    """The question to search for, given the earlier questions of the conversation.

    A short question that only changes the period, document type, council or asks for the
    latest report ("and in 2024?", "what about the focused visits?", "2019?") takes the topic of
    the previous question: "What did Ofsted say about management oversight in 2018?" followed
    by "and in 2024?" becomes "What did Ofsted say about management oversight in 2024?". The
    previous question's period (or type, or council) is replaced when it has one; otherwise the
    new one is appended. Any other question is returned as it is (stripped)."""
    q = " ".join(question.split())
    previous = next((h for h in reversed(history_questions) if h and h.strip()), None)
    if not q or previous is None:
        return q
    lead = _LEAD.match(q)
    start = lead.end() if lead else 0
    body = q.rstrip("?.! ")
    rest = body[start:]
    if not rest or len(rest.split()) > 8:
        return q
    new = _parts(body, start)
    if not new.any or _content_words(rest, new.spans):
        return q
    prev = " ".join(previous.split())
    old = _parts(prev)
    phrase = rest
    kinds_new = {
        k for k, v in (("p", new.period or new.latest), ("t", new.types), ("c", new.councils)) if v
    }
    kinds_old = {
        k for k, v in (("p", old.period or old.latest), ("t", old.types), ("c", old.councils)) if v
    }
    if kinds_new <= kinds_old and len(new.spans) == len(kinds_new):
        # Replace each slot in place, right to left so that offsets stay valid.
        edits: list[tuple[tuple[int, int], str, bool]] = []
        if "p" in kinds_new:
            span = new.period or new.latest
            a, b = span
            before = _PREP_BEFORE.search(rest[:a]) or re.search(r"\bthe\s+\Z", rest[:a])
            text = rest[before.start() if before else a : b]
            edits.append((old.period or old.latest, text, False))
        if "t" in kinds_new:
            a, b = new.types[0]
            edits.append((old.types[0], rest[a:b], True))
        if "c" in kinds_new:
            a, b = new.councils[0]
            edits.append((old.councils[0], rest[a:b], True))
        out = prev
        for span, text, keep in sorted(edits, key=lambda e: -e[0][0]):
            out = _replace(out, span, text, keep)
        return out
    if "p" in kinds_new and (old.period or old.latest):
        return _replace(prev, old.period or old.latest, phrase, False)
    return _append(prev, phrase)
