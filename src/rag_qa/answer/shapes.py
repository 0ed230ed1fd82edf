"""Does a sentence hold the kind of answer the question asks for, and in whose voice is it?

``holds(kind, text)``: for a ``rag_qa.text.question_kind`` kind, whether the sentence holds
that shape of answer: a person's name (who), a date (when), a number or share (number), a
named thing (which). ``voice(text, doc_type)``: "ofsted" for the report's own findings or
speech a release or minutes attribute to the inspectors, "quoted" for someone else speaking
in the first person (a chief executive in a news release), "other" for the rest.

Word patterns about the form of the text only: no council or person is named here; council
names come from the gazetteer (rag_qa.text.councils).
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag_qa.text.councils import council_words
from rag_qa.text.vocabulary import MONTH_ALTERNATION

# Capitalised words that are offices, bodies and places rather than people's names.
_NOT_NAMES = frozenset(
    """
    children children's childrens services service council borough county city metropolitan
    district royal director directors chief executive interim acting deputy assistant head
    her his majesty majesty's inspector inspectors ofsted trust first local authority
    department education secretary state minister house road street avenue lane place
    square court building floor office centre center the a an and of for to in on at by with
    dear yours sincerely focused visit inspection report letter monitoring social care
    safeguarding partnership board lead member members cabinet commissioner improvement
    national england english government young people family families early help front door
    mr mrs ms dr cllr councillor hmi scri senior team group leadership management
    """.split()
)
_CAPWORD = r"[A-Z][a-z’'-]+"
_NAME = re.compile(rf"\b{_CAPWORD}(?:\s+{_CAPWORD}){{1,2}}\b")
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTH_ALTERNATION})\b|(?:{MONTH_ALTERNATION})\s+"
    r"(?:\d{1,2},?\s+)?(?:19|20)\d\d\b|(?:19|20)\d\d\b)"
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|%|\bper ?cent\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|half|third|quarter|"
    r"majority|minority|most|few|several|all|none)\b",
    re.IGNORECASE,
)
_NAMED = re.compile(r"[‘'\"“][A-Z][^’'\"”]{2,60}[’'\"”]|\b[A-Z]{2,}\b")
_FIRST_PERSON = re.compile(r"\b(?:I|I['’](?:m|d|ve|ll)|[Ww]e|[Ww]e['’](?:re|ve|ll)|[Oo]ur|us)\b")
_ATTRIBUTED = re.compile(
    r"\b(?:inspectors?|ofsted|the (?:report|inspection|letter|visit)|hmi)\b"
    r"[^.]{0,80}?\b(?:found|find|said|says|say|noted|note|judged|reported|identified|"
    r"recognised|recognized|praised|concluded|highlighted|observed|saw|stated|described|"
    r"commented|told)\b",
    re.IGNORECASE,
)
_SAYS_REPORT = re.compile(
    r"\b(?:says|said|according to) (?:the )?(?:report|ofsted|inspectors)\b", re.I
)
_REPORT_TYPES = ("inspection report", "focused visit letter", "monitoring visit letter")


@lru_cache(maxsize=1)
def _council_words() -> frozenset[str]:
    return frozenset(w.lower() for w in council_words())


def has_name(text: str) -> bool:
    """A person's name: two or three capitalised words, not all offices, bodies or places."""
    places = _council_words()
    for m in _NAME.finditer(text):
        words = [w.replace("’", "'").strip("'").lower() for w in m.group(0).split()]
        if any(w not in _NOT_NAMES and w not in places for w in words):
            return True
    return False


# A sentence is read for its shape and voice at every question it comes back for: kept for
# the recent sentences (about 0.25 ms a question, shipped corpus).
SENTENCE_CACHE = 8192


@lru_cache(maxsize=SENTENCE_CACHE)
def holds(kind: str, text: str) -> bool:
    """Does ``text`` hold the shape of answer a question of ``kind`` asks for?"""
    if kind == "who":
        return has_name(text)
    if kind == "when":
        return bool(_DATE.search(text))
    if kind == "number":
        return bool(_NUMBER.search(_DATE.sub(" ", text)))
    if kind == "which":
        return bool(_NAMED.search(text)) or has_name(text)
    return False


@lru_cache(maxsize=SENTENCE_CACHE)
def voice(text: str, doc_type: str) -> str:
    """ "ofsted", "quoted" (someone else in the first person) or "other"."""
    attributed = bool(_ATTRIBUTED.search(text) or _SAYS_REPORT.search(text))
    if _FIRST_PERSON.search(text) and not attributed:
        return "quoted"
    if doc_type in _REPORT_TYPES or attributed:
        return "ofsted"
    return "other"


_ASKS_SPEAKER = re.compile(
    r"\bwhat (?:did|does|do|has|have) (?!ofsted\b|inspectors?\b|the (?:report|inspection|"
    r"inspectors?|letter|visit)\b)[\w’' -]{2,60}? (?:say|said|tell|told|comment|think|"
    r"respond)\b|\b(?:quote|quoted|respond|responded|reaction|react)\b",
    re.IGNORECASE,
)


def asks_speaker(question: str) -> bool:
    """Does the question ask what someone other than Ofsted said ("What did the chief
    executive say ...?")? Only then is a first-person quote an answer."""
    return bool(_ASKS_SPEAKER.search(question))
