"""The web chat (``rag-qa serve``): questions answered with cited passages, in a Gradio app.

The page has the chat (the extractive answer with its ``[n]`` markers), the passages it cites
(report title, date, page and score, the answering sentence highlighted), a view of a chosen
passage in context (the whole page of the report, and for a PDF the page itself rendered with
``pdftoppm`` when it is installed), filters (years, document types, particular reports,
councils, report kinds, overall judgements, number of passages), example questions, a facts
table for a question about judgements and a timeline (with a plot of the judgements) for one
about change or with the Timeline switch, each row or entry opening its page; the answer as
Markdown (to copy) and CSV; an Index tab with the reports and their facts (filtered, sorted,
downloadable as CSV, a row opening the report), optional uploads into the corpus, and thumbs
up/down saved as JSON Lines that the eval suite can read as questions.

The web layer, by module:

- ``service``: the engine, the feedback file and rendered PDF pages (``Service``);
- ``handlers``: what each control does, plain data in and out (``Handlers``, ``UserError``);
- ``conversation``: the conversation state, passage and feedback records;
- ``views``: the HTML and Markdown (tables, timelines, the SVG plot); ``uploads``: checking
  and storing uploaded files; ``reports``: the Index tab's rows, filtered and sorted;
- ``layout``: the Gradio Blocks per tab, wired to the handlers by thin adapters;
- ``guard``: the ASGI middleware in front of Gradio's routes (request sizes, the upload and
  file routes, login back-off, security headers; see SECURITY.md);
- here: building the app (``create_app``), logins (``parse_auth``), ``launch`` and ``serve``.

``gradio`` is imported only by ``layout``, which is imported inside ``create_app``, so the CLI
stays fast to start.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag_qa.engine import Engine, Filters
from rag_qa.settings import Settings
from rag_qa.web.guard import Guard, LoginLimiter
from rag_qa.web.handlers import EXAMPLES, Handlers
from rag_qa.web.memory import HeapTrimmer
from rag_qa.web.service import Service
from rag_qa.web.uploads import MAX_UPLOAD_BYTES

__all__ = [
    "EXAMPLES",
    "App",
    "Service",
    "auth_is_literal",
    "create_app",
    "launch",
    "parse_auth",
    "serve",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # any request but an upload: a question is at most a few KB


@dataclass
class App:
    demo: object
    service: Service
    launch_kwargs: dict
    limiter: LoginLimiter | None = None


def private_upload_dir() -> Path:
    """Gradio's upload and cache folder for this process: GRADIO_TEMP_DIR when it is set,
    otherwise a new private folder (mode 0700, removed at exit), so that no other Gradio app
    on the machine shares it (its files could otherwise be quoted into our corpus)."""
    if not os.environ.get("GRADIO_TEMP_DIR"):
        folder = tempfile.mkdtemp(prefix="rag-qa-gradio-")
        atexit.register(shutil.rmtree, folder, True)
        os.environ["GRADIO_TEMP_DIR"] = folder
    return Path(os.environ["GRADIO_TEMP_DIR"]).resolve()


def create_app(
    settings: Settings,
    embedder,
    *,
    allow_upload: bool = False,
    feedback_file: Path | None = None,
    concurrency: int = 4,
    max_sessions: int | None = None,
    max_turns: int | None = None,
    state_ttl: float | None = None,
    engine: Engine | None = None,
) -> App:
    """Build the Gradio Blocks (not launched) around a Service with ``embedder`` (or the
    already opened ``engine``). Gradio keeps at most ``max_sessions`` sessions, a conversation
    its last ``max_turns`` exchanges, for ``state_ttl`` seconds after its last answer (by
    default ``settings.web``'s ``max_sessions``, ``max_turns`` and ``state_ttl_s``)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from rag_qa.web import layout

    web = settings.web
    upload_dir = private_upload_dir()
    service = Service(settings, embedder, feedback_file, engine=engine, upload_dir=upload_dir)
    handlers = Handlers(service, max_turns)
    ttl = state_ttl if state_ttl is not None else web.state_ttl_s
    demo = layout.build_blocks(handlers, allow_upload=allow_upload, state_ttl=ttl)
    demo.queue(default_concurrency_limit=concurrency, max_size=max(8, concurrency * 8))
    blocked = [str(settings.corpus_dir.resolve()), str(settings.index_dir.resolve())]
    if feedback_file is not None:
        blocked.append(str(feedback_file.resolve()))
    sessions = max_sessions if max_sessions is not None else web.max_sessions
    launch_kwargs = {
        "max_file_size": MAX_UPLOAD_BYTES if allow_upload else 1024 * 1024,
        # Never the corpus: PDFs are shown as rendered PNGs (Gradio serves its copies from its
        # cache); without pdftoppm, as the page's text only.
        "allowed_paths": [],
        "blocked_paths": blocked,
        "run_history": False,  # no questions or answers kept in the browser
        **layout.look(),
        "footer_links": ["api"],
        "ssr_mode": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "show_error": False,
        "quiet": True,
        # Sessions held in memory (the least recently used dropped first); gradio's default
        # is 10,000, each holding its own copy of the page's config and last outputs.
        "state_session_capacity": max(1, sessions),
    }
    limiter = LoginLimiter()
    launch_kwargs["app_kwargs"] = {"middleware": [_guard(service, allow_upload, limiter)]}
    return App(demo, service, launch_kwargs, limiter)


def _guard(service: Service, allow_upload: bool, limiter: LoginLimiter):
    """The Guard middleware (request sizes, uploads, the file route, logins, headers)."""
    from starlette.middleware import Middleware

    return Middleware(
        Guard,
        file_roots=[service.upload_dir, service.page_dir, service.export_dir],
        allow_upload=allow_upload,
        max_body=MAX_BODY_BYTES,
        max_upload=4 * MAX_UPLOAD_BYTES,
        limiter=limiter,
    )


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """The logins from ``--auth``: ``env:VAR`` (the environment variable VAR holds them), a
    FILE, or (visible to every local user in the process list, so warned about by ``serve``)
    a literal ``user:password``. The variable or file holds one ``user:password`` per line
    (# comments and blank lines ignored). None when no login is wanted; ValueError on a
    malformed or missing value."""
    if not value:
        return None
    if value.startswith("env:"):
        name = value[len("env:") :]
        if not name or name not in os.environ:
            raise ValueError(f"--auth {value}: the environment variable {name!r} is not set")
        lines, where = _auth_lines(os.environ[name]), f"${name}"
    elif Path(value).is_file():
        lines, where = _auth_lines(Path(value).read_text(encoding="utf-8")), value
    else:
        lines, where = [(1, value)], "--auth"
    pairs = []
    for number, line in lines:
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError(
                f"{where}" + (f" line {number}" if where != "--auth" else "")
                + ": expected user:password (or env:VAR, or a file of such lines)"
            )  # fmt: skip
        pairs.append((user.strip(), password))
    if not pairs:
        raise ValueError(f"{where}: no user:password lines")
    return pairs


def _auth_lines(text: str) -> list[tuple[int, str]]:
    return [
        (number, ln.strip())
        for number, ln in enumerate(text.splitlines(), start=1)
        if ln.strip() and not ln.strip().startswith("#")
    ]


def auth_is_literal(value: str | None) -> bool:
    """Whether ``--auth`` was given the password itself (not env:VAR or a file)."""
    return bool(value) and not value.startswith("env:") and not Path(value).is_file()


def launch(
    app: App,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: list[tuple[str, str]] | None = None,
    prevent_thread_lock: bool = False,
    on_ready: Callable[[], None] | None = None,
    warm_question: str | None = None,
):
    """Start the server (never shared publicly); once it is listening, ``warm_question`` is
    asked over HTTP (``warm_over_http``), then ``on_ready`` runs."""
    result = app.demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=auth,
        auth_message="Log in to ask questions of the reports." if auth else None,
        prevent_thread_lock=True,
        inbrowser=False,
        **app.launch_kwargs,
    )
    if warm_question:
        warm_over_http(result[1], auth, warm_question)
    if on_ready is not None:
        on_ready()
    if not prevent_thread_lock:
        app.demo.block_thread()
    return result


