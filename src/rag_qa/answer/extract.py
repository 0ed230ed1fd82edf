"""The extractive answer: sentences copied from the top passages, each with its [n] marker.

Nothing is generated: every sentence of an answer is a verbatim span of a listed passage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag_qa.answer.abstain import NOTHING, abstention_reason
from rag_qa.records import Passage
from rag_qa.retrieval.query import topic_words
from rag_qa.settings import AnswerSettings
from rag_qa.text.sentences import split_sentences
from rag_qa.text.vocabulary import words

_FIRST_PERSON = re.compile(r"\b(?:I|I['’](?:m|d|ve)|[Ww]e|[Ww]e['’](?:re|ve)|[Oo]ur|us)\b")


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    passage_rank: int  # the [n] it cites
    score: float


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


def _candidates(passages: list[Passage], s: AnswerSettings) -> list[tuple[Passage, int, str]]:
    out: list[tuple[Passage, int, str]] = []
    for p in passages[: s.source_passages]:
        for i, text in enumerate(passage_sentences(p.chunk.text)):
            if len(text) >= s.min_sentence_chars and len(out) < s.max_candidates:
                out.append((p, i, text))
    return out


def _word_scores(question: str, sentences: list[str]) -> list[float]:
    """Each sentence's idf-weighted share of the question's topic words (idf among the
    candidate sentences), the same stems as BM25's."""
    q = set(words(topic_words(question)))
    present = [set(words(s)) & q for s in sentences]
    df: dict[str, int] = {}
    for found in present:
        for t in found:
            df[t] = df.get(t, 0) + 1
    n = len(sentences)
    norm = math.sqrt(max(1, len(q)))
    return [sum(math.log(1 + n / df[t]) for t in found) / norm for found in present]


def select_sentences(
    question: str,
    passages: list[Passage],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    settings: AnswerSettings | None = None,
) -> Selection:
    """Pick up to ``settings.sentences`` sentences from the top passages that best answer the
    question.

    Each candidate sentence scores on the question's words it holds and, when ``embed`` is
    given, on its cosine similarity to the question; the two are max-normalised and mixed,
    with a preference for higher-ranked passages and against first-person quotes.
    """
    s = settings or AnswerSettings()
    sentences = _candidates(passages, s) if passages else []
    if not sentences:
        return Selection([], 0.0)
    lexical = _word_scores(question, [text for _, _, text in sentences])
    if embed is not None:
        vecs = embed([question] + [text for _, _, text in sentences])
        dense = [max(0.0, float(v @ vecs[0])) for v in vecs[1:]]
    else:
        dense = [0.0] * len(sentences)
    top_lex, top_dense = max(lexical) or 1.0, max(dense) or 1.0
    weight = s.cosine_weight if embed is not None else 0.0
    scored = []
    for (p, i, text), lex, den in zip(sentences, lexical, dense, strict=True):
        if lex == 0 and den == 0:
            continue
        score = (1 - weight) * lex / top_lex + weight * den / top_dense
        score *= 1.0 / (1 + s.rank_decay * (p.rank - 1))
        if _FIRST_PERSON.search(text):
            score *= s.first_person_factor
        scored.append((score, p.rank, i, text))
    similarity = max(dense) if embed is not None else None
    return Selection(_choose(scored, s), similarity)


def _choose(scored: list[tuple[float, int, int, str]], s: AnswerSettings) -> list[AnswerSentence]:
    """The best sentences, each at least ``keep_ratio`` of the best score; overlapping passages
    share sentences, so each sentence is cited once."""
    scored.sort(key=lambda c: (-c[0], c[1], c[2]))
    if not scored:
        return []
    best = scored[0][0]
    chosen, seen = [], set()
    for score, rank, _, text in scored:
        key = " ".join(text.split()).lower()
        if score >= s.keep_ratio * best and key not in seen and len(chosen) < s.sentences:
            chosen.append(AnswerSentence(text, rank, score))
            seen.add(key)
    return chosen


def _council_lead(sentence: AnswerSentence, passages: list[Passage], result) -> str:
    """ "Kent: " before a sentence when the answer quotes several councils' reports and the
    question named none of them, so that no sentence is read as another council's."""
    councils = {p.document.council for p in passages[:3] if p.document.council}
    if len(councils) < 2 or result.intent.councils:
        return ""
    council = next((p.document.council for p in passages if p.rank == sentence.passage_rank), None)
    return f"{council}: " if council else ""


@dataclass(frozen=True)
class Answer:
    text: str
    abstained: bool
    sentences: tuple[AnswerSentence, ...] = ()
    reason: str = ""
    similarity: float | None = None  # best cosine of a sentence of the top passages


def build_answer(
    result, settings: AnswerSettings, embed: Callable[[list[str]], np.ndarray] | None = None
) -> Answer:
    """The extractive answer, or a plain abstention listing the nearest passages. With
    ``embed`` (the retriever's model), sentences are also chosen, and weak evidence
    recognised, by their similarity to the question."""
    passages = result.passages
    lead = " ".join(result.notes)
    selection = Selection([], None)
    if passages and not result.no_match:
        selection = select_sentences(result.question, passages, embed=embed, settings=settings)
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
    body = " ".join(
        f"{_council_lead(c, passages, result)}{c.text} [{c.passage_rank}]" for c in chosen
    )
    return Answer(f"{lead} {body}".strip(), False, tuple(chosen), "", selection.similarity)
