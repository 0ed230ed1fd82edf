import math
from math import log2

import numpy as np
import pytest

from rag_qa.evaluation.metrics import (
    hit_at_k,
    is_hit,
    ndcg_at_k,
    ndcg_at_k_binary,
    normalise,
    percentile,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    summarise,
)

# --- normalise / is_hit ---------------------------------------------------------------------


def test_normalise_quotes_dashes_case_and_whitespace():
    text = "  It\u2019s the \u201cBest\u201d\nchoice\u2014really \u2013 the `only`\u00a0one\t\r\n"
    assert normalise(text) == "it's the \"best\" choice-really - the 'only' one"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\u2018a\u2019 \u201ab\u201b c\u2032", "'a' 'b' c'"),
        ("\u201ca\u201d \u201eb\u2033", '"a" "b"'),
        ("A\n\nB", "a b"),
        ("\u00a0\u00a0x\u00a0\u00a0y\u00a0", "x y"),
        ("", ""),
    ],
)
def test_normalise_cases(raw, expected):
    assert normalise(raw) == expected


SOURCE = "children's services inspection - 14 february 2014.pdf"


def test_is_hit_matches_despite_curly_quotes_line_breaks_and_case():
    text = "Inspectors found that\nInsufficient focus is given to\u00a0the child\u2019s  reflective practice."
    answers = ["insufficient focus is given to the child's reflective practice"]
    assert is_hit(SOURCE, text, [SOURCE], answers)


def test_is_hit_source_is_a_substring_match():
    text = "little evidence to suggest that work is properly analysed"
    assert is_hit("corpus/" + SOURCE, text, [SOURCE], ["properly analysed"])
    assert is_hit(SOURCE, text, ["other.pdf", SOURCE], ["nothing like it", "properly analysed"])
    assert not is_hit("other.pdf", text, [SOURCE], ["properly analysed"])


def test_is_hit_needs_the_answer_in_the_text():
    assert not is_hit(SOURCE, "something else entirely", [SOURCE], ["properly analysed"])


def test_is_hit_unanswerable_is_never_a_hit():
    assert not is_hit(SOURCE, "any text at all", [SOURCE], [])
    assert not is_hit(SOURCE, "any text at all", [], [])


# --- hit@k, reciprocal rank -----------------------------------------------------------------


def test_hit_at_k():
    relevance = [False, False, True]
    assert hit_at_k(relevance, 1) == 0.0
    assert hit_at_k(relevance, 2) == 0.0
    assert hit_at_k(relevance, 3) == 1.0
    assert hit_at_k(relevance, 10) == 1.0
    assert hit_at_k([], 5) == 0.0


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_k_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        hit_at_k([True], k)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recall_at_k(["a"], {"a"}, k)


def test_reciprocal_rank():
    assert reciprocal_rank([True, True]) == 1.0
    assert reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert reciprocal_rank([False, False, True], k=2) == 0.0
    assert reciprocal_rank([False] * 10 + [True]) == 0.0  # rank 11 is beyond the default k=10
    assert reciprocal_rank([False] * 9 + [True]) == pytest.approx(1 / 10)
    assert reciprocal_rank([]) == 0.0


# --- recall, precision ----------------------------------------------------------------------

RANKED = ["a", "b", "c", "d"]
RELEVANT = {"b", "d", "e"}


def test_recall_at_k():
    assert recall_at_k(RANKED, RELEVANT, 1) == 0.0
    assert recall_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, RELEVANT, 4) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, RELEVANT, 100) == pytest.approx(2 / 3)
    assert recall_at_k(["b", "d", "e"], RELEVANT, 3) == 1.0
    assert recall_at_k([], RELEVANT, 10) == 0.0


def test_recall_is_not_hit_rate():
    # One of three relevant docs at rank 1: hit@1 is 1, recall@1 is 1/3.
    assert hit_at_k([doc in RELEVANT for doc in ["b"]], 1) == 1.0
    assert recall_at_k(["b"], RELEVANT, 1) == pytest.approx(1 / 3)


def test_recall_with_no_relevant_ids_is_an_error():
    with pytest.raises(ValueError, match="no relevant ids; skip this query"):
        recall_at_k(RANKED, set(), 10)


def test_precision_at_k():
    assert precision_at_k(RANKED, RELEVANT, 1) == 0.0
    assert precision_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 2)
    assert precision_at_k(RANKED, RELEVANT, 4) == pytest.approx(2 / 4)
    assert precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(2 / 10)  # divides by k
    assert precision_at_k(RANKED, set(), 3) == 0.0


def test_duplicate_ids_in_a_ranking_are_an_error():
    for metric in (recall_at_k, precision_at_k):
        with pytest.raises(ValueError, match="'b' more than once"):
            metric(["a", "b", "b"], {"b"}, 10)
    with pytest.raises(ValueError, match="'b' more than once"):
        ndcg_at_k(["b", "b"], {"b": 1})


# --- nDCG -----------------------------------------------------------------------------------


def test_ndcg_graded_by_hand():
    qrels = {"a": 2, "b": 1, "c": 0}
    expected = (2 / log2(2) + 0 / log2(3) + 1 / log2(4)) / (2 / log2(2) + 1 / log2(3))
    assert ndcg_at_k(["a", "x", "b"], qrels) == pytest.approx(expected)
    assert expected == pytest.approx(0.9502344167898356)


