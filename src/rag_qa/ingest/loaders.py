"""Reading files: text per page, with page numbers kept.

A file that cannot be read raises ``LoadError`` with a message that names the file, says what
is wrong and what to do; the index build skips it and carries on. Text files are read in
process; the index build parses PDFs in child processes under a time and memory limit
(``rag_qa.ingest.pdf_sandbox``), which run ``read_pdf_pages`` below, so the pages are the same either way.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag_qa.ingest.ocr import INSTALL_HINT, OcrOptions, missing_tools, ocr_pages

# Every file type a corpus may hold, and how it is read: the one place that decides (the index
# build, the upload and the upload's file picker all read it).
FORMATS = {
    ".pdf": "pdf",
    ".txt": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
}
SUPPORTED = tuple(FORMATS)
# Bump when a loader returns something else for the same bytes and settings: the index build
# keeps parsed files by this number (rag_qa.index.parse_cache), so a bump parses them again.
LOADER_VERSION = 1
DEFAULT_OCR = OcrOptions()
SIDECAR_SUFFIX = ".meta.json"
log = logging.getLogger(__name__)
SIDECAR_FIELDS = {
    "title", "date", "source_url", "doc_type", "visit_start", "visit_end", "council", "kind",
}  # fmt: skip
MAX_SIDECAR_VALUE = 1000  # characters of one metadata value


class LoadError(Exception):
    """A file that cannot be indexed; ``str(err)`` is one line naming the file."""

    def __init__(self, source: str, problem: str, hint: str = ""):
        self.source, self.problem, self.hint = source, problem, hint
        super().__init__(f"{source}: {problem}" + (f" ({hint})" if hint else ""))


@dataclass(frozen=True)
class RawDocument:
    source: str
    kind: str  # FORMATS' values: "pdf", "text", "html" or "docx"
    pages: tuple[tuple[int | None, str], ...]  # (page number or None, raw text)
    sidecar: dict
    content_hash: str
    # What the reading found besides the text: "title", "date" (ISO) with "date_rule" (an HTML
    # page's meta tags, a Word file's core properties; the text and sidecar win), and
    # "ocr_pages" (a PDF's pages read by OCR).
    meta: dict = field(default_factory=dict)


def file_kind(path: Path) -> str:
    """How a file is read: ``FORMATS``' value for its suffix ("text" for any other)."""
    return FORMATS.get(path.suffix.lower(), "text")


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX)


def list_corpus(corpus_dir: Path) -> list[Path]:
    """Indexable files under ``corpus_dir``, sorted; hidden files and sidecars excluded. Links
    to folders are not followed (a link back up would loop); a linked file is listed, and
    ``outside_corpus`` decides whether it may be read."""
    files = []
    for folder, dirs, names in os.walk(corpus_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for d in dirs:
            if (Path(folder) / d).is_symlink():
                log.warning("not following %s: a link to a folder", Path(folder) / d)
        for name in names:
            path = Path(folder) / name
            if name.startswith(".") or is_sidecar(path) or path.suffix.lower() not in SUPPORTED:
                continue
            if name.upper() in ("SOURCES.MD", "README.MD") or not path.is_file():
                continue
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix())


