"""A fuzz corpus: whatever a council's shared drive holds must not make the index build fall over.

Every file is written by code here, in tmp_path (no binary junk is committed). Each bad file
must be skipped with one clear reason naming the problem, every good file must be indexed and
searchable, and the build must finish, however hostile the PDFs: a decompression bomb, a
stream-per-page bomb that needs gigabytes, page trees and object streams that loop, a content
stream that keeps the parser busy for minutes.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import time
import zlib
from pathlib import Path

import pytest
from conftest import FAKE_MODEL, FIXTURES, REPO

from rag_qa.embed.model import load_embedder
from rag_qa.engine import Engine
from rag_qa.index import generations as G
from rag_qa.index.build import CorpusReader, run_build
from rag_qa.index.loaded import open_index
from rag_qa.index.parse import OCR_CACHE
from rag_qa.ingest import loaders as L
from rag_qa.ingest import pdf_sandbox as isolate
from rag_qa.ingest.loaders import LoadError, load_pdf, read_pdf_pages
from rag_qa.ingest.ocr import OcrOptions, missing_tools
from rag_qa.ingest.pdf_sandbox import PdfLimits, PdfParser, _outcome
from rag_qa.settings import Settings

# -- writing PDFs by hand ------------------------------------------------------------------


def pdf_bytes(objects: dict[int, bytes], root: int = 1) -> bytes:
    """A PDF holding ``objects`` (number -> body), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n"
    xref, size = len(out), max(objects) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for number in range(1, size):
        out += (
            f"{offsets[number]:010d} 00000 n \n" if number in offsets else "0" * 10 + " 65535 f \n"
        ).encode()
    out += f"trailer\n<< /Size {size} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def stream(data: bytes, extra: str = "") -> bytes:
    return f"<< /Length {len(data)} {extra}>>\nstream\n".encode() + data + b"\nendstream"


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def page(contents: str = "4 0 R", parent: int = 2) -> bytes:
    return (
        f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 612 792] "
        f"/Resources << /Font << /F1 5 0 R >> >> /Contents {contents} >>"
    ).encode()


def one_page_pdf(content: bytes, extra: str = "") -> bytes:
    return pdf_bytes(
        {
            1: CATALOG,
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: page(),
            4: stream(content, extra),
            5: FONT,
        }
    )


def text_pdf(lines: list[str]) -> bytes:
    ops = "BT /F1 11 Tf 14 TL 72 740 Td " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    return one_page_pdf(ops.encode("latin-1"))


