"""The parse cache (index/parse-cache): a rebuild takes parsed files from it instead of parsing
them again; what it keeps loads exactly as a fresh parse; a bad, linked or stale entry is
never trusted; it holds only what the live generation uses."""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from conftest import FAKE_MODEL, FIXTURES, PDF_SOURCE, write_text

from rag_qa.embed.model import load_embedder
from rag_qa.index.build import CorpusReader, run_build
from rag_qa.index.loaded import open_index
from rag_qa.index.parse_cache import PARSE_CACHE, ParseCache, cache_key
from rag_qa.index.plan import FileToParse
from rag_qa.ingest import ocr
from rag_qa.ingest.jsoncache import JsonCache
from rag_qa.ingest.loaders import file_hash, load_file
from rag_qa.ingest.pdf_sandbox import PdfLimits, PdfParser
from rag_qa.settings import Settings

needs_ocr = pytest.mark.skipif(bool(ocr.missing_tools()), reason="OCR tools missing")


class Spy:
    """A CorpusReader that records which files were loaded and which PDFs the sandbox was
    asked to parse (queued ahead or asked for)."""

    def __init__(self):
        self.loaded: list[str] = []
        self.pdfs: list[str] = []

    def reader(self) -> CorpusReader:
        spy = self

        def load(path, corpus_dir, *args, **kwargs):
            spy.loaded.append(path.relative_to(corpus_dir).as_posix())
            return load_file(path, corpus_dir, *args, **kwargs)

        class Counted(PdfParser):
            def prefetch(self, items):
                items = list(items)
                spy.pdfs += [source for _, source in items]
                super().prefetch(items)

            def __call__(self, path, source):
                spy.pdfs.append(source)
                return super().__call__(path, source)

        return CorpusReader(load=load, pdf_parser=Counted)


def build(settings, spy: Spy | None = None, **kw):
    reader = spy.reader() if spy else None
    return run_build(
        settings, lambda: load_embedder(FAKE_MODEL), progress=False, reader=reader, **kw
    )


def entries(settings) -> list[Path]:
    return sorted((settings.index_dir / PARSE_CACHE).glob("*.json.gz"))


def pages_of(settings) -> dict[str, tuple]:
    index = open_index(settings)
    try:
        return {d.source: index.document(d.doc_id).pages for d in index.documents.values()}
    finally:
        index.close()


ALL = ["letter.txt", "news.txt", PDF_SOURCE]


# -- what is cached loads exactly as it was parsed ---------------------------------------


@pytest.mark.parametrize(
    "fixture",
    [
        "report.pdf",
        "html/slough-scrutiny-minutes.html",
        "docx/panel-minutes.docx",
        "text",
        pytest.param("mixed.pdf", marks=needs_ocr),
    ],
)
def test_a_cached_load_equals_a_fresh_load(tmp_path, fixture):
    corpus = tmp_path / "corpus"
    if fixture == "text":
        write_text(corpus / "notes.md.meta.json", json.dumps({"title": "Notes", "date": "2024"}))
        path = corpus / "notes.md"
        path.write_bytes("# Notes\r\n\r\nCaf\u00e9 \u2013 read as cp1252.\r\n".encode("cp1252"))
    else:
        path = corpus / Path(fixture).name
        corpus.mkdir()
        shutil.copy(FIXTURES / fixture, path)
    settings = Settings.make(corpus_dir=corpus, index_dir=tmp_path / "index", model=FAKE_MODEL)
    limits = PdfLimits(ocr=ocr.OcrOptions(cache_dir=str(tmp_path / "ocr")))
    with PdfParser(limits) as pdf:
        fresh = load_file(path, corpus, settings.ingest.max_file_bytes, pdf)
    if fixture == "mixed.pdf":
        assert fresh.meta["ocr_pages"] == [1]
    cache = ParseCache(settings)
    cache.put(fresh, path)
    entry = {"sha256": file_hash(path), "size": path.stat().st_size, "mtime_ns": 0}
    f = FileToParse(path, path.name, entry)
    assert cache.has(f)
    assert cache.get(f) == fresh
    assert cache.get(FileToParse(path, "renamed/" + path.name, entry)).source == "renamed/" + (
        path.name
    )


