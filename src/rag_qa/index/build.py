"""``rag-qa index``: bring ``index/`` in line with ``corpus/``.

Compares the corpus with the live generation's manifest, parses only new and changed files,
copies unchanged documents and their chunks across, embeds only chunk texts whose embedding is
not cached, and publishes the result as a new generation (see ``generations``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag_qa import __version__
from rag_qa.embed.model import Embedder, lexical_text, resolve_precision
from rag_qa.embed.stage import EmbedStage
from rag_qa.index import generations as G
from rag_qa.index.bm25 import Bm25Index
from rag_qa.index.loaded import open_index
from rag_qa.index.store import Store
from rag_qa.index.vectors import choose_vectors, write_vectors
from rag_qa.ingest.chunking import chunk_document
from rag_qa.ingest.loaders import LoadError, file_hash, list_corpus, load_file, sidecar_path
from rag_qa.ingest.metadata import build_document
from rag_qa.ingest.pdf_sandbox import PdfLimits, PdfParser
from rag_qa.records import Chunk, Document
from rag_qa.settings import Settings

log = logging.getLogger(__name__)


class BuildError(Exception):
    pass


@dataclass
class BuildSummary:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # source -> reason
    documents: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    full: bool = False
    note: str = ""
    generation: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    pages: int = 0

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "documents": self.documents,
            "chunks": self.chunks,
            "chunks_embedded": self.chunks_embedded,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
            "full": self.full,
            "note": self.note,
            "generation": self.generation,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    side = sidecar_path(path)
    mtime = st.st_mtime_ns
    if side.exists():
        mtime = max(mtime, side.stat().st_mtime_ns)
    return st.st_size, mtime


def _previous(settings: Settings, full: bool, summary: BuildSummary) -> tuple[dict, Store | None]:
    """The live generation's manifest and store, or nothing when a full build is due."""
    summary.full = True
    index_dir = settings.index_dir
    try:
        gen = G.current_generation(index_dir)
        if gen is None or full:
            return {}, None
        manifest = G.read_manifest(gen)
        G.check_compatible(manifest, settings, index_dir)
        wanted = resolve_precision(settings.embed.precision)
        if manifest.get("precision") != wanted:
            raise G.IndexError_(f"vectors are {manifest.get('precision')}, settings ask {wanted}")
        if not all((gen / name).exists() for name in (G.STORE, G.VECTORS, G.BM25)):
            raise G.IndexError_(f"{gen} is incomplete")
        open_index(settings).close()  # a damaged generation is rebuilt, not trusted
        summary.full = False
        return manifest, Store(gen / G.STORE)
    except G.IndexError_ as err:
        summary.note = f"previous index not reusable ({err}); rebuilt from scratch"
        return {}, None


def _embedding_cache(settings: Settings) -> Store | None:
    """The live generation's store as an embedding cache, even when its other settings no
    longer fit: cached vectors are keyed by model, precision and the exact text embedded."""
    try:
        gen = G.current_generation(settings.index_dir)
        if gen is not None and (gen / G.STORE).exists():
            return Store(gen / G.STORE)
    except (G.IndexError_, sqlite3.Error):
        pass
    return None


