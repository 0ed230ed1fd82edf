"""When the answer abstains: the reports hold nothing that answers the question."""

from __future__ import annotations

from rag_qa.settings import AnswerSettings

NOTHING = "The indexed reports hold nothing that answers this."


def abstention_reason(result, settings: AnswerSettings, similarity: float | None = None) -> str:
    """Why the answer should abstain ("" when it should not).

    Abstains when the question's period or council matches no document and no passage
    mentions it (``result.no_match``); when the top passages contain too little of what the
    question asks about (``result.coverage``, the idf-weighted share of its words, under
    ``min_coverage``); or when no sentence of the top passages comes close to the question
    (best cosine ``similarity`` under ``min_similarity``). Both thresholds are fitted on the
    eval suites (``rag-qa eval`` prints the fit)."""
    if not result.passages:
        return "no passages"
    if result.no_match:
        return "no matching document"
    if result.coverage < settings.min_coverage:
        return f"question coverage {result.coverage:.2f} < {settings.min_coverage:.2f}"
    stated = result.states_judgement  # a grade line is the answer itself
    if similarity is not None and similarity < settings.min_similarity and not stated:
        return f"best sentence similarity {similarity:.3f} < {settings.min_similarity:.3f}"
    return ""
