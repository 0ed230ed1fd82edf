"""Retrieval over a small index built with the fake embedder: steering, dedup, abstention."""

import pytest
from conftest import write_text

from rag_qa.answer.extract import build_answer
from rag_qa.embed.model import load_embedder
from rag_qa.engine import Engine
from rag_qa.index.build import run_build
from rag_qa.retrieval.dedup import near_duplicate
from rag_qa.retrieval.query import analyse

CARE_2019 = """5 March 2019

Dear Director

Focused visit to Testshire children's services

This letter summarises the findings of the focused visit to Testshire children's services on 12 and 13 February 2019.

Headline findings

Management oversight of care leavers is weak. Personal advisers have caseloads that are too high.
"""

CARE_2023 = """20 June 2023

Dear Director

Focused visit to Testshire children's services

This letter summarises the findings of the focused visit to Testshire children's services on 2 and 3 May 2023.

Headline findings

Management oversight of care leavers is now strong. Personal advisers have manageable caseloads.
"""

OTHER_COUNCIL = """Inspection of Kent local authority children's services
Inspection dates: 6 to 17 March 2023

Management oversight of care leavers in Kent is effective and caseloads are manageable.
"""


@pytest.fixture
def retriever(tmp_path, settings):
    corpus = settings.corpus_dir
    write_text(corpus / "fv 2019.txt", CARE_2019)
    write_text(corpus / "fv 2023.txt", CARE_2023)
    # The same letter twice, as text and under another name: shown once, citing both.
    write_text(corpus / "fv 2023 copy.txt", CARE_2023)
    write_text(corpus / "kent.txt", OTHER_COUNCIL)
    settings = settings.replace(min_coverage=0.3)
    run_build(settings, lambda: load_embedder(settings.embed.model), progress=False)
    return Engine(settings, load_embedder(settings.embed.model)).retriever


def sources(result):
    return [p.document.source for p in result.passages]


def test_year_in_question_ranks_that_years_report_first(retriever):
    r2019 = retriever.search("management oversight of care leavers in 2019", k=3)
    assert sources(r2019)[0] == "fv 2019.txt"
    r2023 = retriever.search("management oversight of care leavers in 2023", k=3)
    # Every 2023 document (Testshire's letter, Kent's report) ranks before the 2019 letter.
    assert set(sources(r2023)[:2]) <= {"fv 2023.txt", "fv 2023 copy.txt", "kent.txt"}


def test_visit_month_steers_to_the_visit(retriever):
    result = retriever.search("What did the May 2023 visit say about caseloads?", k=2)
    assert sources(result)[0].startswith("fv 2023")


def test_council_named_steers_and_unknown_council_abstains(retriever, settings):
    kent = retriever.search("management oversight of care leavers in Kent", k=2)
    assert sources(kent)[0] == "kent.txt"
    reading = retriever.search("What did Ofsted say about care leavers in Reading?", k=2)
    assert reading.no_match and "no report about Reading" in reading.notes[0]
    answer = build_answer(reading, retriever.settings.answer)
    assert answer.abstained and "hold nothing" in answer.text


def test_period_with_no_report_says_so(retriever):
    result = retriever.search("What did the 2030 inspection say about care leavers?", k=3)
    assert result.no_match
    assert result.notes == ("No report in the index is from 2030.",)
    assert build_answer(result, retriever.settings.answer).abstained


def test_duplicate_passages_shown_once_citing_both(retriever):
    result = retriever.search("manageable caseloads personal advisers 2023", k=5)
    texts = [p.chunk.text for p in result.passages]
    assert len(texts) == len(set(texts))
    top = result.passages[0]
    assert top.document.source.startswith("fv 2023")
    other = "fv 2023 copy.txt" if top.document.source == "fv 2023.txt" else "fv 2023.txt"
    assert (other, None) in top.also_in


