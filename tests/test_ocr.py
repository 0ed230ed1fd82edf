"""Scanned PDFs: pages without a text layer are OCR'd (pdftoppm + tesseract), only those
pages, inside the PDF sandbox; results cached by content hash; citations say "(OCR)"; without
the tools the file is skipped with how to install them. Fixtures: tests/fixtures/make_scanned.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FAKE_MODEL, FIXTURES

from rag_qa.engine import Engine, Filters
from rag_qa.index.build import run_build
from rag_qa.index.parse import OCR_CACHE
from rag_qa.ingest import loaders, ocr
from rag_qa.ingest.loaders import LoadError, PdfPages, read_pdf_pages
from rag_qa.ingest.ocr import OcrOptions
from rag_qa.ingest.pdf_sandbox import PdfLimits, PdfParser
from rag_qa.settings import Settings

needs_ocr = pytest.mark.skipif(
    bool(ocr.missing_tools()), reason=f"OCR tools missing ({ocr.INSTALL_HINT})"
)
SCANNED, MIXED = FIXTURES / "scanned.pdf", FIXTURES / "mixed.pdf"


@needs_ocr
def test_a_scanned_pdf_is_read_page_by_page_with_its_numbers():
    pages, warnings = read_pdf_pages(SCANNED, "scanned.pdf", OcrOptions())
    assert isinstance(pages, PdfPages) and pages.ocr == (1, 2, 3) and warnings == []
    assert [n for n, _ in pages] == [1, 2, 3]
    assert "Lead inspector: Jane Example" in pages[0][1]
    assert "front door is effective" in pages[1][1]
    assert "Care leavers are supported by personal advisers" in pages[2][1]


@needs_ocr
def test_only_the_pages_without_text_are_ocrd(monkeypatch):
    read = []
    real = ocr.read_page
    monkeypatch.setattr(ocr, "read_page", lambda p, n, dpi: read.append(n) or real(p, n, dpi))
    pages, _ = read_pdf_pages(MIXED, "mixed.pdf", OcrOptions())
    assert read == [1] and pages.ocr == (1,)
    assert "Jane Example" in pages[0][1] and pages[1][1].startswith("Inspection of Testshire")


@needs_ocr
def test_ocr_results_are_cached_by_content(tmp_path, monkeypatch):
    options = OcrOptions(cache_dir=str(tmp_path / "cache"))
    first, _ = read_pdf_pages(SCANNED, "a.pdf", options)
    monkeypatch.setattr(ocr, "read_page", lambda *a: pytest.fail("OCR'd again"))
    renamed = tmp_path / "renamed.pdf"
    shutil.copy(SCANNED, renamed)
    again, _ = read_pdf_pages(renamed, "renamed.pdf", options)
    assert again == first and again.ocr == first.ocr
    (cached,) = (tmp_path / "cache").glob("*.json")
    assert json.loads(cached.read_text())["dpi"] == options.dpi


@needs_ocr
def test_the_sandbox_ocrs_and_says_which_pages():
    with PdfParser(PdfLimits(ocr=OcrOptions()), workers=1) as parser:
        pages = parser(MIXED, "mixed.pdf")
    assert pages.ocr == (1,) and "Jane Example" in pages[0][1]
    assert pages == read_pdf_pages(MIXED, "mixed.pdf", OcrOptions())[0]


def test_without_ocr_a_scan_is_skipped_saying_how_to_install_it(monkeypatch):
    monkeypatch.setattr(loaders, "missing_tools", lambda: ["tesseract"])
    with pytest.raises(LoadError) as err:
        read_pdf_pages(SCANNED, "scanned.pdf", OcrOptions())
    assert "no text layer" in str(err.value) and "OCR is not installed" in str(err.value)
    assert "apt-get install tesseract-ocr" in err.value.hint
    pages, warnings = read_pdf_pages(MIXED, "mixed.pdf", OcrOptions())
    assert pages.ocr == () and len(pages) == 3
    assert len(warnings) == 1 and "page(s) 1 have no text layer" in warnings[0]


def test_ocr_off_keeps_the_old_message():
    with pytest.raises(LoadError, match="no text layer") as err:
        read_pdf_pages(SCANNED, "scanned.pdf", None)
    assert "OCR" not in err.value.problem


@needs_ocr
def test_an_indexed_scan_is_cited_as_ocr_and_a_full_rebuild_reuses_the_ocr(tmp_path, fake_model):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SCANNED, corpus / "testshire scanned - 17 march 2023.pdf")
    shutil.copy(MIXED, corpus / "mixed.pdf")
    settings = Settings.make(corpus_dir=corpus, index_dir=tmp_path / "index", model=FAKE_MODEL)
    summary = run_build(settings, lambda: fake_model, progress=False)
    assert not summary.skipped and summary.documents == 2
    engine = Engine(settings, fake_model)
    scan = next(d for d in engine.documents() if d.source.startswith("testshire"))
    assert scan.ocr_pages == {1, 2, 3} and scan.lead_inspector == "Jane Example"
    mixed = next(d for d in engine.documents() if d.source == "mixed.pdf")
    assert mixed.ocr_pages == {1}
    turn = engine.ask("Is the front door effective?", filters=Filters(doc_ids=(scan.doc_id,)))
    assert turn.passages and all(p.citation.endswith("(OCR)") for p in turn.passages)
    turn = engine.ask("Is the front door effective?", filters=Filters(doc_ids=(mixed.doc_id,)))
    for p in turn.passages:
        assert p.citation.endswith("(OCR)") == (p.chunk.page_start == 1), p.citation
    # The cache is read when the files are parsed again: a marker written into it comes back
    # as the text (a --full rebuild alone takes the parsed files from the parse cache).
    cache = Path(settings.index_dir) / OCR_CACHE
    for path in cache.glob("*.json"):
        data = json.loads(path.read_text())
        data["pages"]["1"] = data["pages"]["1"].replace("Jane Example", "Jane Cached")
        path.write_text(json.dumps(data))
    run_build(settings, lambda: fake_model, progress=False, full=True, reparse=True)
    engine = Engine(settings, fake_model)
    assert {d.lead_inspector for d in engine.documents()} == {"Jane Cached"}  # both: page 1