def test_the_key_holds_what_changes_a_parse_and_nothing_else():
    base = Settings().ingest
    same = Settings().replace(
        chunk_tokens=120, overlap_tokens=10, max_chunk_chars=500, embed_context=False,
        pdf_timeout_s=5, pdf_memory_mb=900, pdf_workers=1, pdf_nice=0, ocr_workers=1,
        max_file_bytes=1000, model="other", pipeline_version=99,
    ).ingest  # fmt: skip
    for kind in ("pdf", "text", "html", "docx"):
        assert cache_key("a" * 64, kind, base) == cache_key("a" * 64, kind, same)
        assert cache_key("a" * 64, kind, base) != cache_key("b" * 64, kind, base)
    assert cache_key("a" * 64, "text", base) != cache_key("a" * 64, "html", base)
    for change in ({"ocr": False}, {"ocr_dpi": 300}, {"ocr_max_pages": 3}):
        other = Settings().replace(**change).ingest
        assert cache_key("a" * 64, "pdf", base) != cache_key("a" * 64, "pdf", other), change
        assert cache_key("a" * 64, "text", base) == cache_key("a" * 64, "text", other), change


# -- builds --------------------------------------------------------------------------------


def test_a_settings_change_rebuilds_without_parsing_again(settings):
    first_spy = Spy()
    first = build(settings, first_spy)
    assert sorted(first_spy.loaded) == ALL and set(first_spy.pdfs) == {PDF_SOURCE}
    assert first.parse_cached == 0 and len(entries(settings)) == 3
    before = pages_of(settings)
    spy = Spy()
    other = settings.replace(chunk_tokens=40, overlap_tokens=8)  # another index key
    s = build(other, spy)
    assert s.full and "rebuilt from scratch" in s.note
    assert spy.loaded == [] and spy.pdfs == []  # nothing parsed, the PDF sandbox never asked
    assert s.parse_cached == 3 and s.documents == 3 and s.chunks > first.chunks
    assert pages_of(other) == before


def test_full_rebuilds_and_embeds_again_but_does_not_parse_again(settings):
    first = build(settings)
    spy = Spy()
    s = build(settings, spy, full=True)
    assert spy.loaded == [] and spy.pdfs == [] and s.parse_cached == 3
    assert s.full and s.chunks_embedded == s.chunks == first.chunks  # --full still re-embeds
    assert s.to_json()["parse_cached"] == 3


def test_reparse_parses_every_file_again_and_reuses_embeddings(settings):
    first = build(settings)
    spy = Spy()
    s = build(settings, spy, reparse=True)
    assert sorted(spy.loaded) == ALL and set(spy.pdfs) == {PDF_SOURCE}
    assert s.full and s.parse_cached == 0 and s.chunks == first.chunks
    assert s.chunks_embedded == 0  # same texts: their vectors come from the cache
    assert build(settings, reparse=True, full=True).chunks_embedded == first.chunks


def test_a_changed_file_is_parsed_again_and_its_old_entry_pruned(settings, corpus):
    build(settings)
    old = {p.name for p in entries(settings)}
    write_text(corpus / "letter.txt", "A changed letter about private fostering arrangements.")
    spy = Spy()
    s = build(settings, spy, full=True)
    assert spy.loaded == ["letter.txt"] and s.parse_cached == 2
    new = {p.name for p in entries(settings)}
    assert len(new) == 3 and len(old - new) == 1  # the old letter's entry is gone
    assert "private fostering" in pages_of(settings)["letter.txt"][0].text


def test_the_cache_holds_only_what_the_live_generation_uses(settings, corpus):
    folder = settings.index_dir / PARSE_CACHE
    build(settings)
    (corpus / "news.txt").unlink()
    (folder / ".stale.json.gz.123.456.tmp").write_bytes(b"left by a crash")
    (folder / "notes.txt").write_text("not the cache's: left alone")
    orphan = JsonCache(folder, compress=True)
    orphan.put("c" * 64, {"kind": "text"})
    s = build(settings)
    assert s.removed == ["news.txt"]
    assert len(entries(settings)) == 2
    assert sorted(os.listdir(folder)) == sorted([p.name for p in entries(settings)] + ["notes.txt"])


def test_a_file_that_fails_is_not_cached(settings, corpus):
    (corpus / "bad.pdf").write_bytes(b"junk, not a PDF")
    s = build(settings)
    assert "bad.pdf" in s.skipped and len(entries(settings)) == 3
    spy = Spy()
    again = build(settings, spy, full=True)
    assert spy.loaded == ["bad.pdf"] and again.parse_cached == 3 and "bad.pdf" in again.skipped


