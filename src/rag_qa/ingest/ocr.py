"""OCR of the PDF pages that have no text layer (scans), with Debian's tools: ``pdftoppm``
(poppler-utils) renders one page to a grey PNG, ``tesseract`` (tesseract-ocr with its English
data) reads it. Only the pages that need it are read, so a report with one scanned annex is
OCR'd for that annex alone.

It runs where the PDF is parsed: inside the PDF sandbox's child process
(``rag_qa.ingest.pdf_sandbox``), so the child's memory limit covers the tools it starts and the
parse's wall-clock cap covers their time; each tool call also has its own timeout. Results are
cached by the PDF's content hash (one JSON file per PDF, written atomically: the
``rag_qa.ingest.jsoncache`` folder the parse cache uses too), so a reparse, a renamed file or a
changed setting that does not touch OCR does not OCR again.

Speed on this machine (2 cores, tesseract 5.3, one thread per call): 200 dpi reads a report
page in 1.3 s (150 dpi: 1.26 s, 300 dpi: 1.87 s, with the same words); two calls at once read
about 1.4 pages a second (bench/bench_ocr.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rag_qa.ingest.jsoncache import JsonCache

INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-eng poppler-utils"
PAGE_TIMEOUT_S = 60  # per tool call: a page that takes longer is left unread


@dataclass(frozen=True)
class OcrOptions:
    dpi: int = 200
    max_pages: int = 150  # OCR'd pages per file at most; the rest are left unread, with a warning
    workers: int = 2  # tool calls at once
    cache_dir: str = ""  # "" : no cache

    def to_json(self) -> dict:
        return self.__dict__.copy()


@functools.lru_cache(maxsize=1)
def missing_tools() -> tuple[str, ...]:
    """The OCR tools not installed here (empty: OCR works); looked up once per process (a
    ``tesseract --list-langs`` call), not once per scanned file."""
    missing = [tool for tool in ("pdftoppm", "tesseract") if shutil.which(tool) is None]
    if not missing and not _has_english():
        missing.append("tesseract-ocr-eng")
    return tuple(missing)


def _has_english() -> bool:
    try:
        out = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "eng" in out.split()


def _env() -> dict[str, str]:
    # One thread per call: the calls run side by side, and tesseract's own threads on 2 cores
    # only fight them.
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def read_page(path: Path, number: int, dpi: int) -> str:
    """The text of one page, rendered and read; "" when the tools fail on it."""
    with tempfile.TemporaryDirectory(prefix="rag-qa-ocr-") as tmp:
        stem = Path(tmp) / "page"
        # PGM, uncompressed: writing a PNG took 1.0 s of a page's 2.0 s, a PGM 0.1 s.
        render = ["pdftoppm", "-r", str(dpi), "-gray", "-singlefile"]
        render += ["-f", str(number), "-l", str(number), str(path), str(stem)]
        try:
            subprocess.run(render, capture_output=True, timeout=PAGE_TIMEOUT_S, check=True)
            image = stem.with_suffix(".pgm")
            read = ["tesseract", str(image), "stdout", "-l", "eng", "--psm", "3"]
            done = subprocess.run(
                read, capture_output=True, timeout=PAGE_TIMEOUT_S, check=True, env=_env()
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.decode("utf-8", errors="replace")


def _cache(options: OcrOptions) -> JsonCache | None:
    return JsonCache(options.cache_dir, what="OCR cache") if options.cache_dir else None


def _cached(cache: JsonCache | None, options: OcrOptions, digest: str) -> dict[int, str]:
    data = cache.get(digest) if cache else None
    if not data or data.get("dpi") != options.dpi or not isinstance(data.get("pages"), dict):
        return {}
    return {int(k): v for k, v in data["pages"].items() if isinstance(v, str) and k.isdigit()}


def ocr_pages(path: Path, numbers: list[int], digest: str, options: OcrOptions) -> dict[int, str]:
    """Page number -> OCR text for ``numbers`` (the first ``options.max_pages`` of them),
    from the cache where it has them."""
    wanted = numbers[: options.max_pages]
    cache = _cache(options)
    known = _cached(cache, options, digest)
    todo = [n for n in wanted if n not in known]
    if todo:
        with ThreadPoolExecutor(max(1, options.workers)) as pool:
            read = pool.map(lambda n: read_page(path, n, options.dpi), todo)
            known.update(zip(todo, read, strict=True))
        if cache:
            body = {"dpi": options.dpi, "pages": {str(k): v for k, v in sorted(known.items())}}
            cache.put(digest, body)
    return {n: known[n] for n in wanted}
