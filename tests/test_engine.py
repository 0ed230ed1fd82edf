"""The engine: one path from a question (with history and filters) to a Turn, which the CLI,
the chat and the eval suite all run; filters are a document mask inside retrieval."""

from __future__ import annotations

import json

import pytest
from conftest import PDF_SOURCE, write_text

from rag_qa.engine import Engine, Filters
from rag_qa.index.build import run_build
from rag_qa.records import Document, Page

OVERSIGHT = "What did inspectors say about management oversight?"


@pytest.fixture
def engine(settings, fake_model):
    run_build(settings, lambda: fake_model, progress=False)
    return Engine(settings, fake_model)


def _doc(date: str | None = "2023-03-17", visit_end: str | None = None) -> Document:
    return Document(
        doc_id="d1",
        source="r.pdf",
        title="Report",
        doc_type="inspection report",
        date=date,
        visit_start=None,
        visit_end=visit_end,
        dates=(),
        pages=(Page(1, "x"),),
        content_hash="h",
    )


def test_filters_match_documents():
    doc = _doc()
    assert not Filters().active
    assert Filters(2023, 2023).matches(doc)
    assert not Filters(2024, None).matches(doc)
    assert not Filters(None, 2022).matches(doc)
    assert Filters(doc_types=("inspection report",)).matches(doc)
    assert not Filters(doc_types=("news release",)).matches(doc)
    assert not Filters(doc_ids=("other",)).matches(doc)
    undated = _doc(date=None)
    assert not Filters(2000, 2030).matches(undated)
    assert Filters(doc_types=("inspection report",)).matches(undated)


def test_a_document_year_is_its_date_else_its_visit():
    assert _doc().year == 2023
    assert _doc(date=None, visit_end="2019-02-13").year == 2019
    assert _doc(date=None).year is None
    assert Filters(2019, 2019).matches(_doc(date=None, visit_end="2019-02-13"))


def test_filtered_search_keeps_only_allowed_documents(engine):
    letter = next(d for d in engine.documents() if d.source == "letter.txt")
    result = engine.search(OVERSIGHT, 3, filters=Filters(doc_ids=(letter.doc_id,)))
    assert result.passages
    assert {p.document.source for p in result.passages} == {"letter.txt"}
    assert [p.rank for p in result.passages] == list(range(1, len(result.passages) + 1))
    by_type = engine.search(OVERSIGHT, 5, filters=Filters(doc_types=("inspection report",)))
    assert by_type.passages and all(p.document.source == PDF_SOURCE for p in by_type.passages)


def test_filters_matching_nothing_abstain_with_a_note(engine):
    turn = engine.ask(OVERSIGHT, filters=Filters(1990, 1991), k=5)
    assert turn.passages == []
    assert any("No passage matches the filters" in n for n in turn.notes)
    assert turn.answer.abstained


def test_no_filters_is_plain_search(engine):
    a = engine.search(OVERSIGHT, 4, filters=Filters())
    b = engine.retriever.search(OVERSIGHT, k=4)
    assert [p.chunk.chunk_id for p in a.passages] == [p.chunk.chunk_id for p in b.passages]


def test_a_filter_allowing_every_document_changes_nothing(engine):
    """Filters run inside retrieval: allowing all documents ranks exactly as no filter does,
    scores, notes and coverage included."""
    every = Filters(doc_ids=tuple(d.doc_id for d in engine.documents()))
    for question in (OVERSIGHT, "What did the 2023 inspection say about caseloads?"):
        plain, filtered = engine.ask(question, k=5), engine.ask(question, k=5, filters=every)
        assert filtered.to_json()["passages"] == plain.to_json()["passages"]
        assert filtered.answer.text == plain.answer.text
        assert filtered.result.coverage == plain.result.coverage


def test_filtered_passages_are_merged_as_near_duplicates_too(settings, fake_model):
    """The same letter in two files is one passage citing both, with or without filters (the
    chat's old filtered path skipped the merge)."""
    letter = (settings.corpus_dir / "letter.txt").read_text()
    write_text(settings.corpus_dir / "letter copy.txt", letter)
    run_build(settings, lambda: fake_model, progress=False)
    engine = Engine(settings, fake_model)
    letters = Filters(doc_types=tuple({d.doc_type for d in engine.documents()}))
    for filters in (None, letters):
        passages = engine.search("care leavers personal adviser", 5, filters=filters).passages
        top = passages[0]
        assert {top.document.source, *(s for s, _ in top.also_in)} == {
            "letter.txt",
            "letter copy.txt",
        }
        copies = [p for p in passages if p.document.source in {"letter.txt", "letter copy.txt"}]
        assert len(copies) == 1  # listed once, citing both files


def test_ask_reads_a_follow_up_with_its_history(engine):
    first = engine.ask("What did inspectors say about care leavers in 2023?")
    follow = engine.ask("and in 2025?", history=[first.question])
    assert follow.asked == "and in 2025?"
    assert follow.question == "What did inspectors say about care leavers in 2025?"
    alone = engine.ask("What did inspectors say about care leavers in 2025?")
    assert [p.chunk.chunk_id for p in follow.passages] == [p.chunk.chunk_id for p in alone.passages]


def test_turn_json_is_the_ask_contract(engine):
    turn = engine.ask(OVERSIGHT, k=3)
    data = json.loads(json.dumps(turn.to_json()))
    # Fields are added, never renamed or removed: table and timeline came with report facts.
    core = {"question", "answer", "abstained", "notes", "passages", "seconds"}
    assert set(data) == core | {"table", "timeline"}
    assert data["table"] is None and data["timeline"] is None  # a question about content
    assert data["question"] == OVERSIGHT and len(data["passages"]) <= 3
    for key in ("rank", "score", "doc_id", "source", "title", "date", "page", "text"):
        assert key in data["passages"][0]


def test_refresh_loads_a_new_generation_and_keeps_a_damaged_one_out(engine, settings, fake_model):
    before = engine.generation
    assert engine.refresh() is False  # nothing new
    write_text(settings.corpus_dir / "more.txt", "Inspectors praised the new fostering drive.")
    run_build(settings, lambda: fake_model, progress=False)
    assert engine.refresh() is True and engine.generation != before
    assert any(d.source == "more.txt" for d in engine.documents())


def test_chunk_and_document_lookups(engine):
    passage = engine.ask(OVERSIGHT, k=1).passages[0]
    assert engine.chunk(passage.chunk.chunk_id) == passage.chunk
    assert engine.chunk("no such chunk") is None
    doc = engine.document(passage.document.doc_id)
    assert doc is not None and doc.pages


def test_engine_open_refuses_a_missing_index_before_loading_a_model(tmp_path, settings):
    from rag_qa.index.generations import IndexError_

    loaded = []
    with pytest.raises(IndexError_, match="no index"):
        Engine.open(settings.replace(index_dir=tmp_path / "none"), lambda: loaded.append(1))
    assert loaded == []


def test_prepare_finds_what_first_questions_would(engine):
    """A server that says it is ready has found the passages stating judgements and visit
    dates: the first such question does not pay for it."""
    steering = engine.retriever.steering
    assert "judgement_passages" not in vars(steering)
    engine.prepare()
    found = vars(steering)
    assert found["judgement_passages"].shape == (2, engine.index.bm25.size)
    assert isinstance(found["date_passages"], list)
    computed = found["judgement_passages"]
    engine.ask("What was the overall effectiveness judgement?")
    assert vars(steering)["judgement_passages"] is computed
