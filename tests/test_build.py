import json
import shutil

import pytest
from conftest import FIXTURES, write_text

from rag_qa.embed.model import load_embedder
from rag_qa.engine import Engine
from rag_qa.index import generations as G
from rag_qa.index.build import BuildError, run_build
from rag_qa.index.loaded import open_index


def build(settings, **kw):
    return run_build(settings, lambda: load_embedder(settings.embed.model), progress=False, **kw)


def ask(settings, question, k=3):
    engine = Engine(settings, load_embedder(settings.embed.model))
    try:
        return [(p.document.source, p.chunk.chunk_id) for p in engine.search(question, k).passages]
    finally:
        engine.close()


def test_first_build_then_nothing_to_do(settings, fake_model):
    s1 = build(settings)
    assert sorted(s1.added) == [
        "letter.txt",
        "news.txt",
        "testshire inspection - 17 march 2023.pdf",
    ]
    assert s1.chunks_embedded == s1.chunks > 0
    gen = G.current_generation(settings.index_dir)
    s2 = build(settings)
    assert (s2.added, s2.changed, s2.removed, s2.unchanged, s2.chunks_embedded) == (
        [],
        [],
        [],
        3,
        0,
    )
    assert G.current_generation(settings.index_dir) == gen  # no new generation for no change


def test_manifest_diff_add_change_remove(settings, corpus):
    build(settings)
    write_text(corpus / "new.txt", "A brand new report about private fostering arrangements.")
    write_text(corpus / "news.txt", "Changed news: caseloads rose sharply this year.")
    (corpus / "letter.txt").unlink()
    s = build(settings)
    assert (s.added, s.changed, s.removed, s.unchanged) == (
        ["new.txt"],
        ["news.txt"],
        ["letter.txt"],
        1,
    )
    assert s.chunks_embedded == 2  # one chunk each for the new and the changed file
    manifest = json.loads((G.current_generation(settings.index_dir) / G.MANIFEST).read_text())
    assert sorted(manifest["files"]) == [
        "new.txt",
        "news.txt",
        "testshire inspection - 17 march 2023.pdf",
    ]
    index = open_index(settings)
    assert {d.source for d in index.documents.values()} == set(manifest["files"])
    assert index.vectors.ntotal == index.store.count("chunks") == manifest["chunks"]


def test_only_new_chunks_are_embedded(settings, corpus, fake_model):
    build(settings)
    fake_model.calls.clear()
    shutil.copy(FIXTURES / "report.pdf", corpus / "copy of report.pdf")
    s = build(settings)
    manifest = json.loads((G.current_generation(settings.index_dir) / G.MANIFEST).read_text())
    assert s.added == ["copy of report.pdf"]
    assert (
        s.chunks_embedded
        == manifest["files"]["copy of report.pdf"]["chunks"]
        == sum(fake_model.calls)
    )


@pytest.mark.parametrize("where", ["embed", "faiss", "publish"])
def test_interrupted_build_leaves_previous_index_working(settings, corpus, where):
    build(settings)
    before = ask(settings, "management oversight")
    gen = G.current_generation(settings.index_dir)
    write_text(corpus / "extra.txt", "Extra report on management oversight and supervision.")

    def crash(stage):
        if stage == where:
            raise KeyboardInterrupt("killed midway")

    with pytest.raises(KeyboardInterrupt):
        build(settings, on_stage=crash)
    assert G.current_generation(settings.index_dir) == gen
    assert not list(settings.index_dir.glob("tmp-*"))
    assert ask(settings, "management oversight") == before
    s = build(settings)
    assert s.added == ["extra.txt"]


def test_second_build_is_refused_while_one_runs(settings):
    with G.build_lock(settings.index_dir), pytest.raises(G.BuildLocked, match="already building"):
        build(settings)


def test_index_with_other_settings_is_refused(settings):

    build(settings)
    other = settings.replace(chunk_tokens=120)
    with pytest.raises(G.IndexError_, match="chunk_tokens.*rag-qa index --full"):
        open_index(other)
    # A plain rebuild with the new settings starts over and says so.
    s = build(other)
    assert s.full and "rebuilt from scratch" in s.note


@pytest.mark.parametrize("damage", ["truncate_vectors", "edit_manifest", "remove_store"])
def test_damaged_index_is_reported_and_repaired(settings, damage):
    build(settings)
    gen = G.current_generation(settings.index_dir)
    if damage == "truncate_vectors":
        data = (gen / G.VECTORS).read_bytes()
        (gen / G.VECTORS).write_bytes(data[: len(data) // 2])
    elif damage == "edit_manifest":
        (gen / G.MANIFEST).write_text("{ not json")
    else:
        (gen / G.STORE).unlink()
    with pytest.raises(G.IndexError_, match="rag-qa index --full"):
        open_index(settings)
    build(settings, full=True)
    assert ask(settings, "care leavers")


def test_broken_file_is_skipped_and_the_rest_indexed(settings, corpus):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "empty.txt").write_bytes(b"")
    s = build(settings)
    assert set(s.skipped) == {"broken.pdf", "empty.txt"}
    assert len(s.added) == 3 and s.documents == 3
    # Unchanged broken files are remembered, not re-parsed, and still reported.
    again = build(settings)
    assert set(again.skipped) == {"broken.pdf", "empty.txt"} and again.unchanged == 3


def test_nothing_usable_raises(tmp_path, settings):

    empty = tmp_path / "empty_corpus"
    empty.mkdir()
    with pytest.raises(BuildError, match="no PDF, .txt, .md, .html, .htm or .docx files"):
        build(settings.replace(corpus_dir=empty))
    (empty / "bad.pdf").write_bytes(b"junk")
    with pytest.raises(BuildError, match="nothing could be indexed"):
        build(settings.replace(corpus_dir=empty))


def test_settings_change_rebuilds_but_reuses_cached_embeddings(settings, fake_model):

    first = build(settings)
    fake_model.calls.clear()
    other = settings.replace(pipeline_version=settings.index.pipeline_version + 1)
    s = build(other)
    assert s.full and "rebuilt from scratch" in s.note
    assert s.chunks == first.chunks and s.chunks_embedded == 0 and not fake_model.calls
    # --full ignores the cache.
    assert build(other, full=True).chunks_embedded == first.chunks


def test_plain_index_repairs_a_damaged_generation(settings):
    build(settings)
    gen = G.current_generation(settings.index_dir)
    data = (gen / G.VECTORS).read_bytes()
    (gen / G.VECTORS).write_bytes(data[: len(data) // 2])
    s = build(settings)
    assert s.full and "not reusable" in s.note
    assert ask(settings, "care leavers")


def test_an_opened_index_reads_page_texts_one_document_at_a_time(settings):
    from conftest import PDF_SOURCE

    from rag_qa.web.views import index_html

    run_build(settings, lambda: load_embedder(settings.embed.model), progress=False)
    index = open_index(settings)
    try:
        # Searching needs no page text: the opened index's records carry none ...
        assert all(d.pages == () for d in index.documents.values())
        pdf = next(d for d in index.documents.values() if d.source == PDF_SOURCE)
        # ... and one document's pages are read when asked for, exactly as they were stored.
        full = index.document(pdf.doc_id)
        assert [p.number for p in full.pages] == [1, 2, 3]
        assert "Headline findings" in full.pages[0].text
        assert full == {d.source: d for d in index.store.documents()}[PDF_SOURCE]
        assert index.document("no such id") is None
        # The Index tab's page counts come from the manifest, not from page texts.
        assert "<td class='rq-num'>3</td>" in index_html(index.manifest, index.documents)
    finally:
        index.close()
