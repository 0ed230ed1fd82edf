"""The vector index: flat or HNSW by size, memory-mapped loading, exact candidate scoring."""

import numpy as np
import pytest
from conftest import write_text

from rag_qa.embed.model import load_embedder
from rag_qa.engine import Engine
from rag_qa.index import generations as G
from rag_qa.index.build import run_build
from rag_qa.index.vectors import DenseIndex, VectorSpec, choose_vectors, read_vectors, write_vectors
from rag_qa.retrieval.documents import overlaps
from rag_qa.retrieval.ranking import top_ids
from rag_qa.settings import Settings


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
    s = Settings.make(ann_min_chunks=1000, hnsw_m=16, hnsw_ef_construction=40, hnsw_ef_search=64)
    assert choose_vectors(999, s) == VectorSpec("flat")
    assert choose_vectors(1000, s) == VectorSpec("hnsw", 16, 40, 64)
    assert choose_vectors(10**9, s.replace(ann_min_chunks=0)).kind == "flat"
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
    np.testing.assert_allclose(dense.all_scores(q), x @ q, rtol=0, atol=1e-6)
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
    embedder = load_embedder(settings.embed.model)
    results = {}
    for kind, limit in (("flat", 0), ("hnsw", 1)):
        # exact_pool=0: steered parts are searched in the graph too
        s = settings.replace(index_dir=tmp_path / kind, ann_min_chunks=limit, exact_pool=0)
        run_build(s, lambda: embedder, progress=False)
        manifest = G.read_manifest(G.current_generation(s.index_dir))
        assert manifest["vectors"]["kind"] == kind
        retriever = Engine(s, embedder).retriever
        assert retriever.ranker.dense.exact == (kind == "flat")
        results[kind] = [
            [(p.chunk.chunk_id, round(p.score, 5)) for p in retriever.search(q, k=5).passages]
            for q in QUESTIONS
        ]
    assert results["hnsw"] == results["flat"]
    assert all(results["flat"])


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_stored_matrix_keeps_its_index_alive(tmp_path, kind):
    """A view of the stored vectors stays valid after the caller drops the faiss index (it
    used to point into freed, or with a memory-mapped file unmapped, memory)."""
    import gc

    from rag_qa.index.vectors import stored_matrix

    x = unit_rows(4000, d=64)
    write_vectors(x, tmp_path / "v.faiss", VectorSpec(kind, m=8, ef_construction=40))
    matrix = stored_matrix(read_vectors(tmp_path / "v.faiss"))
    gc.collect()
    junk = [np.ones(4000 * 64, dtype=np.float32) for _ in range(8)]  # reuse freed memory
    np.testing.assert_array_equal(matrix, x)
    del junk


def test_all_scores_of_a_memory_mapped_flat_index(tmp_path):
    """The mapped vectors sit at an unaligned address (numpy's slow path); all_scores reads
    them in place with faiss's kernel: numpy's products to float32 rounding, and the ranking
    faiss's own flat search gives."""
    x = unit_rows(3000, d=48, seed=3)
    write_vectors(x, tmp_path / "v.faiss", VectorSpec("flat"))
    index = read_vectors(tmp_path / "v.faiss")
    dense = DenseIndex(index)
    copy = np.array(dense.matrix)
    for q in unit_rows(20, d=48, seed=4):
        got = dense.all_scores(q)
        assert got.dtype == np.float32 and got.shape == (3000,)
        np.testing.assert_allclose(got, copy @ q, rtol=0, atol=1e-6)
        _, ids = index.search(q.reshape(1, -1), 10)
        assert np.argsort(-got, kind="stable")[:10].tolist() == ids[0].tolist()
    q64 = unit_rows(1, d=48, seed=5)[0].astype(np.float64)
    np.testing.assert_allclose(dense.all_scores(q64), copy @ q64, rtol=0, atol=1e-6)
    write_vectors(np.zeros((0, 48), np.float32), tmp_path / "empty.faiss", VectorSpec("flat"))
    assert DenseIndex(read_vectors(tmp_path / "empty.faiss")).all_scores(q64).shape == (0,)


def test_period_steering_matches_overlaps_for_every_document(tmp_path, settings):
    """Retriever._in_period (vectorised) selects exactly the documents ``overlaps`` does."""
    from datetime import date

    corpus = settings.corpus_dir
    for i, (start, end, published) in enumerate(
        [
            ("2018-03-05", "2018-03-16", "2018-04-20"),
            ("2019-12-30", "2020-01-10", None),
            (None, None, "2021-06-01"),
            ("2022-02-01", None, "2022-03-01"),  # half a visit span: only the date counts
            (None, None, None),
        ]
    ):
        meta = {k: v for k, v in (("visit_start", start), ("visit_end", end)) if v}
        if published:
            meta["date"] = published
        write_text(corpus / f"doc{i}.txt", f"Report {i} about care leavers and caseloads.")
        write_text(corpus / f"doc{i}.txt.meta.json", __import__("json").dumps(meta))
    embedder = load_embedder(settings.embed.model)
    run_build(settings, lambda: embedder, progress=False)
    table = Engine(settings, embedder).retriever.table
    docs = list(table.docs.values())
    assert any(d.visit_start and d.visit_end for d in docs) and any(d.date for d in docs)
    days = [date(2017, 12, 1), date(2018, 3, 16), date(2018, 3, 17), date(2019, 12, 31),
            date(2020, 1, 10), date(2021, 6, 1), date(2022, 2, 15), date(2023, 1, 1)]  # fmt: skip
    for a in days:
        for b in days:
            if a <= b:
                expected = {d.doc_id for d in docs if overlaps(d, a, b)}
                hit = table.in_period(a, b)  # one boolean per document code
                assert {table.doc_ids[i] for i in np.flatnonzero(hit)} == expected


def test_hnsw_search_under_a_selective_mask_finds_the_allowed_neighbours(tmp_path):
    """The graph keeps only allowed neighbours: with a 3% mask and efSearch as configured it
    finds too few of them (here 0.81 of the top 10; a year's passages at 1M: 0.54), so a
    selective mask widens efSearch (by up to settings.index.mask_ef_factor)."""
    x = unit_rows(20_000, seed=6)
    write_vectors(x, tmp_path / "v.faiss", VectorSpec("hnsw", m=16, ef_construction=40))
    dense = DenseIndex(read_vectors(tmp_path / "v.faiss"), ef_search=128)
    mask = np.zeros(20_000, dtype=bool)
    mask[np.random.default_rng(7).choice(20_000, 600, replace=False)] = True
    allowed = np.flatnonzero(mask)
    hits = 0
    for q in unit_rows(40, seed=8):
        got = dense.top(q, 10, mask)
        assert mask[got].all()
        best = allowed[np.argsort(-(x[allowed] @ q))[:10]]
        hits += len(set(got.tolist()) & set(best.tolist()))
    assert hits / 400 >= 0.9
