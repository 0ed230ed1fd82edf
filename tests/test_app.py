"""The web chat: its pure functions, the service behind it, and the running app over HTTP
(gradio_client) with the fake embedder over the small test corpus."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import (
    FIXTURES,
    PDF_SOURCE,
    free_port,
    launched_app,
    write_text,
)

from rag_qa.engine import Filters
from rag_qa.index.build import run_build
from rag_qa.records import Chunk, Document, Page
from rag_qa.retrieval import followup as F
from rag_qa.web import app as A
from rag_qa.web import conversation as C
from rag_qa.web import handlers as H
from rag_qa.web import uploads as U
from rag_qa.web import views as V

OVERSIGHT = "What did inspectors say about management oversight?"

# ---------------------------------------------------------------------------------------------
# Follow-up questions

MO_2018 = "What did Ofsted say about management oversight in 2018?"
INSPECTION_2023 = "What did the 2023 inspection say about caseloads?"
VISIT_2025 = "What did the November 2025 visit find about care leavers?"


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        (MO_2018, "and in 2024?", "What did Ofsted say about management oversight in 2024?"),
        (MO_2018, "And what about 2024?", "What did Ofsted say about management oversight in 2024?"),
        (MO_2018, "what about in 2024", "What did Ofsted say about management oversight in 2024?"),
        (MO_2018, "How about 2019?", "What did Ofsted say about management oversight in 2019?"),
        (MO_2018, "2019?", "What did Ofsted say about management oversight in 2019?"),
        (MO_2018, "In 2016 and 2019?", "What did Ofsted say about management oversight in 2016 and 2019?"),
        (MO_2018, "and since 2020?", "What did Ofsted say about management oversight since 2020?"),
        (MO_2018, "and last year?", "What did Ofsted say about management oversight last year?"),
        (MO_2018, "what did they say in 2024?", "What did Ofsted say about management oversight in 2024?"),
        (MO_2018, "and the 2019 inspection?", "What did Ofsted say about management oversight in the 2019 inspection?"),
        (MO_2018, "and the focused visits?", "What did Ofsted say about management oversight in 2018 in the focused visits?"),
        (INSPECTION_2023, "and 2016?", "What did the 2016 inspection say about caseloads?"),
        (INSPECTION_2023, "and the 2016 one?", "What did the 2016 inspection say about caseloads?"),
        (INSPECTION_2023, "and the focused visit?", "What did the 2023 focused visit say about caseloads?"),
        (VISIT_2025, "and in July 2024?", "What did the July 2024 visit find about care leavers?"),
        ("How high were caseloads?", "and in 2019?", "How high were caseloads in 2019?"),
        ("How high were caseloads in Slough?", "and Reading?", "How high were caseloads in Reading?"),
    ],
)  # fmt: skip
def test_follow_up_keeps_the_topic_and_changes_the_rest(previous, question, expected):
    assert F.rewrite_follow_up(question, [previous]) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What about caseloads?",  # a new topic: asked as it is
        "How high were caseloads in the 2023 inspection?",  # a whole question
        "and?",
        "Tell me about the quality of supervision and reflective practice in 2019 please now",
    ],
)
def test_other_questions_are_left_alone(question):
    assert F.rewrite_follow_up(question, [MO_2018]) == question


def test_follow_up_without_history_or_blank():
    assert F.rewrite_follow_up("  and in 2024? ", []) == "and in 2024?"
    assert F.rewrite_follow_up("and in 2024?", ["", "  "]) == "and in 2024?"
    assert F.rewrite_follow_up("   ", [MO_2018]) == ""


def test_follow_up_uses_the_latest_effective_question():
    history = [MO_2018, F.rewrite_follow_up("and in 2024?", [MO_2018])]
    assert F.rewrite_follow_up("and 2016?", history) == (
        "What did Ofsted say about management oversight in 2016?"
    )


# ---------------------------------------------------------------------------------------------
# Highlighting


def test_highlight_escapes_everything_and_marks_the_sentence():
    text = 'Intro <script>alert("x")</script> & more.\nThe <b>key</b> finding & its "quote".'
    out = V.highlight(text, ['The <b>key</b> finding & its "quote".'])
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&amp; more." in out
    assert out.count("<mark>") == 1
    assert "<mark>The &lt;b&gt;key&lt;/b&gt; finding &amp; its &quot;quote&quot;.</mark>" in out


def test_highlight_finds_a_sentence_across_a_line_break():
    text = "Managers check\ncases weekly. Other text."
    out = V.highlight(text, ["Managers check cases weekly."])
    assert "<mark>Managers check\ncases weekly.</mark>" in out


def test_highlight_without_a_match_is_just_escaped():
    assert V.highlight("a < b", ["not there"]) == "a &lt; b"
    assert V.find_span("abc", "") is None


def _doc(pages: list[tuple[int | None, str]]) -> Document:
    return Document(
        doc_id="d1",
        source="r.pdf",
        title="Report <1>",
        doc_type="inspection report",
        date="2023-03-17",
        visit_start=None,
        visit_end=None,
        dates=(),
        pages=tuple(Page(n, t) for n, t in pages),
        content_hash="h",
    )


def _chunk(text, start, end, page_start, page_end, char_start, char_end) -> Chunk:
    return Chunk("c1", "d1", 0, text, page_start, page_end, char_start, char_end, None, 10)


def test_context_shows_the_whole_page_with_the_passage_and_sentence():
    page = "Header line.\nThe passage <starts> here. It has the answer.\nFooter & end."
    a = page.index("The passage")
    b = page.index("Footer")
    chunk = _chunk(page[a:b], a, b, 2, 2, a, b)
    out = V.context_html(_doc([(1, "Other page."), (2, page)]), chunk, ["It has the answer."])
    assert "Page 2" in out and "Other page." not in out
    assert "Header line." in out and "Footer &amp; end." in out  # the whole page
    assert '<span class="rq-passage">The passage &lt;starts&gt; here. </span>' in out
    assert '<span class="rq-passage"><mark>It has the answer.</mark></span>' in out
    assert "<starts>" not in out


def test_context_over_two_pages_and_for_text_files():
    p1, p2 = "Top. Passage begins", "and ends here. Rest."
    chunk = _chunk("Passage begins\nand ends here.", 0, 0, 1, 2, 5, 14)
    out = V.context_html(_doc([(1, p1), (2, p2)]), chunk, [])
    assert "Page 1" in out and "Page 2" in out
    assert '<span class="rq-passage">Passage begins</span>' in out
    assert '<span class="rq-passage">and ends here.</span>' in out
    text = "Whole news text. The bit."
    out = V.context_html(_doc([(None, text)]), _chunk("The bit.", 0, 0, None, None, 17, 25), [])
    assert "Full text" in out and '<span class="rq-passage">The bit.</span>' in out


def test_chat_markdown_escapes_and_cites():
    assert V.md_escape("*a* [1] <b>") == "\\*a\\* \\[1\\] &lt;b&gt;"


def test_passage_cards_escape_titles():
    card = {
        "rank": 1,
        "score": 0.5,
        "title": "<img src=x onerror=alert(1)>",
        "source": "a.txt",
        "date": None,
        "doc_type": "news",
        "page": None,
        "page_end": None,
        "section": None,
        "text": "Some <i>text</i>.",
        "sentences": ["Some <i>text</i>."],
        "also_in": [],
    }
    out = V.passages_html([card])
    assert "<img" not in out and "<i>" not in out and "<mark>" in out and "cited" in out


# ---------------------------------------------------------------------------------------------
# Filters and search


def test_full_year_range_means_no_year_filter():
    choices = {"years": [2017, 2023, 2026], "types": [], "reports": []}
    assert H.filters_from(choices, 2017, 2026, [], []) == Filters()
    assert H.filters_from(choices, 2026, 2020, None, None) == Filters(2020, None)


# ---------------------------------------------------------------------------------------------
# Uploads


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\x\\Evil Report.PDF", "Evil Report.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("a<b>|c?.md", "a_b__c.md"),
        ("  spaced   out  .txt", "spaced out.txt"),
        ("Café report.pdf", "Café report.pdf"),
        ("..pdf", "upload.pdf"),
        ("x" * 300 + ".txt", "x" * 120 + ".txt"),
        ("notes.meta.txt", "notes_meta.txt"),
    ],
)
def test_upload_names_are_sanitised(original, expected):
    assert U.safe_upload_name(original) == expected


@pytest.mark.parametrize(
    "name", ["run.exe", "noextension", "x.meta.json", "old.doc", "page.xhtml", ""]
)
def test_upload_types_are_refused(name):
    with pytest.raises(U.UploadRejected):
        U.safe_upload_name(name)


def test_upload_content_must_match_the_extension(monkeypatch):
    assert U.check_upload(b"%PDF-1.4 ...", "a.pdf") == "pdf"
    assert U.check_upload("Hello é".encode(), "a.txt") == "text"
    assert U.check_upload("Hello".encode("utf-16"), "a.md") == "text"
    for data, name in [
        (b"<html>not a pdf", "a.pdf"),
        (b"\xff\xd8\xff\xe0 jpeg", "a.txt"),
        ("Café".encode("latin-1"), "a.txt"),  # the build would guess cp1252: refused
        (b"abc\x00\x01\x02", "a.txt"),
        (b"", "a.txt"),
        (b"   \n", "a.txt"),
    ]:
        with pytest.raises(U.UploadRejected):
            U.check_upload(data, name)
    monkeypatch.setattr(U, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(U.UploadRejected, match="limit"):
        U.check_upload(b"%PDF-" + b"x" * 20, "a.pdf")


def test_store_upload_never_overwrites_or_leaves_the_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text("old")
    first = U.store_upload(b"new notes", "../notes.txt", corpus)
    second = U.store_upload(b"newer notes", "/tmp/notes.txt", corpus)
    assert first.name == "notes (2).txt" and second.name == "notes (3).txt"
    assert (corpus / "notes.txt").read_text() == "old"
    assert {p.parent for p in (first, second)} == {corpus.resolve()}
    assert not (tmp_path / "notes.txt").exists()
    with pytest.raises(U.UploadRejected):
        U.store_upload(b"MZ binary", "tool.exe", corpus)


def test_upload_then_update_switches_the_index(settings, fake_model):
    run_build(settings, lambda: fake_model)
    service = A.Service(settings, fake_model)
    before = service.retriever
    text = "Inspectors found that the fostering panel was exemplary and timely.\n" * 3
    U.store_upload(text.encode(), "fostering.txt", settings.corpus_dir)
    summary = service.update_index(progress=False)
    assert summary.added == ["fostering.txt"]
    assert service.retriever is not before
    turn = service.ask("What about the fostering panel?", [], 3, Filters())
    assert turn.result.passages[0].document.source == "fostering.txt"


def test_index_rebuilt_elsewhere_is_picked_up(settings, fake_model):
    run_build(settings, lambda: fake_model)
    service = A.Service(settings, fake_model)
    assert not service.maybe_reload()
    write_text(settings.corpus_dir / "more.txt", "A new letter about adoption support.")
    run_build(settings, lambda: fake_model)  # as `rag-qa index` would, from another process
    assert not any(d.source == "more.txt" for d in service.retriever.docs.values())
    turn = service.ask("What about adoption support?", [], 3, Filters())  # the next request
    assert any(p.document.source == "more.txt" for p in turn.result.passages)
    assert any(d.source == "more.txt" for d in service.retriever.docs.values())


# ---------------------------------------------------------------------------------------------
# Feedback and login


def test_feedback_record_is_an_eval_question(tmp_path):
    turn = {
        "asked": "and in 2018?",
        "question": MO_2018,
        "answer": "It was weak. [1]",
        "abstained": False,
        "filters": "",
        "index_built_at": "2026-01-01T00:00:00+00:00",
        "passages": [
            {
                "rank": 1,
                "source": "a.txt",
                "title": "A",
                "date": "2018-02-02",
                "page": None,
                "score": 0.6,
                "text": "Intro. It was weak.",
                "sentences": ["It was weak."],
            },
            {
                "rank": 2,
                "source": "b.pdf",
                "title": "B",
                "date": None,
                "page": 3,
                "score": 0.4,
                "text": "Other.",
                "sentences": [],
            },
        ],
    }
    rec = C.feedback_record(turn, liked=False, now=datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert rec["question"] == MO_2018 and rec["asked"] == "and in 2018?"
    assert rec["answers"] == ["It was weak."] and rec["sources"] == ["a.txt"]
    assert rec["vote"] == "down" and rec["tags"] == ["feedback", "down"]
    assert rec["timestamp"] == "2026-02-03T04:05:06+00:00"
    assert rec["passages"] == [
        {
            "rank": 1,
            "source": "a.txt",
            "title": "A",
            "date": "2018-02-02",
            "page": None,
            "score": 0.6,
            "text": "Intro. It was weak.",
        }
    ]
    path = tmp_path / "feedback.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    from rag_qa.evaluation.suite import load_questions

    (q,) = load_questions(path)
    assert q.question == MO_2018 and q.sources == ("a.txt",)


def test_parse_auth(tmp_path):
    assert A.parse_auth(None) is None
    assert A.parse_auth("ann:se:cret") == [("ann", "se:cret")]
    users = tmp_path / "users"
    users.write_text("# who may log in\nann:one\n\nbob:two\n")
    assert A.parse_auth(str(users)) == [("ann", "one"), ("bob", "two")]
    for bad in ("nopassword", "ann:", ":pw"):
        with pytest.raises(ValueError):
            A.parse_auth(bad)
    users.write_text("ann:one\nbroken\n")
    with pytest.raises(ValueError, match="line 2"):
        A.parse_auth(str(users))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm not installed")
def test_render_pdf_page(tmp_path):
    png = V.render_pdf_page(FIXTURES / "report.pdf", 1, tmp_path, dpi=40)
    assert png is not None and png.read_bytes().startswith(b"\x89PNG")
    assert V.render_pdf_page(FIXTURES / "report.pdf", 1, tmp_path, dpi=40) == png  # cached
    assert V.render_pdf_page(FIXTURES / "report.pdf", 99, tmp_path) is None
    assert V.render_pdf_page(tmp_path / "missing.pdf", 1, tmp_path) is None


# ---------------------------------------------------------------------------------------------
# The running app, over HTTP


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """The app launched in this process over a small corpus with the fake embedder."""
    root = tmp_path_factory.mktemp("app")
    options = dict(allow_upload=False, feedback_file=root / "fb.jsonl", concurrency=2)
    with launched_app(root, **options) as (app, url, settings):
        yield app, url, settings


@pytest.fixture(scope="module")
def client(running):
    from gradio_client import Client

    return Client(running[1], verbose=False)


def test_answer_api_cites_real_corpus_files(running, client):
    _, _, settings = running
    out = client.predict(OVERSIGHT, None, None, [], [], 5, api_name="/answer")
    assert not out["abstained"] and "[1]" in out["answer"]
    files = {p.name for p in settings.corpus_dir.iterdir()}
    assert out["passages"] and {p["source"] for p in out["passages"]} <= files
    top = out["passages"][0]
    assert top["source"] == PDF_SOURCE and top["page"] == 1 and top["date"] == "2023-03-17"
    assert top["sentences"] and top["sentences"][0] in top["text"]


def test_chat_answers_follow_ups_and_opens_passages(running):
    from gradio_client import Client

    chat = Client(running[1], verbose=False)  # its own session
    messages, box, cards, pick, context, image = chat.predict(question=OVERSIGHT, api_name="/ask")
    assert box == "" and len(messages) == 2
    answer = messages[1]["content"][0]["text"]
    assert "\\[1\\]" in answer and "Testshire" in answer
    assert PDF_SOURCE in cards and "<mark>" in cards
    assert [c[1] for c in pick["choices"]][:1] == [1]

    messages, *_ = chat.predict(question="and in 2025?", api_name="/ask")
    assert len(messages) == 4
    assert "management oversight in 2025" in messages[3]["content"][0]["text"]

    chat.predict(question=OVERSIGHT, api_name="/ask")
    html_out, image = chat.predict(1, api_name="/open")
    assert "Page 1" in html_out and '<span class="rq-passage">' in html_out
    assert "<mark>" in html_out
    if shutil.which("pdftoppm"):
        assert image["visible"] is True
        value = image["value"]
        path = value if isinstance(value, str) else value["path"]
        assert Path(path).read_bytes().startswith(b"\x89PNG")


def test_empty_question_is_refused(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError):
        client.predict(question="   ", api_name="/ask")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_no_file_outside_the_corpus_is_served(running):
    app, url, settings = running
    index_file = next((settings.index_dir).glob("gen-*/manifest.json"))
    for path in (index_file, Path(A.__file__), settings.corpus_dir / PDF_SOURCE):
        assert _status(f"{url}gradio_api/file={quote(str(path.resolve()))}") in (403, 404)
    kwargs = app.launch_kwargs
    assert str(settings.index_dir.resolve()) in kwargs["blocked_paths"]
    assert kwargs["allowed_paths"] == []  # never the corpus
    assert kwargs["max_file_size"]


def test_queue_and_no_upload_ui(running):
    app, _, _ = running
    queue = app.demo._queue
    assert queue.max_size and queue.default_concurrency_limit == 2
    kinds = {c.get("type") for c in app.demo.config["components"]}
    assert "chatbot" in kinds and "file" not in kinds


def test_upload_ui_only_with_allow_upload(settings, fake_model):
    run_build(settings, lambda: fake_model)
    app = A.create_app(settings, fake_model, allow_upload=True)
    kinds = {c.get("type") for c in app.demo.config["components"]}
    assert "file" in kinds
    assert app.launch_kwargs["max_file_size"] == U.MAX_UPLOAD_BYTES


def test_login_is_required_with_auth(settings, fake_model):
    from gradio_client import Client

    run_build(settings, lambda: fake_model)
    app = A.create_app(settings, fake_model)
    _, url, _ = A.launch(app, port=free_port(), auth=[("ann", "pw")], prevent_thread_lock=True)
    try:
        assert _status(f"{url}config") == 401
        client = Client(url, auth=("ann", "pw"), verbose=False)
        out = client.predict(OVERSIGHT, None, None, [], [], 3, api_name="/answer")
        assert len(out["passages"]) == 3
    finally:
        app.demo.close()


def test_a_warm_up_question_is_asked_over_http_logged_in_before_ready(settings, fake_model, caplog):
    """With logins required, the warm-up question logs in and is answered through the
    chat's own /ask route before ``on_ready``; a server that cannot be reached is a
    warning, not an error."""
    run_build(settings, lambda: fake_model)
    app = A.create_app(settings, fake_model)
    seen = []
    _, url, _ = A.launch(
        app,
        port=free_port(),
        auth=[("ann", "pw")],
        prevent_thread_lock=True,
        warm_question=OVERSIGHT,
        on_ready=lambda: seen.append(app.service.answers),
    )
    try:
        assert seen == [1]
    finally:
        app.demo.close()
    A.warm_over_http(f"http://127.0.0.1:{free_port()}/", None, OVERSIGHT)  # nothing listens
    assert "warm-up question over HTTP failed" in caplog.text


def test_cli_serve_wires_the_app(settings, fake_model, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from rag_qa.cli import main

    run_build(settings, lambda: fake_model)
    seen = {}

    def fake_launch(app, host, port, auth, on_ready=None, warm_question=None):
        seen.update(app=app, host=host, port=port, auth=auth, answered=app.service.answers)
        seen["warm_question"] = warm_question
        on_ready()  # the server listens: only now is "ready" said

    monkeypatch.setattr(A, "launch", fake_launch)
    result = CliRunner().invoke(
        main,
        [
            "serve",
            "--corpus",
            str(settings.corpus_dir),
            "--index",
            str(settings.index_dir),
            "--model",
            "test-hash",
            "--port",
            "7999",
            "--auth",
            "ann:pw",
            "--feedback",
            str(tmp_path / "fb.jsonl"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 7999
    assert seen["auth"] == [("ann", "pw")]
    assert seen["app"].service.feedback_file == tmp_path / "fb.jsonl"
    assert fake_model.calls  # warmed up before serving
    assert seen["answered"] == 1  # the warm-up question ran before the server started
    assert seen["warm_question"] in H.EXAMPLES  # and one is asked over HTTP before "ready"
    assert "documents loaded in" in result.output
