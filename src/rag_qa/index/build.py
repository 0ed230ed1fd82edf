"""``rag-qa index``: bring ``index/`` in line with ``corpus/``.

Compares the corpus with the live generation's manifest, parses only new and changed files,
copies unchanged documents and their chunks across, embeds only chunk texts whose embedding is
not cached, and publishes the result as a new generation (see ``generations``).

The stages, each in its own module: **plan** (``plan``: what changed, the embedding cache),
**parse** (``parse``: load, metadata, chunks; a bad file is a skip; files parsed before come
from ``parse_cache``, by content and parse settings), **embed**
(``rag_qa.index.embed_stage.EmbedStage``) and **write** (``write``: store, vectors, BM25, manifest,
atomic publication; then the parse cache and old generations are pruned).

Seams, for tests and tools (no patching of module internals): ``run_build(..., on_stage=f)``
calls ``f`` with each name of ``STAGES`` as the build reaches it, in this order:

    embed      a tmp-* generation exists with its store open; the last vectors are not
               computed yet (none at all while the new chunks fit one batch of
               embed.batch_size x 8: full batches are encoded while files are parsed)
    faiss      store committed and vectors.faiss written; no BM25 or manifest yet
    publish    the new generation renamed to gen-NNNNNN; CURRENT still names the old one
    committed  CURRENT names the new generation; old generations not pruned yet

and ``run_build(..., reader=CorpusReader(...))`` replaces how corpus/ is listed and read.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from rag_qa.embed.model import Embedder, lexical_text
from rag_qa.index import generations as G
from rag_qa.index.embed_stage import EmbedStage
from rag_qa.index.parse import CorpusReader, parse_files
from rag_qa.index.parse_cache import ParseCache
from rag_qa.index.plan import Plan, embedding_cache, plan_build
from rag_qa.index.store import Store
from rag_qa.index.summary import BuildError, BuildSummary
from rag_qa.index.write import Content, publish, write_generation
from rag_qa.records import Chunk, Document
from rag_qa.settings import Settings

__all__ = ["STAGES", "BuildError", "BuildSummary", "CorpusReader", "run_build"]

STAGES = ("embed", "faiss", "publish", "committed")


def _unobserved(stage: str) -> None:
    pass


def run_build(
    settings: Settings,
    embedder_factory: Callable[[], Embedder],
    full: bool = False,
    wait: bool = False,
    progress: bool | None = None,
    *,
    reparse: bool = False,
    on_stage: Callable[[str], None] | None = None,
    reader: CorpusReader | None = None,
) -> BuildSummary:
    """Build or refresh the index; returns what was done. Raises BuildError when nothing
    usable results (empty corpus, every file broken). ``full``: from scratch, nothing taken
    from the live generation (documents, chunks, embeddings) but parsed files from the parse
    cache; ``reparse``: from scratch with every file parsed again, embeddings still cached
    unless ``full``. ``on_stage`` and ``reader``: the seams described in the module's
    docstring."""
    corpus_dir, index_dir = settings.corpus_dir, settings.index_dir
    if progress is None:
        progress = sys.stderr.isatty()
    if not corpus_dir.is_dir():
        raise BuildError(
            f"corpus folder {corpus_dir} does not exist; create it and add PDF or text files"
        )
    on_stage = on_stage or _unobserved
    reader = reader or CorpusReader()
    started = time.perf_counter()
    summary = BuildSummary()
    timings = {"scan": 0.0, "parse": 0.0, "chunk": 0.0, "embed": 0.0, "write": 0.0}
    with G.build_lock(index_dir, wait=wait):
        G.prune(index_dir)
        # plan
        plan = plan_build(settings, full or reparse, reader.list_files, summary, timings)
        needs_model = plan.to_parse or summary.full or plan.old is None
        embedder = embedder_factory() if needs_model else None
        cache = embedding_cache(settings, plan.old, full)
        stage = EmbedStage(embedder, settings, cache) if embedder else None
        # parse (the embed stage encodes full batches meanwhile)
        parse_cache = ParseCache(settings, read=not reparse)
        parsed = parse_files(settings, plan, reader, stage, summary, timings, progress, parse_cache)
        if plan.old is not None and not summary.has_changes and not plan.to_parse:
            return _up_to_date(plan, summary, timings, started, index_dir)
        docs = plan.docs + parsed.docs
        if not docs:
            reasons = "; ".join(f"{s}: {r}" for s, r in summary.skipped.items())
            raise BuildError(f"nothing could be indexed from {corpus_dir} ({reasons})")
        if stage is None:  # only deletions: no model needed, vectors come from the cache
            stage = EmbedStage(embedder_factory(), settings, cache)
        chunks = {**plan.chunks, **parsed.chunks}
        entries = {**plan.entries, **parsed.entries}
        content = _lay_out(docs, chunks, entries, stage, settings)
        with G.tmp_generation(index_dir) as tmp:
            store = Store.create(tmp / G.STORE)
            # embed
            on_stage("embed")
            vectors = stage.finish()
            if cache is not None and cache is not plan.old:
                cache.close()
            timings["embed"] = stage.seconds
            summary.chunks_embedded = stage.encoded
            # write
            t4 = time.perf_counter()
            write_generation(settings, tmp, store, content, vectors, stage, summary, on_stage)
            if plan.old is not None:
                plan.old.close()
            summary.generation = publish(index_dir, tmp, on_stage).name
            parse_cache.prune(entries)  # what the new generation's files do not use
            timings["write"] = time.perf_counter() - t4
        G.prune(index_dir)
    summary.timings = timings
    summary.seconds = time.perf_counter() - started
    summary.removed = sorted(set(summary.removed))
    return summary


def _lay_out(
    docs: list[Document],
    chunks: dict[str, list[Chunk]],
    entries: dict[str, dict],
    stage: EmbedStage,
    settings: Settings,
) -> Content:
    """The new generation's documents in source order and its rows, every chunk keyed for
    embedding (unchanged documents' chunks too: their vectors come from the cache)."""
    docs = sorted(docs, key=lambda d: d.source)
    for doc in docs:
        if any(c.chunk_id not in stage.key_of for c in chunks[doc.doc_id]):
            stage.add(doc, chunks[doc.doc_id])
    rows: list[tuple[int, Chunk, str]] = []
    lexical_texts: list[str] = []
    for doc in docs:
        for c in chunks[doc.doc_id]:
            rows.append((len(rows), c, stage.key_of[c.chunk_id]))
            lexical_texts.append(lexical_text(doc, c, settings.ingest.embed_context))
    return Content(docs, chunks, rows, lexical_texts, entries)


def _up_to_date(
    plan: Plan, summary: BuildSummary, timings: dict[str, float], started: float, index_dir: Path
) -> BuildSummary:
    """Nothing to do: the live generation already matches the corpus."""
    plan.old.close()  # also the embedding cache, which is the old store when there is one
    summary.documents = int(plan.manifest.get("documents", 0))
    summary.chunks = int(plan.manifest.get("chunks", 0))
    summary.generation = G.current_generation(index_dir).name
    summary.seconds = time.perf_counter() - started
    summary.timings = timings
    return summary
