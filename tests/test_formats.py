"""Web pages (.html, .htm) and Word files (.docx): read, refused, indexed and uploaded."""

from __future__ import annotations

import io
import json
import logging
import shutil
import time
import zipfile

import pytest
from conftest import FAKE_MODEL, FIXTURES

from rag_qa.index.build import run_build
from rag_qa.ingest import html as H
from rag_qa.ingest.chunking import WhitespaceTokenizer, chunk_document
from rag_qa.ingest.loaders import LoadError, load_file
from rag_qa.ingest.metadata import build_document
from rag_qa.settings import Settings
from rag_qa.web import uploads as U

HTML = FIXTURES / "html"
DOCX = FIXTURES / "docx"
EXPECTED = json.loads((HTML / "expected.json").read_text(encoding="utf-8"))
GOOD_PAGES = [k for k, v in EXPECTED.items() if not k.startswith("_") and v["main"]]


def load(path, root):
    return load_file(path, root, 10**8)


def lines_of(raw) -> list[str]:
    return [ln for ln in raw.pages[0][1].splitlines() if ln.strip()]


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


# ---------------------------------------------------------------------------------------------
# Web pages


@pytest.mark.parametrize("name", GOOD_PAGES)
def test_html_keeps_the_main_text_and_drops_the_boilerplate(name):
    raw = load(HTML / name, HTML)
    expected = EXPECTED[name]
    assert raw.kind == "html" and len(raw.pages) == 1 and raw.pages[0][0] is None
    text = _norm(raw.pages[0][1])
    lines = {_norm(ln) for ln in lines_of(raw)}
    for sentence in expected["main"]:  # a heading must be a line of its own
        assert _norm(sentence) in (lines if sentence.startswith("#") else text), sentence
    for boiler in expected["boilerplate"]:
        assert _norm(boiler) not in text, boiler
    assert raw.meta["title"] == expected["title"]
    assert raw.meta["date"] == expected["date"]


def test_html_document_title_date_sections_and_table_rows():
    raw = load(HTML / "cabinet-report-sufficiency.html", HTML)
    assert raw.meta["date_rule"] == "html-time"
    doc = build_document(raw)
    assert doc.title == "Cabinet report: Placement sufficiency strategy 2024 to 2027"
    assert doc.date == "2024-06-18"
    assert "Independent fostering agency | 142 | 181" in doc.pages[0].text.splitlines()
    chunks = chunk_document(doc, WhitespaceTokenizer(), 40, 0)
    sections = {c.section for c in chunks}
    assert {"Background", "Financial implications"} <= sections
    rows = [c for c in chunks if "Independent fostering agency | 142" in c.text]
    assert rows and rows[0].section == "Background"


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("kent-news-ofsted.html", "html-meta"),
        ("slough-scrutiny-minutes.html", "html-meta"),
        ("testshire-improvement-update.html", "html-published-line"),
    ],
)
def test_html_date_rules(name, rule):
    doc = build_document(load(HTML / name, HTML))
    assert doc.date == EXPECTED[name]["date"]
    assert any(m.rule == rule and m.date == doc.date for m in doc.dates)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("nav-only.html", "no main text"), ("empty.html", "no main text")],
)
def test_html_without_main_text_is_one_clear_error(name, problem):
    with pytest.raises(LoadError) as err:
        load(HTML / name, HTML)
    message = str(err.value)
    assert message.startswith(f"{name}: ") and problem in message and "\n" not in message


def test_deeply_nested_page_is_refused_quickly(tmp_path):
    page = tmp_path / "deep.html"
    body = "<div>" * 50_000 + "<p>Inspectors found practice had improved a great deal.</p>"
    page.write_text(f"<html><body>{body}{'</div>' * 50_000}</body></html>")
    start = time.perf_counter()
    with pytest.raises(LoadError, match="deep.html: .*nested 250 or more elements deep"):
        load(page, tmp_path)
    assert time.perf_counter() - start < 5


