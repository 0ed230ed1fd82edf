"""The web chat's hardening (SECURITY.md): what the server refuses and what it never serves.

Each test is one finding of the security probe: the corpus never served, request bodies and
questions bounded, logins slowed down and logged, credentials not on the command line,
feedback bounded, no uploads unless asked for, no URL fetched by the file route, the browser
keeping no history and told not to frame or sniff, rendered pages removed on SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from conftest import REPO, free_port, launched_app

from rag_qa.index.build import run_build
from rag_qa.web import app as A
from rag_qa.web import views as V
from rag_qa.web.guard import LoginLimiter, file_allowed
from rag_qa.web.handlers import Handlers, UserError
from rag_qa.web.service import Service

OVERSIGHT = "What did inspectors say about management oversight?"


def _request(url: str, data: bytes | None = None, method: str | None = None, headers=None):
    """(status, headers, body) of a request, errors included."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("secure")
    options = dict(allow_upload=False, feedback_file=root / "fb.jsonl", concurrency=2)
    with launched_app(root, **options) as (app, url, settings):
        yield app, url, settings


# ---------------------------------------------------------------------------------------------
# 1. The corpus is never served (also without pdftoppm)


def test_the_corpus_is_not_served_without_pdftoppm(tmp_path, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, *a, **k: None if name == "pdftoppm" else real_which(name)
    )
    with launched_app(tmp_path) as (app, url, settings):
        secret = settings.corpus_dir / ".env"
        secret.write_text("API_KEY=secret\n")
        script = settings.corpus_dir / "page.html"
        script.write_text("<html><script>alert(1)</script></html>")
        assert app.launch_kwargs["allowed_paths"] == []
        for path in (secret, script, settings.corpus_dir / "letter.txt"):
            status, _, body = _request(f"{url}gradio_api/file={quote(str(path.resolve()))}")
            assert status in (403, 404) and b"secret" not in body
        handlers = Handlers(app.service)
        state = handlers.ask(OVERSIGHT, None).state
        view = handlers.open(1, state)
        assert view.image is None and "<iframe" not in view.html and "Page 1" in view.html


# ---------------------------------------------------------------------------------------------
# 2. Request bodies and questions are bounded


def test_a_large_body_is_refused_with_413_fast(served):
    """A 5 MB POST is answered 413 from its Content-Length, before the body is read."""
    _, url, _ = served
    where = urlsplit(url)
    started = time.perf_counter()
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(
            b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {5 * 1024 * 1024}\r\n\r\n".encode()
            + b"x" * 65536
        )
        reply = b""
        while b"limit" not in reply and (chunk := sock.recv(4096)):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"limit" in reply
    assert time.perf_counter() - started < 5