def zeros_bomb(size: int = 1 << 30) -> bytes:
    """A FlateDecode stream of ``size`` zero bytes, made with zlib.compressobj in ~1 MB.

    After a full flush the compressor starts afresh, so every further 1 MiB block of zeros
    compresses to the same bytes; only the trailer's Adler-32 needs working out (for n zeros:
    a = 1, b = n mod 65521).
    """
    block = b"\0" * (1 << 20)
    co = zlib.compressobj(9)
    first = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    repeat = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    assert co.compress(block) + co.flush(zlib.Z_FULL_FLUSH) == repeat
    end = co.flush(zlib.Z_FINISH)[:-4] + (((size % 65521) << 16) | 1).to_bytes(4, "big")
    return first + repeat * (size // len(block) - 1) + end


def check_bomb(data: bytes, size: int) -> None:
    """The bomb is a valid zlib stream of exactly ``size`` zeros (checked in 64 MB steps)."""
    d, total = zlib.decompressobj(), 0
    while data:
        out = d.decompress(data, 64 << 20)
        total += len(out)
        assert not out.strip(b"\0")
        data = d.unconsumed_tail
    assert d.eof and total == size


def bomb_pdf() -> bytes:
    """One page whose content stream inflates to 1 GiB: pypdf's own output limit stops it."""
    return one_page_pdf(zeros_bomb(), "/Filter /FlateDecode ")


def pages_bomb_pdf(pages: int = 20, per_page: int = 70_000_000) -> bytes:
    """``pages`` pages, each with its own content stream of 70 MB of spaces (~70 KB each):
    every stream stays under pypdf's 75 MB limit, but together they need 1.4 GB."""
    co = zlib.compressobj(9)
    data = co.compress(b" " * per_page) + co.flush()
    objects = {1: CATALOG, 5: FONT}
    kids = []
    for i in range(pages):
        kids.append(f"{10 + 2 * i} 0 R")
        objects[10 + 2 * i] = page(f"{11 + 2 * i} 0 R")
        objects[11 + 2 * i] = stream(data, "/Filter /FlateDecode ")
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {pages} >>".encode()
    return pdf_bytes(objects)


def flood_pdf(megabytes: int = 20) -> bytes:
    """A ~75 KB PDF whose content stream holds 20 MB of text operators: pypdf needs minutes."""
    line = b"(" + b"caseloads " * 40 + b") Tj T*\n"
    body = b"BT /F1 11 Tf 14 TL 72 700 Td\n" + line * (megabytes * 1_000_000 // len(line)) + b"ET"
    return one_page_pdf(zlib.compress(body, 9), "/Filter /FlateDecode ")


def big_page_pdf(chars: int = 2_500_000) -> bytes:
    """One page with one 2.5-million-character string: more text than any real page."""
    words = (b"caseloads " * (chars // 10 + 1))[:chars]
    return one_page_pdf(
        zlib.compress(b"BT /F1 11 Tf 72 700 Td (" + words + b") Tj ET", 9), "/Filter /FlateDecode "
    )


def kids_loop_pdf() -> bytes:
    """The root /Pages node lists itself among its /Kids."""
    return pdf_bytes(
        {
            1: CATALOG,
            2: b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            3: page(),
            4: stream(b"BT /F1 11 Tf 72 700 Td (Looping page tree) Tj ET"),
            5: FONT,
        }
    )


def parent_loop_pdf() -> bytes:
    """Two /Pages nodes, each the other's only kid."""
    return pdf_bytes(
        {
            1: CATALOG,
            2: b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
            6: b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>",
            3: page(),
            4: stream(b"BT (x) Tj ET"),
            5: FONT,
        }
    )


def objstm_loop_pdf() -> bytes:
    """The page tree lives in an object stream that /Extends itself."""
    inner = b"7 0 << /Type /Pages /Kids [3 0 R] /Count 1 >>"
    return pdf_bytes(
        {
            1: b"<< /Type /Catalog /Pages 6 0 R >>",
            3: b"<< /Type /Page /Parent 6 0 R /MediaBox [0 0 612 792] >>",
            6: stream(inner, "/Type /ObjStm /N 1 /First 4 /Extends 6 0 R "),
        }
    )


def prev_loop_pdf() -> bytes:
    """A trailer whose /Prev points at its own xref table: pypdf notices and reads the page."""
    text = b"BT /F1 11 Tf 72 700 Td (Kinship placements were reviewed by the xrefloop panel.) Tj ET"
    body = {
        1: CATALOG,
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: page(),
        4: stream(text),
        5: FONT,
    }
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for number, obj in body.items():
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n"
    out += b"".join(f"{offsets[n]:010d} 00000 n \n".encode() for n in range(1, 6))
    out += f"trailer\n<< /Size 6 /Root 1 0 R /Prev {xref} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def scanned_pdf() -> bytes:
    """A page that only paints an image XObject and a filled rectangle: no text layer."""
    image = stream(
        bytes(range(64)),
        "/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
        "/BitsPerComponent 8 ",
    )
    return pdf_bytes(
        {
            1: CATALOG,
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
            4: stream(b"q 612 0 0 792 0 0 cm /Im1 Do Q 0 0 1 rg 10 10 100 100 re f"),
            5: image,
        }
    )


def encrypted_pdf(user_password: str) -> bytes:
    import io

    import pypdf

    writer = pypdf.PdfWriter(clone_from=str(FIXTURES / "report.pdf"))
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- the fuzz corpus -----------------------------------------------------------------------

LONG_LINE_BYTES = 5_000_000
ODD_TXT = 'rapport d\'été "final" – Ofsted.txt'
ODD_PDF = "Ünïcödé 'quoted' & spaced – report.pdf"
ODD_MD = "sub folder/naïve café's notes.md"

# Files that must be indexed, each with a word that only it holds (to search for).
GOOD = {
    "report.pdf": "headline",
    "open with empty password.pdf": "headline",
    "latin1.txt": "Élancourt",
    "utf16.txt": "Zwölfhausen",
    "long line.txt": "quillmarsh",
    ODD_TXT: "Bellecombe",
    ODD_PDF: "Wrenfield",
    ODD_MD: "Gorsebrook",
    "prev loop.pdf": "xrefloop",
}

# Files that must be skipped: the words their one reason must hold.
BAD = {
    "empty.txt": "the file is empty (0 bytes)",
    "empty.pdf": "the file is empty (0 bytes)",
    "binary.txt": "looks like a binary file",
    "junk.pdf": "not a PDF file (it does not start with %PDF-)",
    "truncated.pdf": "the PDF looks truncated",
    "locked.pdf": "encrypted with a password",
    "scanned.pdf": "no text layer (scanned image?)",
    "bomb.pdf": "it may be a decompression bomb",
    "bomb pages.pdf": "parsing needed more than 512 MB of memory",
    "big page.pdf": "page 1 holds more text than a real report",
    "flood.pdf": "parsing took longer than 10 s",
    "kids loop.pdf": "cyclic page references",
    "parent loop.pdf": "cyclic page references",
    "objstm loop.pdf": "the PDF has no pages",
    "gone at listing.txt": "the file disappeared before it could be read",
    "gone before parsing.pdf": "the file disappeared before it could be read",
    "gone before reading.txt": "the file disappeared before it could be read",
}
GONE_AT_LISTING = "gone at listing.txt"
GONE_BEFORE_PARSING = ("gone before parsing.pdf", "gone before reading.txt")


def write_fuzz_corpus(root: Path) -> None:
    report = (FIXTURES / "report.pdf").read_bytes()
    files: dict[str, bytes] = {
        "report.pdf": report,
        "open with empty password.pdf": encrypted_pdf(""),
        "latin1.txt": "Kinship carers in Élancourt receive £250 a week; café meetings help.".encode(
            "latin-1"
        ),
        "utf16.txt": "Children placed in Zwölfhausen see their social worker every week.".encode(
            "utf-16"
        ),
        "long line.txt": long_line(),
        ODD_TXT: b"The Bellecombe family hub opened in the spring and is well used.",
        ODD_PDF: text_pdf(["Wrenfield children's homes were judged good at their last visit."]),
        ODD_MD: b"# Notes\n\nThe Gorsebrook team has reduced agency staff this year.\n",
        "prev loop.pdf": prev_loop_pdf(),
        "empty.txt": b"",
        "empty.pdf": b"",
        "binary.txt": b"\x00\x00\x89PNG\r\n" * 200,
        "junk.pdf": random.Random(7).randbytes(20_000),
        "truncated.pdf": report[: len(report) // 2],
        "locked.pdf": encrypted_pdf("a real password"),
        "scanned.pdf": scanned_pdf(),
        "bomb.pdf": bomb_pdf(),
        "bomb pages.pdf": pages_bomb_pdf(),
        "big page.pdf": big_page_pdf(),
        "flood.pdf": flood_pdf(),
        "kids loop.pdf": kids_loop_pdf(),
        "parent loop.pdf": parent_loop_pdf(),
        "objstm loop.pdf": objstm_loop_pdf(),
        GONE_AT_LISTING: b"This file is deleted after it was listed.",
        GONE_BEFORE_PARSING[0]: report,
        GONE_BEFORE_PARSING[1]: b"This file is deleted before it is read.",
    }
    assert set(files) == set(GOOD) | set(BAD)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def long_line() -> bytes:
    """One 5 MB line of sentences, with a rare word at its very end."""
    sentence = "Inspectors found that caseloads are manageable for most social workers. "
    body = sentence * (LONG_LINE_BYTES // len(sentence))
    return (body + "The quillmarsh review closed the year.").encode()


@pytest.fixture
def fuzz_settings(tmp_path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_fuzz_corpus(corpus)
    return Settings.make(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        model=FAKE_MODEL,
        pdf_timeout_s=10,
        pdf_memory_mb=512,
    )


def search(settings: Settings, question: str, k: int = 3) -> list[str]:
    """Sources of the top passages, by BM25 alone (the fake embedder's vectors are noise)."""
    settings = settings.replace(mode="bm25")
    engine = Engine(settings, load_embedder(settings.embed.model))
    try:
        return [p.document.source for p in engine.search(question, k).passages]
    finally:
        engine.close()


def test_fuzz_corpus_build_skips_each_bad_file_once_and_indexes_the_rest(fuzz_settings, caplog):
    real_list, real_load = L.list_corpus, L.load_file

    def list_then_delete(root):
        files = real_list(root)
        (root / GONE_AT_LISTING).unlink()  # listed, then gone before it is looked at
        return files

    def delete_then_load(path, root, *args, **kwargs):
        if path.name in GONE_BEFORE_PARSING:  # scanned and hashed, then gone before parsing
            path.unlink()
        return real_load(path, root, *args, **kwargs)

    reader = CorpusReader(list_files=list_then_delete, load=delete_then_load)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    summary = run_build(
        fuzz_settings, lambda: load_embedder(FAKE_MODEL), progress=False, reader=reader
    )
    elapsed = time.monotonic() - started

    # The exact set of skipped files, each with its reason, as a readable sentence.
    assert set(summary.skipped) == set(BAD), summary.skipped
    for source, expected in BAD.items():
        reason = summary.skipped[source]
        assert expected in reason, (source, reason)
        assert "\n" not in reason and len(reason) < 300 and reason[0].islower(), reason
    # One warning per bad file, naming it; none for the good ones.
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for source in BAD:
        assert sum(source in message for message in warned) == 1, (source, warned)
    for source in GOOD:
        assert not any(source in message for message in warned), (source, warned)

    # Every good file is indexed and can be found by its own word.
    assert sorted(summary.added) == sorted(GOOD)
    assert summary.documents == len(GOOD)
    for source, word in GOOD.items():
        if word != "headline":
            assert search(fuzz_settings, word)[0] == source, (source, word)
    # The fixture and its copy encrypted with an empty password hold the same text (search
    # merges near-duplicate passages, so look at the stored documents).
    assert search(fuzz_settings, "headline findings", k=1)[0] in GOOD
    index = open_index(fuzz_settings)
    try:
        docs = {d.source: index.document(d.doc_id) for d in index.documents.values()}
    finally:
        index.close()
    assert set(docs) == set(GOOD)
    assert docs["report.pdf"].pages == docs["open with empty password.pdf"].pages
    assert [p.number for p in docs["report.pdf"].pages] == [1, 2, 3]

    # The manifest remembers the skipped files still present, so they are not parsed again.
    manifest = json.loads((G.current_generation(fuzz_settings.index_dir) / G.MANIFEST).read_text())
    gone = {GONE_AT_LISTING, *GONE_BEFORE_PARSING}
    assert set(manifest["skipped"]) == set(BAD) - gone
    assert all(manifest["skipped"][s]["reason"] == summary.skipped[s] for s in manifest["skipped"])

    # The bomb, the loops and the flood cost at most the timeout, not the build.
    assert elapsed < 90, f"fuzz build took {elapsed:.0f} s"

    # A second build parses nothing: good files are unchanged, bad ones remembered.
    def no_parsing(*args, **kwargs):
        raise AssertionError("an unchanged file was parsed again")

    reader = CorpusReader(list_files=real_list, load=no_parsing)
    started = time.monotonic()
    again = run_build(
        fuzz_settings, lambda: load_embedder(FAKE_MODEL), progress=False, reader=reader
    )
    assert time.monotonic() - started < 10
    assert (again.added, again.changed, again.removed) == ([], [], [])
    assert again.unchanged == len(GOOD)
    assert again.skipped == {s: summary.skipped[s] for s in manifest["skipped"]}


# -- the isolation itself ------------------------------------------------------------------


def corpus_pdfs() -> list[Path]:
    return sorted((REPO / "corpus").glob("*.pdf"))


def test_isolated_parsing_gives_the_same_pages_as_in_process(tmp_path):
    odd = tmp_path / ODD_PDF
    odd.write_bytes(text_pdf(["Accents \\351t\\351 and quotes \\221like these\\222 survive."]))
    paths = [FIXTURES / "report.pdf", odd, *corpus_pdfs()]
    with PdfParser(PdfLimits(timeout_s=60, memory_mb=1536)) as parser:
        parser.prefetch((p, p.name) for p in paths)
        for path in paths:
            assert parser(path, path.name) == load_pdf(path, path.name), path.name
        assert len(parser.stats) == len(paths)
        assert all(s.parse_s is not None and s.overhead_s < 5 for s in parser.stats)


def test_a_hung_parse_is_killed_at_the_timeout(tmp_path):
    path = tmp_path / "flood.pdf"
    path.write_bytes(flood_pdf())
    started = time.monotonic()
    with PdfParser(PdfLimits(timeout_s=2, memory_mb=512)) as parser:
        with pytest.raises(LoadError) as err:
            parser(path, "flood.pdf")
        assert not parser._busy and not parser._idle  # the worker is gone, not left running
        # The next file gets a fresh worker and parses as usual.
        assert parser(FIXTURES / "report.pdf", "report.pdf") == load_pdf(
            FIXTURES / "report.pdf", "report.pdf"
        )
        assert parser.started == 2
    assert time.monotonic() - started < 15
    assert str(err.value) == (
        "flood.pdf: parsing took longer than 2 s; the PDF may be malformed (replace the file)"
    )


def test_one_worker_parses_file_after_file_and_is_retired_after_its_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(isolate, "RECYCLE_AFTER", 3)
    paths = [FIXTURES / "report.pdf"] * 4 + [tmp_path / "junk.pdf"]
    paths[-1].write_bytes(b"%PDF-1.4 not really")
    with PdfParser(PdfLimits(timeout_s=60, memory_mb=1536), workers=1) as parser:
        for path in paths[:3]:
            assert parser(path, path.name)
        assert parser.started == 1  # one process for three files
        assert parser(paths[3], "again.pdf")
        assert parser.started == 2  # retired after three, a fresh one for the fourth
        with pytest.raises(LoadError):
            parser(paths[4], "junk.pdf")
        assert parser(paths[0], "report.pdf")  # a file's error does not end its worker
        assert parser.started == 2


def test_workers_run_at_the_niceness_asked_for():
    import os

    with PdfParser(PdfLimits(timeout_s=60, memory_mb=1536, nice=5), workers=1) as parser:
        assert parser(FIXTURES / "report.pdf", "report.pdf")
        (worker,) = parser._idle
        expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)
        assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == expected


class _Clock:
    """A fake wall clock and worker CPU clock for ``_Worker._time_left``."""

    def __init__(self, monkeypatch):
        self.wall, self.cpu = 100.0, 5.0
        monkeypatch.setattr(isolate.time, "monotonic", lambda: self.wall)
        monkeypatch.setattr(isolate, "_cpu_seconds", lambda pid: self.cpu)


def _worker_at(limits: PdfLimits, clock: _Clock) -> isolate._Worker:
    worker = object.__new__(isolate._Worker)  # no process: only the clock arithmetic
    worker.limits = limits
    worker.proc = type("P", (), {"pid": 1})()
    worker._started = (clock.wall, clock.cpu)
    return worker


def test_the_timeout_counts_the_workers_cpu_seconds_not_its_wait_for_a_core(monkeypatch):
    clock = _Clock(monkeypatch)
    worker = _worker_at(PdfLimits(timeout_s=10), clock)
    assert worker._time_left() == 10
    clock.wall += 12  # 12 s later, but the worker had the CPU for 3 s of them
    clock.cpu += 3
    assert worker._time_left() == 7
    clock.wall += 5
    clock.cpu += 7  # now it has parsed for its 10 s
    assert worker._time_left() == 0


def test_a_worker_starved_or_asleep_is_still_stopped_on_the_wall_clock(monkeypatch):
    clock = _Clock(monkeypatch)
    worker = _worker_at(PdfLimits(timeout_s=10), clock)
    clock.wall += 38  # no CPU used at all: the wall-clock cap (4 x 10 s) is 2 s away
    assert worker._time_left() == 2
    clock.wall += 2
    assert worker._time_left() == 0


def test_without_cpu_times_the_timeout_is_wall_clock(monkeypatch):
    clock = _Clock(monkeypatch)
    worker = _worker_at(PdfLimits(timeout_s=10), clock)
    monkeypatch.setattr(isolate, "_cpu_seconds", lambda pid: None)
    clock.wall += 4
    assert worker._time_left() == 6
    assert _worker_at(PdfLimits(timeout_s=0), clock)._time_left() is None


def test_cpu_seconds_of_a_live_process_are_read_from_proc():
    import os
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("/proc is Linux's")
    mine = isolate._cpu_seconds(os.getpid())
    assert mine is not None and mine > 0
    assert isolate._cpu_seconds(2**22 + 12345) is None  # no such process


@pytest.mark.slow
def test_the_bomb_is_a_valid_stream_of_one_gibibyte_in_about_one_megabyte():
    data = zeros_bomb(1 << 30)
    assert len(data) < 1_100_000
    check_bomb(data, 1 << 30)


@pytest.mark.parametrize(
    ("returncode", "stderr", "expected"),
    [
        (-signal.SIGKILL, b"", "needed more than 512 MB of memory"),
        (86, b"", "needed more than 512 MB of memory"),
        (1, b"Traceback ...\nMemoryError\n", "needed more than 512 MB of memory"),
        (-signal.SIGXCPU, b"", "took longer than 10 s"),
        (-signal.SIGSEGV, b"", "the PDF reader crashed (killed by SIGSEGV)"),
        (3, b"boom\nSystemError: bad\n", "the PDF reader crashed (exit code 3: SystemError: bad)"),
    ],
)
def test_a_child_that_dies_is_reported_in_one_line(returncode, stderr, expected):
    with pytest.raises(LoadError) as err:
        _outcome(returncode, b"", stderr, "x.pdf", PdfLimits(timeout_s=10, memory_mb=512))
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_vanished_pdf_is_reported_by_the_child_as_gone(tmp_path):
    with PdfParser(PdfLimits()) as parser, pytest.raises(FileNotFoundError):
        parser(tmp_path / "missing.pdf", "missing.pdf")


# -- in-process guards ---------------------------------------------------------------------


def test_text_caps_per_file(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "MAX_FILE_CHARS", 1000)
    with pytest.raises(LoadError, match=r"holds more text than a real report \(over 1,000"):
        load_pdf(FIXTURES / "report.pdf", "report.pdf")


def test_pages_that_fail_give_one_reason_not_many(tmp_path, monkeypatch, caplog):
    import pypdf

    def broken(self, *args, **kwargs):
        raise KeyError("/Font")

    monkeypatch.setattr(pypdf.PageObject, "extract_text", broken)
    caplog.set_level(logging.WARNING)
    with pytest.raises(LoadError) as err:
        read_pdf_pages(FIXTURES / "report.pdf", "report.pdf", ocr=None)
    assert "no text could be read: 3 of 3 pages failed (page 1: '/Font')" in str(err.value)
    assert not caplog.records
    if not missing_tools():  # with OCR, pages whose text cannot be extracted are read as images
        pages = load_pdf(FIXTURES / "report.pdf", "report.pdf")
        assert pages.ocr == (1, 2, 3) and "Jane Example" in pages[0][1]
        assert not caplog.records  # recovered pages are not reported as skipped


def test_aes_without_cryptography_is_explained(monkeypatch, tmp_path):
    import pypdf
    from pypdf.errors import DependencyError

    path = tmp_path / "aes.pdf"
    path.write_bytes(encrypted_pdf(""))

    def needs_crypto(self, password):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(pypdf.PdfReader, "decrypt", needs_crypto)
    with pytest.raises(LoadError, match="encrypted with AES.*pip install cryptography"):
        load_pdf(path, "aes.pdf")


def test_a_five_megabyte_line_is_cleaned_and_chunked_quickly():
    from conftest import HashEmbedder

    from rag_qa.ingest.chunking import chunk_document
    from rag_qa.ingest.loaders import RawDocument
    from rag_qa.ingest.metadata import build_document

    text = long_line().decode()
    started = time.monotonic()
    doc = build_document(RawDocument("long.txt", "text", ((None, text),), {}, "h"))
    chunks = chunk_document(doc, HashEmbedder().tokenizer, 200, 48)
    assert time.monotonic() - started < 30
    assert chunks[-1].text.endswith("The quillmarsh review closed the year.")
    assert all(c.token_count <= 200 for c in chunks)


def test_build_uses_the_settings_limits(settings):
    seen = []

    def spy(limits, workers):
        seen.append((limits, workers))
        return PdfParser(limits, workers)

    limited = settings.replace(pdf_timeout_s=7, pdf_memory_mb=900)
    summary = run_build(
        limited,
        lambda: load_embedder(FAKE_MODEL),
        progress=False,
        reader=CorpusReader(pdf_parser=spy),
    )
    cache = str(limited.index_dir / OCR_CACHE)
    ocr = OcrOptions(cache_dir=cache)
    assert seen == [(PdfLimits(7, 900, 19, ocr), 2)] and summary.documents == 3
    # The limits do not change what is indexed: they stay out of the index key.
    assert (
        Settings().index_key()
        == (Settings()).replace(pdf_timeout_s=1, pdf_memory_mb=1, pdf_nice=0).index_key()
    )
