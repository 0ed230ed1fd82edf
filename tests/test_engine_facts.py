"""Questions answered from report facts (a table, one row per report) and a topic across the
years (a timeline), through the engine every front end calls."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import FAKE_MODEL, HashEmbedder, write_text

from rag_qa.answer.export import facts_csv, turn_csv, turn_markdown
from rag_qa.answer.facts import entry_quote, table_text
from rag_qa.engine import Engine, Filters
from rag_qa.index.build import run_build
from rag_qa.settings import Settings


def _ilacs(
    council: str, dates: str, lead: str, grades: tuple[str, str, str, str, str], body: str
) -> str:
    leaders, help_, care, leavers, overall = grades
    return f"""Inspection of {council} local authority children's services
Inspection dates: {dates}
Lead inspector: {lead}, His Majesty's Inspector
Judgement Grade
The impact of leaders on social work practice with children and families {leaders}
The experiences and progress of children who need help and protection {help_}
The experiences and progress of children in care {care}
The experiences and progress of care leavers {leavers}
Overall effectiveness {overall}

{body}
"""


REPORTS = {
    "dudley-2019.txt": _ilacs(
        "Dudley", "4 to 15 March 2019", "Ann Smith",
        ("Good", "Good", "Good", "Outstanding", "Good"),
        "Management oversight of casework is consistent and supervision is regular.",
    ),
    "dudley-2024.txt": _ilacs(
        "Dudley", "4 to 15 March 2024", "Bob Jones",
        ("Inadequate", "Inadequate", "Requires improvement to be good", "Good", "Inadequate"),
        "Management oversight has weakened: supervision is infrequent and plans drift.",
    ),
    "knowsley-2024.txt": _ilacs(
        "Knowsley", "18 to 29 November 2024", "Cy Brown",
        ("Good", "Good", "Good", "Outstanding", "Good"),
        "Leaders know their services well. Management oversight is strong.",
    ),
    "dudley-visit-2021.txt": """Focused visit to Dudley local authority children's services
This letter summarises the findings of the focused visit to Dudley children's services on
5 and 6 May 2021. His Majesty's Inspectors for this visit were Dee Green and Ed White.
Management oversight of children in need is improving but not yet consistent.
Yours sincerely

