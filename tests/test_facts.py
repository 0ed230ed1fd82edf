"""Each report's council and kind, read from its own text (rag_qa.ingest.facts)."""

from __future__ import annotations

import pytest

from rag_qa.ingest.facts import find_council, find_kind
from rag_qa.ingest.loaders import RawDocument
from rag_qa.ingest.metadata import build_document

SIF_COVER = """London Borough of Hounslow
Inspection of services for children in need of help and protection, children looked after and care leavers
Inspection date: 14 January 2014 to 5 February 2014
The overall judgement is requires improvement.
"""
REINSPECTION = """Coventry City Council
Re-inspection of services for children in need of help and protection, children looked after and care leavers
Inspection date: 6 March to 30 March 2017
Children's services in Coventry require improvement to be good
"""
LETTER = """26 March 2024
Jane Smith Director of Children's Services
Priory House
Shefford
Bedfordshire
Dear Ms Smith, Focused visit to Central Bedfordshire local authority children's services This letter summarises the findings of the focused visit.
"""
ILACS = """Dudley
Inspection of children's social care services
Inspection dates: 29 October 2018 to 9 November 2018
Lead inspector: Peter McEntee
Overall effectiveness Requires improvement to be good
"""
MANY = """Notes of a regional meeting.
Present: the chair and four members.
Apologies were received.
The minutes were agreed.
Kent and Essex shared their practice; Kent's panel met twice, and Kent reported on caseloads.
"""


@pytest.mark.parametrize(
    ("title", "text", "council", "rule"),
    [
        ("Inspection of Dorset local authority children's services", "", "Dorset", "title"),
        ("Inspection of services for children in need", SIF_COVER, "Hounslow", "first-lines"),
        ("Focused visit", LETTER, "Central Bedfordshire", "subject-sentence"),
        ("Inspection of children's social care services", ILACS, "Dudley", "first-lines"),
        ("Notes", MANY, "Kent", "most-named"),
        ("A note", "Nothing about any place at all.", None, None),
    ],
)
def test_the_council_is_read_from_the_report(title, text, council, rule):
    found = find_council(title, [(1, text)])
    assert (found.value if found else None) == council
    assert (found.rule if found else None) == rule
    if found:
        assert found.evidence


def test_a_subject_sentence_beats_an_address_line():
    """The letter's address names Bedfordshire's towns; its subject names the council."""
    found = find_council("Children's services focused visit - 26 march 2024", [(1, LETTER)])
    assert found.value == "Central Bedfordshire" and "Focused visit to" in found.evidence


@pytest.mark.parametrize(
    ("title", "doc_type", "text", "visit", "kind"),
    [
        ("Inspection of services for children in need", "inspection report", SIF_COVER,
         (None, None), "SIF inspection"),
        ("Coventry City Council", "document", REINSPECTION, (None, None), "SIF re-inspection"),
        ("Inspection of children's social care services", "inspection report", ILACS,
         ("2018-10-29", "2018-11-09"), "ILACS standard inspection"),
        ("Inspection of Isles of Scilly children's social care services", "inspection report",
         "", ("2019-10-14", "2019-10-18"), "ILACS short inspection"),
        ("Focused visit to Dorset children's services", "focused visit letter", "",
         (None, None), "focused visit"),
        ("Monitoring visit to Slough children's services", "monitoring visit letter", "",
         (None, None), "monitoring visit"),
        ("Ofsted's fifth monitoring visit", "news release", "", (None, None), "news release"),
        ("Joint targeted area inspection of the multi-agency response to abuse in Kent",
         "document", "", (None, None), "joint targeted area inspection"),
        ("Minutes", "minutes", "", (None, None), "minutes"),
        ("A note", "document", "Some text.", (None, None), "document"),
    ],
)  # fmt: skip
def test_the_report_kind(title, doc_type, text, visit, kind):
    assert find_kind(title, doc_type, text, visit).value == kind


def test_a_document_carries_its_council_kind_and_where_they_were_read():
    raw = RawDocument("hounslow.txt", "text", ((None, SIF_COVER),), {}, "h")
    doc = build_document(raw)
    assert doc.council == "Hounslow" and doc.kind == "SIF inspection"
    assert [f.name for f in doc.facts][:2] == ["council", "kind"]
    assert doc.facts[0].rule == "first-lines"
    # The cover's overall judgement is a fact too (tests/test_report_facts.py has the rest).
    assert doc.judgements == {"overall_effectiveness": "requires improvement"}
    assert doc.report_facts()["judgements"] == doc.judgements
    # The title does not name the council: citations lead with it.
    assert doc.label.startswith("Hounslow: ")


def test_a_sidecar_names_the_council_and_kind():
    side = {"council": "Slough", "kind": "monitoring visit"}
    raw = RawDocument("note.txt", "text", ((None, "A short note on a visit."),), side, "h")
    doc = build_document(raw)
    assert (doc.council, doc.kind) == ("Slough", "monitoring visit")
    assert {f.rule for f in doc.facts} == {"sidecar"}
    assert doc.label == "Slough: Note"  # the title from the file name, led by the council
