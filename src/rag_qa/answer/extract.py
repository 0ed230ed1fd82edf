"""The extractive answer: sentences copied from the top passages, each with its [n] marker.

Nothing is generated: every sentence of an answer is a verbatim span of a listed passage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag_qa.answer.abstain import NOTHING, abstention_reason
from rag_qa.answer.candidates import Candidate, passage_candidates
from rag_qa.answer.shapes import asks_speaker, holds, voice
from rag_qa.records import Passage
from rag_qa.retrieval.query import topic_words
from rag_qa.settings import AnswerSettings
from rag_qa.text.question_kind import question_kind
from rag_qa.text.sentences import unit_spans, unit_text
from rag_qa.text.vocabulary import word_set, words


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    passage_rank: int  # the [n] it cites
    score: float


def passage_sentences(text: str) -> list[str]:
    """Sentences of a passage; a line break (paragraph, list item, heading) always ends one,
    except before a lower-case word (a sentence running across a page break)."""
    return [unit_text(text, span) for span in unit_spans(text)]


@dataclass(frozen=True)
class Selection:
    sentences: list[AnswerSentence]
    similarity: float | None  # best cosine of a candidate sentence to the question


def spans_reports(intent) -> bool:
    """Does the question span reports: several councils named, or a period of more than a
    year ("since 2016", "between 2015 and 2019")?"""
    if intent is None:
        return False
    period = intent.period
    return len(intent.councils) > 1 or bool(period and period.end.year > period.start.year)


def _candidates(passages: list[Passage], s: AnswerSettings, across: bool) -> list[Candidate]:
    out: list[Candidate] = []
    limit = s.max_candidates * (2 if across else 1)
    for p in passages[: s.across_passages if across else s.source_passages]:
        for c in passage_candidates(p):
            if len(c.text) >= s.min_sentence_chars and len(out) < limit:
                out.append(c)
    return out


def _word_scores(question: str, sentences: list[str]) -> list[float]:
    """Each sentence's idf-weighted share of the question's topic words (idf among the
    candidate sentences), the same stems as BM25's."""
    q = set(words(topic_words(question)))
    present = [word_set(s) & q for s in sentences]
    df: dict[str, int] = {}
    for found in present:
        for t in found:
            df[t] = df.get(t, 0) + 1
    n = len(sentences)
    norm = math.sqrt(max(1, len(q)))
    return [sum(math.log(1 + n / df[t]) for t in found) / norm for found in present]


class StoredSentences(Protocol):
    """A passage's stored sentence vectors (rag_qa.index.sentences.SentenceSet)."""

    dirs: np.ndarray  # (sentences, dim) unit vectors; a zero row: not read by the model
    weights: np.ndarray

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class SentenceVectors:
    """What scores sentences against the question: the question's vector (None: encode it),
    the passages' stored sentence vectors by chunk_id, and the model for any sentence
    without one (None: such a sentence has no dense score)."""

    question: np.ndarray | None = None
    stored: dict[str, StoredSentences] = field(default_factory=dict)
    embed: Callable[[list[str]], np.ndarray] | None = None

    @property
    def usable(self) -> bool:
        return self.embed is not None or (self.question is not None and bool(self.stored))


def _dense_scores(question: str, cands: list[Candidate], vectors: SentenceVectors) -> list[float]:
    """Each candidate's cosine to the question, from its sentences' stored vectors where the
    passage's stored sentences are the ones it splits into, else encoded now."""
    rows: list[np.ndarray | None] = []
    for c in cands:
        found = vectors.stored.get(c.passage.chunk.chunk_id)
        fits = found is not None and len(found) == c.sentences
        read = fits and all(found.weights[r] > 0 for r in c.rows)
        rows.append(found.joined(list(c.rows)) if read else None)
    missing = [c.text for c, row in zip(cands, rows, strict=True) if row is None]
    q = vectors.question
    if vectors.embed is not None and (q is None or missing):
        encoded = vectors.embed(([question] if q is None else []) + missing)
        q = encoded[0] if q is None else q
        fresh = iter(encoded[len(encoded) - len(missing) :])
        rows = [next(fresh) if row is None else row for row in rows]
    if q is None:
        return [0.0] * len(cands)
    return [0.0 if row is None else max(0.0, float(row @ q)) for row in rows]


def select_sentences(
    question: str,
    passages: list[Passage],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    settings: AnswerSettings | None = None,
    vectors: SentenceVectors | None = None,
    intent=None,
) -> Selection:
    """Pick up to ``settings.sentences`` sentences from the top passages that best answer the
    question.

    Each candidate sentence scores on the question's words it holds and, with ``vectors``
    (or just a model, ``embed``), on its cosine similarity to the question; the two are
    max-normalised and mixed, with a preference for higher-ranked passages and against
    first-person quotes. A question spanning reports (``intent``, see ``spans_reports``) gets
    the best sentence of each report among the top passages, in date order.
    """
    s = settings or AnswerSettings()
    vectors = vectors or SentenceVectors(embed=embed)
    across = spans_reports(intent)
    sentences = _candidates(passages, s, across) if passages else []
    if not sentences:
        return Selection([], 0.0)
    lexical = _word_scores(question, [c.text for c in sentences])
    dense_on = vectors.usable
    dense = _dense_scores(question, sentences, vectors) if dense_on else [0.0] * len(sentences)
    top_lex, top_dense = max(lexical) or 1.0, max(dense) or 1.0
    weight = s.cosine_weight if dense_on else 0.0
    kind, quotes_asked = question_kind(question), asks_speaker(question)
    scored = []
    for c, lex, den in zip(sentences, lexical, dense, strict=True):
        if lex == 0 and den == 0:
            continue
        factor = _shape_factor(kind, quotes_asked, c, s)
        if factor == 0:
            continue  # someone else's words, not asked for
        score = (1 - weight) * lex / top_lex + weight * den / top_dense
        score *= factor / (1 + s.rank_decay * (c.passage.rank - 1))
        scored.append((score, c.passage.rank, c.first, c.text))
    similarity = max(dense) if dense_on else None
    if across:
        return Selection(_choose_across(scored, passages, s), similarity)
    return Selection(_choose(scored, s), similarity)