def test_unrelated_question_abstains(retriever):
    result = retriever.search("What time does the swimming pool open on Sundays?", k=3)
    answer = build_answer(result, retriever.settings.answer)
    assert answer.abstained
    assert answer.text.startswith("The indexed reports hold nothing")
    assert "Possibly related: [1]" in answer.text


def test_answer_sentences_are_verbatim_with_markers(retriever):
    result = retriever.search("Were personal advisers' caseloads too high in 2019?", k=3)
    answer = build_answer(result, retriever.settings.answer)
    assert not answer.abstained
    for sentence in answer.sentences:
        cited = result.passages[sentence.passage_rank - 1]
        assert sentence.text in cited.chunk.text
        assert f"{sentence.text} [{sentence.passage_rank}]" in answer.text


def test_modes_and_bad_mode(retriever):
    for mode in ("bm25", "dense", "hybrid"):
        assert retriever.search("caseloads", k=2, mode=mode).passages
    with pytest.raises(ValueError, match="mode must be one of"):
        retriever.search("caseloads", mode="magic")


def test_near_duplicate():
    a = "Management oversight of care leavers is now strong and personal advisers have manageable caseloads in every team."
    assert near_duplicate(a, "Headline findings " + a)
    assert not near_duplicate(
        a, "Inspectors found that the front door works well for most children and families."
    )


def test_merging_compares_hashed_shingles_kept_for_recent_passages():
    """The shingles merging compares are hashed and kept (bounded) per passage text: the
    same decisions as the shingles themselves, made once for a passage seen again."""
    from rag_qa.retrieval import dedup

    a = "Management oversight of care leavers is now strong and personal advisers have manageable caseloads in every team."
    texts = [a, "Headline findings " + a, "Inspectors found that the front door works well."]
    dedup.hashed_shingles.cache_clear()
    for x in texts:
        for y in texts:
            plain = dedup.shingles_overlap(dedup.shingles(x), dedup.shingles(y))
            assert (
                dedup.shingles_overlap(dedup.hashed_shingles(x), dedup.hashed_shingles(y)) == plain
            )
    info = dedup.hashed_shingles.cache_info()
    assert info.misses == len(texts) and info.hits == 2 * len(texts) ** 2 - len(texts)
    assert info.maxsize == dedup.SHINGLE_CACHE_PASSAGES


def test_answer_cites_each_sentence_once():
    from rag_qa.answer.extract import select_sentences
    from rag_qa.records import Chunk, Document, Passage

    doc = Document("d", "d.txt", "T", "document", None, None, None, (), (), "h")
    text = (
        "Caseloads for social workers are too high in the assessment teams. Supervision is regular."
    )

    def passage(rank):
        chunk = Chunk(f"c{rank}", "d", rank, text, None, None, 0, len(text), None, 20)
        return Passage(rank, 1.0, chunk, doc)

    chosen = select_sentences("caseloads too high", [passage(1), passage(2)]).sentences
    assert [c.text for c in chosen].count(
        "Caseloads for social workers are too high in the assessment teams."
    ) == 1


def test_answer_prefers_findings_to_first_person_quotes():
    from rag_qa.answer.extract import select_sentences
    from rag_qa.records import Chunk, Document, Passage

    doc = Document("d", "d.txt", "T", "news release", None, None, None, (), (), "h")
    text = (
        "‘I’m confident that our management oversight improvements will show soon.’ "
        "However, they criticised the visibility of management oversight."
    )
    chunk = Chunk("c", "d", 0, text, None, None, 0, len(text), None, 30)
    chosen = select_sentences(
        "What did Ofsted say about management oversight?", [Passage(1, 1.0, chunk, doc)]
    ).sentences
    assert chosen[0].text == "However, they criticised the visibility of management oversight."