def test_five_megabytes_of_repeated_markup_finish_in_seconds(tmp_path):
    card = (
        "<div class='card'><h2>Item</h2><p>Inspectors found that caseloads in the assessment "
        "team remained high this year.</p><ul><li><a href='/x'>Link</a></li></ul></div>\n"
    )
    many = tmp_path / "many.html"
    many.write_text(f"<html><body><main>{card * (5_000_000 // len(card))}</main></body></html>")
    prose = tmp_path / "prose.html"
    sentence = "Inspectors found that caseloads in team {} remained high. "
    paras = "".join(f"<p>Paragraph {i}. {sentence.format(i) * 40}</p>\n" for i in range(2100))
    prose.write_text(f"<html><body><main>{paras}</main></body></html>")
    start = time.perf_counter()
    with pytest.raises(LoadError, match="many.html: .*more than 40,000 elements"):
        load(many, tmp_path)
    assert time.perf_counter() - start < 5
    start = time.perf_counter()
    raw = load(prose, tmp_path)  # few elements, much text: read in full
    assert len(raw.pages[0][1]) > 4_900_000
    assert time.perf_counter() - start < 10


def test_project_keeps_the_page_order_and_headings():
    page = ["Home > News", "## Findings", "Inspectors found care was good.", "Share this"]
    assert H.project(page, ["Inspectors found care was good."]) == page[1:3]
    # The extractor dropped an inline part of the line; the page's line is kept.
    assert H.project(["Meeting of Cabinet, Tuesday 18 June 2024"], ["Meeting of Cabinet,"]) == [
        "Meeting of Cabinet, Tuesday 18 June 2024"
    ]


# ---------------------------------------------------------------------------------------------
# Word files


def test_docx_text_headings_tables_title_and_date():
    raw = load(DOCX / "action-plan.docx", DOCX)
    assert raw.kind == "docx" and raw.pages[0][0] is None
    lines = lines_of(raw)
    assert lines[0] == "# Ofsted focused visit action plan"
    assert "# Areas for improvement" in lines and "## Actions and timescales" in lines
    table = lines.index("Action | Lead | By")
    assert lines[table + 1] == "Audit every child in need plan | Head of Service | April 2024"
    assert "Reviewed by the improvement board | Monthly" in lines  # a merged cell once
    assert lines.index("## Actions and timescales") < table < lines.index("## Monitoring")
    assert raw.meta == {
        "title": "Action plan (core properties)",
        "date": "2024-02-14",
        "date_rule": "docx-core-created",
    }
    doc = build_document(raw)
    assert doc.title == "Ofsted focused visit action plan"  # the text's own title first
    assert doc.date == "2024-02-14"
    sections = {c.section for c in chunk_document(doc, WhitespaceTokenizer(), 30, 0)}
    assert {"Areas for improvement", "Actions and timescales", "Monitoring"} <= sections


def test_docx_core_title_and_modified_date_when_the_text_has_neither():
    doc = build_document(load(DOCX / "panel-minutes.docx", DOCX))
    assert doc.title == "Corporate Parenting Panel minutes"
    assert doc.date == "2024-05-09"
    assert any(m.rule == "docx-core-modified" for m in doc.dates)
    assert "### Resolved" in doc.pages[0].text.splitlines()


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<w:document>" + b" " * 30_000_000 + b"</w:document>")
    return out.getvalue()


BAD_DOCX = [
    ("password-protected.docx", "password-protected", "save an unprotected copy"),
    ("old-format.docx", "Word 97-2003 .doc", "save it as .docx"),
    ("not-a-zip.docx", "not a zip", "replace the file"),
    ("truncated.docx", "damaged Word file", "copy the complete file again"),
    ("empty.docx", "has no text", "add text"),
]


@pytest.mark.parametrize(("name", "problem", "hint"), BAD_DOCX)
def test_bad_docx_is_one_clear_error(name, problem, hint):
    with pytest.raises(LoadError) as err:
        load(DOCX / name, DOCX)
    message = str(err.value)
    assert message.startswith(f"{name}: ") and problem in message and hint in message
    assert "\n" not in message


def test_zip_bomb_is_refused_before_parsing(tmp_path):
    (tmp_path / "bomb.docx").write_bytes(zip_bomb())
    start = time.perf_counter()
    with pytest.raises(LoadError, match=r"bomb.docx: .*30,000,\d+ bytes .*zip bomb"):
        load(tmp_path / "bomb.docx", tmp_path)
    assert time.perf_counter() - start < 2
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("content.xml", "<office:document/>")  # an .odt, say
    (tmp_path / "other.docx").write_bytes(other.getvalue())
    with pytest.raises(LoadError, match="no word/document.xml"):
        load(tmp_path / "other.docx", tmp_path)


