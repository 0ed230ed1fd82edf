"""The vector index: flat or HNSW by size, memory-mapped loading, exact candidate scoring."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import write_text

from rag_qa import generations as G
from rag_qa import search as S
from rag_qa.build import run_build
from rag_qa.embedding import load_embedder
from rag_qa.index import open_index
from rag_qa.search import Retriever, top_ids
from rag_qa.settings import Settings
from rag_qa.vectors import DenseIndex, VectorSpec, choose_vectors, read_vectors, write_vectors


def unit_rows(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("depth", [0, 1, 3, 7, 50, 200])
def test_top_ids_is_a_stable_argsort_prefix(depth):
    rng = np.random.default_rng(depth)
    for _ in range(50):
        scores = rng.integers(0, 6, size=120).astype(np.float32)  # many ties
        pool = np.sort(rng.choice(120, size=rng.integers(1, 120), replace=False))
        expected = pool[np.argsort(-scores[pool], kind="stable")[:depth]]
        assert top_ids(scores, pool, depth).tolist() == expected.tolist()


def test_top_ids_of_an_empty_pool():
    assert top_ids(np.ones(4, np.float32), np.zeros(0, np.int64), 3).tolist() == []


def test_index_kind_follows_size():
    s = Settings(ann_min_chunks=1000, hnsw_m=16, hnsw_ef_construction=40, hnsw_ef_search=64)
    assert choose_vectors(999, s) == VectorSpec("flat")
    assert choose_vectors(1000, s) == VectorSpec("hnsw", 16, 40, 64)
    assert choose_vectors(10**9, replace(s, ann_min_chunks=0)).kind == "flat"
    spec = VectorSpec("hnsw", 16, 40, 64)
    assert VectorSpec.from_json(spec.to_json()) == spec
    assert VectorSpec.from_json({"kind": "flat"}) == VectorSpec("flat")


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_written_vectors_load_back_exactly(tmp_path, kind):
    x = unit_rows(500)
    write_vectors(x, tmp_path / "v.faiss", VectorSpec(kind, m=8, ef_construction=40))
    dense = DenseIndex(read_vectors(tmp_path / "v.faiss"))
    assert dense.exact == (kind == "flat")
    assert dense.size == 500
    np.testing.assert_array_equal(dense.matrix, x)
    q = x[17]
    np.testing.assert_allclose(dense.all_scores(q), x @ q, rtol=1e-6)
    np.testing.assert_allclose(dense.scores(np.array([3, 17]), q), x[[3, 17]] @ q, rtol=1e-6)


def test_hnsw_neighbours_match_exact_search_and_respect_a_mask(tmp_path):
    x = unit_rows(3000, seed=1)
    write_vectors(x, tmp_path / "v.faiss", VectorSpec("hnsw", m=16, ef_construction=80))
    dense = DenseIndex(read_vectors(tmp_path / "v.faiss"), ef_search=128)
    queries = unit_rows(50, seed=2)
    hits = 0
    for q in queries:
        exact = set(np.argsort(-(x @ q))[:10].tolist())
        hits += len(exact & set(dense.top(q, 10).tolist()))
    assert hits / 500 >= 0.95  # recall@10 of the graph on random (hard) vectors

    mask = np.zeros(3000, dtype=bool)
    mask[::7] = True
    for q in queries[:10]:
        got = dense.top(q, 10, mask)
        assert len(got) == 10 and mask[got].all()
        allowed = np.flatnonzero(mask)
        best = allowed[np.argsort(-(x[allowed] @ q))[:10]]
        assert len(set(got.tolist()) & set(best.tolist())) >= 8


QUESTIONS = [
    "management oversight of care leavers",
    "What did the 2019 focused visit say about caseloads?",
    "care leavers in Kent",
    "personal advisers in 2023",
    "agency staff",
]


def test_hnsw_index_gives_the_same_results_as_exact_search(tmp_path, settings, monkeypatch):
    corpus = settings.corpus_dir
    for year in range(2015, 2025):
        write_text(
            corpus / f"visit {year}.txt",
            f"{year} focused visit to Testshire. Inspectors looked at care leavers, caseloads "
            f"and management oversight in {year}. Personal advisers numbered {year - 2000}.",
        )
    write_text(corpus / "kent.txt", "Management oversight of care leavers in Kent is effective.")
    embedder = load_embedder(settings.model)
    monkeypatch.setattr(S, "EXACT_POOL", 0)  # steered parts are searched in the graph too
    results = {}
    for kind, limit in (("flat", 0), ("hnsw", 1)):
        s = replace(settings, index_dir=tmp_path / kind, ann_min_chunks=limit)
        run_build(s, lambda: embedder, progress=False)
        manifest = G.read_manifest(G.current_generation(s.index_dir))
        assert manifest["vectors"]["kind"] == kind
        retriever = Retriever(open_index(s), embedder, s)
        assert retriever.dense.exact == (kind == "flat")
        results[kind] = [
            [(p.chunk.chunk_id, round(p.score, 5)) for p in retriever.search(q, k=5).passages]
            for q in QUESTIONS
        ]
    assert results["hnsw"] == results["flat"]
    assert all(results["flat"])