def _shape_factor(kind: str, quotes_asked: bool, c: Candidate, s: AnswerSettings) -> float:
    """More for a sentence holding the shape of answer asked for (a name for "who", a date
    for "when", ...); less for someone else's first-person words, unless they were asked
    for, and for a release's or minutes' own words when Ofsted's findings were."""
    factor = 1.0
    if holds(kind, c.text):
        factor *= 1 + s.shape_boost
    spoken = voice(c.text, c.passage.document.doc_type)
    if spoken == "quoted" and not quotes_asked:
        factor *= s.first_person_factor
    elif spoken == "other" and kind == "finding":
        factor *= s.unattributed_factor
    return factor


def _choose(scored: list[tuple[float, int, int, str]], s: AnswerSettings) -> list[AnswerSentence]:
    """The best sentences, each at least ``keep_ratio`` of the best score; overlapping passages
    share sentences, so each sentence is cited once."""
    scored.sort(key=lambda c: (-c[0], c[1], c[2]))
    if not scored:
        return []
    best = scored[0][0]
    chosen, seen = [], set()
    for score, rank, _, text in scored:
        key = " ".join(re.findall(r"\w+", text.lower()))  # the same words, however quoted
        if score >= s.keep_ratio * best and key not in seen and len(chosen) < s.sentences:
            chosen.append(AnswerSentence(text, rank, score))
            seen.add(key)
    return chosen


def _choose_across(
    scored: list[tuple[float, int, int, str]], passages: list[Passage], s: AnswerSettings
) -> list[AnswerSentence]:
    """The best sentence of each report, for the best ``s.sentences`` reports scoring at least
    ``s.across_keep`` of the best, in the reports' date order (then rank)."""
    scored.sort(key=lambda c: (-c[0], c[1], c[2]))
    if not scored:
        return []
    doc_of = {p.rank: p.document for p in passages}
    best, chosen, docs = scored[0][0], [], set()
    for score, rank, _, text in scored:
        doc = doc_of[rank]
        if score >= s.across_keep * best and doc.doc_id not in docs and len(chosen) < s.sentences:
            chosen.append(AnswerSentence(text, rank, score))
            docs.add(doc.doc_id)
    when = {p.rank: p.document.date or p.document.visit_end or "" for p in passages}
    if len(chosen) == 1:
        return _choose(scored, s)  # one report after all: its best sentences
    return sorted(chosen, key=lambda c: (when[c.passage_rank], c.passage_rank))


def _confirmed(
    selection: Selection, result, s: AnswerSettings, vectors: SentenceVectors | None
) -> Selection:
    """Weak evidence read again: stored sentence vectors are the sentences as read in their
    passage, whose similarity to an off-topic question can borrow from the passage around
    them. When the answer is close to abstaining (similarity under ``confirm_similarity`` and
    coverage under ``confirm_coverage``), the chosen sentences are encoded alone (one small
    model call) and their best cosine is the similarity abstention is decided on. Not where
    the similarity decides nothing: the answer abstains anyway (coverage under
    ``min_coverage``, no matching document), or a passage states the judgement asked about.
    (Those were 5 of the 9 questions of the Slough suite that made the call.)"""
    sim, q = selection.similarity, vectors.question if vectors is not None else None
    if (
        sim is None
        or q is None
        or vectors.embed is None
        or not selection.sentences
        or sim >= s.confirm_similarity
        or result.coverage >= s.confirm_coverage
        or abstention_reason(result, s)
        or result.states_judgement
    ):
        return selection
    alone = vectors.embed([c.text for c in selection.sentences[: s.confirm_sentences]])
    return Selection(selection.sentences, max(0.0, float((alone @ q).max())))


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
    result,
    settings: AnswerSettings,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    vectors: SentenceVectors | None = None,
) -> Answer:
    """The extractive answer, or a plain abstention listing the nearest passages. With
    ``vectors`` (stored sentence vectors and the question's) or ``embed`` (the retriever's
    model), sentences are also chosen, and weak evidence recognised, by their similarity to
    the question."""
    passages = result.passages
    lead = " ".join(result.notes)
    selection = Selection([], None)
    if passages and not result.no_match:
        selection = select_sentences(
            result.question, passages, embed, settings, vectors, intent=result.intent
        )
    selection = _confirmed(selection, result, settings, vectors)
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
