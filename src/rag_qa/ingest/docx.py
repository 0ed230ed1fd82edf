"""Reading a Word file (.docx) with python-docx: its text, title and date.

The body's paragraphs and tables in document order, one line each: headings (styles
"Heading 1" to "Heading 6", and "Title") as Markdown heading lines ("## Heading"), table rows
as "cell | cell" (a merged cell once). Page headers, footers, comments and text boxes are not
read. The title is the text's own (``build_document`` looks at the first lines), else the core
properties' title; the date is the core properties' created date (rule "docx-core-created"),
else their modified date ("docx-core-modified").

What is checked before python-docx parses anything, each with one clear ``LoadError``: an OLE
compound file (``D0 CF 11 E0``) is either a password-protected .docx (it holds an
"EncryptedPackage" stream) or an old binary .doc renamed; anything else that is not a zip is
not a Word file; a zip without ``word/document.xml`` is some other kind of zip; a zip whose
members would inflate past ``MAX_UNPACKED_BYTES``, or by more than ``MAX_RATIO`` times once
past ``RATIO_FLOOR_BYTES``, is refused as a possible zip bomb (zipfile never reads a member
past its declared size, so the declared sizes are the bound).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from rag_qa.ingest.loaders import LoadError, _short

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 100  # Word's XML packs about 5 to 20 times; a bomb packs thousands of times
RATIO_FLOOR_BYTES = 20 * 1024 * 1024
HEADING_STYLE = re.compile(r"^Heading ([1-6])$", re.I)


def check_package(data: bytes, source: str) -> zipfile.ZipFile:
    """The .docx as an open zip, checked to be a Word document and no zip bomb."""
    if data.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise LoadError(
                source, "the Word file is password-protected", "save an unprotected copy"
            )
        if "WordDocument".encode("utf-16-le") in data:
            raise LoadError(
                source,
                "an old Word 97-2003 .doc file named .docx",
                "open it in Word and save it as .docx",
            )
        raise LoadError(source, "not a Word .docx file (an OLE compound file)", "replace it")
    if data.lstrip().startswith(b"{\\rtf"):
        raise LoadError(source, "an RTF file named .docx", "save it as .docx")
    if not data.startswith(ZIP_MAGIC):
        raise LoadError(
            source, "not a Word .docx file (it is not a zip package)", "replace the file"
        )
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        members = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise LoadError(
            source, f"a damaged Word file ({_short(err)})", "copy the complete file again"
        ) from err
    if "word/document.xml" not in package.namelist():
        raise LoadError(
            source, "a zip file but not a Word document (no word/document.xml)", "replace it"
        )
    unpacked = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members) or 1
    if unpacked > MAX_UNPACKED_BYTES or (
        unpacked > RATIO_FLOOR_BYTES and unpacked > MAX_RATIO * packed
    ):
        raise LoadError(
            source,
            f"the Word file would unpack to {unpacked:,} bytes from {packed:,} "
            "(a possible zip bomb)",
            "replace the file",
        )
    return package


def _cell_rows(table) -> list[str]:
    """A table's rows as "cell | cell" lines; a merged cell once, empty cells left out."""
    rows = []
    for row in table.rows:
        seen, cells = set(), []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


def _paragraph_line(paragraph) -> str:
    text = " ".join(paragraph.text.split())
    if not text:
        return ""
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    m = HEADING_STYLE.match(style.strip())
    if m:
        return "#" * int(m[1]) + " " + text
    if style.strip().lower() == "title":
        return "# " + text
    return text


def body_lines(document) -> list[str]:
    """Paragraphs and table rows of the body, in document order."""
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_cell_rows(block))
        else:
            line = _paragraph_line(block)
            if line:
                lines.append(line)
    return lines


def core_meta(document) -> dict:
    """Title and date from the core properties (docProps/core.xml)."""
    meta: dict = {}
    props = document.core_properties
    title = " ".join((props.title or "").split())
    if title:
        meta["title"] = title
    for rule, value in (
        ("docx-core-created", props.created),
        ("docx-core-modified", props.modified),
    ):
        if value is not None and 1980 <= value.year <= 2100:
            meta["date"], meta["date_rule"] = value.date().isoformat(), rule
            break
    return meta


def load_docx(path: Path, source: str) -> tuple[list[tuple[int | None, str]], dict]:
    """A Word file's text as one page, and its title and date (``meta``)."""
    import docx

    data = path.read_bytes()
    check_package(data, source).close()
    try:
        document = docx.Document(io.BytesIO(data))
        lines = body_lines(document)
        meta = core_meta(document)
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - python-docx and lxml fail in many ways
        raise LoadError(
            source, f"not a readable Word file ({type(err).__name__}: {_short(err)})", "replace it"
        ) from err
    if not lines:
        raise LoadError(source, "the Word file has no text", "add text to it or remove it")
    return [(None, "\n\n".join(lines) + "\n")], meta