def test_a_large_chunked_body_is_refused_with_413(served):
    _, url, _ = served
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=20)
    try:
        chunks = (b"x" * 65536 for _ in range(64))  # 4 MB, no Content-Length
        conn.request(
            "POST",
            "/gradio_api/queue/join",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 413
    finally:
        conn.close()


class Unsplittable(str):
    def split(self, *args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("an over-long question was split")


def test_an_over_long_question_is_refused_before_it_is_split(settings, fake_model, tmp_path):
    run_build(settings, lambda: fake_model)
    handlers = Handlers(Service(settings, fake_model))
    limit = settings.web.max_question_chars
    huge = Unsplittable("care leavers " * 100_000)
    with pytest.raises(UserError, match=f"Please keep questions under {limit} characters"):
        handlers.ask(huge, None)
    out = handlers.answer(Unsplittable("care leavers ") + "x" * (limit * 50))  # API: trimmed
    assert len(out["question"]) <= limit


# ---------------------------------------------------------------------------------------------
# 6. Logins: back-off, logged; credentials from a file or the environment


def test_login_limiter_backs_off_exponentially_and_is_bounded():
    now = [0.0]
    limiter = LoginLimiter(free=3, base=1.0, max_delay=8.0, max_clients=5, clock=lambda: now[0])
    for _ in range(2):
        limiter.failed("a")
        assert limiter.wait("a") == 0
    waits = []
    for _ in range(5):
        limiter.failed("a")
        waits.append(limiter.wait("a"))
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]  # doubling, capped
    now[0] += 8.0
    assert limiter.wait("a") == 0
    limiter.succeeded("a")
    assert limiter.wait("a") == 0 and len(limiter) == 0
    for n in range(50):
        limiter.failed(f"client-{n}")
    assert len(limiter) == 5  # bounded memory


def test_wrong_passwords_are_slowed_down_and_logged(settings, fake_model, caplog):
    run_build(settings, lambda: fake_model)
    app = A.create_app(settings, fake_model)
    _, url, _ = A.launch(app, port=free_port(), auth=[("ann", "pw")], prevent_thread_lock=True)
    caplog.set_level(logging.WARNING, logger="rag_qa.web.guard")
    try:
        statuses = []
        for _ in range(10):
            form = b"username=ann&password=wrong-guess-123"
            status, headers, _ = _request(f"{url}login", data=form)
            statuses.append(status)
        assert statuses[:3] == [400, 400, 400] and set(statuses[3:]) == {429}
        assert headers["Retry-After"]
        right, _, _ = _request(f"{url}login", data=b"username=ann&password=pw")
        assert right == 429  # locked out: even the right password waits
        logged = caplog.text
        assert "failed login for user 'ann' from 127.0.0.1" in logged
        assert "wrong-guess-123" not in logged
    finally:
        app.demo.close()


def test_auth_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_QA_LOGINS", "ann:pw\n# a comment\nbob:s3:cret\n")
    assert A.parse_auth("env:RAG_QA_LOGINS") == [("ann", "pw"), ("bob", "s3:cret")]
    with pytest.raises(ValueError, match="not set"):
        A.parse_auth("env:RAG_QA_MISSING")
    logins = tmp_path / "logins"
    logins.write_text("ann:pw\n")
    assert A.parse_auth(str(logins)) == [("ann", "pw")]
    assert not A.auth_is_literal(str(logins)) and not A.auth_is_literal("env:X")
    assert A.auth_is_literal("ann:pw") and A.parse_auth("ann:pw") == [("ann", "pw")]


def test_serve_warns_about_a_literal_password_and_help_says_so(settings, fake_model, monkeypatch):
    from click.testing import CliRunner

    from rag_qa.cli import main

    run_build(settings, lambda: fake_model)
    seen = {}
    monkeypatch.setattr(A, "launch", lambda app, host, port, auth, **_: seen.update(auth=auth))
    monkeypatch.setenv("RAG_QA_LOGINS", "ann:pw")
    base = ["serve", "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    base += ["--model", "test-hash", "--feedback", str(settings.index_dir / "fb.jsonl")]
    runner = CliRunner()
    quiet = runner.invoke(main, [*base, "--auth", "env:RAG_QA_LOGINS"], catch_exceptions=False)
    assert quiet.exit_code == 0 and seen["auth"] == [("ann", "pw")]
    assert "visible to every local user" not in quiet.output
    loud = runner.invoke(main, [*base, "--auth", "ann:pw"], catch_exceptions=False)
    assert loud.exit_code == 0 and "visible to every local user" in loud.output
    helped = runner.invoke(main, ["serve", "--help"])
    assert "env:VAR" in helped.output and "visible to every" in helped.output


# ---------------------------------------------------------------------------------------------
# 7. Feedback is bounded: a rate per session, a size cap with rotation


def test_feedback_is_rate_limited_per_session(settings, fake_model, tmp_path):
    run_build(settings, lambda: fake_model)
    service = Service(settings, fake_model, feedback_file=tmp_path / "fb.jsonl")
    handlers = Handlers(service)
    state = handlers.ask(OVERSIGHT, None).state
    saved = [handlers.like(state, 1, True, session="s1") for _ in range(50)]
    assert 0 < sum(r is not None for r in saved) <= 10
    assert handlers.like(state, 1, True, session="s2") is not None  # another session
    lines = service.feedback_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == sum(r is not None for r in saved) + 1


def test_feedback_file_is_rotated_at_its_size_cap(settings, fake_model, tmp_path):
    run_build(settings, lambda: fake_model)
    service = Service(
        settings, fake_model, feedback_file=tmp_path / "fb.jsonl", feedback_max_bytes=20_000
    )
    handlers = Handlers(service)
    state = handlers.ask(OVERSIGHT, None).state
    for n in range(60):
        assert handlers.like(state, 1, n % 2 == 0, session=f"s{n}") is not None
    files = sorted(p.name for p in tmp_path.glob("fb.jsonl*"))
    assert files == ["fb.jsonl", "fb.jsonl.1", "fb.jsonl.2"]  # two old files kept
    for path in tmp_path.glob("fb.jsonl*"):
        assert path.stat().st_size <= 20_000
        for line in path.read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["vote"] in ("up", "down")


# ---------------------------------------------------------------------------------------------
# 8. Uploads: refused without --allow-upload; only from this app's upload folder


def test_upload_route_is_refused_without_allow_upload(served):
    app, url, _ = served
    boundary = "rqboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for route in ("gradio_api/upload", "upload", "gradio_api/upload/"):
        status, _, _ = _request(f"{url}{route}", data=body, headers=headers)
        assert status == 403, route
    assert not list(app.service.upload_dir.rglob("a.txt"))


def test_upload_takes_files_only_from_this_apps_upload_folder(settings, fake_model, tmp_path):
    run_build(settings, lambda: fake_model)
    mine = tmp_path / "mine"
    other = tmp_path / "other-app"
    mine.mkdir()
    other.mkdir()
    handlers = Handlers(Service(settings, fake_model, upload_dir=mine))
    text = "Inspectors found that the fostering panel was exemplary.\n" * 3
    (other / "quoted.txt").write_text(text)
    (mine / "escape").symlink_to(other)
    for path in (other / "quoted.txt", mine / "escape" / "quoted.txt", mine / ".." / "other-app"):
        view = handlers.upload([str(path)])
        assert not view.indexed and "not a file uploaded to this page" in view.status
    assert not (settings.corpus_dir / "quoted.txt").exists()
    (mine / "ok.txt").write_text(text)
    assert handlers.upload([str(mine / "ok.txt")]).indexed


def test_the_app_has_its_own_upload_folder(served):
    app, _, _ = served
    folder = app.service.upload_dir
    assert folder == Path(os.environ["GRADIO_TEMP_DIR"]).resolve()
    assert folder != (Path("/tmp") / "gradio").resolve()


# ---------------------------------------------------------------------------------------------
# 9. The file route fetches no URL and resolves no host


def test_file_route_refuses_urls_without_resolving(served, monkeypatch):
    _, url, _ = served
    real = socket.getaddrinfo
    looked_up = []

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            looked_up.append(host)
            raise AssertionError(f"resolved {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    port = urlsplit(url).port
    for value in (
        "http://resolver-probe.invalid/config",
        f"http://127.0.0.1:{port}/config",
        "https%3A//resolver-probe.invalid/x",
        "//resolver-probe.invalid/x",
        "relative/path.png",
        "/etc/passwd",
    ):
        status, _, _ = _request(f"{url}gradio_api/file={value}")
        assert status == 403, value
        status, _, _ = _request(f"{url}gradio_api/file/{value}")
        assert status in (403, 404), value
    assert looked_up == []


def test_file_allowed_only_inside_the_roots(tmp_path):
    root = (tmp_path / "pages").resolve()
    root.mkdir()
    (root / "p.png").write_bytes(b"png")
    assert file_allowed(quote(str(root / "p.png")), [root])
    assert not file_allowed(str(root / ".." / "p.png"), [root])
    assert not file_allowed("http://example.invalid/p.png", [root])
    assert not file_allowed("p.png", [root])


# ---------------------------------------------------------------------------------------------
# 10. No run history; security headers on every response


def test_security_headers_on_the_page_and_the_api(served):
    _, url, _ = served
    for route in ("", "gradio_api/info", "config", "gradio_api/file=/etc/passwd"):
        _, headers, _ = _request(f"{url}{route}")
        csp = headers["Content-Security-Policy"]
        assert csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, route
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_run_history_is_off(served):
    app, url, _ = served
    assert app.launch_kwargs["run_history"] is False
    _, _, body = _request(f"{url}config")
    assert json.loads(body)["run_history"] is False


# ---------------------------------------------------------------------------------------------
# 11. Rendered pages are removed on SIGTERM

SERVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import HashEmbedder, FAKE_MODEL
    from rag_qa.index.build import run_build
    from rag_qa.settings import Settings
    from rag_qa.web import app as A

    root = Path({root!r})
    settings = Settings.make(corpus_dir=root / "corpus", index_dir=root / "index",
                             model=FAKE_MODEL, min_similarity=0.0)
    embedder = HashEmbedder()
    run_build(settings, lambda: embedder)
    A.serve(settings, port={port}, feedback_file=None, embedder_factory=lambda: embedder)
    """
)


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="no pdftoppm: no page is rendered")
def test_rendered_pages_are_removed_on_sigterm(tmp_path, corpus):
    from gradio_client import Client

    port = free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = tmp_path / "server.py"
    script.write_text(
        SERVER.format(tests=str(REPO / "tests"), root=str(tmp_path), port=port), encoding="utf-8"
    )
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(Path(A.__file__).resolve().parents[2]),  # this rag_qa
    }
    env.pop("GRADIO_TEMP_DIR", None)
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.3)
        chat = Client(url, verbose=False)
        chat.predict(question=OVERSIGHT, api_name="/ask")
        _, image = chat.predict(1, api_name="/open")
        pages = list(tmp.glob("rag-qa-pages-*"))
        assert len(pages) == 1 and list(pages[0].glob("*.png"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not list(tmp.glob("rag-qa-pages-*"))
    assert not list(tmp.glob("rag-qa-exports-*"))
    assert not list(tmp.glob("rag-qa-gradio-*"))


def test_render_pdf_page_is_only_in_the_page_folder(settings, fake_model):
    run_build(settings, lambda: fake_model)
    service = Service(settings, fake_model)
    assert service.page_dir.name.startswith("rag-qa-pages-")
    service.cleanup()
    assert not service.page_dir.exists() and not service.export_dir.exists()
    assert V.render_pdf_page  # the renderer writes only into the folder it is given