def run_build(
    settings: Settings,
    embedder_factory: Callable[[], Embedder],
    full: bool = False,
    wait: bool = False,
    progress: bool | None = None,
) -> BuildSummary:
    """Build or refresh the index; returns what was done. Raises BuildError when nothing
    usable results (empty corpus, every file broken)."""
    corpus_dir, index_dir = settings.corpus_dir, settings.index_dir
    if progress is None:
        progress = sys.stderr.isatty()
    if not corpus_dir.is_dir():
        raise BuildError(
            f"corpus folder {corpus_dir} does not exist; create it and add PDF or text files"
        )
    started = time.perf_counter()
    summary = BuildSummary()
    timings = {"scan": 0.0, "parse": 0.0, "chunk": 0.0, "embed": 0.0, "write": 0.0}
    with G.build_lock(index_dir, wait=wait):
        G.prune(index_dir)
        t0 = time.perf_counter()
        manifest, old = _previous(settings, full, summary)
        old_files = manifest.get("files", {})
        old_skipped = manifest.get("skipped", {})
        files = list_corpus(corpus_dir)
        if not files:
            raise BuildError(
                f"no PDF, .txt or .md files in {corpus_dir}; add documents and run rag-qa index again"
            )

        entries: dict[str, dict] = {}
        to_parse: list[tuple[Path, str, dict]] = []
        reuse: list[str] = []
        for path in files:
            source = path.relative_to(corpus_dir).as_posix()
            try:
                size, mtime = _stat(path)
            except OSError as err:
                summary.skipped[source] = _os_reason(err)
                log.warning("skipped %s: %s", source, summary.skipped[source])
                continue
            prev = old_files.get(source) or old_skipped.get(source)
            if prev and prev.get("size") == size and prev.get("mtime_ns") == mtime:
                digest = prev["sha256"]
            else:
                try:
                    digest = file_hash(path)
                except OSError as err:
                    summary.skipped[source] = _os_reason(err)
                    log.warning("skipped %s: %s", source, summary.skipped[source])
                    continue
            entry = {"sha256": digest, "size": size, "mtime_ns": mtime}
            if source in old_files and old_files[source]["sha256"] == digest:
                entries[source] = {**old_files[source], **entry}
                reuse.append(source)
            elif source in old_skipped and old_skipped[source]["sha256"] == digest:
                summary.skipped[source] = old_skipped[source]["reason"]
                log.warning("skipped %s: %s (unchanged)", source, summary.skipped[source])
            else:
                (summary.changed if source in old_files else summary.added).append(source)
                to_parse.append((path, source, entry))
        present = {p.relative_to(corpus_dir).as_posix() for p in files}
        summary.removed = sorted(s for s in old_files if s not in present)
        summary.unchanged = len(reuse)
        timings["scan"] = time.perf_counter() - t0

        # Documents and chunks: unchanged ones copied from the old store, the rest parsed.
        docs: list[Document] = []
        chunks: dict[str, list[Chunk]] = {}
        if old is not None and reuse:
            by_source = {d.source: d for d in old.documents()}
            for source in reuse:
                doc = by_source.get(source)
                if doc is None:  # manifest and store disagree: parse it again
                    summary.unchanged -= 1
                    summary.changed.append(source)
                    to_parse.append((corpus_dir / source, source, entries.pop(source)))
                    continue
                docs.append(doc)
                chunks[doc.doc_id] = [c for _, c, _ in old.chunks(doc.doc_id)]

        embedder = embedder_factory() if (to_parse or summary.full or old is None) else None
        tokenizer = embedder.tokenizer if embedder else None
        # Cached vectors are keyed by model, precision and the exact text embedded: the live
        # generation's store serves as the cache even when its other settings no longer fit.
        cache = old if old is not None else (None if full else _embedding_cache(settings))
        stage = EmbedStage(embedder, settings, cache) if embedder else None
        # PDFs are parsed in child processes under a time and memory limit (rag_qa.isolate),
        # a few files ahead of this loop; text files are read here.
        pdf_parser = PdfParser(
            PdfLimits(
                settings.ingest.pdf_timeout_s,
                settings.ingest.pdf_memory_mb,
                settings.ingest.pdf_nice,
            ),
            settings.ingest.pdf_workers,
        )
        try:
            pdf_parser.prefetch(
                (path, source)
                for path, source, entry in to_parse
                if path.suffix.lower() == ".pdf"
                and 0 < entry["size"] <= settings.ingest.max_file_bytes
            )
            for path, source, entry in _progress(to_parse, progress, "parsing"):
                t1 = time.perf_counter()
                try:
                    raw = load_file(path, corpus_dir, settings.ingest.max_file_bytes, pdf_parser)
                    doc = build_document(raw)
                except LoadError as err:
                    log.warning("skipped %s", err)
                    summary.skipped[source] = _reason(err)
                    for bucket in (summary.added, summary.changed):
                        if source in bucket:
                            bucket.remove(source)
                    if source in old_files:
                        summary.removed.append(source)
                    continue
                finally:
                    timings["parse"] += time.perf_counter() - t1
                t2 = time.perf_counter()
                doc_chunks = chunk_document(
                    doc, tokenizer, settings.ingest.chunk_tokens, settings.ingest.overlap_tokens
                )
                timings["chunk"] += time.perf_counter() - t2
                for w in doc.warnings:
                    log.warning("%s", w)
                entries[source] = {**entry, "sha256": raw.content_hash}
                docs.append(doc)
                chunks[doc.doc_id] = doc_chunks
                summary.pages += len(doc.pages)
                stage.add(doc, doc_chunks)  # encodes a batch whenever one is full
        finally:
            pdf_parser.close()

        if old is not None and not summary.has_changes and not to_parse:
            # Nothing to do: the live generation already matches the corpus.
            old.close()
            if cache is not None and cache is not old:
                cache.close()
            summary.documents = int(manifest.get("documents", 0))
            summary.chunks = int(manifest.get("chunks", 0))
            summary.generation = G.current_generation(index_dir).name
            summary.seconds = time.perf_counter() - started
            summary.timings = timings
            return summary

        if not docs:
            reasons = "; ".join(f"{s}: {r}" for s, r in summary.skipped.items())
            raise BuildError(f"nothing could be indexed from {corpus_dir} ({reasons})")

        docs.sort(key=lambda d: d.source)
        if stage is None:  # only deletions: no model needed, vectors come from the cache
            embedder = embedder_factory()
            stage = EmbedStage(embedder, settings, cache)
        for doc in docs:  # unchanged documents: their vectors come from the cache
            if any(c.chunk_id not in stage.key_of for c in chunks[doc.doc_id]):
                stage.add(doc, chunks[doc.doc_id])
        rows: list[tuple[int, Chunk, str]] = []
        lexical_texts: list[str] = []
        for doc in docs:
            for c in chunks[doc.doc_id]:
                rows.append((len(rows), c, stage.key_of[c.chunk_id]))
                lexical_texts.append(lexical_text(doc, c, settings.ingest.embed_context))

        tmp = index_dir / f"tmp-{uuid.uuid4().hex[:12]}"
        tmp.mkdir(parents=True)
        try:
            store = Store.create(tmp / G.STORE)
            vectors = stage.finish()
            if cache is not None and cache is not old:
                cache.close()
            timings["embed"] = stage.seconds
            summary.chunks_embedded = stage.encoded

            t4 = time.perf_counter()
            for doc in docs:
                store.add_document(doc)
            store.add_chunks(rows)
            store.put_embeddings(list(vectors.items()))
            store.commit()
            store.close()
            matrix = np.vstack([vectors[key] for _, _, key in rows]).astype(np.float32)
            spec = choose_vectors(len(matrix), settings)
            write_vectors(matrix, tmp / G.VECTORS, spec)
            Bm25Index.build(lexical_texts).save(tmp / G.BM25)
            summary.documents = len(docs)
            summary.chunks = len(rows)
            summary.seconds = time.perf_counter() - started
            new_manifest = {
                "format": G.FORMAT,
                "rag_qa_version": __version__,
                "index_key": settings.index_key(),
                "settings": settings.index_params(),
                "model": stage.model_name,
                "dim": int(embedder.dim),
                "precision": stage.precision,
                "vectors": spec.to_json(),
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "documents": len(docs),
                "chunks": len(rows),
                "files": {
                    d.source: {
                        **entries[d.source],
                        "doc_id": d.doc_id,
                        "title": d.title,
                        "doc_type": d.doc_type,
                        "date": d.date,
                        "pages": len(d.pages),
                        "chunks": len(chunks[d.doc_id]),
                    }
                    for d in docs
                },
                "skipped": {
                    s: {**_skip_entry(corpus_dir / s), "reason": r}
                    for s, r in summary.skipped.items()
                    if (corpus_dir / s).exists()
                },
            }
            (tmp / G.MANIFEST).write_text(json.dumps(new_manifest, indent=1, sort_keys=True))
            if old is not None:
                old.close()
            final = G.publish(index_dir, tmp)
            summary.generation = final.name
            timings["write"] = time.perf_counter() - t4
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
        G.prune(index_dir)
    summary.timings = timings
    summary.seconds = time.perf_counter() - started
    summary.removed = sorted(set(summary.removed))
    return summary


def _reason(err: LoadError) -> str:
    """A skipped file's reason for the summary and the manifest: problem; what to do."""
    return err.problem + (f"; {err.hint}" if err.hint else "")


def _os_reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "the file disappeared before it could be read (deleted or moved during the build)"
    if isinstance(err, PermissionError):
        return "permission denied; check the file's permissions"
    return f"cannot be read ({err.strerror or err})"


def _skip_entry(path: Path) -> dict:
    try:
        size, mtime = _stat(path)
        return {"sha256": file_hash(path), "size": size, "mtime_ns": mtime}
    except OSError:
        return {"sha256": "", "size": -1, "mtime_ns": -1}


def _progress(items, enabled: bool, desc: str):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, leave=False, file=sys.stderr)