def test_passages_outside_the_steered_documents_are_ranked_only_when_needed(retriever):
    """``rank(..., need=n)``: the first n of the order are those of the full ranking; the
    passages outside ``first`` are skipped once ``first`` alone gives n."""
    import numpy as np

    question = "What did the 2019 focused visit say about management oversight?"
    allowed = retriever.steering.steer(analyse(question)).first
    table, ranker = retriever.table, retriever.ranker
    first = table.passage_mask(allowed)
    assert 0 < first.sum() < len(first)
    full = ranker.rank(question, "hybrid", first).order
    inside = [i for i in full if first[i]]
    assert full[: len(inside)] == inside and len(full) > len(inside)  # steered ones first
    for need in (1, len(inside)):
        lazy = ranker.rank(question, "hybrid", first, need=need).order
        assert lazy == inside  # enough inside ``first``: nothing else ranked
    more = ranker.rank(question, "hybrid", first, need=len(inside) + 1).order
    assert more == full  # not enough: the rest ranked after, exactly as without ``need``
    assert np.array_equal(table.passage_mask(allowed), allowed[table.doc_code])


def test_when_did_the_visit_take_place_ranks_the_passage_the_dates_were_read_from(retriever):
    result = retriever.search("When did the 2019 focused visit take place?", k=3)
    top = result.passages[0]
    assert top.document.source == "fv 2019.txt"
    assert "12 and 13 February 2019" in " ".join(top.chunk.text.split())
    assert all(isinstance(i, int) for i in retriever.steering.date_passages)
    assert (
        len(retriever.steering.date_passages) >= 4
    )  # one per document that says when its visit was


@pytest.mark.parametrize("words", [0, 1, 7, 8, 9, 40])
def test_shingles_are_every_run_of_eight_words(words):
    from rag_qa.retrieval.dedup import shingles as _shingles

    text = " ".join(f"W{i % 11}," for i in range(words))
    w = [f"w{i % 11}" for i in range(words)]
    expected = {tuple(w[i : i + 8]) for i in range(max(1, words - 7))}
    assert _shingles(text) == expected


def test_an_undated_note_naming_the_year_is_not_walled_off(retriever, settings):
    """A dated question ranks the documents of its period first, but an undated note whose
    own text names the year is ranked with them: asked its own sentence, it comes first."""
    note = "Inspectors praised a new fostering recruitment drive in 2025. It doubled enquiries."
    write_text(settings.corpus_dir / "note.txt", note)
    settings = settings.replace(min_coverage=0.3)
    run_build(settings, lambda: load_embedder(settings.embed.model), progress=False)
    engine = Engine(settings, load_embedder(settings.embed.model))
    assert engine.document(next(d.doc_id for d in engine.documents() if d.source == "note.txt"))
    result = engine.search("Inspectors praised a new fostering recruitment drive in 2025", 3)
    assert result.passages[0].document.source == "note.txt"


def test_a_passage_that_matches_much_better_is_not_buried_by_steering(retriever):
    """The question names a focused visit, but its words are the Kent inspection report's,
    near verbatim: that passage is promoted ahead of the focused visit letters (which still
    come next); with promotion off, the steering is a wall."""
    question = "Which report found management oversight of care leavers effective and caseloads manageable, the focused visit?"
    result = retriever.search(question, k=3)
    assert result.passages[0].document.source == "kent.txt"
    assert any(p.document.source.startswith("fv ") for p in result.passages[1:])
    strict = Engine(retriever.settings.replace(promote_margin=1.0), retriever.embedder)
    assert strict.search(question, 3).passages[0].document.source.startswith("fv ")


def test_a_dated_question_promotes_no_passage_of_another_year(retriever):
    """The 2019 letter's words, asked of 2023: a passage of another year is a wrong answer,
    so it stays behind the 2023 letters (it would be promoted were 2023 in its text)."""
    question = "In 2023, was management oversight of care leavers weak, with personal advisers' caseloads too high?"
    result = retriever.search(question, k=3)
    assert result.passages[0].document.source.startswith("fv 2023")


KENT_2023 = """Inspection of Kent local authority children's services
Inspection dates: 6 to 17 March 2023

Management oversight of care leavers is effective and personal advisers know young people well.
"""
ESSEX_2023 = """Inspection of Essex local authority children's services
Inspection dates: 1 to 12 May 2023

Management oversight of care leavers is inconsistent and supervision is irregular.
"""


