"""The index build's embedding stage: chunk texts in, one vector per distinct text out.

Documents are fed in as they are parsed. Each chunk's text (with its context prefix) is keyed
by a hash of the model, the precision and the exact text; a key already in the embedding cache
(the previous generation's store) is not encoded again, and the rest are encoded in batches as
soon as a batch is full, so that the model encodes one file's chunks while worker processes
parse the next files (``rag_qa.ingest.pdf_sandbox``). An embedder with ``bulk = True`` (Ray Data, see
``rag_qa.embed.distributed``) is given every text at once instead, at the end.

An embedder with ``encode_spans`` (the sentence-transformers one) also gives, from the same
forward pass, the vectors of each passage's sentences (``rag_qa.index.sentences``); they are
cached with the passage vector, and a cached passage without them is encoded again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time

import numpy as np

from rag_qa.embed.model import GROUP_BATCHES, Embedder, embed_text, encode_spans
from rag_qa.index.sentences import SENTENCE_VERSION, pack
from rag_qa.index.store import Store
from rag_qa.records import Chunk, Document
from rag_qa.settings import Settings
from rag_qa.text.sentences import unit_spans


def embed_key(model: str, precision: str, text: str) -> str:
    return hashlib.sha256(f"{model}\0{precision}\0{text}".encode()).hexdigest()[:32]


class EmbedStage:
    def __init__(self, embedder: Embedder, settings: Settings, cache: Store | None = None):
        self.embedder = embedder
        self.settings = settings
        self.cache = cache
        self.model_name = embedder.name
        self.precision = getattr(embedder, "precision", "fp32")
        self.bulk = bool(getattr(embedder, "bulk", False))
        self.batch = max(1, settings.embed.batch_size) * GROUP_BATCHES
        self.key_of: dict[str, str] = {}  # chunk_id -> embedding key
        self.vectors: dict[str, np.ndarray] = {}  # key -> vector (cached or encoded)
        self.pending: dict[str, str] = {}  # key -> text, still to encode
        self.spans: dict[str, list[tuple[int, int]]] = {}  # key -> its sentences in the text
        self.with_sentences = hasattr(embedder, "encode_spans")
        self.sentences: dict[str, bytes] = {}  # key -> packed sentence vectors
        self.encoded = 0
        self.seconds = 0.0  # time spent encoding

    def add(self, doc: Document, chunks: list[Chunk]) -> None:
        """Key a document's chunks; look them up in the cache; encode when a batch is full."""
        new: dict[str, str] = {}
        for c in chunks:
            text = embed_text(
                doc,
                c,
                self.embedder.tokenizer,
                self.embedder.max_tokens,
                self.settings.ingest.embed_context,
            )
            key = embed_key(self.model_name, self.precision, text)
            self.key_of[c.chunk_id] = key
            if key not in self.vectors and key not in self.pending:
                new[key] = text
                at = len(text) - len(c.text)  # the passage ends the text given to the model
                self.spans[key] = [(at + a, at + b) for a, b in unit_spans(c.text)]
        if new and self.cache is not None:
            self._from_cache(list(new))
        self.pending.update((k, t) for k, t in new.items() if k not in self.vectors)
        if not self.bulk:
            while len(self.pending) >= self.batch:
                self._encode(self.batch)

    def _from_cache(self, keys: list[str]) -> None:
        """Cached vectors of ``keys``: a passage's only with its sentences, when the
        embedder gives those."""
        try:
            found = self.cache.get_embeddings(keys, self.embedder.dim)
            if self.with_sentences:
                sentences = self.cache.get_sentences(list(found), SENTENCE_VERSION)
                found = {k: v for k, v in found.items() if k in sentences}
                self.sentences.update(sentences)
        except sqlite3.Error:
            self.cache = None  # an unreadable cache is no cache
            return
        self.vectors.update(found)

    def finish(self) -> dict[str, np.ndarray]:
        """Encode whatever is left; every key's vector."""
        while self.pending:
            self._encode(len(self.pending) if self.bulk else self.batch)
        return self.vectors

    def _encode(self, n: int) -> None:
        keys = list(self.pending)[:n]
        started = time.perf_counter()
        vecs, pooled = encode_spans(
            self.embedder,
            [self.pending[k] for k in keys],
            [self.spans[k] for k in keys],
            batch_size=self.settings.embed.batch_size,
        )
        self.seconds += time.perf_counter() - started
        for i, (key, vec) in enumerate(zip(keys, vecs, strict=True)):
            self.vectors[key] = vec
            if pooled is not None:
                self.sentences[key] = pack(pooled[i])
            del self.pending[key]
        self.encoded += len(keys)