def warm_over_http(url: str, auth: list[tuple[str, str]] | None, question: str) -> None:
    """Ask ``question`` of the server at ``url`` once over HTTP, as a program would
    (``/gradio_api/call/ask``, logged in as the first of ``auth``), so that the first
    request's own costs (Gradio's queue and routes, its worker threads, the components'
    processing) are not the first user's: the first answer took 37-41 ms without it, 33-38
    with, against 30-33 for the same question later (4 starts each, shipped corpus). A
    failure is a warning, never an error: the server answers anyway."""
    import httpx

    try:
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as http:  # no proxy
            if auth:
                login = {"username": auth[0][0], "password": auth[0][1]}
                http.post("login", data=login).raise_for_status()
            body = ask_over_http(http, question, ask_parameters(http))
        if "event: complete" not in body:
            log.warning("warm-up question over HTTP got no answer: %s", body[:200])
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as err:
        log.warning("warm-up question over HTTP failed: %s", err)


def ask_parameters(http) -> list[dict]:
    """The chat's /ask parameters as the server describes them (``/gradio_api/info``)."""
    info = http.get("gradio_api/info").raise_for_status().json()
    return info["named_endpoints"]["/ask"]["parameters"]


def ask_over_http(http, question: str, params: list[dict]) -> str:
    """``question`` asked through /ask with the other controls at their defaults, on the
    ``httpx.Client`` ``http`` (its base URL the server's); the reply's event stream."""
    data = [
        question if p["parameter_name"] == "question" else p.get("parameter_default")
        for p in params
    ]
    asked = http.post("gradio_api/call/ask", json={"data": data}).raise_for_status()
    with http.stream("GET", f"gradio_api/call/ask/{asked.json()['event_id']}") as reply:
        return "".join(reply.iter_text())


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    allow_upload: bool = False,
    auth: str | None = None,
    feedback_file: Path | None = None,
    concurrency: int = 4,
    embedder_factory: Callable[[], object] | None = None,
) -> None:
    """``rag-qa serve``: open the index with the model (``Engine.open``: no index is an error
    before the model is loaded), answer a warm-up question in the process and, once it
    listens, one over HTTP (``warm_over_http``), then serve the chat on ``host:port`` until
    interrupted."""
    import click

    try:
        credentials = parse_auth(auth)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    if auth_is_literal(auth):
        click.echo(
            "warning: --auth user:password is visible to every local user (in the process "
            "list); use --auth FILE or --auth env:VAR",
            err=True,
        )
    started = time.perf_counter()
    engine = Engine.open(settings, embedder_factory)
    # The question encoder's weights load while Gradio is imported and the page is built;
    # the first question then runs the whole path once before "ready" is said.
    loading = threading.Thread(target=_load, args=(engine,), name="load-model", daemon=True)
    loading.start()
    app = create_app(
        settings,
        engine.embedder,
        allow_upload=allow_upload,
        feedback_file=feedback_file,
        concurrency=concurrency,
        engine=engine,
    )
    loading.join()
    app.service.ask(EXAMPLES[0], [], settings.retrieval.top_k, Filters())  # first answer fast
    trimmer = HeapTrimmer(lambda: app.service.answers, settings.web.trim_every_s).start()
    restore = exit_cleanly_on_signals(app.service.cleanup)
    try:
        launch(
            app,
            host,
            port,
            credentials,
            warm_question=EXAMPLES[1],
            on_ready=lambda: _say_ready(
                app, host, port, credentials, allow_upload, time.perf_counter() - started
            ),
        )
    finally:
        trimmer.stop()
        app.service.cleanup()
        restore()