def test_a_damaged_entry_is_one_warning_and_a_reparse(settings, caplog):
    build(settings)
    key_of = {e["source"]: e for e in _sources(settings)}
    pdf, letter, news = (key_of[s]["path"] for s in (PDF_SOURCE, "letter.txt", "news.txt"))
    pdf.write_bytes(pdf.read_bytes()[:40])  # truncated gzip
    letter.write_bytes(b"\x00garbage")  # not gzip at all
    news.write_bytes(gzip.compress(b'{"kind": "text", "pages": "nope"}'))  # not a RawDocument
    caplog.set_level(logging.WARNING, logger="rag_qa")
    spy = Spy()
    s = build(settings, spy, full=True)
    assert sorted(spy.loaded) == ALL and s.parse_cached == 0 and s.documents == 3
    warned = [r.getMessage() for r in caplog.records if "parse cache entry" in r.getMessage()]
    assert len(warned) == 3, warned
    assert any("truncated" in w for w in warned) and any("not gzip" in w for w in warned)
    spy = Spy()
    assert build(settings, spy, full=True).parse_cached == 3 and spy.loaded == []  # rewritten


def _sources(settings) -> list[dict]:
    """Each corpus file with its cache entry's path."""
    cache = ParseCache(settings)
    found = []
    for source in ALL:
        path = settings.corpus_dir / source
        name = cache.key(file_hash(path), path) + ".json.gz"
        found.append({"source": source, "path": settings.index_dir / PARSE_CACHE / name})
    return found


def test_a_link_planted_in_the_cache_is_not_followed(settings, tmp_path, caplog):
    build(settings)
    entry = next(e["path"] for e in _sources(settings) if e["source"] == "letter.txt")
    planted = tmp_path / "elsewhere.json.gz"
    body = {"kind": "text", "pages": [[None, "Planted secret text."]], "sidecar": {}, "meta": {}}
    planted.write_bytes(gzip.compress(json.dumps(body).encode()))
    entry.unlink()
    entry.symlink_to(planted)
    caplog.set_level(logging.WARNING, logger="rag_qa")
    spy = Spy()
    s = build(settings, spy, full=True)
    assert spy.loaded == ["letter.txt"] and s.parse_cached == 2
    assert "Planted" not in pages_of(settings)["letter.txt"][0].text
    assert any("link" in r.getMessage() for r in caplog.records)
    # The link was replaced by a real entry, not written through.
    assert not entry.is_symlink() and planted.exists()
    assert json.loads(gzip.decompress(planted.read_bytes())) == body


def test_a_linked_cache_folder_is_neither_read_nor_written(settings, tmp_path, caplog):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings.index_dir.mkdir()
    (settings.index_dir / PARSE_CACHE).symlink_to(elsewhere, target_is_directory=True)
    caplog.set_level(logging.WARNING, logger="rag_qa")
    s = build(settings)
    assert s.documents == 3 and os.listdir(elsewhere) == []
    linked = [r for r in caplog.records if "symbolic link" in r.getMessage()]
    assert len(linked) == 1  # once for the folder, not once an entry


# -- the shared JSON cache ----------------------------------------------------------------


def test_json_cache_refuses_oversized_entries_and_gzip_bombs(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    small = JsonCache(tmp_path, compress=True, max_bytes=1000)
    assert not small.put("a" * 64, {"text": "x" * 2000})  # too large to store
    bomb = gzip.compress(b'{"t": "' + b"x" * 10**6 + b'"}')
    (tmp_path / ("b" * 64 + ".json.gz")).write_bytes(bomb)
    assert small.get("b" * 64) is None
    assert "over 1,000 bytes" in caplog.records[-1].getMessage()
    plain = JsonCache(tmp_path, max_bytes=1000)
    (tmp_path / ("c" * 64 + ".json")).write_text("[1, 2]")
    assert plain.get("c" * 64) is None and "not a JSON object" in caplog.records[-1].getMessage()
    os.mkfifo(tmp_path / ("d" * 64 + ".json"))
    assert plain.get("d" * 64) is None  # not opened for reading in a way that blocks
    with pytest.raises(ValueError):
        plain.get("../../etc/passwd")
    assert plain.put("e" * 64, {"ok": "\ud800"}) and plain.get("e" * 64) == {"ok": "\ud800"}
