from pathlib import Path

import pytest
from conftest import FIXTURES, write_text

from rag_qa.ingest.loaders import LoadError, decode_text, list_corpus, load_file


def load(path: Path, root: Path):
    return load_file(path, root, 10**9)


def test_pdf_pages_keep_numbers():
    raw = load(FIXTURES / "report.pdf", FIXTURES)
    assert raw.kind == "pdf"
    assert [n for n, _ in raw.pages] == [1, 2, 3]
    assert "Headline findings" in raw.pages[0][1]
    assert raw.source == "report.pdf"


def test_text_encodings(tmp_path):
    (tmp_path / "utf8.txt").write_text("Café caseloads", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Café caseloads".encode("latin-1"))
    (tmp_path / "utf16.txt").write_text("Café caseloads", encoding="utf-16")
    for name in ("utf8.txt", "latin1.txt", "utf16.txt"):
        raw = load(tmp_path / name, tmp_path)
        assert raw.pages == ((None, "Café caseloads"),), name


def test_strict_decoding_refuses_what_is_not_utf8_or_utf16():
    """What uploads accept (strict) is what the index build reads the same way."""
    latin = "Café".encode("latin-1")
    assert decode_text(latin, "a.txt") == "Café"  # the build reads it as cp1252
    assert decode_text(b"\xef\xbb\xbf" + latin, "a.txt") == "Caf\ufffd"
    for data in (latin, b"\xef\xbb\xbf" + latin, b"\xff\xfeC\x00\xd8"):
        with pytest.raises(UnicodeDecodeError):
            decode_text(data, "a.txt", strict=True)
    for text in ("Café", "\ufeffCafé"):
        assert decode_text(text.encode("utf-8"), "a.txt", strict=True) == text.lstrip("\ufeff")
    assert decode_text("Café".encode("utf-16"), "a.txt", strict=True) == "Café"
    with pytest.raises(LoadError, match="binary"):
        decode_text(b"ab\x00cd", "a.txt", strict=True)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.txt", b"", "empty"),
        ("junk.pdf", b"\x00\x01 not a pdf at all" * 50, "PDF"),
        ("truncated.pdf", (FIXTURES / "report.pdf").read_bytes()[:300], "PDF"),
        ("blank.pdf", (FIXTURES / "blank.pdf").read_bytes(), "no text layer"),
        ("binary.txt", b"\x00\x00\x89PNG" * 100, "binary"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, name, content, problem):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(LoadError) as err:
        load(tmp_path / name, tmp_path)
    message = str(err.value)
    assert message.startswith(name + ":")
    assert problem in message
    assert "\n" not in message


def test_encrypted_pdf(tmp_path):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=str(FIXTURES / "report.pdf"))
    writer.encrypt(user_password="secret", owner_password="owner")
    with (tmp_path / "locked.pdf").open("wb") as fh:
        writer.write(fh)
    with pytest.raises(LoadError, match="encrypted"):
        load(tmp_path / "locked.pdf", tmp_path)

    # An empty user password is opened transparently.
    writer = pypdf.PdfWriter(clone_from=str(FIXTURES / "report.pdf"))
    writer.encrypt(user_password="", owner_password="owner")
    with (tmp_path / "open.pdf").open("wb") as fh:
        writer.write(fh)
    assert len(load(tmp_path / "open.pdf", tmp_path).pages) == 3


def test_sidecar_read_and_hashed(tmp_path):
    doc = write_text(tmp_path / "a.txt", "Some text about caseloads.")
    before = load(doc, tmp_path).content_hash
    write_text(tmp_path / "a.txt.meta.json", '{"title": "A title", "date": "2020-01-02", "x": 1}')
    raw = load(doc, tmp_path)
    assert raw.sidecar == {"title": "A title", "date": "2020-01-02"}
    assert raw.content_hash != before
    write_text(tmp_path / "a.txt.meta.json", "{not json")
    with pytest.raises(LoadError, match="not valid JSON"):
        load(doc, tmp_path)


def test_list_corpus_skips_sidecars_hidden_and_unsupported(tmp_path):
    for name in (
        "b.pdf",
        "a.txt",
        "sub/c.md",
        "a.txt.meta.json",
        ".hidden.txt",
        "x.doc",
        "y.odt",
        "page.htm",
        "z.docx",
        "SOURCES.md",
    ):
        write_text(tmp_path / name, "x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_corpus(tmp_path)] == [
        "a.txt",
        "b.pdf",
        "page.htm",
        "sub/c.md",
        "z.docx",
    ]
