"""The build's embedding stage: batches encoded as documents arrive, cache hits not encoded."""

import numpy as np
from conftest import HashEmbedder

from rag_qa.index.embed_stage import EmbedStage
from rag_qa.index.store import Store
from rag_qa.ingest.chunking import chunk_document
from rag_qa.records import Document, Page
from rag_qa.settings import Settings

SETTINGS = Settings.make(batch_size=2, chunk_tokens=20, overlap_tokens=0)  # batches of 16 texts


def document(n: int, words: int = 300) -> tuple[Document, list]:
    text = " ".join(f"Sentence {n} number {i} about care leavers." for i in range(words // 6))
    doc = Document(
        doc_id=f"d{n}",
        source=f"d{n}.txt",
        title=f"Report {n}",
        doc_type="document",
        date=None,
        visit_start=None,
        visit_end=None,
        dates=(),
        pages=(Page(None, text),),
        content_hash=f"h{n}",
    )
    emb = HashEmbedder()
    return doc, chunk_document(doc, emb.tokenizer, SETTINGS.ingest.chunk_tokens, 0)


def test_batches_are_encoded_while_documents_arrive():
    emb = HashEmbedder()
    stage = EmbedStage(emb, SETTINGS)
    doc, chunks = document(1)
    assert len(chunks) > 16
    stage.add(doc, chunks)
    assert emb.calls and all(n == 16 for n in emb.calls)  # full batches only, before finish
    assert len(stage.pending) < 16
    vectors = stage.finish()
    assert sum(emb.calls) == stage.encoded == len(chunks) == len(vectors)
    assert not stage.pending
    key = stage.key_of[chunks[3].chunk_id]
    expected = emb.encode([stage_text(stage, doc, chunks[3])])[0]
    np.testing.assert_array_equal(vectors[key], expected)


def stage_text(stage, doc, chunk):
    from rag_qa.embed.model import embed_text

    return embed_text(doc, chunk, stage.embedder.tokenizer, stage.embedder.max_tokens, True)


def test_cached_vectors_are_not_encoded_again(tmp_path):
    emb = HashEmbedder()
    first = EmbedStage(emb, SETTINGS)
    doc, chunks = document(2)
    first.add(doc, chunks)
    cache = Store.create(tmp_path / "c.sqlite")
    cache.put_embeddings(list(first.finish().items()))
    cache.commit()

    emb2 = HashEmbedder()
    second = EmbedStage(emb2, SETTINGS, cache)
    second.add(doc, chunks)
    other, other_chunks = document(3)
    second.add(other, other_chunks)
    vectors = second.finish()
    assert second.encoded == sum(emb2.calls) == len(other_chunks)  # only the new document
    for c in chunks:
        np.testing.assert_array_equal(
            vectors[second.key_of[c.chunk_id]], first.vectors[first.key_of[c.chunk_id]]
        )


def test_a_bulk_embedder_gets_every_text_in_one_call():
    emb = HashEmbedder()
    emb.bulk = True
    stage = EmbedStage(emb, SETTINGS.replace(batch_size=1))
    total = 0
    for n in range(3):
        doc, chunks = document(10 + n)
        stage.add(doc, chunks)
        total += len(chunks)
    assert emb.calls == []
    stage.finish()
    assert emb.calls == [total]


def test_the_same_text_twice_is_encoded_once():
    emb = HashEmbedder()
    stage = EmbedStage(emb, SETTINGS)
    doc, chunks = document(4, words=30)
    stage.add(doc, chunks)
    stage.add(doc, chunks)
    stage.finish()
    assert sum(emb.calls) == len(set(stage.key_of.values())) == len(chunks)
