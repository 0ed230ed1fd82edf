"""The build's plan stage: corpus/ compared with the live generation's manifest.

A file is unchanged when the manifest records its size and mtime (or else its content hash),
remembered as skipped when it is the file a previous build skipped, and otherwise new or
changed; a file of the manifest no longer in corpus/ is removed. Unchanged documents and their
chunks are copied from the live generation's store, which also serves as the embedding cache.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag_qa.embed.model import resolve_precision
from rag_qa.index import generations as G
from rag_qa.index.loaded import open_index
from rag_qa.index.store import Store
from rag_qa.index.summary import BuildError, BuildSummary
from rag_qa.ingest.loaders import file_hash, outside_corpus, sidecar_path
from rag_qa.records import Chunk, Document
from rag_qa.settings import Settings

log = logging.getLogger("rag_qa.index.build")  # every stage logs as the build


@dataclass(frozen=True)
class FileToParse:
    path: Path
    source: str  # its path under corpus/, with forward slashes
    entry: dict  # its manifest entry so far: sha256, size, mtime_ns


@dataclass(frozen=True)
class Plan:
    """What the build starts from; the summary holds the differences it found."""

    manifest: dict  # the live generation's manifest; {} when the build starts from scratch
    old: Store | None  # the live generation's store; None when the build starts from scratch
    to_parse: list[FileToParse]  # new and changed files, then unchanged ones the store lacks
    docs: list[Document]  # unchanged documents, from the old store
    chunks: dict[str, list[Chunk]]  # doc_id -> its chunks, for those documents
    entries: dict[str, dict]  # source -> manifest entry, for those documents

    @property
    def old_files(self) -> dict[str, dict]:
        return self.manifest.get("files", {})


def plan_build(
    settings: Settings,
    full: bool,
    list_files: Callable[[Path], list[Path]],
    summary: BuildSummary,
    timings: dict[str, float],
) -> Plan:
    """Compare corpus/ with the live generation; records added, changed, removed, unchanged
    and remembered skips in ``summary``, the time taken as ``timings["scan"]``."""
    corpus_dir = settings.corpus_dir
    t0 = time.perf_counter()
    manifest, old = previous_generation(settings, full, summary)
    files = list_files(corpus_dir)
    if not files:
        raise BuildError(
            f"no PDF, .txt, .md, .html, .htm or .docx files in {corpus_dir}; add documents and "
            "run rag-qa index again"
        )
    entries, to_parse, reuse = _compare(files, manifest, corpus_dir, summary)
    timings["scan"] = time.perf_counter() - t0
    docs, chunks = _carry_over(old, reuse, entries, to_parse, corpus_dir, summary)
    return Plan(manifest, old, to_parse, docs, chunks, entries)


def _compare(
    files: list[Path], manifest: dict, corpus_dir: Path, summary: BuildSummary
) -> tuple[dict[str, dict], list[FileToParse], list[str]]:
    """Each listed file against the manifest: (entries of unchanged files, files to parse,
    unchanged sources)."""
    old_files = manifest.get("files", {})
    old_skipped = manifest.get("skipped", {})
    entries: dict[str, dict] = {}
    to_parse: list[FileToParse] = []
    reuse: list[str] = []
    for path in files:
        source = path.relative_to(corpus_dir).as_posix()
        escape = outside_corpus(path, corpus_dir)
        if escape:  # never hashed, never read
            summary.skipped[source] = escape
            log.warning("skipped %s: %s", source, escape)
            continue
        entry = _file_entry(path, source, old_files.get(source) or old_skipped.get(source), summary)
        if entry is None:
            continue
        digest = entry["sha256"]
        if source in old_files and old_files[source]["sha256"] == digest:
            entries[source] = {**old_files[source], **entry}
            reuse.append(source)
        elif source in old_skipped and old_skipped[source]["sha256"] == digest:
            summary.skipped[source] = old_skipped[source]["reason"]
            log.warning("skipped %s: %s (unchanged)", source, summary.skipped[source])
        else:
            (summary.changed if source in old_files else summary.added).append(source)
            to_parse.append(FileToParse(path, source, entry))
    present = {p.relative_to(corpus_dir).as_posix() for p in files}
    summary.removed = sorted(s for s in old_files if s not in present)
    summary.unchanged = len(reuse)
    return entries, to_parse, reuse


def _file_entry(path: Path, source: str, prev: dict | None, summary: BuildSummary) -> dict | None:
    """A file's size, mtime and content hash (the recorded hash while size and mtime are
    those recorded in ``prev``); None, and a skip in ``summary``, when it cannot be read."""
    try:
        size, mtime = file_stat(path)
        if prev and prev.get("size") == size and prev.get("mtime_ns") == mtime:
            digest = prev["sha256"]
        else:
            digest = file_hash(path)
    except OSError as err:
        summary.skipped[source] = os_reason(err)
        log.warning("skipped %s: %s", source, summary.skipped[source])
        return None
    return {"sha256": digest, "size": size, "mtime_ns": mtime}


def _carry_over(
    old: Store | None,
    reuse: list[str],
    entries: dict[str, dict],
    to_parse: list[FileToParse],
    corpus_dir: Path,
    summary: BuildSummary,
) -> tuple[list[Document], dict[str, list[Chunk]]]:
    """Unchanged documents and their chunks, copied from the old store; one the store lacks
    moves from ``entries`` to ``to_parse`` (and from unchanged to changed)."""
    docs: list[Document] = []
    chunks: dict[str, list[Chunk]] = {}
    if old is not None and reuse:
        by_source = {d.source: d for d in old.documents()}
        for source in reuse:
            doc = by_source.get(source)
            if doc is None:  # manifest and store disagree: parse it again
                summary.unchanged -= 1
                summary.changed.append(source)
                to_parse.append(FileToParse(corpus_dir / source, source, entries.pop(source)))
                continue
            docs.append(doc)
            chunks[doc.doc_id] = [c for _, c, _ in old.chunks(doc.doc_id)]
    return docs, chunks


def previous_generation(
    settings: Settings, full: bool, summary: BuildSummary
) -> tuple[dict, Store | None]:
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


def embedding_cache(settings: Settings, old: Store | None, full: bool) -> Store | None:
    """Where cached vectors come from: the old store, or for a build from scratch that was
    not asked for (other settings) the live generation's store even though its other settings
    no longer fit, since cached vectors are keyed by model, precision and the exact text
    embedded; nothing for ``--full``."""
    if old is not None:
        return old
    if full:
        return None
    try:
        gen = G.current_generation(settings.index_dir)
        if gen is not None and (gen / G.STORE).exists():
            return Store(gen / G.STORE)
    except (G.IndexError_, sqlite3.Error):
        pass
    return None


def file_stat(path: Path) -> tuple[int, int]:
    """Size and mtime (ns) of a corpus file; the mtime is its sidecar's when that is newer."""
    st = path.stat()
    side = sidecar_path(path)
    mtime = st.st_mtime_ns
    if side.exists():
        mtime = max(mtime, side.stat().st_mtime_ns)
    return st.st_size, mtime


def os_reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "the file disappeared before it could be read (deleted or moved during the build)"
    if isinstance(err, PermissionError):
        return "permission denied; check the file's permissions"
    return f"cannot be read ({err.strerror or err})"
