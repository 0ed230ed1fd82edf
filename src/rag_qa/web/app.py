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
- here: building the app (``create_app``), logins (``parse_auth``), ``launch`` and ``serve``.

``gradio`` is imported only by ``layout``, which is imported inside ``create_app``, so the CLI
stays fast to start.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag_qa.engine import Engine, Filters
from rag_qa.settings import Settings
from rag_qa.web.handlers import EXAMPLES, Handlers
from rag_qa.web.memory import HeapTrimmer
from rag_qa.web.service import Service
from rag_qa.web.uploads import MAX_UPLOAD_BYTES

__all__ = ["EXAMPLES", "App", "Service", "create_app", "launch", "parse_auth", "serve"]


@dataclass
class App:
    demo: object
    service: Service
    launch_kwargs: dict


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
    service = Service(settings, embedder, feedback_file, engine=engine)
    handlers = Handlers(service, max_turns)
    ttl = state_ttl if state_ttl is not None else web.state_ttl_s
    demo = layout.build_blocks(handlers, allow_upload=allow_upload, state_ttl=ttl)
    demo.queue(default_concurrency_limit=concurrency, max_size=max(8, concurrency * 8))
    corpus = str(settings.corpus_dir.resolve())
    blocked = [str(settings.index_dir.resolve())]
    if feedback_file is not None:
        blocked.append(str(feedback_file.resolve()))
    sessions = max_sessions if max_sessions is not None else web.max_sessions
    launch_kwargs = {
        "max_file_size": MAX_UPLOAD_BYTES if allow_upload else 1024 * 1024,
        # PDFs are shown as rendered PNGs; only without pdftoppm is corpus/ served (iframe).
        "allowed_paths": [corpus] if service.pdf_via_iframe else [],
        "blocked_paths": blocked,
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
    return App(demo, service, launch_kwargs)


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """``user:password``, or a file with one ``user:password`` per line (# comments and blank
    lines ignored). None when no login is wanted; ValueError on a malformed value."""
    if not value:
        return None
    path = Path(value)
    if path.is_file():
        lines = [
            ln.strip()
            for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.strip().startswith("#")
        ]
        where = str(path)
    else:
        lines, where = [value], "--auth"
    pairs = []
    for number, line in enumerate(lines, start=1):
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError(
                f"{where}" + (f" line {number}" if where != "--auth" else "")
                + ": expected user:password (or a file of such lines)"
            )  # fmt: skip
        pairs.append((user.strip(), password))
    if not pairs:
        raise ValueError(f"{where}: no user:password lines")
    return pairs


def launch(
    app: App,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: list[tuple[str, str]] | None = None,
    prevent_thread_lock: bool = False,
):
    """Start the server (never shared publicly)."""
    return app.demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=auth,
        auth_message="Log in to ask questions of the reports." if auth else None,
        prevent_thread_lock=prevent_thread_lock,
        inbrowser=False,
        **app.launch_kwargs,
    )


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
    before the model is loaded), answer a warm-up question, then serve the chat on
    ``host:port`` until interrupted."""
    import click

    try:
        credentials = parse_auth(auth)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    started = time.perf_counter()
    engine = Engine.open(settings, embedder_factory)
    app = create_app(
        settings,
        engine.embedder,
        allow_upload=allow_upload,
        feedback_file=feedback_file,
        concurrency=concurrency,
        engine=engine,
    )
    app.service.ask(EXAMPLES[0], [], settings.retrieval.top_k, Filters())  # first answer fast
    docs = len(app.service.retriever.docs)
    click.echo(
        f"rag-qa: {docs} documents loaded in {time.perf_counter() - started:.1f}s; "
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
    trimmer = HeapTrimmer(lambda: app.service.answers, settings.web.trim_every_s).start()
    try:
        launch(app, host, port, credentials)
    finally:
        trimmer.stop()
