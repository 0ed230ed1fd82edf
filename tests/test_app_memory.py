"""The web chat's memory bounds: gradio sessions capped, conversations capped and expiring,
rendered pages pruned, freed heap handed back (rag_qa.web.memory)."""

from __future__ import annotations

import os
import platform
import shutil
import threading
import time

import pytest
from conftest import FIXTURES, launched_app

from rag_qa.engine import Filters
from rag_qa.index.build import run_build
from rag_qa.web import app as A
from rag_qa.web import conversation as C
from rag_qa.web import memory as M
from rag_qa.web import views as V

QUESTION = "What did inspectors say about management oversight?"


def record(n: int) -> dict:
    return {"question": f"q{n}", "answer": f"a{n}", "passages": []}


def test_remember_turn_keeps_the_last_turns_and_rekeys_feedback():
    state = C.new_state()
    for n in range(5):
        state = C.remember_turn(state, f"q{n}", f"asked {n}", f"reply {n}", record(n), [n], 2)
    assert [m["content"] for m in state["messages"]] == [
        "asked 3",
        "reply 3",
        "asked 4",
        "reply 4",
    ]
    # The like button sends the answer's index in the chat: 1 and 3 are the kept answers.
    assert state["turns"] == {"1": record(3), "3": record(4)}
    assert state["questions"] == ["q3", "q4"]  # the follow-up history is capped too
    assert state["passages"] == [4]


def test_remember_turn_under_the_cap_keeps_everything():
    state = C.remember_turn(C.new_state(), "q0", "asked", "reply", record(0), [], 20)
    state = C.remember_turn(state, "q1", "asked", "reply", record(1), [], 20)
    assert len(state["messages"]) == 4 and set(state["turns"]) == {"1", "3"}


@pytest.fixture(scope="module")
def small_app(tmp_path_factory):
    """The app with tiny bounds: 3 sessions, 2 exchanges per conversation."""
    root = tmp_path_factory.mktemp("memory")
    with launched_app(root, concurrency=2, max_sessions=3, max_turns=2) as running:
        yield running


def test_gradio_keeps_at_most_max_sessions(small_app):
    from gradio_client import Client

    app, url, _ = small_app
    clients = [Client(url, verbose=False) for _ in range(5)]  # five visitors
    for client in clients:
        client.predict(question=QUESTION, api_name="/ask")
    assert app.launch_kwargs["state_session_capacity"] == 3
    sessions = app.demo.state_holder.session_data
    assert 1 <= len(sessions) <= 3
    # The most recent visitor keeps its conversation: a follow-up is read in context.
    last = clients[-1]
    assert last.session_hash in sessions
    messages, *_ = last.predict(question="and in 2025?", api_name="/ask")
    assert len(messages) == 4
    assert "management oversight in 2025" in messages[3]["content"][0]["text"]
    # The first visitor's session was dropped: its next question starts a new conversation.
    assert clients[0].session_hash not in sessions
    messages, *_ = clients[0].predict(question=QUESTION, api_name="/ask")
    assert len(messages) == 2


def test_a_long_conversation_keeps_its_last_turns(small_app):
    from gradio_client import Client

    _, url, _ = small_app
    chat = Client(url, verbose=False)
    for n in range(3):
        messages, *_ = chat.predict(question=f"{QUESTION} round{n}", api_name="/ask")
    assert len(messages) == 4  # 2 exchanges: the first dropped off the top
    assert "round1" in messages[0]["content"][0]["text"]
    assert "round2" in messages[2]["content"][0]["text"]


def test_conversation_state_expires(tmp_path):
    from gradio_client import Client

    with launched_app(tmp_path, concurrency=2, state_ttl=0.3) as (app, url, _):
        chat = Client(url, verbose=False)
        chat.predict(question=QUESTION, api_name="/ask")
        messages, *_ = chat.predict(question="and in 2025?", api_name="/ask")
        assert len(messages) == 4  # within the time to live: the conversation goes on
        time.sleep(0.5)
        app.demo.state_holder.delete_all_expired_state()  # what gradio runs every second
        session = app.demo.state_holder.session_data[chat.session_hash]
        state_ids = [k for k, b in app.demo.blocks.items() if type(b).__name__ == "State"]
        assert state_ids and not any(k in session.state_data for k in state_ids)
        messages, *_ = chat.predict(question=QUESTION, api_name="/ask")
        assert len(messages) == 2  # expired: a new conversation


def test_prune_files_keeps_the_newest(tmp_path):
    for n in range(5):
        path = tmp_path / f"page-{n}.png"
        path.write_bytes(b"x")
        os.utime(path, (1000 + n, 1000 + n))
    (tmp_path / "other.txt").write_text("not a page")
    assert M.prune_files(tmp_path, 2, "page-*.png") == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt", "page-3.png", "page-4.png"]
    assert M.prune_files(tmp_path, 2, "page-*.png") == 0
    assert M.prune_files(tmp_path / "missing", 2) == 0


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm not installed")
def test_rendered_pages_are_capped_least_recently_shown_first(tmp_path):
    pdf = FIXTURES / "report.pdf"
    first = V.render_pdf_page(pdf, 1, tmp_path, dpi=20, keep=2)
    second = V.render_pdf_page(pdf, 2, tmp_path, dpi=20, keep=2)
    os.utime(first, (1000, 1000))
    os.utime(second, (2000, 2000))
    assert V.render_pdf_page(pdf, 1, tmp_path, dpi=20, keep=2) == first  # shown again
    third = V.render_pdf_page(pdf, 3, tmp_path, dpi=20, keep=2)
    assert third is not None and third.exists()
    assert sorted(tmp_path.glob("page-*.png")) == sorted([first, third])  # page 2 went
    assert not second.exists()


def test_heap_trimmer_trims_only_after_answers():
    answers = [0]
    calls = []
    trimmer = M.HeapTrimmer(lambda: answers[0], interval=60, trim=lambda: calls.append(1) or True)
    assert trimmer.tick() is False and calls == []  # idle: nothing to give back
    answers[0] += 3
    assert trimmer.tick() is True and calls == [1] and trimmer.trims == 1
    assert trimmer.tick() is False and calls == [1]


def test_heap_trimmer_thread_runs_and_stops():
    answers = [0]
    trimmed = threading.Event()
    trimmer = M.HeapTrimmer(lambda: answers[0], interval=0.02, trim=lambda: trimmed.set() or True)
    trimmer.start()
    try:
        answers[0] = 1
        assert trimmed.wait(5)
    finally:
        trimmer.stop()
    assert not any(t.name == "heap-trimmer" and t.is_alive() for t in threading.enumerate())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trim_heap_calls_glibc():
    assert M.trim_heap() is True


def test_serve_trims_the_heap_while_serving(settings, fake_model, monkeypatch):
    run_build(settings, lambda: fake_model)
    seen = {}

    def fake_launch(app, host, port, auth, on_ready=None, warm_question=None):
        seen["trimmer"] = [t for t in threading.enumerate() if t.name == "heap-trimmer"]
        before = app.service.answers
        app.service.ask(QUESTION, [], 3, Filters())
        seen["counted"] = app.service.answers - before
        seen["capacity"] = app.launch_kwargs["state_session_capacity"]

    monkeypatch.setattr(A, "launch", fake_launch)
    A.serve(settings, port=7999, feedback_file=None, embedder_factory=lambda: fake_model)
    assert len(seen["trimmer"]) == 1 and seen["counted"] == 1
    assert seen["capacity"] == settings.web.max_sessions
    assert not any(t.name == "heap-trimmer" for t in threading.enumerate())  # stopped