def test_ndcg_gain_is_linear_not_exponential():
    qrels = {"a": 3, "b": 1}
    linear = (1 / log2(2) + 3 / log2(3)) / (3 / log2(2) + 1 / log2(3))
    exponential = (1 / log2(2) + 7 / log2(3)) / (7 / log2(2) + 1 / log2(3))
    assert ndcg_at_k(["b", "a"], qrels) == pytest.approx(linear)
    assert ndcg_at_k(["b", "a"], qrels) != pytest.approx(exponential)


def test_ndcg_ideal_run_is_one_and_empty_run_is_zero():
    qrels = {"a": 2, "b": 1, "c": 1, "z": 0}
    assert ndcg_at_k(["a", "b", "c"], qrels) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "c", "b", "z", "x"], qrels) == pytest.approx(1.0)  # ties: any order
    assert ndcg_at_k([], qrels) == 0.0


def test_ndcg_unjudged_and_zero_graded_docs_give_no_gain():
    qrels = {"a": 1, "z": 0, "n": -1}
    expected = (0 / log2(2) + 0 / log2(3) + 0 / log2(4) + 1 / log2(5)) / (1 / log2(2))
    assert ndcg_at_k(["x", "z", "n", "a"], qrels) == pytest.approx(expected)


def test_ndcg_idcg_counts_unretrieved_relevant_docs():
    qrels = {"a": 1, "b": 1, "c": 1}
    expected = (1 / log2(2)) / (1 / log2(2) + 1 / log2(3) + 1 / log2(4))
    assert ndcg_at_k(["a"], qrels) == pytest.approx(expected)


def test_ndcg_truncates_the_run_and_the_ideal_at_k():
    qrels = {"a": 2, "b": 1}
    assert ndcg_at_k(["x", "y", "a"], qrels, k=2) == 0.0
    assert ndcg_at_k(["x", "y", "a"], qrels, k=3) == pytest.approx(
        (2 / log2(4)) / (2 / log2(2) + 1 / log2(3))
    )
    # IDCG@1 uses only the best grade: 2 / log2(2).
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 2, "c": 1}, k=1) == pytest.approx(1.0)
    assert ndcg_at_k(["c", "a"], {"a": 2, "b": 2, "c": 1}, k=1) == pytest.approx(
        (1 / log2(2)) / (2 / log2(2))
    )


def test_ndcg_without_relevant_docs_is_zero():
    assert ndcg_at_k(["a"], {}) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}) == 0.0


def test_ndcg_binary():
    expected = (1 / log2(3) + 1 / log2(4)) / (1 / log2(2) + 1 / log2(3) + 1 / log2(4))
    assert ndcg_at_k_binary([False, True, True], n_relevant=3) == pytest.approx(expected)
    assert ndcg_at_k_binary([True, True], n_relevant=2) == pytest.approx(1.0)
    # More relevant items than k: the ideal fills all k ranks.
    assert ndcg_at_k_binary([True, False], n_relevant=5, k=2) == pytest.approx(
        (1 / log2(2)) / (1 / log2(2) + 1 / log2(3))
    )
    # A hit beyond k does not count.
    assert ndcg_at_k_binary([False, False, True], n_relevant=1, k=2) == 0.0
    assert ndcg_at_k_binary([], n_relevant=0) == 0.0


def test_ndcg_binary_agrees_with_graded_ndcg():
    ranked = ["x", "a", "y", "b"]
    qrels = {"a": 1, "b": 1, "c": 1}
    relevance = [doc in qrels for doc in ranked]
    assert ndcg_at_k_binary(relevance, 3) == pytest.approx(ndcg_at_k(ranked, qrels))


def test_ndcg_binary_rejects_too_small_n_relevant():
    with pytest.raises(ValueError, match="n_relevant=1 but the top 10 already holds 2"):
        ndcg_at_k_binary([True, True], n_relevant=1)


# --- percentile, summarise ------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [5.0],
        [1.0, 2.0],
        [3, 1, 2],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        [10.5, -2.25, 3.0, 3.0, 8.125, 1e6, 0.001, 42.0],
        list(np.random.default_rng(7).lognormal(size=101)),
    ],
)
@pytest.mark.parametrize("q", [0, 1, 10, 25, 33.3, 50, 66.6, 75, 90, 95, 99, 100])
def test_percentile_matches_numpy(values, q):
    assert percentile(values, q) == float(np.percentile(values, q))


def test_percentile_by_hand():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, 2, 3, 4], 25) == 1.75
    assert percentile([10, 20], 90) == 19.0


def test_percentile_errors():
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="NaN"):
        percentile([1.0, math.nan], 50)


def test_summarise_averages_and_skips_none():
    rows = [
        {"hit@5": 1.0, "rr": 1.0, "recall": None},
        {"hit@5": 0.0, "rr": 0.0, "recall": 0.5},
        {"hit@5": True, "rr": 1 / 4},
        {"hit@5": 1.0, "rr": 1 / 2, "recall": 1.0},
    ]
    out = summarise(rows, ["hit@5", "rr", "recall", "absent"])
    assert list(out) == ["hit@5", "rr", "recall", "absent"]
    assert out["hit@5"] == pytest.approx(3 / 4)
    assert out["rr"] == pytest.approx((1 + 0 + 1 / 4 + 1 / 2) / 4)
    assert out["recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert math.isnan(out["absent"])
