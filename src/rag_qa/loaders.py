"""Reading files: text per page, with page numbers kept.

A file that cannot be read raises ``LoadError`` with a message that names the file, says what
is wrong and what to do; the index build skips it and carries on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = (".pdf", ".txt", ".md")
SIDECAR_SUFFIX = ".meta.json"
SIDECAR_FIELDS = {"title", "date", "source_url", "doc_type", "visit_start", "visit_end"}


class LoadError(Exception):
    """A file that cannot be indexed; ``str(err)`` is one line naming the file."""

    def __init__(self, source: str, problem: str, hint: str = ""):
        self.source, self.problem, self.hint = source, problem, hint
        super().__init__(f"{source}: {problem}" + (f" ({hint})" if hint else ""))


@dataclass(frozen=True)
class RawDocument:
    source: str
    kind: str  # "pdf" or "text"
    pages: tuple[tuple[int | None, str], ...]  # (page number or None, raw text)
    sidecar: dict
    content_hash: str


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX)


def list_corpus(corpus_dir: Path) -> list[Path]:
    """Indexable files under ``corpus_dir``, sorted; hidden files and sidecars excluded."""
    files = []
    for path in corpus_dir.rglob("*"):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if is_sidecar(path) or path.suffix.lower() not in SUPPORTED:
            continue
        if path.name.upper() in ("SOURCES.MD", "README.MD"):
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix())


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
        logging.getLogger(__name__).warning(
            "%s: ignoring unknown metadata fields %s", side.name, sorted(unknown)
        )
    return {k: v for k, v in data.items() if k in SIDECAR_FIELDS and v}


def decode_text(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if b"\x00" in data[:4096]:
        raise LoadError(source, "looks like a binary file, not text", "remove it or convert it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_text(path: Path, source: str) -> list[tuple[int | None, str]]:
    text = decode_text(path.read_bytes(), source)
    if not text.strip():
        raise LoadError(source, "the file is empty", "add text to it or remove it")
    return [(None, text)]


def load_pdf(path: Path, source: str) -> list[tuple[int | None, str]]:
    import pypdf
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types here
                ok = 0
            if not ok:
                raise LoadError(
                    source, "the PDF is encrypted with a password", "save an unprotected copy"
                )
        pages = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                pages.append((number, page.extract_text() or ""))
            except Exception as err:  # noqa: BLE001 - one bad page must not lose the file
                logging.getLogger(__name__).warning(
                    "%s: page %d could not be read (%s); skipped", source, number, err
                )
                pages.append((number, ""))
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as err:
        raise LoadError(
            source, f"not a readable PDF ({type(err).__name__}: {err})", "replace the file"
        ) from err
    except Exception as err:  # noqa: BLE001 - pypdf can fail in many ways on broken files
        raise LoadError(
            source, f"the PDF could not be parsed ({type(err).__name__})", "replace the file"
        ) from err
    if not pages:
        raise LoadError(source, "the PDF has no pages", "replace the file")
    if sum(len(t.strip()) for _, t in pages) < 20:
        raise LoadError(
            source,
            "the PDF has no text layer (scanned image?)",
            "run it through OCR and add the searchable PDF",
        )
    return pages


def load_file(path: Path, corpus_dir: Path, max_bytes: int) -> RawDocument:
    source = path.relative_to(corpus_dir).as_posix()
    try:
        size = path.stat().st_size
    except OSError as err:
        raise LoadError(source, f"cannot be read ({err.strerror})") from err
    if size == 0:
        raise LoadError(source, "the file is empty (0 bytes)", "replace or remove it")
    if size > max_bytes:
        raise LoadError(source, f"the file is too large ({size} bytes > {max_bytes})")
    try:
        digest = file_hash(path)
        sidecar = read_sidecar(path, source)
        if path.suffix.lower() == ".pdf":
            pages, kind = load_pdf(path, source), "pdf"
        else:
            pages, kind = load_text(path, source), "text"
    except PermissionError as err:
        raise LoadError(source, "permission denied", "check the file's permissions") from err
    except FileNotFoundError as err:
        raise LoadError(source, "the file disappeared while it was being read") from err
    except OSError as err:
        raise LoadError(source, f"cannot be read ({err.strerror or err})") from err
    return RawDocument(source, kind, tuple(pages), sidecar, digest)
