"""Fusing the BM25 and dense rankings.

* ``rrf``: reciprocal rank fusion, score(d) = sum over rankings r of w_r / (k + rank_r(d)),
  with rank starting at 1 and a ranking that does not contain d adding nothing
  (Cormack, Clarke and Büttcher, 2009; k = 60 by default).
* ``weighted``: a convex combination of the two scores after max-normalising each:
  score(d) = w * dense(d) / max(dense) + (1 - w) * bm25(d) / max(bm25), a missing score
  counting as 0.
"""

from __future__ import annotations


def rrf(
    rankings: list[list[int]], k: int = 60, weights: list[float] | None = None
) -> dict[int, float]:
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def weighted(
    dense: dict[int, float], lexical: dict[int, float], dense_weight: float
) -> dict[int, float]:
    def scaled(scores: dict[int, float]) -> dict[int, float]:
        top = max(scores.values(), default=0.0)
        return {i: (s / top if top > 0 else 0.0) for i, s in scores.items()}

    d, b = scaled(dense), scaled(lexical)
    return {
        i: dense_weight * d.get(i, 0.0) + (1 - dense_weight) * b.get(i, 0.0)
        for i in set(d) | set(b)
    }


def ranked(scores: dict[int, float]) -> list[int]:
    """Items by descending score, ties broken by item id so results are deterministic."""
    return sorted(scores, key=lambda i: (-scores[i], i))