def test_a_question_naming_no_council_over_many_says_whose_passages_these_are(tmp_path, settings):
    corpus = tmp_path / "councils"
    write_text(corpus / "kent.txt", KENT_2023)
    write_text(corpus / "essex.txt", ESSEX_2023)
    local = settings.replace(corpus_dir=corpus, index_dir=tmp_path / "councils-index")
    embedder = load_embedder(local.embed.model)
    run_build(local, lambda: embedder, progress=False)
    engine = Engine(local, embedder)
    turn = engine.ask("What did inspectors say about management oversight of care leavers?", k=2)
    assert {p.document.council for p in turn.passages} == {"Kent", "Essex"}
    assert any("names no council" in n and "Kent" in n and "Essex" in n for n in turn.notes)
    for sentence in turn.answer.sentences:
        council = turn.passages[sentence.passage_rank - 1].document.council
        assert f"{council}: {sentence.text}" in turn.answer.text  # each sentence says whose
    named = engine.ask(
        "What did inspectors say about management oversight of care leavers in Kent?", k=2
    )
    assert not any("names no council" in n for n in named.notes)
    assert named.passages[0].document.council == "Kent"
    default = Engine(local.replace(council="Essex"), embedder)
    turn = default.ask("What did inspectors say about management oversight of care leavers?", k=2)
    assert turn.passages[0].document.council == "Essex"  # --council: the user's default
    assert not any("names no council" in n for n in turn.notes)
    assert turn.passages[0].to_json()["council"] == "Essex"


def test_a_question_about_a_judgement_ranks_the_grades_first(tmp_path, settings):
    """The judgement table of a report outranks its prose about the same subject when the
    question asks how something was judged."""
    report = (
        "Inspection of Kent local authority children's services\n"
        "Inspection dates: 6 to 17 March 2023\n\n"
        "Overall effectiveness Requires improvement to be good\n\n"
        + "Care leavers in Kent told inspectors about their personal advisers and housing. " * 12
        + "\n\nInspectors looked at care leavers' pathway plans and their overall progress.\n"
    )
    corpus = tmp_path / "graded"
    write_text(corpus / "kent.txt", report)
    local = settings.replace(corpus_dir=corpus, index_dir=tmp_path / "graded-index")
    embedder = load_embedder(local.embed.model)
    run_build(local, lambda: embedder, progress=False)
    engine = Engine(local, embedder)
    question = "What was the overall effectiveness judgement for Kent's care leavers in 2023?"
    top = engine.search(question, 2).passages[0]
    assert "Overall effectiveness Requires improvement to be good" in top.chunk.text
    off = Engine(local.replace(steer_judgements=False), embedder)
    assert off.retriever.steering.judgement_passages[1].any()  # the overall grade is known


def test_a_stated_judgement_is_its_own_evidence(tmp_path, settings):
    """A grades table reads little like the question, but it is the answer: the answer does
    not abstain on sentence similarity when the top passage states the judgement asked for."""
    corpus = tmp_path / "graded"
    write_text(
        corpus / "dorset.txt",
        "Inspection of Dorset local authority children's services\n"
        "Inspection dates: 27 September to 8 October 2021\n\nOverall effectiveness Good\n\n"
        + "Services for children in Dorset are of good quality and are improving. "
        * 10,
    )
    local = settings.replace(corpus_dir=corpus, index_dir=tmp_path / "i", min_similarity=0.99)
    embedder = load_embedder(local.embed.model)
    run_build(local, lambda: embedder, progress=False)
    turn = Engine(local, embedder).ask("What was Dorset's overall effectiveness judgement?", k=3)
    assert turn.result.states_judgement and not turn.answer.abstained
    assert "Overall effectiveness Good" in turn.passages[0].chunk.text
    prose = Engine(local, embedder).ask("What did inspectors say about services in Dorset?", k=3)
    assert not prose.result.states_judgement and prose.answer.abstained  # 0.99 still holds
