"""The build's parse stage: new and changed files loaded, given metadata and chunked.

A file parsed before (same content, same parse settings) is taken from the parse cache
(``rag_qa.index.parse_cache``) instead. Other PDFs are parsed in child processes under a time
and memory limit (``rag_qa.ingest.pdf_sandbox``), a few files ahead of the loop here; text
files are read here. A file that cannot be loaded is one skip entry with its reason, never a
stopped build. Each document's chunks go to the embedding stage as soon as they are cut, so
the model encodes while the next files are parsed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rag_qa.index.embed_stage import EmbedStage
from rag_qa.index.parse_cache import ParseCache
from rag_qa.index.plan import FileToParse, Plan
from rag_qa.index.summary import BuildSummary
from rag_qa.ingest.chunking import chunk_document
from rag_qa.ingest.loaders import LoadError, RawDocument, list_corpus, load_file
from rag_qa.ingest.metadata import build_document
from rag_qa.ingest.pdf_sandbox import PdfLimits, PdfParser
from rag_qa.records import Chunk, Document
from rag_qa.settings import Settings

log = logging.getLogger("rag_qa.index.build")  # every stage logs as the build
OCR_CACHE = "ocr-cache"  # in the index folder, beside the generations


@dataclass(frozen=True)
class CorpusReader:
    """How a build reads corpus/: listing it, loading one file (``load_file``'s arguments)
    and the PDF sandbox (made from limits and a worker count). ``run_build`` takes one, so a
    test can stand between the build and the files (delete one after it was listed, say)."""

    list_files: Callable[[Path], list[Path]] = list_corpus
    load: Callable[..., RawDocument] = load_file
    pdf_parser: Callable[[PdfLimits, int], PdfParser] = PdfParser


@dataclass(frozen=True)
class Parsed:
    docs: list[Document]
    chunks: dict[str, list[Chunk]]  # doc_id -> its chunks
    entries: dict[str, dict]  # source -> manifest entry (sha256, size, mtime_ns)


def parse_files(
    settings: Settings,
    plan: Plan,
    reader: CorpusReader,
    stage: EmbedStage | None,
    summary: BuildSummary,
    timings: dict[str, float],
    progress: bool,
    cache: ParseCache,
) -> Parsed:
    """Load and chunk ``plan.to_parse``, handing each document's chunks to ``stage``; a file
    that fails moves in ``summary`` from added or changed to skipped (and to removed when the
    old index held it). A file ``cache`` holds is taken from it (counted in
    ``summary.parse_cached``; never when it was made for ``--reparse``); every file loaded
    is stored in it. Adds to ``timings["parse"]`` and ``timings["chunk"]``."""
    corpus_dir, ingest = settings.corpus_dir, settings.ingest
    tokenizer = stage.embedder.tokenizer if stage else None
    docs: list[Document] = []
    chunks: dict[str, list[Chunk]] = {}
    entries: dict[str, dict] = {}
    t0 = time.perf_counter()
    cached = {f.source for f in plan.to_parse if cache.has(f)}
    timings["parse"] += time.perf_counter() - t0
    # OCR results are kept beside the generations, by content hash (a --reparse reuses them).
    limits = PdfLimits.from_settings(ingest, str(settings.index_dir / OCR_CACHE))
    pdf_parser = reader.pdf_parser(limits, ingest.pdf_workers)
    try:
        pdf_parser.prefetch(
            (f.path, f.source)
            for f in plan.to_parse
            if f.path.suffix.lower() == ".pdf" and cache.fits(f) and f.source not in cached
        )
        for f in _progress(plan.to_parse, progress, "parsing"):
            t1 = time.perf_counter()
            try:
                raw = cache.get(f) if f.source in cached else None
                loaded = raw is None
                if loaded:
                    raw = reader.load(f.path, corpus_dir, ingest.max_file_bytes, pdf_parser)
                doc = build_document(raw)
                if loaded:
                    cache.put(raw, f.path)
            except LoadError as err:
                _skip(f, err, plan.old_files, summary)
                continue
            finally:
                timings["parse"] += time.perf_counter() - t1
            summary.parse_cached += not loaded
            t2 = time.perf_counter()
            doc_chunks = chunk_document(
                doc, tokenizer, ingest.chunk_tokens, ingest.overlap_tokens, ingest.max_chunk_chars
            )
            timings["chunk"] += time.perf_counter() - t2
            for w in doc.warnings:
                log.warning("%s", w)
            entries[f.source] = {**f.entry, "sha256": raw.content_hash}
            docs.append(doc)
            chunks[doc.doc_id] = doc_chunks
            summary.pages += len(doc.pages)
            stage.add(doc, doc_chunks)  # encodes a batch whenever one is full
    finally:
        pdf_parser.close()
    return Parsed(docs, chunks, entries)


def _skip(f: FileToParse, err: LoadError, old_files: dict, summary: BuildSummary) -> None:
    log.warning("skipped %s", err)
    summary.skipped[f.source] = load_reason(err)
    for bucket in (summary.added, summary.changed):
        if f.source in bucket:
            bucket.remove(f.source)
    if f.source in old_files:
        summary.removed.append(f.source)


def load_reason(err: LoadError) -> str:
    """A skipped file's reason for the summary and the manifest: problem; what to do."""
    return err.problem + (f"; {err.hint}" if err.hint else "")


def _progress(items: list[FileToParse], enabled: bool, desc: str) -> Iterable[FileToParse]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, leave=False, file=sys.stderr)