def _load(engine: Engine) -> None:
    engine.prepare()
    # Gradio runs every event inside utils.MatplotlibBackendMananger, which imports matplotlib
    # and asks for its backend (that imports pyplot): 0.45 s of the first answer in a process
    # (py-spy, shipped corpus). Both done here, the first answer is as fast as the tenth.
    with contextlib.suppress(ImportError):
        import matplotlib

        matplotlib.use("agg")


def _say_ready(app: App, host: str, port: int, credentials, allow_upload: bool, secs: float):
    import click

    docs = len(app.service.retriever.docs)
    click.echo(
        f"rag-qa: {docs} documents loaded in {secs:.1f}s; "
        f"open http://{host}:{port}/"
        + (" (login required)" if credentials else "")
        + (" (uploads on)" if allow_upload else ""),
        err=True,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and not credentials:
        click.echo(
            f"warning: serving on {host} without --auth: anyone who can reach it can ask "
            + ("and upload files" if allow_upload else "questions"),
            err=True,
        )


def exit_cleanly_on_signals(cleanup: Callable[[], None]) -> Callable[[], None]:
    """On SIGTERM or SIGINT: ``cleanup()`` (the rendered pages), then exit (atexit handlers
    run: Gradio's upload folder goes too). Returns a function restoring the old handlers."""

    def handler(signum, frame):  # noqa: ARG001
        log.info("signal %d: cleaning up and exiting", signum)
        cleanup()
        sys.exit(128 + signum)

    old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread: no handlers
            old[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore
