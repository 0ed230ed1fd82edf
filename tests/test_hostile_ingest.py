"""Hostile files at the build's door (issue 15, items 3-5): a text without spaces, symbolic
links out of the corpus, broken metadata sidecars. Each is one warning naming the file; the
rest of the corpus is indexed."""

from __future__ import annotations

import json
import logging
import os

import pytest
from conftest import FAKE_MODEL, write_text

from rag_qa.engine import Engine
from rag_qa.index.build import run_build
from rag_qa.ingest.chunking import WhitespaceTokenizer, chunk_document
from rag_qa.ingest.loaders import LoadError, RawDocument, list_corpus, load_file
from rag_qa.ingest.metadata import build_document
from rag_qa.settings import Settings

GOOD = "Inspectors found that management oversight of casework is strong and regular."


def _build(tmp_path, corpus, fake_model):
    settings = Settings.make(corpus_dir=corpus, index_dir=tmp_path / "index", model=FAKE_MODEL)
    summary = run_build(settings, lambda: fake_model, progress=False)
    return settings, summary


def test_a_text_without_spaces_is_cut_into_passages_of_bounded_length():
    text = "a" * 200_000
    doc = build_document(RawDocument("one-letter.txt", "text", ((None, text),), {}, "h"))
    chunks = chunk_document(doc, WhitespaceTokenizer(), 200, 48, max_chars=2000)
    assert len(chunks) >= 100 and max(len(c.text) for c in chunks) <= 2000
    assert "".join(c.text for c in chunks) == text  # nothing lost, nothing repeated
    mixed = ("word " * 50) + "b" * 5000 + (" word" * 50)
    doc = build_document(RawDocument("mixed.txt", "text", ((None, mixed),), {}, "h"))
    assert max(len(c.text) for c in chunk_document(doc, WhitespaceTokenizer(), 200, 48)) <= 2000


def test_the_character_cap_is_a_validated_setting():
    assert Settings().ingest.max_chunk_chars == 2000
    assert Settings().replace(max_chunk_chars=3000).index_key() != Settings().index_key()
    with pytest.raises(ValueError, match="max_chunk_chars"):
        Settings().replace(max_chunk_chars=5)


def test_a_build_over_a_one_letter_file_bounds_every_passage(tmp_path, fake_model):
    corpus = tmp_path / "corpus"
    write_text(corpus / "good.txt", GOOD)
    write_text(corpus / "flood.txt", "x" * 300_000)
    settings, summary = _build(tmp_path, corpus, fake_model)
    assert summary.documents == 2 and not summary.skipped
    engine = Engine(settings, fake_model)
    flood = next(d for d in engine.documents() if d.source == "flood.txt")
    found = engine.search("x", k=20, mode="bm25").passages
    assert found and all(len(p.chunk.text) <= 2000 for p in found)
    assert flood.doc_id in {p.document.doc_id for p in found}


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    write_text(secret / "passwd.txt", "root:x:0:0:SECRET-LINE:/root:/bin/bash")
    write_text(secret / "meta.json", json.dumps({"title": "SECRET-TITLE"}))
    return secret


def test_links_out_of_the_corpus_are_never_read(tmp_path, outside, fake_model, caplog):
    corpus = tmp_path / "corpus"
    write_text(corpus / "good.txt", GOOD)
    write_text(corpus / "inside.txt", "A report about the front door and early help.")
    os.symlink(outside / "passwd.txt", corpus / "x.txt")
    write_text(corpus / "plain.txt", "Care leavers are supported well by personal advisers.")
    os.symlink(outside / "meta.json", corpus / "plain.txt.meta.json")  # a sidecar out
    os.symlink(corpus / "inside.txt", corpus / "alias.txt")  # a link inside stays readable
    os.symlink(outside, corpus / "linked-folder")  # not followed
    os.symlink(corpus, corpus / "loop")  # not followed, so no endless walk
    caplog.set_level(logging.WARNING)
    settings, summary = _build(tmp_path, corpus, fake_model)
    assert set(summary.skipped) == {"x.txt", "plain.txt"}
    assert "links to a file outside the corpus" in summary.skipped["x.txt"]
    assert "its metadata file links" in summary.skipped["plain.txt"]
    engine = Engine(settings, fake_model)
    assert {d.source for d in engine.documents()} == {"good.txt", "inside.txt", "alias.txt"}
    for question in ("root SECRET-LINE bin bash", "SECRET-TITLE"):
        assert all("SECRET" not in p.chunk.text for p in engine.ask(question).passages)
    assert not any(p.parts[0] in ("linked-folder", "loop") for p in
                   (f.relative_to(corpus) for f in list_corpus(corpus)))  # fmt: skip
    with pytest.raises(LoadError, match="outside the corpus"):
        load_file(corpus / "x.txt", corpus, 1 << 20)


@pytest.mark.parametrize(
    "sidecar, warned",
    [
        ({"date": "2024-13-45"}, "metadata 'date' must be a date YYYY-MM-DD, got '2024-13-45'"),
        ({"visit_start": "2024-02-30"}, "metadata 'visit_start' must be a date"),
        ({"date": 20240101}, "metadata 'date' must be text"),
        ({"title": ["a", "list"]}, "metadata 'title' must be text"),
        ({"title": "t" * 5000}, "metadata 'title' must be text of at most 1000 characters"),
        ({"council": {"x": 1}}, "metadata 'council' must be text"),
        ({"source_url": "javascript:alert(1)"}, "'source_url' must be an http(s) address"),
    ],
)
def test_a_bad_sidecar_is_one_warning_and_the_build_goes_on(
    tmp_path, fake_model, caplog, sidecar, warned
):
    corpus = tmp_path / "corpus"
    write_text(corpus / "good.txt", GOOD)
    write_text(corpus / "dated.txt", "Ofsted's letter on adoption support.")
    write_text(corpus / "dated.txt.meta.json", json.dumps(sidecar))
    caplog.set_level(logging.WARNING)
    settings, summary = _build(tmp_path, corpus, fake_model)
    assert summary.documents == 2 and not summary.skipped
    lines = [r.getMessage() for r in caplog.records if warned in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    doc = next(d for d in Engine(settings, fake_model).documents() if d.source == "dated.txt")
    assert doc.date is None and doc.source_url is None
    assert isinstance(doc.title, str) and len(doc.title) < 1000
