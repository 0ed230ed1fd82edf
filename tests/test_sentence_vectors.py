"""Sentence vectors stored at index time: packing, the build, the answer without a model call,
questions encoded together."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import numpy as np
import pytest
from conftest import HashEmbedder, write_text

from rag_qa.embed.model import SpanVectors
from rag_qa.engine import Engine
from rag_qa.index import generations as G
from rag_qa.index.build import run_build
from rag_qa.index.sentences import SENTENCE_VERSION, pack, unpack
from rag_qa.index.store import Store


class SpanHashEmbedder(HashEmbedder):
    """The fake with span vectors: each span's vector is its own text's (bag of words)."""

    def encode_spans(self, texts, spans, batch_size=32):
        vecs = self.encode(texts)
        pooled = []
        for text, wanted in zip(texts, spans, strict=True):
            pieces = [text[a:b] for a, b in wanted]
            means = self.encode(pieces) if pieces else np.zeros((0, self.dim), np.float32)
            counts = np.array([len(p.split()) for p in pieces], dtype=np.int32)
            pooled.append(SpanVectors(means, counts))
        return vecs, pooled


def test_packing_keeps_cosines_within_a_hundredth():
    rng = np.random.default_rng(7)
    means = rng.normal(size=(40, 384)).astype(np.float32)
    counts = rng.integers(1, 40, size=40).astype(np.int32)
    counts[5], means[5] = 0, 0.0  # a sentence the model did not read
    blob = pack(SpanVectors(means, counts))
    got = unpack(blob, 384)
    assert len(blob) == 4 + 40 * (8 + 192)  # 4 bits a dimension
    dirs = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    q = rng.normal(size=384).astype(np.float32)
    q /= np.linalg.norm(q)
    read = counts > 0
    err = np.abs(got.dirs[read] @ q - dirs[read] @ q)
    assert err.max() < 0.02 and err.mean() < 0.006
    assert not got.dirs[5].any() and got.weights[5] == 0
    # Two sentences joined: the token-weighted mean of their means.
    union = (counts[0] * means[0] + counts[1] * means[1]) / (counts[0] + counts[1])
    union /= np.linalg.norm(union)
    assert float(got.joined([0, 1]) @ union) > 0.99
    assert unpack(blob[:-1], 384) is None and unpack(blob, 256) is None
    # Kept for the recent passages: the same blob gives the same (shared, read-only) set.
    assert unpack(bytes(blob), 384) is got
    with pytest.raises(ValueError, match="read-only"):
        got.dirs[0, 0] = 1.0


@pytest.fixture
def span_model(monkeypatch):
    from rag_qa.embed import model as embedding

    shared = SpanHashEmbedder()
    monkeypatch.setitem(embedding.REGISTRY, "test-hash", lambda: shared)
    return shared


def _sentence_rows(settings) -> dict[str, bytes]:
    store = Store(G.current_generation(settings.index_dir) / G.STORE)
    try:
        return dict(store.db.execute("SELECT key, data FROM sentences").fetchall())
    finally:
        store.close()


def test_the_build_stores_every_passages_sentences_and_reuses_them(settings, span_model):
    first = run_build(settings, lambda: span_model)
    rows = _sentence_rows(settings)
    assert first.sentence_passages == first.chunks == len(rows) > 0
    write_text(settings.corpus_dir / "extra.txt", "Caseloads are manageable. Morale is good.")
    span_model.calls.clear()
    second = run_build(settings, lambda: span_model)
    assert second.chunks_embedded == 1  # only the new file's passage was encoded
    assert set(rows) <= set(_sentence_rows(settings))


def test_a_cache_without_sentence_vectors_encodes_the_passages_again(settings, span_model):
    plain = HashEmbedder()
    first = run_build(settings, lambda: plain)  # an embedder without span vectors: none stored
    assert not _sentence_rows(settings)
    # Another pipeline version: rebuilt from scratch, the live store the embedding cache.
    other = replace(settings, index=replace(settings.index, pipeline_version=99))
    again = run_build(other, lambda: span_model)
    assert again.chunks_embedded == first.chunks  # cached vectors, but no sentences: encoded
    assert len(_sentence_rows(other)) == first.chunks
    newer = replace(settings, index=replace(settings.index, pipeline_version=100))
    assert run_build(newer, lambda: span_model).chunks_embedded == 0  # both cached now


def test_an_old_store_has_no_sentence_vectors(tmp_path):
    db = sqlite3.connect(tmp_path / "old.sqlite")
    db.execute("CREATE TABLE chunks (chunk_id TEXT, embed_key TEXT)")
    db.commit()
    db.close()
    store = Store(tmp_path / "old.sqlite")
    assert store.get_sentences(["k"], SENTENCE_VERSION) == {}
    assert store.sentences_of(["c"], SENTENCE_VERSION) == {}
    store.close()


def test_the_answer_scores_stored_sentence_vectors_without_the_model(settings, span_model):
    run_build(settings, lambda: span_model)
    engine = Engine(settings, span_model)
    result = engine.search("What did the 2023 inspection say about management oversight?")
    span_model.calls.clear()
    answer = engine.answer(result)
    assert not answer.abstained and answer.sentences
    assert span_model.calls == []  # the question's vector came from the search
    live = Engine(settings, HashEmbedder())  # no stored vectors used: the model scores them
    assert [s.text for s in live.answer(result).sentences] == [s.text for s in answer.sentences]


def test_questions_asked_together_are_encoded_in_one_call(settings, span_model):
    run_build(settings, lambda: span_model)
    engine = Engine(settings, span_model)
    questions = [
        "What did the 2023 inspection say about management oversight?",
        "How were care leavers supported in 2019?",
        "What did inspectors find about caseloads?",
    ]
    span_model.calls.clear()
    turns = engine.ask_many(questions, timeline=False)
    assert span_model.calls == [3]
    assert [t.question for t in turns] == questions
    single = [engine.ask(q, timeline=False) for q in questions]
    assert [t.answer.text for t in turns] == [t.answer.text for t in single]
    assert all("answer" in t.result.timings and "steer" in t.result.timings for t in turns)


def test_warm_up_runs_the_whole_path_once(settings, span_model):
    run_build(settings, lambda: span_model)
    engine = Engine(settings, span_model)
    span_model.calls.clear()
    assert engine.warm_up() >= 0 and span_model.calls and engine.answered == 0


def test_a_timeline_encodes_its_topic_once_for_every_report(settings, span_model):
    run_build(settings, lambda: span_model)
    engine = Engine(settings, span_model)
    span_model.calls.clear()
    engine.timeline("How has management oversight changed over the years?")
    assert span_model.calls == [1]


def test_near_the_line_only_the_best_chosen_sentences_are_encoded_alone():
    """Weak evidence is read again by encoding the first ``confirm_sentences`` chosen
    sentences alone; their best cosine becomes the similarity abstention is decided on."""
    from rag_qa.answer.extract import AnswerSentence, Selection, SentenceVectors, _confirmed
    from rag_qa.settings import AnswerSettings

    q = np.array([1.0, 0.0], dtype=np.float32)
    rows = {"best": [0.6, 0.8], "next": [0.8, 0.6], "last": [1.0, 0.0]}
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return np.array([rows[t] for t in texts], dtype=np.float32)

    chosen = [AnswerSentence(t, 1, 1.0 - i / 10) for i, t in enumerate(rows)]
    vectors = SentenceVectors(question=q, embed=embed)
    s = AnswerSettings(confirm_sentences=2)
    weak = _result(coverage=0.15)
    got = _confirmed(Selection(chosen, 0.45), weak, s, vectors)
    assert calls == [["best", "next"]] and got.similarity == pytest.approx(0.8)
    assert got.sentences == chosen
    calls.clear()  # clear evidence is left as it is, with no model call
    assert _confirmed(Selection(chosen, 0.6), weak, s, vectors).similarity == 0.6
    assert _confirmed(Selection(chosen, 0.45), _result(coverage=0.5), s, vectors)
    assert calls == []


def _result(**changed):
    """A search result as the answer reads it: passages, coverage, the flags."""
    from types import SimpleNamespace

    fields = {"passages": ["p"], "no_match": False, "states_judgement": False, "coverage": 0.15}
    return SimpleNamespace(**{**fields, **changed})


@pytest.mark.parametrize(
    "changed",
    [{"coverage": 0.05}, {"no_match": True}, {"states_judgement": True}],
    ids=["abstains-on-coverage", "no-matching-document", "states-the-judgement"],
)
def test_no_sentence_is_encoded_alone_where_its_similarity_decides_nothing(changed):
    """Near the line, but the answer abstains anyway (coverage under min_coverage, no
    matching document) or answers anyway (a passage states the judgement asked about): no
    model call, and the stored similarity is kept. (5 of the 9 Slough questions that made
    the call in bench.py were of these.)"""
    from rag_qa.answer.extract import AnswerSentence, Selection, SentenceVectors, _confirmed
    from rag_qa.settings import AnswerSettings

    calls = []

    def embed(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 2), dtype=np.float32)

    vectors = SentenceVectors(question=np.array([1.0, 0.0], dtype=np.float32), embed=embed)
    chosen = [AnswerSentence("A sentence near the line.", 1, 1.0)]
    s = AnswerSettings()
    assert _confirmed(Selection(chosen, 0.45), _result(**changed), s, vectors).similarity == 0.45
    assert calls == []
    assert _confirmed(Selection(chosen, 0.45), _result(), s, vectors).similarity == 1.0
    assert calls == [["A sentence near the line."]]
