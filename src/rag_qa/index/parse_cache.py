"""Parsed files kept by content in ``index/parse-cache/``, so a rebuild (``--full``, or a
settings change such as ``ingest.chunk_tokens`` that changes the index key) does not parse
every file again.

An entry is what the loader returned, a ``RawDocument`` (kind, pages with their numbers,
sidecar and meta: the OCR'd page numbers, a web page's or Word file's title and date), as one
gzipped JSON object in a ``rag_qa.ingest.jsoncache`` folder (atomic writes, links never
followed, a bad entry a miss with a warning). Its key is the SHA-256 of:

- the file's content hash (``loaders.file_hash``: its bytes and its sidecar's);
- its kind (``loaders.FORMATS``: a ``.txt`` renamed ``.html`` reads differently);
- ``loaders.LOADER_VERSION`` and the versions of the libraries that read that kind (pypdf;
  trafilatura and lxml; python-docx), so an upgrade of one parses those files again;
- for a PDF, the settings that change what is read: ``ingest.ocr``, ``ocr_dpi``,
  ``ocr_max_pages``, and which OCR tools are missing here.

Not in it, since they do not change what a file gives: the chunking settings, the model, the
PDF sandbox's limits (time, memory, niceness, workers) and ``ingest.max_file_bytes`` (a file
over it is refused before the cache is asked). A file that could not be parsed is not stored.
After each successful build the entries that no file of the new generation uses are deleted,
so the folder holds at most one entry a corpus file (about a third of its text, gzipped).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from importlib import metadata as dist_metadata
from pathlib import Path

from rag_qa.index.plan import FileToParse
from rag_qa.ingest.jsoncache import JsonCache
from rag_qa.ingest.loaders import LOADER_VERSION, RawDocument, file_kind
from rag_qa.ingest.ocr import missing_tools
from rag_qa.settings import IngestSettings, Settings

log = logging.getLogger("rag_qa.index.build")  # every stage logs as the build
PARSE_CACHE = "parse-cache"  # in the index folder, beside the generations and ocr-cache
MAX_ENTRY_BYTES = 64 << 20  # of JSON: 500 times the longest report of the corpus and sample
LIBRARIES = {"pdf": ("pypdf",), "html": ("trafilatura", "lxml"), "docx": ("python-docx",)}


@functools.cache
def _versions(kind: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for dist in LIBRARIES.get(kind, ()):
        try:
            found[dist] = dist_metadata.version(dist)
        except dist_metadata.PackageNotFoundError:
            found[dist] = None
    return found


def parse_params(ingest: IngestSettings, kind: str) -> dict:
    """What besides its bytes decides what the loader returns for a file of ``kind``."""
    params: dict = {"kind": kind, "loader": LOADER_VERSION, "libraries": _versions(kind)}
    if kind == "pdf":
        params["ocr"] = None
        if ingest.ocr:
            params["ocr"] = {
                "dpi": ingest.ocr_dpi,
                "max_pages": ingest.ocr_max_pages,
                "missing": list(missing_tools()),
            }
    return params


def cache_key(content_hash: str, kind: str, ingest: IngestSettings) -> str:
    blob = json.dumps({"content": content_hash, **parse_params(ingest, kind)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def to_json(raw: RawDocument) -> dict:
    """A RawDocument less its source and content hash (the file's name and key give those)."""
    pages = [[number, text] for number, text in raw.pages]
    return {"kind": raw.kind, "pages": pages, "sidecar": raw.sidecar, "meta": raw.meta}


def from_json(body: dict, source: str, content_hash: str, kind: str) -> RawDocument:
    """``to_json``'s object as the RawDocument again; ValueError when it is not one."""
    if body.get("kind") != kind:
        raise ValueError(f"holds a {body.get('kind')!r} file, not {kind!r}")
    pages, sidecar, meta = body.get("pages"), body.get("sidecar"), body.get("meta")
    if not isinstance(pages, list) or not pages or not all(map(_is_page, pages)):
        raise ValueError("its pages are not a list of [number, text]")
    if not isinstance(sidecar, dict) or not all(isinstance(v, str) for v in sidecar.values()):
        raise ValueError("its sidecar is not an object of texts")
    if not isinstance(meta, dict) or not all(_is_meta(k, v) for k, v in meta.items()):
        raise ValueError("its meta is not an object of texts and page numbers")
    pages = tuple((number, text) for number, text in pages)
    return RawDocument(source, kind, pages, sidecar, content_hash, meta)


def _is_page(page) -> bool:
    return (
        isinstance(page, list)
        and len(page) == 2
        and (page[0] is None or type(page[0]) is int)
        and isinstance(page[1], str)
    )


def _is_meta(key: str, value) -> bool:
    if key == "ocr_pages":
        return isinstance(value, list) and all(type(n) is int for n in value)
    return isinstance(value, str)


class ParseCache:
    """The build's parse cache for ``settings``' index folder; ``read=False`` (``--reparse``)
    parses every file again and only stores what it parsed."""

    def __init__(self, settings: Settings, read: bool = True):
        self.ingest = settings.ingest
        self.read = read
        self.store = JsonCache(
            settings.index_dir / PARSE_CACHE,
            compress=True,
            max_bytes=MAX_ENTRY_BYTES,
            what="parse cache",
            logger=log,
        )

    def fits(self, f: FileToParse) -> bool:
        """Whether the file's size lets it be loaded at all (not empty, not too large)."""
        return 0 < f.entry["size"] <= self.ingest.max_file_bytes

    def key(self, content_hash: str, path: Path) -> str:
        return cache_key(content_hash, file_kind(path), self.ingest)

    def has(self, f: FileToParse) -> bool:
        return self.read and self.fits(f) and self.store.has(self.key(f.entry["sha256"], f.path))

    def get(self, f: FileToParse) -> RawDocument | None:
        """The file as it was loaded before; None (with a warning for a bad entry) if not."""
        key = self.key(f.entry["sha256"], f.path)
        body = self.store.get(key)
        if body is None:
            return None
        try:
            return from_json(body, f.source, f.entry["sha256"], file_kind(f.path))
        except ValueError as err:
            log.warning("parse cache entry %s for %s ignored: %s", key, f.source, err)
            return None

    def put(self, raw: RawDocument, path: Path) -> None:
        self.store.put(self.key(raw.content_hash, path), to_json(raw))

    def prune(self, entries: dict[str, dict]) -> int:
        """Delete the entries that none of ``entries`` (source -> manifest entry, the new
        generation's files) uses; returns how many went."""
        keep = {self.key(e["sha256"], Path(source)) for source, e in entries.items()}
        return self.store.prune(keep)