def outside_corpus(path: Path, corpus_dir: Path) -> str | None:
    """Why ``path`` (or its sidecar) may not be read: it resolves outside ``corpus_dir`` (a
    symbolic link out of the corpus); None when it is inside."""
    root = corpus_dir.resolve()
    side = sidecar_path(path)
    for what, candidate in (("it", path), ("its metadata file", side)):
        if candidate is side and not side.is_symlink():
            continue  # a plain sidecar beside a file inside is inside
        if not candidate.resolve().is_relative_to(root):
            return f"{what} links to a file outside the corpus ({candidate.resolve()}); not read"
    return None


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def file_hash(path: Path) -> str:
    """Hash of the file and its sidecar: a change to either re-processes the document."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    side = sidecar_path(path)
    if side.exists():
        h.update(b"\0sidecar\0" + side.read_bytes())
    return h.hexdigest()


def read_sidecar(path: Path, source: str) -> dict:
    side = sidecar_path(path)
    if not side.exists():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise LoadError(source, f"metadata file {side.name} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise LoadError(source, f"metadata file {side.name} must hold a JSON object")
    unknown = set(data) - SIDECAR_FIELDS
    if unknown:
        log.warning("%s: ignoring unknown metadata fields %s", side.name, sorted(unknown))
    kept = {}
    for key, value in data.items():
        if key not in SIDECAR_FIELDS or value in (None, ""):
            continue
        if not isinstance(value, str) or len(value) > MAX_SIDECAR_VALUE:
            what = f"{type(value).__name__}" if not isinstance(value, str) else "over-long text"
            log.warning(
                "%s: metadata %r must be text of at most %d characters, got %s; ignored",
                side.name, key, MAX_SIDECAR_VALUE, what,
            )  # fmt: skip
            continue
        kept[key] = value
    return kept


def decode_text(data: bytes, source: str, strict: bool = False) -> str:
    """A text file's text: UTF-16 after its byte-order mark, UTF-8 (after a BOM, bad bytes
    replaced), else cp1252. Raises LoadError for what looks binary (a NUL byte near the
    start); with ``strict`` (uploads) raises UnicodeDecodeError for what is not UTF-8 or
    UTF-16, instead of replacing bad bytes or reading it as cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict" if strict else "replace")
    if b"\x00" in data[:4096]:
        raise LoadError(source, "looks like a binary file, not text", "remove it or convert it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if strict:
            raise
        return data.decode("cp1252", errors="replace")


def load_text(path: Path, source: str) -> list[tuple[int | None, str]]:
    text = decode_text(path.read_bytes(), source)
    if not text.strip():
        raise LoadError(source, "the file is empty", "add text to it or remove it")
    return [(None, text)]


# Caps on what one PDF may yield: a compressed content stream can inflate into far more text
# than any real report holds (the longest Ofsted report in the corpus has ~4,000 characters a
# page and ~120,000 in all).
MAX_PAGE_CHARS = 2_000_000
MAX_FILE_CHARS = 20_000_000

PdfReader = Callable[[Path, str], list[tuple[int | None, str]]]


def _short(err: BaseException, limit: int = 120) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unreadable(data: bytes, source: str, err: Exception) -> LoadError:
    """The clearest one-line reason we can give for a PDF that pypdf cannot open."""
    if b"%PDF-" not in data[:1024]:
        return LoadError(
            source, "not a PDF file (it does not start with %PDF-)", "replace the file"
        )
    if b"%%EOF" not in data[-2048:]:
        return LoadError(
            source,
            f"the PDF looks truncated: it does not end with %%EOF ({type(err).__name__}: "
            f"{_short(err)})",
            "copy the complete file again",
        )
    return LoadError(
        source, f"not a readable PDF ({type(err).__name__}: {_short(err)})", "replace the file"
    )


class PdfPages(list):
    """A PDF's pages, ``(number, text)``, as a list; ``ocr`` names the pages read by OCR."""

    def __init__(self, pages=(), ocr=()):
        super().__init__(pages)
        self.ocr = tuple(ocr)


OCR_BELOW_CHARS = 20  # a page with fewer characters of text layer than this is OCR'd


def read_pdf_pages(
    path: Path, source: str, ocr: OcrOptions | None = DEFAULT_OCR
) -> tuple[PdfPages, list[str]]:
    """Text of every page of a PDF, in this process, and warnings about pages that failed.
    Pages without a text layer are OCR'd (``rag_qa.ingest.ocr``) unless ``ocr`` is None.

    Raises ``LoadError`` for a PDF that cannot be indexed; ``OSError`` when the file cannot be
    read (``load_file`` words those); lets ``MemoryError`` through (``rag_qa.ingest.pdf_sandbox`` runs
    this under a memory limit and reports it).
    """
    import pypdf
    from pypdf.errors import DependencyError, LimitReachedError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    data = path.read_bytes()
    failed: list[tuple[int, str]] = []  # (page number, why it could not be read)
    pages: list[tuple[int | None, str]] = []
    total = 0
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except MemoryError:
                raise
            except DependencyError as err:  # AES needs the optional 'cryptography' package
                raise LoadError(
                    source,
                    f"the PDF is encrypted with AES, which cannot be opened here ({_short(err)})",
                    "pip install cryptography, or save an unprotected copy",
                ) from err
            except Exception:  # noqa: BLE001 - pypdf raises several types here
                ok = 0
            if not ok:
                raise LoadError(
                    source, "the PDF is encrypted with a password", "save an unprotected copy"
                )
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except (LoadError, MemoryError):
                raise
            except LimitReachedError as err:
                raise LoadError(
                    source,
                    f"page {number} inflates past the PDF reader's safety limit ({_short(err)}); "
                    "it may be a decompression bomb",
                    "replace the file",
                ) from err
            except Exception as err:  # noqa: BLE001 - one bad page must not lose the file
                failed.append((number, _short(err)))
                text = ""
            if len(text) > MAX_PAGE_CHARS:
                raise LoadError(
                    source,
                    f"page {number} holds more text than a real report "
                    f"({len(text):,} characters; the limit is {MAX_PAGE_CHARS:,})",
                    "replace the file",
                )
            total += len(text)
            if total > MAX_FILE_CHARS:
                raise LoadError(
                    source,
                    f"the PDF holds more text than a real report (over {MAX_FILE_CHARS:,} "
                    f"characters by page {number})",
                    "split or replace the file",
                )
            pages.append((number, text))
    except (LoadError, MemoryError):
        raise
    except LimitReachedError as err:
        raise LoadError(
            source,
            f"the PDF breaks one of the PDF reader's safety limits ({_short(err)})",
            "replace the file",
        ) from err
    except Exception as err:  # noqa: BLE001 - pypdf can fail in many ways on broken files
        raise _unreadable(data, source, err) from err
    if not pages:
        raise LoadError(source, "the PDF has no pages", "replace the file")
    pages, done, warnings = _ocr_blank_pages(path, source, data, pages, ocr)
    failed = [(n, why) for n, why in failed if n not in done]
    if sum(len(t.strip()) for _, t in pages) < 20:
        raise _no_text(source, len(pages), failed, ocr)
    warnings += [f"{source}: page {n} could not be read ({why}); skipped" for n, why in failed]
    return PdfPages(pages, done), warnings


def _no_text(source: str, pages: int, failed: list, ocr: OcrOptions | None) -> LoadError:
    """Why a PDF gave no text: its pages failed, or it is a scan (and OCR is missing or read
    nothing)."""
    if failed:  # one message for the file, not one per page and then one for the file
        number, why = failed[0]
        return LoadError(
            source,
            f"no text could be read: {len(failed)} of {pages} pages failed (page {number}: {why})",
            "replace the file",
        )
    missing = missing_tools() if ocr is not None else []
    if missing:
        return LoadError(
            source,
            "the PDF has no text layer (scanned image?) and OCR is not installed "
            f"(missing: {', '.join(missing)})",
            INSTALL_HINT,
        )
    return LoadError(
        source,
        "the PDF has no text layer (scanned image?)"
        + (" and OCR read no text from it" if ocr is not None else ""),
        "run it through OCR and add the searchable PDF",
    )


def _ocr_blank_pages(path: Path, source: str, data: bytes, pages: list, ocr: OcrOptions | None):
    """The pages with the blank ones OCR'd, the numbers of those read, and warnings."""
    blank = [n for n, t in pages if len(t.strip()) < OCR_BELOW_CHARS]
    if not blank or ocr is None:
        return pages, (), []
    missing = missing_tools()
    if missing:
        if len(blank) == len(pages):
            return pages, (), []  # the caller says there is no text, and how to install OCR
        listed = ", ".join(map(str, blank[:10])) + (" …" if len(blank) > 10 else "")
        why = f"OCR is not installed: {INSTALL_HINT}"
        return pages, (), [f"{source}: page(s) {listed} have no text layer ({why}); skipped"]
    texts = ocr_pages(path, blank, hashlib.sha256(data).hexdigest(), ocr)
    done = tuple(n for n in blank if texts.get(n, "").strip())
    out = [(n, texts[n]) if n in done else (n, t) for n, t in pages]
    warnings = []
    if len(blank) > ocr.max_pages:
        warnings.append(
            f"{source}: {len(blank)} pages have no text layer; only the first {ocr.max_pages} "
            "were OCR'd (ingest.ocr_max_pages)"
        )
    return out, done, warnings


def load_pdf(path: Path, source: str) -> list[tuple[int | None, str]]:
    """Text of every page of a PDF, parsed in this process (see ``rag_qa.ingest.pdf_sandbox`` for the
    guarded version the index build uses)."""
    pages, warnings = read_pdf_pages(path, source)
    for warning in warnings:
        logging.getLogger(__name__).warning("%s", warning)
    return pages


def load_file(
    path: Path, corpus_dir: Path, max_bytes: int, read_pdf: PdfReader | None = None
) -> RawDocument:
    """One file as a ``RawDocument``; raises ``LoadError`` (one line naming the file).

    ``read_pdf(path, source)`` returns a PDF's pages; by default the PDF is parsed in this
    process (``load_pdf``), the index build passes ``rag_qa.ingest.pdf_sandbox.PdfParser`` instead.
    """
    source = path.relative_to(corpus_dir).as_posix()
    escape = outside_corpus(path, corpus_dir)
    if escape:
        raise LoadError(source, escape, "copy the file into the corpus folder instead")
    try:
        size = path.stat().st_size
    except FileNotFoundError as err:
        raise LoadError(source, "the file disappeared before it could be read") from err
    except OSError as err:
        raise LoadError(source, f"cannot be read ({err.strerror or err})") from err
    if size == 0:
        raise LoadError(source, "the file is empty (0 bytes)", "replace or remove it")
    if size > max_bytes:
        raise LoadError(source, f"the file is too large ({size} bytes > {max_bytes})")
    try:
        digest = file_hash(path)
        sidecar = read_sidecar(path, source)
        kind, meta = file_kind(path), {}
        if kind == "pdf":
            pages = (read_pdf or load_pdf)(path, source)
            if getattr(pages, "ocr", ()):
                meta["ocr_pages"] = list(pages.ocr)
        elif kind == "html":
            from rag_qa.ingest.html import load_html

            pages, meta = load_html(path, source)
        elif kind == "docx":
            from rag_qa.ingest.docx import load_docx

            pages, meta = load_docx(path, source)
        else:
            pages = load_text(path, source)
    except PermissionError as err:
        raise LoadError(source, "permission denied", "check the file's permissions") from err
    except FileNotFoundError as err:
        raise LoadError(source, "the file disappeared while it was being read") from err
    except OSError as err:
        raise LoadError(source, f"cannot be read ({err.strerror or err})") from err
    return RawDocument(source, kind, tuple(pages), sidecar, digest, meta)
