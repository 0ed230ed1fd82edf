"""Opening the live index generation for reading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag_qa.index import generations as G
from rag_qa.index.bm25 import Bm25Index
from rag_qa.index.sentences import SENTENCE_VERSION, SentenceSet, unpack
from rag_qa.index.store import Store
from rag_qa.index.vectors import read_vectors
from rag_qa.records import Chunk, Document
from rag_qa.settings import Settings


@dataclass
class LoadedIndex:
    generation: Path
    manifest: dict
    store: Store
    vectors: object  # faiss.Index
    documents: dict[str, Document]  # without their page texts: see ``document``
    bm25: Bm25Index

    def chunks(self, vec_ids: list[int]) -> dict[int, Chunk]:
        return self.store.chunks_by_vec_ids(vec_ids)

    def sentence_sets(self, chunk_ids: list[str]) -> dict[str, SentenceSet]:
        """The stored sentence vectors of these passages (those that have them)."""
        dim = int(self.manifest.get("dim", 0))
        found = {}
        for chunk_id, blob in self.store.sentences_of(chunk_ids, SENTENCE_VERSION).items():
            sentences = unpack(blob, dim)
            if sentences is not None:
                found[chunk_id] = sentences
        return found

    def document(self, doc_id: str) -> Document | None:
        """One document with its page texts, read from the store when asked for."""
        return self.store.document(doc_id) if doc_id in self.documents else None

    def close(self) -> None:
        self.store.close()


def open_index(settings: Settings) -> LoadedIndex:
    """Load the live generation, refusing a missing, damaged or mismatched index."""
    index_dir = settings.index_dir
    gen = G.current_generation(index_dir)
    if gen is None:
        raise G.IndexError_(
            f"no index in {index_dir}; build it with: rag-qa index --corpus {settings.corpus_dir}"
        )
    manifest = G.read_manifest(gen)
    G.check_compatible(manifest, settings, index_dir)
    store_path, vec_path, bm25_path = gen / G.STORE, gen / G.VECTORS, gen / G.BM25
    for path in (store_path, vec_path, bm25_path):
        if not path.exists():
            raise G.IndexError_(f"{path} is missing; repair the index with: rag-qa index --full")
    try:
        vectors = read_vectors(vec_path)
    except RuntimeError as err:
        raise G.IndexError_(
            f"{vec_path} is damaged ({str(err).splitlines()[0][:120]}); "
            "repair it with: rag-qa index --full"
        ) from err
    try:
        store = Store(store_path)
        documents = {d.doc_id: d for d in store.documents(pages=False)}
        n_chunks = store.count("chunks")
    except Exception as err:  # sqlite3.DatabaseError and friends
        raise G.IndexError_(
            f"{store_path} is damaged ({err}); repair it with: rag-qa index --full"
        ) from err
    try:
        bm25 = Bm25Index.load(bm25_path)
    except (OSError, ValueError, KeyError) as err:
        raise G.IndexError_(
            f"{bm25_path} is damaged ({err}); repair it with: rag-qa index --full"
        ) from err
    if not (vectors.ntotal == n_chunks == manifest.get("chunks") == bm25.size):
        raise G.IndexError_(
            f"the index in {gen} is inconsistent ({vectors.ntotal} vectors, {n_chunks} chunks); "
            "repair it with: rag-qa index --full"
        )
    if vectors.d != manifest.get("dim"):
        raise G.IndexError_(
            f"{vec_path} has {vectors.d} dimensions, manifest says {manifest.get('dim')}; run: rag-qa index --full"
        )
    return LoadedIndex(gen, manifest, store, vectors, documents, bm25)