Dee Green
His Majesty's Inspector
""",
}  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("facts")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in REPORTS.items():
        write_text(corpus / name, text)
    settings = Settings.make(
        corpus_dir=corpus, index_dir=root / "index", model=FAKE_MODEL, min_similarity=0.0
    )
    embedder = HashEmbedder()
    run_build(settings, lambda: embedder, progress=False)
    return Engine(settings, embedder)


def _rows(turn) -> list[tuple[str, str, str | None]]:
    return [(r.document.council, r.document.visit_start, r.grade) for r in turn.table.rows]


def test_a_councils_judgement_in_a_year_is_a_table_citing_its_report(engine):
    turn = engine.ask("What was Dudley's overall effectiveness judgement in 2019?")
    assert _rows(turn) == [("Dudley", "2019-03-04", "good")]
    row = turn.table.rows[0]
    assert (
        row.evidence == "Overall effectiveness Good" and row.document.lead_inspector == "Ann Smith"
    )
    assert not turn.answer.abstained
    assert turn.answer.text.startswith(table_text(turn.table))
    assert "lead inspector Ann Smith" in turn.answer.text and "dudley" in row.citation.lower()
    assert turn.passages  # the passages are listed as usual


def test_which_councils_were_judged_a_grade_in_a_year(engine):
    turn = engine.ask("Which councils were judged inadequate in 2024?")
    assert _rows(turn) == [("Dudley", "2024-03-04", "inadequate")]
    assert "judged inadequate" in turn.table.description
    turn = engine.ask("Which councils were rated good in 2024?")
    assert _rows(turn) == [("Knowsley", "2024-11-18", "good")]


def test_now_means_each_councils_latest_graded_inspection(engine):
    turn = engine.ask("Which councils are good now?")
    assert _rows(turn) == [("Knowsley", "2024-11-18", "good")]  # Dudley's latest is inadequate
    turn = engine.ask("Which councils were judged good?")
    assert [r[0] for r in _rows(turn)] == ["Dudley", "Knowsley"]


def test_an_area_asked_for_is_the_tables_grade(engine):
    turn = engine.ask("List the reports rated outstanding for care leavers")
    assert {r.area for r in turn.table.rows} == {"care_leavers"}
    assert _rows(turn) == [
        ("Dudley", "2019-03-04", "outstanding"),
        ("Knowsley", "2024-11-18", "outstanding"),
    ]
    turn = engine.ask("How was Dudley graded for children in care?")
    assert [r[2] for r in _rows(turn)] == ["good", "requires improvement"]


def test_filters_narrow_the_table(engine):
    only = Filters(judgements=("inadequate",))
    turn = engine.ask("What were the overall effectiveness judgements?", filters=only)
    assert _rows(turn) == [("Dudley", "2024-03-04", "inadequate")]
    turn = engine.ask("What were the judgements?", filters=Filters(councils=("Knowsley",)))
    assert _rows(turn) == [("Knowsley", "2024-11-18", "good")]
    assert all(p.document.council == "Knowsley" for p in turn.passages)


def test_no_matching_report_is_said_and_the_answer_falls_back(engine):
    turn = engine.ask("What was Dudley's overall effectiveness judgement in 2030?")
    assert turn.table is not None and turn.table.rows == ()
    assert "No report in the index matches" in table_text(turn.table)
    assert "No report" not in turn.answer.text or turn.answer.abstained


def test_a_question_about_content_gets_no_table_and_no_timeline(engine):
    turn = engine.ask("What did inspectors say about supervision?")
    assert turn.table is None and turn.timeline is None
    assert turn.to_json()["table"] is None


def test_a_topic_across_the_years_is_a_timeline_in_visit_order(engine):
    turn = engine.ask("How has management oversight changed in Dudley?")
    line = turn.timeline
    assert line.council == "Dudley" and line.topic.lower() == "management oversight"
    assert [e.when for e in line.entries] == ["2019-03-04", "2021-05-05", "2024-03-04"]
    assert [e.grade for e in line.entries] == ["good", None, "inadequate"]
    for entry in line.entries:
        assert entry.passage.document.doc_id == entry.document.doc_id
        assert "management oversight" in entry_quote(entry, line.topic).lower()
    assert line.points == [("2019-03-04", "good", line.entries[0].document.label),
                           ("2024-03-04", "inadequate", line.entries[2].document.label)]  # fmt: skip
    assert turn.to_json()["timeline"]["entries"][1]["kind"] == "focused visit"


def test_the_timeline_switch_and_a_period(engine):
    turn = engine.ask("management oversight in Dudley since 2020", timeline=True)
    assert [e.when for e in turn.timeline.entries] == ["2021-05-05", "2024-03-04"]
    assert (
        engine.ask("How has management oversight changed in Dudley?", timeline=False).timeline
        is None
    )
    several = engine.ask("How has management oversight changed?")
    assert several.timeline.entries == () and "Name a council" in several.timeline.note
    one = engine.ask(
        "How has management oversight changed?", filters=Filters(councils=("Knowsley",))
    )
    assert one.timeline.council == "Knowsley" and len(one.timeline.entries) == 1


def test_export_as_markdown_and_csv(engine):
    turn = engine.ask("Which councils were judged inadequate in 2024?")
    md = turn_markdown(turn)
    assert md.startswith("## Which councils were judged inadequate in 2024?")
    assert "| Dudley |" in md and "inadequate" in md
    for p in turn.passages:
        assert f"**[{p.rank}] {p.citation}**" in md
        assert p.chunk.text.splitlines()[0].strip() in md
    rows = list(csv.DictReader(io.StringIO(turn_csv(turn))))
    assert rows[0]["kind"] == "answer" and rows[1]["kind"] == "fact"
    assert rows[1]["grade"] == "inadequate" and rows[1]["council"] == "Dudley"
    assert sum(r["kind"] == "passage" for r in rows) == len(turn.passages)


def test_facts_csv_has_a_column_per_judgement_and_defuses_formulas(engine):
    records = [d.report_facts() for d in engine.documents()]
    records.append({**records[0], "title": '=HYPERLINK("http://x")'})
    rows = list(csv.DictReader(io.StringIO(facts_csv(records))))
    dudley = next(r for r in rows if r["source"] == "dudley-2024.txt")
    assert dudley["overall_effectiveness"] == "inadequate" and dudley["care_leavers"] == "good"
    assert dudley["lead_inspector"] == "Bob Jones"
    visit = next(r for r in rows if r["source"] == "dudley-visit-2021.txt")
    assert visit["overall_effectiveness"] == "" and visit["lead_inspector"] == "Dee Green"
    assert visit["inspectors"] == "Ed White"
    assert rows[-1]["title"].startswith("'=")


def test_a_rating_of_something_the_reports_do_not_grade_gets_no_table(engine):
    for question in (
        "How was Dudley's youth justice service rated by HMI Probation in 2024?",
        "What percentage of pupils in Dudley achieved grade 4 or above in 2024?",
    ):
        assert engine.ask(question).table is None, question
    assert engine.ask("Who was the lead inspector of Dudley's 2024 inspection?").table.rows
