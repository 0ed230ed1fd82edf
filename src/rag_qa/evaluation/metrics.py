"""Exact information-retrieval metrics, each named for what it computes.

Pure functions, no I/O. Two kinds of input:

* ``relevance``: one bool per ranked result (rank 1 first), for metrics that only ask whether a
  result is a hit (``hit_at_k``, ``reciprocal_rank``, ``ndcg_at_k_binary``);
* ``ranked_ids`` with a set of relevant ids or graded ``qrels``, for metrics that need to know
  how many relevant items exist (``recall_at_k``, ``precision_at_k``, ``ndcg_at_k``).

``hit_at_k`` is "any relevant result in the top k"; it is not recall@k, which is the share of
all relevant items found in the top k.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # ‘ left single quotation mark
        "\u2019": "'",  # ’ right single quotation mark / apostrophe
        "\u201a": "'",  # ‚ single low-9 quotation mark
        "\u201b": "'",  # ‛ single high-reversed-9 quotation mark
        "\u2032": "'",  # ′ prime
        "`": "'",
        "\u201c": '"',  # “ left double quotation mark
        "\u201d": '"',  # ” right double quotation mark
        "\u201e": '"',  # „ double low-9 quotation mark
        "\u201f": '"',  # ‟ double high-reversed-9 quotation mark
        "\u2033": '"',  # ″ double prime
        "\u2013": "-",  # – en dash
        "\u2014": "-",  # — em dash
    }
)


def normalise(text: str) -> str:
    """Lower-case, straighten quotes, map en/em dashes to ``-``, collapse whitespace, strip.

    Whitespace is anything ``str.split()`` splits on: spaces, tabs, line breaks, NBSP, etc.
    """
    return " ".join(text.lower().translate(_QUOTES).split())


def is_hit(source: str, text: str, sources: Sequence[str], answers: Sequence[str]) -> bool:
    """Whether a retrieved passage answers a question.

    True when ``source`` contains one of ``sources`` as a substring (case-sensitive) and the
    normalised ``text`` contains one of the normalised ``answers``. A question with no answers
    (unanswerable) never has a hit.
    """
    if not answers or not any(s in source for s in sources):
        return False
    haystack = normalise(text)
    return any(normalise(a) in haystack for a in answers)


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _top_k_ids(ranked_ids: Sequence[str], k: int) -> list[str]:
    _check_k(k)
    top = list(ranked_ids[:k])
    seen: set[str] = set()
    for doc_id in ranked_ids:
        if doc_id in seen:
            raise ValueError(
                f"ranked_ids lists {doc_id!r} more than once; "
                "a ranking must name each id once (keep its best rank)"
            )
        seen.add(doc_id)
    return top


def hit_at_k(relevance: Sequence[bool], k: int) -> float:
    """1.0 if any of the first ``k`` results is relevant, else 0.0."""
    _check_k(k)
    return 1.0 if any(relevance[:k]) else 0.0


def reciprocal_rank(relevance: Sequence[bool], k: int = 10) -> float:
    """1 / rank of the first relevant result within the first ``k`` (ranks start at 1), else 0.0.

    The mean of this over queries is MRR@k.
    """
    _check_k(k)
    for rank, rel in enumerate(relevance[:k], start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranked_ids: Sequence[str], relevant: set[str], k: int) -> float:
    """|top-k ∩ relevant| / |relevant|.

    Raises ValueError when ``relevant`` is empty: recall is undefined there, so callers should
    skip such queries rather than count them as 0 or 1.
    """
    top = _top_k_ids(ranked_ids, k)
    if not relevant:
        raise ValueError("recall is undefined with no relevant ids; skip this query")
    return len(relevant.intersection(top)) / len(relevant)


def precision_at_k(ranked_ids: Sequence[str], relevant: set[str], k: int) -> float:
    """|top-k ∩ relevant| / k, dividing by k even when fewer than k ids were ranked (as trec_eval
    ``P_k`` does)."""
    top = _top_k_ids(ranked_ids, k)
    return len(relevant.intersection(top)) / k


def _dcg(gains: Iterable[float]) -> float:
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def ndcg_at_k(ranked_ids: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance, as trec_eval / pytrec_eval ``ndcg_cut_k`` (what BEIR reports).

    DCG@k = sum over ranks r = 1..k of grade(r) / log2(r + 1), where grade is the qrels grade
    (linear gain, not 2**grade - 1); ids not in ``qrels``, and grades <= 0, give gain 0.
    IDCG@k is the DCG@k of the ideal ordering of all judged relevant ids (grade > 0) in
    ``qrels``, whether retrieved or not. Returns 0.0 when IDCG is 0 (no relevant ids).
    """
    top = _top_k_ids(ranked_ids, k)
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = _dcg(ideal)
    if idcg == 0:
        return 0.0
    return _dcg(max(qrels.get(doc_id, 0), 0) for doc_id in top) / idcg


def ndcg_at_k_binary(relevance: Sequence[bool], n_relevant: int, k: int = 10) -> float:
    """nDCG@k with binary gains: ``relevance`` marks the hits, ``n_relevant`` counts all relevant
    items (retrieved or not) for the ideal ranking. Returns 0.0 when ``n_relevant`` is 0."""
    _check_k(k)
    hits = sum(1 for rel in relevance[:k] if rel)
    if n_relevant < hits:
        raise ValueError(
            f"n_relevant={n_relevant} but the top {k} already holds {hits} relevant results; "
            "n_relevant must count every relevant item, retrieved or not"
        )
    if n_relevant == 0:
        return 0.0
    idcg = _dcg([1.0] * min(n_relevant, k))
    return _dcg(1.0 if rel else 0.0 for rel in relevance[:k]) / idcg


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation, as ``numpy.percentile``'s
    default method (including its interpolation formula, so results match it exactly)."""
    if not values:
        raise ValueError("percentile of an empty list is undefined; pass at least one value")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q!r}")
    ordered = sorted(float(v) for v in values)
    if any(math.isnan(v) for v in ordered):
        raise ValueError("values contain NaN; drop or replace them first")
    n = len(ordered)
    index = (n - 1) * (q / 100)
    lo = math.floor(index)
    if lo >= n - 1:
        return ordered[-1]
    t = index - lo
    a, b = ordered[lo], ordered[lo + 1]
    diff = b - a
    # numpy's _lerp: interpolate from the nearer end, for accuracy and monotonicity.
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def summarise(rows: Sequence[Mapping[str, object]], keys: Sequence[str]) -> dict[str, float]:
    """The mean of each key over ``rows``, skipping rows where the value is None or missing.

    A key with no values at all maps to NaN (shown as ``nan``), not 0.
    """
    out: dict[str, float] = {}
    for key in keys:
        present = [row.get(key) for row in rows]
        values = [float(v) for v in present if v is not None]
        out[key] = sum(values) / len(values) if values else math.nan
    return out