# ---------------------------------------------------------------------------------------------
# The index build and uploads


@pytest.fixture
def mixed(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(HTML / "kent-news-ofsted.html", corpus / "kent-news.html")
    shutil.copy(DOCX / "action-plan.docx", corpus / "action-plan.docx")
    shutil.copy(HTML / "nav-only.html", corpus / "menu.htm")
    shutil.copy(DOCX / "password-protected.docx", corpus / "locked.docx")
    shutil.copy(DOCX / "not-a-zip.docx", corpus / "renamed.docx")
    settings = Settings.make(
        corpus_dir=corpus, index_dir=tmp_path / "index", model=FAKE_MODEL, min_similarity=0.0
    )
    return corpus, settings


def test_a_build_indexes_the_good_files_and_warns_once_per_bad_one(mixed, fake_model, caplog):
    corpus, settings = mixed
    with caplog.at_level(logging.WARNING):
        first = run_build(settings, lambda: fake_model, progress=False)
    for bad in ("menu.htm", "locked.docx", "renamed.docx"):
        said = [r.getMessage() for r in caplog.records if f"{bad}:" in r.getMessage()]
        assert len(said) == 1, said
    assert sorted(first.added) == ["action-plan.docx", "kent-news.html"]
    assert set(first.skipped) == {"menu.htm", "locked.docx", "renamed.docx"}
    assert "no main text" in first.skipped["menu.htm"]
    assert "password-protected" in first.skipped["locked.docx"]
    assert "not a zip" in first.skipped["renamed.docx"]
    assert first.chunks_embedded == first.chunks > 0

    second = run_build(settings, lambda: fake_model, progress=False)
    assert (second.added, second.changed, second.chunks_embedded) == ([], [], 0)
    assert second.unchanged == 2 and set(second.skipped) == set(first.skipped)

    page = (corpus / "kent-news.html").read_text(encoding="utf-8")
    (corpus / "kent-news.html").write_text(
        page.replace("within 70 working days.", "within 70 working days. A new sentence."),
        encoding="utf-8",
    )
    third = run_build(settings, lambda: fake_model, progress=False)
    assert third.changed == ["kent-news.html"] and third.unchanged == 1
    assert 0 < third.chunks_embedded < first.chunks_embedded


def test_uploads_accept_html_and_docx_by_content(tmp_path):
    page = (HTML / "kent-news-ofsted.html").read_bytes()
    word = (DOCX / "action-plan.docx").read_bytes()
    assert U.check_upload(page, "news.html") == "html"
    assert U.check_upload(page, "news.htm") == "html"
    assert U.check_upload(b"\xef\xbb\xbf<!-- saved -->\n<HTML><body>x</body></HTML>", "a.htm")
    assert U.check_upload(word, "plan.docx") == "docx"
    for data, name, why in [
        (b"PK\x03\x04 not really a zip", "a.docx", "damaged"),
        (b"plain text, not a zip", "a.docx", "not a zip"),
        ((DOCX / "password-protected.docx").read_bytes(), "a.docx", "password-protected"),
        ((DOCX / "old-format.docx").read_bytes(), "a.docx", "97-2003"),
        (zip_bomb(), "a.docx", "zip bomb"),
        (word, "a.html", "not a text file"),
        (b"Just some notes, no markup.", "a.html", "not a web page"),
        ("<html>Café</html>".encode("latin-1"), "a.html", "not UTF-8"),
    ]:
        with pytest.raises(U.UploadRejected, match=why):
            U.check_upload(data, name)
    stored = U.store_upload(word, "Action plan.DOCX", tmp_path / "corpus")
    assert stored.name == "Action plan.docx" and stored.read_bytes() == word
    with pytest.raises(U.UploadRejected, match="not a zip"):
        U.store_upload(b"renamed text file", "plan.docx", tmp_path / "corpus")
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == ["Action plan.docx"]
