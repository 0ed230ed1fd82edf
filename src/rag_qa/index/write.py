"""The build's write stage: a complete generation written aside, then published.

Into a ``tmp-*`` folder go the store (documents, chunks, embeddings), the vectors, the BM25
index and the manifest; the folder is then renamed to the next ``gen-NNNNNN`` and CURRENT is
pointed at it (``generations``), so a crash at any moment leaves the previous index usable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag_qa import __version__
from rag_qa.index import generations as G
from rag_qa.index.bm25 import Bm25Index
from rag_qa.index.embed_stage import EmbedStage
from rag_qa.index.plan import file_stat
from rag_qa.index.sentences import SENTENCE_VERSION
from rag_qa.index.store import Store
from rag_qa.index.summary import BuildSummary
from rag_qa.index.vectors import VectorSpec, choose_vectors, write_vectors
from rag_qa.ingest.loaders import file_hash
from rag_qa.records import Chunk, Document
from rag_qa.settings import Settings


@dataclass(frozen=True)
class Content:
    """Everything the new generation holds."""

    docs: list[Document]  # sorted by source
    chunks: dict[str, list[Chunk]]  # doc_id -> its chunks
    rows: list[tuple[int, Chunk, str]]  # vec_id, chunk, embedding key: in document order
    lexical_texts: list[str]  # what BM25 indexes, one per row
    entries: dict[str, dict]  # source -> manifest entry (sha256, size, mtime_ns)


def write_generation(
    settings: Settings,
    tmp: Path,
    store: Store,
    content: Content,
    vectors: dict[str, np.ndarray],
    stage: EmbedStage,
    summary: BuildSummary,
    on_stage: Callable[[str], None],
) -> None:
    """Fill ``tmp``, whose ``store`` is open: the store, the vectors (then ``on_stage("faiss")``),
    BM25 and the manifest. Records documents and chunks in ``summary``."""
    for doc in content.docs:
        store.add_document(doc)
    store.add_chunks(content.rows)
    store.put_embeddings(list(vectors.items()))
    keys = {key for _, _, key in content.rows}
    stored = [(k, b) for k, b in stage.sentences.items() if k in keys]
    store.put_sentences(stored, SENTENCE_VERSION)
    summary.sentence_passages = len(stored)
    store.commit()
    store.close()
    matrix = np.vstack([vectors[key] for _, _, key in content.rows]).astype(np.float32)
    spec = choose_vectors(len(matrix), settings)
    write_vectors(matrix, tmp / G.VECTORS, spec)
    on_stage("faiss")
    bm25 = settings.index
    Bm25Index.build(content.lexical_texts, bm25.bm25_k1, bm25.bm25_b).save(tmp / G.BM25)
    summary.documents = len(content.docs)
    summary.chunks = len(content.rows)
    manifest = _manifest(settings, content, stage, spec, summary.skipped)
    (tmp / G.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))


def publish(index_dir: Path, tmp: Path, on_stage: Callable[[str], None]) -> Path:
    """``generations.publish``, with ``on_stage("publish")`` once the generation is in place
    and ``on_stage("committed")`` once CURRENT names it."""
    final = G.rename_into_place(index_dir, tmp)
    on_stage("publish")
    G.switch_current(index_dir, final)
    on_stage("committed")
    return final


def _manifest(
    settings: Settings,
    content: Content,
    stage: EmbedStage,
    spec: VectorSpec,
    skipped: dict[str, str],
) -> dict:
    corpus_dir = settings.corpus_dir
    return {
        "format": G.FORMAT,
        "rag_qa_version": __version__,
        "index_key": settings.index_key(),
        "settings": settings.index_params(),
        "model": stage.model_name,
        "dim": int(stage.embedder.dim),
        "precision": stage.precision,
        "vectors": spec.to_json(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "documents": len(content.docs),
        "chunks": len(content.rows),
        "files": {
            d.source: {
                **content.entries[d.source],
                "doc_id": d.doc_id,
                "title": d.title,
                "doc_type": d.doc_type,
                "date": d.date,
                "pages": len(d.pages),
                "chunks": len(content.chunks[d.doc_id]),
            }
            for d in content.docs
        },
        "skipped": {
            s: {**_skip_entry(corpus_dir / s), "reason": r}
            for s, r in skipped.items()
            if (corpus_dir / s).exists()
        },
    }


def _skip_entry(path: Path) -> dict:
    try:
        size, mtime = file_stat(path)
        return {"sha256": file_hash(path), "size": size, "mtime_ns": mtime}
    except OSError:
        return {"sha256": "", "size": -1, "mtime_ns": -1}
