from conftest import FIXTURES, LETTER

from rag_qa.ingest.clean import clean_pages, clean_text, join_lines, strip_boilerplate
from rag_qa.ingest.loaders import RawDocument, load_file
from rag_qa.ingest.metadata import build_document, doc_id_for


def fixture_doc():
    return build_document(load_file(FIXTURES / "report.pdf", FIXTURES, 10**9))


def test_running_header_footer_and_page_numbers_removed():
    doc = fixture_doc()
    text = "\n".join(p.text for p in doc.pages)
    assert "Inspection of Testshire local authority" not in text
    assert "10 January to 14 February 2023" not in text.replace("Inspection dates: 10", "")
    assert not any(line.strip().isdigit() for line in text.splitlines())
    # ...but the same phrase in the body is kept.
    assert "Inspection dates: 10 January to 14 February 2023" in doc.pages[0].text


def test_address_block_removed():
    doc = fixture_doc()
    assert "Piccadilly Gate" not in doc.pages[2].text
    assert "M1 2WD" not in doc.pages[2].text


def test_layout_lines_joined_into_paragraphs():
    doc = fixture_doc()
    assert (
        "Management oversight of frontline practice is not consistently effective. Too many "
        "children wait too long for their plans to progress."
    ) in doc.pages[0].text.splitlines()
    assert "Headline findings" in doc.pages[0].text.splitlines()


def test_join_lines_rules():
    lines = [
        "Main findings",
        "The front door is effective and co-",
        "location helps. It is",
        "good.",
        "",
        "◼ A bullet",
        "◼ Another",
    ]
    assert join_lines(lines, 40) == [
        "Main findings",
        "The front door is effective and co-location helps. It is good.",
        "◼ A bullet",
        "◼ Another",
    ]


def test_back_matter_removed():
    pages = [
        "Body text here.",
        "Final page text.\nYou may reuse this information (not including logos) free\nof charge\n© Crown copyright 2023",
    ]
    kept = strip_boilerplate(pages)
    assert kept[1] == ["Final page text."]


def test_clean_text_strips_web_furniture_and_keeps_lines():
    assert clean_text("Line one.\nLeave a Reply\n\nLine  two.\r\n") == "Line one.\nLine two."


def test_clean_pages_returns_one_text_per_page():
    assert len(clean_pages(["a\nb", "c"])) == 2


def test_metadata_from_pdf_text():
    doc = fixture_doc()
    assert (
        doc.title == "Testshire County Council: Inspection of local authority children’s services"
    )
    assert doc.doc_type == "inspection report"
    assert (doc.visit_start, doc.visit_end) == ("2023-01-10", "2023-02-14")
    assert doc.date is None  # the fixture's file name carries no date


def test_metadata_from_letter_text():
    raw = RawDocument("letter.txt", "text", ((None, LETTER),), {}, "h")
    doc = build_document(raw)
    assert doc.title == "Focused visit to Testshire children's services"
    assert doc.doc_type == "focused visit letter"
    assert doc.date == "2026-01-12"
    assert (doc.visit_start, doc.visit_end) == ("2025-11-19", "2025-11-20")
    rules = {m.role: m.rule for m in doc.dates}
    assert rules == {
        "visit_start": "visit-on",
        "visit_end": "visit-on",
        "document": "letter-date-line",
    }


def test_sidecar_overrides_and_bad_date_warns():
    raw = RawDocument(
        "x.txt",
        "text",
        ((None, "Some text."),),
        {"title": "T", "doc_type": "news release", "date": "2017-13-45x"},
        "h",
    )
    doc = build_document(raw)
    assert (doc.title, doc.doc_type, doc.date) == ("T", "news release", None)
    assert doc.warnings and "YYYY-MM-DD" in doc.warnings[0]


def test_doc_ids_are_stable_and_distinct():
    assert doc_id_for("a/report.pdf") == doc_id_for("a/report.pdf")
    assert doc_id_for("a/report.pdf") != doc_id_for("b/report.pdf")
    assert doc_id_for("children's services inspection - 04 march 2019.pdf").startswith(
        "children-s-services-inspection-04-march-2019-"
    )
