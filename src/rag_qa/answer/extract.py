"""The extractive answer: sentences copied from the top passages, each with its [n] marker.

Nothing is generated: every sentence of an answer is a verbatim span of a listed passage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag_qa.ingest.chunking import split_sentences
from rag_qa.records import Passage

STOPWORDS = set(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "say",
        "said",
        "says",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "about",
        "ofsted",
        "slough",
        "report",
        "reports",
        "inspection",
        "visit",
        "inspectors",
        "find",
        "found",
        "tell",
        "me",
        "any",
    ]
)
WORD = re.compile(r"[a-z0-9]+")
_FIRST_PERSON = re.compile(r"\b(?:I|I['’](?:m|d|ve)|[Ww]e|[Ww]e['’](?:re|ve)|[Oo]ur|us)\b")


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    passage_rank: int  # the [n] it cites
    score: float


def terms(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def passage_sentences(text: str) -> list[str]:
    """Sentences of a passage; a line break (paragraph, list item, heading) always ends one."""
    out = []
    text = re.sub(r"\n(?=[a-z])", " ", text)  # a sentence running across a page break
    for line in text.split("\n"):
        out.extend(line[a:b].strip() for a, b in split_sentences(line))
    return [s for s in out if s]


@dataclass(frozen=True)
class Selection:
    sentences: list[AnswerSentence]
    similarity: float | None  # best cosine of a candidate sentence to the question


def select_sentences(
    question: str,
    passages: list[Passage],
    limit: int = 3,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    max_sentences: int = 20,
) -> Selection:
    """Pick up to ``limit`` sentences from the top passages that best answer the question.

    Each candidate sentence scores on the question's words it holds (idf-weighted among the
    candidates) and, when ``embed`` is given, on its cosine similarity to the question; the
    two are max-normalised and averaged, with a small preference for higher-ranked passages.
    """
    q = {_stem(t) for t in terms(question)}
    if not passages:
        return Selection([], 0.0)
    sentences: list[tuple[Passage, int, str]] = []
    for p in passages[:3]:
        for i, s in enumerate(passage_sentences(p.chunk.text)):
            if len(s) >= 25 and len(sentences) < max_sentences:
                sentences.append((p, i, s))
    if not sentences:
        return Selection([], 0.0)
    df: dict[str, int] = {}
    for _, _, s in sentences:
        for t in {_stem(w) for w in terms(s)} & q:
            df[t] = df.get(t, 0) + 1
    n = len(sentences)
    lexical = []
    for _, _, s in sentences:
        present = {_stem(w) for w in terms(s)} & q
        lexical.append(sum(math.log(1 + n / df[t]) for t in present) / math.sqrt(max(1, len(q))))
    if embed is not None:
        vecs = embed([question] + [s for _, _, s in sentences])
        dense = [max(0.0, float(v @ vecs[0])) for v in vecs[1:]]
    else:
        dense = [0.0] * n
    top_lex, top_dense = max(lexical) or 1.0, max(dense) or 1.0
    weight = 0.5 if embed is not None else 0.0
    candidates = []
    for (p, i, s), lex, den in zip(sentences, lexical, dense, strict=True):
        if lex == 0 and den == 0:
            continue
        score = (1 - weight) * lex / top_lex + weight * den / top_dense
        score *= 1.0 / (1 + 0.1 * (p.rank - 1))
        if _FIRST_PERSON.search(s):
            # "I'm confident that our ..." is someone quoted in a news release, not a finding.
            score *= 0.7
        candidates.append((score, p.rank, i, s))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    similarity = max(dense) if embed is not None else None
    if not candidates:
        return Selection([], similarity)
    best = candidates[0][0]
    chosen, seen = [], set()
    for c in candidates:  # overlapping passages share sentences: cite each sentence once
        key = " ".join(c[3].split()).lower()
        if c[0] >= 0.75 * best and key not in seen and len(chosen) < limit:
            chosen.append(c)
            seen.add(key)
    return Selection([AnswerSentence(s, rank, score) for score, rank, _, s in chosen], similarity)


@dataclass(frozen=True)
class Answer:
    text: str
    abstained: bool
    sentences: tuple[AnswerSentence, ...] = ()
    reason: str = ""
    similarity: float | None = None  # best cosine of a sentence of the top passages


NOTHING = "The indexed reports hold nothing that answers this."


def abstention_reason(result, settings, similarity: float | None = None) -> str:
    """Why the answer should abstain ("" when it should not).

    Abstains when the question's period or council matches no document and no passage
    mentions it (``result.no_match``); when the top passages contain too little of what the
    question asks about (``result.coverage``, the idf-weighted share of its words, under
    ``settings.answer.min_coverage``); or when no sentence of the top passages comes close to the
    question (best cosine ``similarity`` under ``settings.answer.min_similarity``). Both thresholds
    are fitted on the eval set (``rag-qa eval`` prints the fit)."""
    if not result.passages:
        return "no passages"
    if result.no_match:
        return "no matching document"
    if result.coverage < settings.answer.min_coverage:
        return f"question coverage {result.coverage:.2f} < {settings.answer.min_coverage:.2f}"
    if similarity is not None and similarity < settings.answer.min_similarity:
        return f"best sentence similarity {similarity:.3f} < {settings.answer.min_similarity:.3f}"
    return ""


def build_answer(
    result, settings, embed: Callable[[list[str]], np.ndarray] | None = None
) -> Answer:
    """The extractive answer, or a plain abstention listing the nearest passages. With
    ``embed`` (the retriever's model), sentences are also chosen, and weak evidence
    recognised, by their similarity to the question."""
    passages = result.passages
    lead = " ".join(result.notes)
    selection = Selection([], None)
    if passages and not result.no_match:
        selection = select_sentences(result.question, passages, embed=embed)
    reason = abstention_reason(result, settings, selection.similarity)
    if reason:
        related = ""
        if passages:
            cited = "; ".join(f"[{p.rank}] {p.citation}" for p in passages[:3])
            related = f" Possibly related: {cited}."
        return Answer(f"{lead} {NOTHING}{related}".strip(), True, (), reason, selection.similarity)
    chosen = selection.sentences
    if not chosen:
        first = passage_sentences(passages[0].chunk.text)
        chosen = [AnswerSentence(first[0] if first else passages[0].chunk.text, 1, 0.0)]
    body = " ".join(f"{c.text} [{c.passage_rank}]" for c in chosen)
    return Answer(f"{lead} {body}".strip(), False, tuple(chosen), "", selection.similarity)
