"""Uploads into the corpus: type and size checked, file names sanitised, never outside the
corpus folder, never overwriting. Which file types are accepted, and how a text file is
decoded, is the loaders' decision (``rag_qa.ingest.loaders``): an upload is accepted only if
the index build will read it the same way."""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

from rag_qa.ingest.loaders import FORMATS, SUPPORTED, LoadError, decode_text

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# What a web page opens with (after blank space, comments and an XML declaration).
HTML_START = re.compile(
    r"^(?:\s|<!--.*?-->|<\?xml[^>]*\?>)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
    re.I | re.S,
)


# ---------------------------------------------------------------------------------------------
# Uploads


class UploadRejected(ValueError):
    pass


def safe_upload_name(original: str) -> str:
    """A file name for the corpus from a user's file name: its last component only, letters,
    digits, spaces and ``._-()'&,`` kept (others become ``_``), no leading dot, at most 120
    characters, the extension lower-cased. Raises UploadRejected for a type not accepted."""
    name = unicodedata.normalize("NFKC", original or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = "." + ext.lower().strip() if ext else ""
    if ext not in SUPPORTED:
        raise UploadRejected(
            f"{original!r}: only {', '.join(SUPPORTED)} files can be added"
            + (f" (not {ext})" if ext else "")
        )
    stem = re.sub(r"[^\w \-().,'&]", "_", stem)
    stem = re.sub(r"\s+", " ", stem).strip(" ._")
    stem = re.sub(r"\.{2,}", ".", stem)
    if stem.endswith(".meta"):  # never a metadata sidecar
        stem = stem[: -len(".meta")] + "_meta"
    stem = stem[:120].rstrip(" .") or "upload"
    return stem + ext


def check_upload(data: bytes, name: str) -> str:
    """The kind of file (``FORMATS``' values: "pdf", "text", "html" or "docx") when ``data``
    is what the extension of ``name`` says; raises UploadRejected otherwise (empty, too large,
    not a PDF, not text, not a web page, not a Word .docx)."""
    ext = Path(name).suffix.lower()
    if not data:
        raise UploadRejected(f"{name}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"{name}: {len(data) / 1e6:.1f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB limit"
        )
    if ext not in SUPPORTED:
        raise UploadRejected(f"{name}: only {', '.join(SUPPORTED)} files can be added")
    kind = FORMATS[ext]
    if kind == "pdf":
        if not data.startswith(b"%PDF-"):
            raise UploadRejected(f"{name}: not a PDF (it does not start with %PDF)")
        return "pdf"
    if kind == "docx":
        from rag_qa.ingest.docx import check_package

        try:  # a zip holding word/document.xml, not password-protected, not a zip bomb
            check_package(data, name).close()
        except LoadError as err:
            raise UploadRejected(str(err)) from err
        return "docx"
    try:  # strict: what is not UTF-8 or UTF-16 is refused here, not read as cp1252
        text = decode_text(data, name, strict=True)
    except UnicodeDecodeError as err:
        raise UploadRejected(f"{name}: not UTF-8 or UTF-16 text") from err
    except LoadError as err:  # a binary file
        raise UploadRejected(f"{name}: not a text file (binary or blank)") from err
    if "\x00" in text or not text.strip():
        raise UploadRejected(f"{name}: not a text file (binary or blank)")
    if kind == "html" and not HTML_START.match(text.lstrip("\ufeff")[:65536]):
        raise UploadRejected(
            f"{name}: not a web page (it does not start with <!DOCTYPE html> or <html>)"
        )
    return kind


def store_upload(data: bytes, original_name: str, corpus_dir: Path) -> Path:
    """Check ``data`` and write it into ``corpus_dir`` under a sanitised name, never
    overwriting: an existing name gets " (2)", " (3)" ... Returns the new file's path."""
    name = safe_upload_name(original_name)
    check_upload(data, name)
    root = corpus_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    stem, ext = name[: -len(Path(name).suffix)], Path(name).suffix
    for n in range(1, 1000):
        candidate = root / (name if n == 1 else f"{stem} ({n}){ext}")
        if candidate.resolve().parent != root:  # pragma: no cover - the name has no separator
            raise UploadRejected(f"{original_name!r}: not a valid file name")
        try:
            with candidate.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            continue
        return candidate
    raise UploadRejected(f"{original_name!r}: too many files with this name")


def store_uploaded_file(path: str | Path, corpus_dir: Path) -> Path:
    """``store_upload`` for a file the web server received (its name is the user's), refused
    unread when it is over the size limit."""
    original = Path(str(path)).name
    if Path(path).stat().st_size > MAX_UPLOAD_BYTES:
        raise UploadRejected(f"{original}: over the size limit")
    return store_upload(Path(path).read_bytes(), original, corpus_dir)
