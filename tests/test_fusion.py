"""The fusion rules, with exact arithmetic."""

import pytest

from rag_qa.retrieval.fusion import ranked, rrf, weighted


def test_rrf_sums_reciprocal_ranks():
    scores = rrf([[10, 20, 30], [30, 10]], k=60)
    assert scores[10] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[20] == pytest.approx(1 / 62)
    assert scores[30] == pytest.approx(1 / 63 + 1 / 61)
    assert ranked(scores) == [10, 30, 20]


def test_rrf_weights_scale_each_ranking():
    scores = rrf([[1, 2], [2, 1]], k=1, weights=[0.75, 0.25])
    assert scores[1] == pytest.approx(0.75 / 2 + 0.25 / 3)
    assert scores[2] == pytest.approx(0.75 / 3 + 0.25 / 2)


def test_weighted_max_normalises_each_list():
    dense = {1: 0.8, 2: 0.4}
    lexical = {2: 10.0, 3: 5.0}
    scores = weighted(dense, lexical, dense_weight=0.7)
    assert scores[1] == pytest.approx(0.7 * 1.0 + 0.3 * 0.0)
    assert scores[2] == pytest.approx(0.7 * 0.5 + 0.3 * 1.0)
    assert scores[3] == pytest.approx(0.7 * 0.0 + 0.3 * 0.5)
    assert ranked(scores) == [1, 2, 3]


def test_weighted_with_empty_or_zero_lists():
    assert weighted({}, {}, 0.5) == {}
    assert weighted({1: 0.0}, {}, 0.5) == {1: 0.0}


def test_ties_break_by_id():
    assert ranked({5: 1.0, 2: 1.0, 9: 2.0}) == [9, 2, 5]
