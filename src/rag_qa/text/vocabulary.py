"""The words every stage agrees on: the tokenizer (Snowball stems and word pairs), stopwords,
the framing words a question is stripped of before BM25 and the answer's word match, and the
months.

One tokenizer serves BM25, the coverage of an answer and the answer's sentence choice, so a
word counts the same everywhere.
"""

from __future__ import annotations

import functools
import re
import threading

import snowballstemmer

# A snowball stemmer keeps the word being stemmed on itself: one per thread (the web chat
# answers on several threads; a shared one raised IndexError under load).
_LOCAL = threading.local()
STEM_CACHE_SIZE = 1 << 17  # words; bounded, since questions bring any words at all

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves also say said says tell told""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
WORD = re.compile(r"[a-z0-9]+")  # plain words, for runs of words (near-duplicate shingles)

# The kinds of document a corpus holds; "document" is the catch-all.
DOC_TYPES = (
    "inspection report",
    "focused visit letter",
    "monitoring visit letter",
    "news release",
    "news article",
    "minutes",
    "document",
)
# Report kinds, finer than the document type: Ofsted's frameworks (ILACS since 2018, with its
# standard and short inspections, focused visits and monitoring visits; the single inspection
# framework (SIF) 2013-2018 and its re-inspections; joint inspections; older inspections of
# looked-after children and safeguarding), then the other documents a council publishes.
KINDS = (
    "ILACS standard inspection",
    "ILACS short inspection",
    "ILACS inspection",
    "focused visit",
    "monitoring visit",
    "SIF inspection",
    "SIF re-inspection",
    "joint targeted area inspection",
    "joint area review",
    "looked-after children inspection",
    "safeguarding inspection",
    "news release",
    "news article",
    "minutes",
    "document",
)

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Month names as written in reports and questions ("Sept", "Nov."), lower-cased, to 1..12.
MONTH_NUM = {m.lower(): i + 1 for i, m in enumerate(MONTHS)}
MONTH_NUM.update({m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)})
MONTH_NUM["sept"] = 9
MONTH_ALTERNATION = "|".join([*MONTHS, *(m[:3] for m in MONTHS if len(m) > 3), "Sept"])


def month_number(name: str) -> int:
    """1..12 for "November", "Nov", "nov." or "Sept"; KeyError for anything else."""
    return MONTH_NUM[name.lower().rstrip(".")]


# How a question frames what it asks about: the inspectorate, report words, dates and question
# words. BM25 and the answer's word match see the question without them (measured on the
# Slough suite: MRR +0.02 to +0.05); a council's name is framing too (see ``topic_words``).
FRAMING = re.compile(
    r"\b(?:ofsted|inspectors?|inspections?|inspected|reports?|said|say|says|find|found|"
    r"focused|visits?|monitoring|letters?|(?:19|20)\d\d|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|latest|recent|what|how|did|does|were|was)\b",
    re.I,
)


def _stemmer():
    stemmer = getattr(_LOCAL, "stemmer", None)
    if stemmer is None:
        stemmer = _LOCAL.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@functools.lru_cache(maxsize=STEM_CACHE_SIZE)
def stem(word: str) -> str:
    """Snowball (Porter 2) English stem, cached (the most recent STEM_CACHE_SIZE words);
    through PyStemmer, snowballstemmer's C backend (0.12 against 19.5 us a word)."""
    return _stemmer().stemWord(word.replace("’", "'").removesuffix("'s"))


def words(text: str) -> list[str]:
    """Lower-cased stemmed words less stopwords and one-letter tokens."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


@functools.lru_cache(maxsize=8192)
def word_set(text: str) -> frozenset[str]:
    """``words`` as a set, kept for the recent texts: an answer's candidate sentences come
    back question after question (0.3 ms a question, shipped corpus)."""
    return frozenset(words(text))


def tokenize(text: str) -> list[str]:
    """``words`` followed by each pair of neighbouring words ("manag_oversight"): phrases such
    as "management oversight", "care leavers" or "front door" then count for more than their
    words apart (measured on the eval set: MRR@10 0.821 -> 0.851)."""
    stems = words(text)
    return stems + [f"{a}_{b}" for a, b in zip(stems, stems[1:], strict=False)]


@functools.lru_cache(maxsize=512)
def token_set(text: str) -> frozenset[str]:
    """``tokenize``'s words and pairs as a set, kept for the recent passages (what coverage
    reads of the top passages at every question: 0.25 ms a question, shipped corpus)."""
    return frozenset(tokenize(text))
