"""The answer quotes whole sentences in Ofsted's voice, of the shape the question asks for."""

from __future__ import annotations

import re
from datetime import date

import pytest

from rag_qa.answer.candidates import is_fragment, passage_candidates
from rag_qa.answer.extract import select_sentences, spans_reports
from rag_qa.answer.shapes import asks_speaker, has_name, holds, voice
from rag_qa.records import Chunk, Document, Passage
from rag_qa.retrieval.query import analyse


def _passage(text: str, rank: int = 1, doc_type: str = "focused visit letter", **doc) -> Passage:
    fields = {"doc_id": "d", "source": "d.pdf", "title": "T", "date": None, **doc}
    d = Document(
        fields["doc_id"], fields["source"], fields["title"], doc_type, fields["date"],
        None, None, (), (), "h", council=fields.get("council"),
    )  # fmt: skip
    chunk = Chunk(f"{d.doc_id}-{rank}", d.doc_id, rank, text, 1, 1, 0, len(text), None, 50)
    return Passage(rank, 1.0, chunk, d)


def _texts(text: str) -> list[str]:
    return [c.text for c in passage_candidates(_passage(text))]


def test_a_list_item_is_quoted_with_the_line_that_introduces_it():
    text = (
        "Areas for priority action\n"
        "◼ Keeping in touch with and supporting care leavers over the age of 18.\n"
        "What needs to improve in this area of social work practice:\n"
        "- the effectiveness of management oversight and decision making.\n"
        "- Performance management and quality assurance arrangements."
    )
    assert _texts(text) == [
        "Areas for priority action: Keeping in touch with and supporting care leavers over "
        "the age of 18.",
        "What needs to improve in this area of social work practice: the effectiveness of "
        "management oversight and decision making.",
        "What needs to improve in this area of social work practice: Performance management "
        "and quality assurance arrangements.",
    ]


def test_an_address_block_comes_with_the_name_and_a_heading_never_alone():
    text = (
        "Andrew Fraser\nInterim Chief Executive and Director of Children’s Services\n"
        "Slough Children First\n"
        "This letter summarises the findings of a focused visit.\n"
        "Main findings\n"
        "Caseloads are too high.\n"
    )
    assert _texts(text) == [
        "Andrew Fraser Interim Chief Executive and Director of Children’s Services "
        "Slough Children First",
        "This letter summarises the findings of a focused visit.",
        "Caseloads are too high.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "- the effectiveness of management oversight",
        "◼ more work is needed",
        "and how well leaders know their services.",
        "But this is not consistent.",
        "which means that plans drift.",
    ],
)
def test_no_candidate_opens_mid_sentence(text):
    assert is_fragment(text)
    assert all(not is_fragment(t) for t in _texts(text + "\nCaseloads are high."))


def test_no_candidate_of_the_shipped_corpus_opens_mid_sentence(shipped_chunks):
    bad = [
        c.text
        for p in shipped_chunks
        for c in passage_candidates(p)
        if is_fragment(c.text) or re.match(r"^[\-–—•◼]", c.text)
    ]
    assert not bad, bad[:5]


@pytest.fixture(scope="module")
def shipped_chunks(tmp_path_factory):
    """Every passage of the shipped corpus (fake-embedder build)."""
    from conftest import build_shipped

    from rag_qa.index.loaded import open_index

    settings, _ = build_shipped(tmp_path_factory.mktemp("shipped"))
    index = open_index(settings)
    out = []
    for doc in index.documents.values():
        for rank, (_, chunk, _) in enumerate(index.store.chunks(doc.doc_id), start=1):
            out.append(Passage(rank, 1.0, chunk, doc))
    index.close()
    return out


def test_candidates_kept_for_a_text_belong_to_each_passage_holding_it():
    """What may be quoted is kept per text (``quotable``), but each passage's candidates are
    its own: two reports holding the same paragraph are cited each as itself."""
    from rag_qa.answer.candidates import quotable

    text = "Leaders know their services well. Caseloads are manageable."
    quotable.cache_clear()
    first, second = _passage(text, rank=1), _passage(text, rank=2)
    a, b = passage_candidates(first), passage_candidates(second)
    assert [c.text for c in a] == [c.text for c in b] == _texts(text)
    assert {c.passage.rank for c in a} == {1} and {c.passage.rank for c in b} == {2}
    assert quotable.cache_info().misses == 1


def test_shapes_of_answers():
    assert has_name("The inspectors were Amanda Maxwell, Her Majesty’s Inspector.")
    assert not has_name("Interim Chief Executive and Director of Children’s Services")
    assert not has_name("Focused visit to North Tyneside Council children’s services")
    assert holds("when", "The visit took place on 18 January 2022.")
    assert not holds("when", "The visit looked at the front door.")
    assert holds("number", "Caseloads are 25 on average.")
    assert not holds("number", "In 2019 caseloads were high.")
    assert holds("which", "The ‘Pineapple Project’ supports young women.")


def test_voices():
    assert voice("I’m confident that our improvements will show.", "news release") == "quoted"
    assert voice("Inspectors found that we have improved.", "news release") == "ofsted"
    assert voice("Caseloads are too high.", "focused visit letter") == "ofsted"
    assert voice("The council agreed the budget.", "minutes") == "other"
    assert asks_speaker("What did the chief executive say about the report?")
    assert not asks_speaker("What did Ofsted say about management oversight in 2018?")


QUOTE = "‘I’m confident that our management oversight improvements will be seen,’ she said."
FINDING = "Inspectors found that management oversight of front door decisions is weak."


def test_a_first_person_quote_is_offered_only_when_that_speaker_is_asked_about():
    p = _passage(f"{QUOTE} {FINDING}", doc_type="news release")
    ofsted = select_sentences("What did Ofsted say about management oversight?", [p])
    assert QUOTE not in [c.text for c in ofsted.sentences]
    asked = select_sentences(
        "What did the chief executive say about management oversight improvements?", [p]
    )
    assert asked.sentences[0].text == QUOTE


def test_who_and_when_questions_get_the_sentence_holding_a_name_or_a_date():
    text = (
        "The fostering inspectors were pleased with the progress they saw.\n"
        "The fostering inspectors were Amanda Maxwell and Maire Atherton.\n"
        "The fostering panel took place at the front door.\n"
        "The fostering panel took place on 18 January 2022."
    )
    p = _passage(text)
    for _ in range(2):  # whichever order the sentences come in
        who = select_sentences("Who were the fostering inspectors?", [p])
        assert who.sentences[0].text == (
            "The fostering inspectors were Amanda Maxwell and Maire Atherton."
        )
        when = select_sentences("When did the fostering panel take place?", [p])
        assert when.sentences[0].text == "The fostering panel took place on 18 January 2022."
        p = _passage("\n".join(reversed(text.split("\n"))))


def test_a_question_spanning_years_quotes_each_report_in_date_order():
    newer = _passage(
        "Management oversight is now strong and consistent.", 1, doc_id="b", date="2023-03-17"
    )
    older = _passage(
        "Management oversight was weak and inconsistent.", 2, doc_id="a", date="2016-02-17"
    )
    question = "How has management oversight changed since 2016?"
    intent = analyse(question, today=date(2026, 1, 1))
    assert spans_reports(intent)
    got = select_sentences(question, [newer, older], intent=intent).sentences
    assert [c.passage_rank for c in got] == [2, 1]  # 2016 first, then 2023
    assert not spans_reports(analyse("What did the 2018 visit find?", today=date(2026, 1, 1)))
