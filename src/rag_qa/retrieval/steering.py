"""Steering: which documents a question's period, council, type or "latest" wish ranks first,
and the passages that mention what the index holds no report about.

A question that names a period ("in 2018"), a document type ("focused visit"), a council, or
asks for the latest report, has the passages of the matching documents ranked first (each group
ranked by the fused score). When nothing in the index matches, a note says so, and only the
passages whose text mentions the period or council are evidence (none: the answer abstains).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from rag_qa.index.loaded import LoadedIndex
from rag_qa.retrieval.documents import DocumentTable
from rag_qa.retrieval.query import QueryIntent
from rag_qa.settings import RetrievalSettings
from rag_qa.text.councils import names_any

_GRADE = r"(?:requires?\s+improvement(?:\s+to\s+be\s+good)?|inadequate|good|outstanding)"
# A judgement stated: what is graded, then its grade ("Overall effectiveness: Good", "Care
# leavers Requires improvement to be good", "children's services in Kent are outstanding").
# Read backwards from each grade word (``judgement_flags``), on the lowered text: the grade
# words are found in one pass, and only the text just before one that ends like a graded
# thing is tried against the patterns below (one forward search per pattern, ignoring case,
# tried every alternative at every character: shipped + sample, 4,550 passages, 500 -> 100 ms).
_GRADE_WORD = re.compile(r"(?:requires?\s+improvement|inadequate|good|outstanding)\b")
_BEFORE_GRADE = 200  # characters before a grade word that can hold what it grades (<= ~100)
# The last word of every graded thing and verb below: a cheap test before the patterns.
_GRADED_ENDS = (
    "effectiveness", "judgment", "judgement", "grade", "protection", "permanence", "leavers",
    "performance", "governance", "board", "children", "families", "is", "are", "was", "were",
)  # fmt: skip
OVERALL_BEFORE = re.compile(
    r"(?:overall\s+effectiveness|overall\s+judge?ment(?:\s+is)?"
    r"|children['’]s\s+services\s+in\s+[^.]{2,60}?\s+(?:are|is))\s*:?\s*\Z"
)
JUDGEMENT_BEFORE = re.compile(
    r"(?:(?:overall\s+effectiveness|overall\s+judge?ment|judge?ment\s+grade"
    r"|children\s+who\s+need\s+help\s+and\s+protection|achieving\s+permanence"
    r"|care\s+leavers|adoption\s+performance|leadership,\s+management\s+and\s+governance"
    r"|safeguarding\s+children\s+board|social\s+work\s+practice\s+with\s+children"
    r"(?:\s+and\s+families)?)(?:\s+(?:is|are|was|were))?)\s*:?\s*\Z"
)


def judgement_flags(text: str) -> tuple[bool, bool]:
    """Whether ``text`` states a judgement, and whether it states the overall one."""
    low = " ".join(text.split()).lower()
    stated = overall = False
    for m in _GRADE_WORD.finditer(low):
        p = m.start()
        if not low[max(0, p - 24) : p].rstrip().rstrip(":").rstrip().endswith(_GRADED_ENDS):
            continue
        start = max(0, p - _BEFORE_GRADE)
        stated = stated or bool(JUDGEMENT_BEFORE.search(low, start, p))
        overall = overall or bool(OVERALL_BEFORE.search(low, start, p))
        if stated and overall:
            break
    return stated, overall


@dataclass(frozen=True)
class Steer:
    first: np.ndarray | None  # per document code: rank these first (None: no steering)
    notes: tuple[str, ...]
    mention: np.ndarray | None  # per passage: the only evidence left (see module doc)
    # Per passage: passages of undated documents that name the question's period, ranked
    # with the documents of that period (a date cannot place them; their own text does).
    extra: np.ndarray | None = None
    # Per document: the councils the question (or the default) names; None when it names none.
    # A passage is promoted past the steering only from these (rag_qa.retrieval.ranking).
    councils: np.ndarray | None = None


class Steering:
    def __init__(self, index: LoadedIndex, table: DocumentTable, settings: RetrievalSettings):
        self.index = index
        self.table = table
        self.settings = settings
        self._years = functools.lru_cache(maxsize=4)(self._mentions_years)

    def steer(self, intent: QueryIntent, within: np.ndarray | None = None) -> Steer:
        """Documents to rank first, notes for the user, and, when the question's period or
        council matches no document, the passages whose text mentions it. ``within`` (a
        boolean per document code) limits every match to the documents a filter allows."""
        t = self.table
        allowed = np.ones(len(t), dtype=bool) if within is None else within.copy()
        notes: list[str] = []
        steered = within is not None
        mention: np.ndarray | None = None
        scope: np.ndarray | None = None
        about = ""  # " about <council>" once the question (or the default) names one
        if not intent.councils and self.settings.council in t.council_no:
            # A question that names no council is about the deployment's own council.
            allowed &= t.council == t.council_no[self.settings.council]
            steered, about = True, f" about {self.settings.council}"
            scope = allowed.copy()
        if intent.councils:
            wanted = [t.council_no[c] for c in intent.councils if c in t.council_no]
            if wanted:
                allowed &= np.isin(t.council, wanted)
                steered, scope = True, allowed.copy()
                about = " about " + " or ".join(c for c in intent.councils if c in t.council_no)
            else:
                notes.append(f"The index holds no report about {', '.join(intent.councils)}.")
                mention = self.mentions_any(intent.councils)
        extra = None
        if intent.period:
            in_period = allowed & t.in_period(intent.period.start, intent.period.end)
            if in_period.any():
                allowed, steered = in_period, True
                extra = self._undated_naming(intent, within)
            else:
                notes.append(f"No report{about} in the index is from {intent.period.label}.")
                mention = self._with_years(mention, intent)
        allowed, steered = self._types(intent, allowed, steered, notes)
        allowed, steered = self._kinds(intent, allowed, steered, notes)
        if intent.latest and allowed.any():
            allowed &= t.newest_key == t.newest_key[allowed].max()
            steered = True
        return Steer(allowed if steered else None, tuple(notes), mention, extra, scope)

    def _kinds(self, intent, allowed, steered, notes):
        """Report kinds the question names ("the 2017 re-inspection", "the SIF report")."""
        t = self.table
        return self._narrow(intent.kinds, t.kind, t.kind_no, "reports", allowed, steered, notes)

    def _types(self, intent, allowed, steered, notes):
        t = self.table
        types = intent.steer_types
        return self._narrow(types, t.type, t.type_no, "documents", allowed, steered, notes)

    def _narrow(self, names, column, number, what, allowed, steered, notes):
        """``allowed`` less the documents whose ``column`` (codes by ``number``) is none of
        ``names``; when that leaves none, ``allowed`` as it was and a note saying so."""
        if not names or not self.settings.steer_types:
            return allowed, steered
        narrowed = allowed & np.isin(column, [number[n] for n in names if n in number])
        if narrowed.any():
            return narrowed, True
        notes.append(f"No {' or '.join(names)} matches; showing other {what}.")
        return allowed, steered

    def _undated_naming(self, intent: QueryIntent, within: np.ndarray | None):
        """Passages of undated documents (within the filter) whose text names a year of the
        question's period; None when there are none."""
        undated = self.table.undated if within is None else self.table.undated & within
        if not undated.any():
            return None
        p = intent.period
        naming = self.table.passage_mask(undated) & self.mentions_years(p.start.year, p.end.year)
        return naming if naming.any() else None

    def _with_years(self, mention: np.ndarray | None, intent: QueryIntent) -> np.ndarray:
        years = self.mentions_years(intent.period.start.year, intent.period.end.year)
        if mention is None:
            return years.copy()  # the cached array is never handed out to be changed
        both = mention & years  # both a council and a period: passages naming both, else either
        return both if both.any() else mention | years

    def prepare(self) -> None:
        """Find now what the first "when" and the first judgement question would otherwise
        find (``date_passages``, ``judgement_passages``): 6 ms and 0.1 s on the sample, so a
        server that says it is ready answers those at full speed too."""
        self.date_passages  # noqa: B018  (cached properties: reading them computes them)
        self.judgement_passages  # noqa: B018

    def mentions_any(self, names: tuple[str, ...]) -> np.ndarray:
        """Passages that name one of these councils (checked on the text, so that "reading"
        the word is not Reading the council)."""
        mask = np.zeros(self.index.bm25.size, dtype=bool)
        for name in names:
            mask |= self.index.bm25.containing_all(name)
        candidates = np.flatnonzero(mask).tolist()
        for vec_id, chunk in self.index.chunks(candidates).items():
            mask[vec_id] = names_any(chunk.text, names)
        return mask

    def mentions_years(self, first: int, last: int) -> np.ndarray:
        """Passages whose text names a year from ``first`` to ``last``. One question asks for
        the same years up to three times (undated documents, mentions, promotion), so the
        last few are kept; callers combine them into new arrays and never change them."""
        return self._years(first, last)

    def _mentions_years(self, first: int, last: int) -> np.ndarray:
        mask = np.zeros(self.index.bm25.size, dtype=bool)
        for year in range(max(first, 1990), min(last, 2100) + 1):
            mask[self.index.bm25.postings(str(year))] = True
        return mask

    @functools.cached_property
    def date_passages(self) -> list[int]:
        """For each document, the passage holding the phrase its visit dates were read from
        (found at the first "when did the visit take place?": 8 s at 1M passages)."""
        found = []
        for doc in self.index.documents.values():
            evidence = {
                m.evidence for m in doc.dates if m.role.startswith("visit") and m.rule != "sidecar"
            }
            if not evidence:
                continue
            # Read lazily: the phrase is usually in the first passage or two.
            for vec_id, text in self.index.store.passage_texts(doc.doc_id):
                flat = " ".join(text.split())
                if any(e in flat for e in evidence):
                    found.append(vec_id)
                    break
        return found

    @functools.cached_property
    def judgement_passages(self) -> np.ndarray:
        """Passages that state a judgement: a grade beside what it grades ("Overall
        effectiveness Requires improvement to be good", "1. Children who need help and
        protection Good", "The overall judgement is inadequate"). Found at the first question
        about a judgement, from the BM25 postings, checked on the text."""
        bm25 = self.index.bm25
        mask = np.zeros(bm25.size, dtype=bool)
        for grade in ("requires improvement", "inadequate", "good", "outstanding"):
            mask |= bm25.containing_all(grade)
        candidates = np.flatnonzero(mask).tolist()
        found = np.zeros((2, bm25.size), dtype=bool)  # any judgement; the overall one
        for vec_id, chunk in self.index.chunks(candidates).items():
            found[:, vec_id] = judgement_flags(chunk.text)
        return found

    def judgement_mask(self, first: np.ndarray | None, overall: bool) -> np.ndarray | None:
        """A question about a judgement: the passages stating one (the overall one when the
        question asks for it and a passage states it), within ``first``."""
        for row in (1, 0) if overall else (0,):
            found = self.judgement_passages[row]
            found = found if first is None else found & first
            if found.any():
                return found
        return None

    def when_mask(self, first: np.ndarray | None) -> np.ndarray | None:
        """ "When did the visit take place?": the passages the visit dates were read from,
        within ``first`` (a passage mask); None when there are none."""
        dated = np.zeros(self.table.passages, dtype=bool)
        dated[self.date_passages] = True
        if first is not None:
            dated &= first
        return dated if dated.any() else None
