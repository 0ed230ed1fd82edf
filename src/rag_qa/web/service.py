"""The service behind the page: the engine, the feedback file, and PDF pages rendered to PNG.

No Gradio here: the handlers (``rag_qa.web.handlers``) call it with plain values.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from pathlib import Path

from rag_qa.engine import Engine, Filters, Turn
from rag_qa.records import Document, format_date
from rag_qa.settings import Settings
from rag_qa.text.frameworks import GRADES
from rag_qa.web.memory import prune_files
from rag_qa.web.views import render_pdf_page

MAX_EXPORTS = 24  # CSV files kept for download (the oldest deleted first)
FEEDBACK_MAX_BYTES = 5 * 1024 * 1024  # feedback.jsonl rotated to .1 (then .2) past this
FEEDBACK_KEEP = 2  # old feedback files kept
FEEDBACK_PER_MINUTE = 10  # votes saved per session a minute (more are dropped)
FEEDBACK_ALL_PER_MINUTE = 120  # votes saved a minute from all sessions together
MAX_TRACKED_SESSIONS = 10_000


class FeedbackLimiter:
    """At most ``per_session`` votes a ``window`` seconds from one session and ``overall``
    from all; at most MAX_TRACKED_SESSIONS sessions remembered (the oldest forgotten)."""

    def __init__(self, per_session: int, overall: int, window: float = 60.0, clock=None):
        self.per_session, self.overall, self.window = per_session, overall, window
        self.clock = clock or time.monotonic
        self._sessions: OrderedDict[str, deque] = OrderedDict()
        self._all: deque = deque()

    def allow(self, session: str) -> bool:
        now = self.clock()
        stamps = self._sessions.pop(session, None) or deque()
        for q in (stamps, self._all):
            while q and q[0] <= now - self.window:
                q.popleft()
        self._sessions[session] = stamps
        while len(self._sessions) > MAX_TRACKED_SESSIONS:
            self._sessions.popitem(last=False)
        if len(stamps) >= self.per_session or len(self._all) >= self.overall:
            return False
        stamps.append(now)
        self._all.append(now)
        return True


def rotate(path: Path, keep: int) -> None:
    """``path`` renamed to ``path.1`` (``.1`` to ``.2``, ...), ``keep`` old files kept."""
    for n in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if n == keep:
            older.unlink(missing_ok=True)
        else:
            newer = path.with_name(f"{path.name}.{n + 1}")
            if older.exists():
                older.replace(newer)
    if path.exists():
        path.replace(path.with_name(f"{path.name}.1"))


class Service:
    """What the page needs besides the engine: the feedback file, and PDF pages rendered to
    PNG. Every question goes to the engine, which re-opens the index when its live generation
    changes (after an upload here, or ``rag-qa index``). ``engine``: one already opened (by
    ``Engine.open``); otherwise one is opened with ``embedder``."""

    def __init__(
        self,
        settings: Settings,
        embedder,
        feedback_file: Path | None = None,
        engine: Engine | None = None,
        upload_dir: Path | None = None,
        feedback_max_bytes: int = FEEDBACK_MAX_BYTES,
    ):
        self.settings = settings
        self.engine = engine if engine is not None else Engine(settings, embedder)
        self.feedback_file = feedback_file
        self._feedback_lock = threading.Lock()
        self.feedback_max_bytes = feedback_max_bytes
        self.feedback_limiter = FeedbackLimiter(FEEDBACK_PER_MINUTE, FEEDBACK_ALL_PER_MINUTE)
        # Where the web server puts uploads (Gradio's folder for this process): the only
        # place an uploaded file is taken from.
        self.upload_dir = Path(upload_dir).resolve() if upload_dir else None
        self.page_dir = Path(tempfile.mkdtemp(prefix="rag-qa-pages-")).resolve()
        self.export_dir = Path(tempfile.mkdtemp(prefix="rag-qa-exports-")).resolve()
        atexit.register(self.cleanup)

    def cleanup(self) -> None:
        """Remove the rendered pages and the exports (at exit, and on SIGTERM/SIGINT)."""
        shutil.rmtree(self.page_dir, ignore_errors=True)
        shutil.rmtree(self.export_dir, ignore_errors=True)

    @property
    def answers(self) -> int:
        return self.engine.answered

    @property
    def retriever(self):
        """The loaded index's retriever (``maybe_reload`` switches to a newer one: once per
        request, not at every access)."""
        return self.engine.retriever

    def maybe_reload(self) -> bool:
        return self.engine.refresh()

    def ask(
        self,
        asked: str,
        history: Sequence[str],
        k: int,
        filters: Filters,
        timeline: bool | None = None,
    ) -> Turn:
        """``timeline``: True always gives a timeline, None when the question asks for change."""
        self.maybe_reload()
        return self.engine.ask(asked, history, filters, k=k, timeline=timeline)

    def write_export(self, text: str, stem: str, suffix: str = ".csv") -> Path:
        """``text`` saved for download as ``<stem>-<hash>.<suffix>`` in this process's export
        folder (the same text, the same file); the folder keeps the last MAX_EXPORTS files."""
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
        path = self.export_dir / f"{stem}-{digest}{suffix}"
        if path.exists():
            path.touch()  # recently asked for: kept longest
        else:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            prune_files(self.export_dir, MAX_EXPORTS, f"*{suffix}")
        return path

    def document(self, doc_id: str) -> Document | None:
        """The document with its page texts (the retriever's records have none)."""
        return self.engine.document(doc_id)

    def save_feedback(self, record: dict, session: str = "") -> bool:
        """Append ``record`` to the feedback file (rotated past ``feedback_max_bytes``);
        False when there is no file or ``session`` has voted too often."""
        if self.feedback_file is None:
            return False
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._feedback_lock:
            if not self.feedback_limiter.allow(session):
                return False
            self.feedback_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                size = self.feedback_file.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line.encode("utf-8")) > self.feedback_max_bytes:
                rotate(self.feedback_file, FEEDBACK_KEEP)
            with self.feedback_file.open("a", encoding="utf-8") as fh:
                fh.write(line)
        return True

    def update_index(self, progress: bool = True):
        """Refresh the index from the corpus with the loaded model (see Engine.update_index)."""
        return self.engine.update_index(progress=progress)

    def pdf_page(self, doc: Document, page: int | None) -> Path | None:
        if page is None or not doc.source.lower().endswith(".pdf"):
            return None
        root = self.settings.corpus_dir.resolve()
        path = (root / doc.source).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return render_pdf_page(path, page, self.page_dir)

    def choices(self) -> dict:
        docs = self.engine.index.documents
        years = sorted({d.year for d in docs.values() if d.year is not None})
        types = sorted({d.doc_type for d in docs.values()})
        reports = [
            (f"{d.title} ({format_date(d.date) if d.date else 'undated'})", d.doc_id)
            for d in sorted(docs.values(), key=lambda d: (d.date or d.visit_end or "", d.title))
        ]
        grades = {d.judgements.get("overall_effectiveness") for d in docs.values()}
        return {
            "years": years,
            "types": types,
            "reports": reports,
            "councils": sorted({d.council for d in docs.values() if d.council}),
            "kinds": sorted({d.kind for d in docs.values() if d.kind}),
            "judgements": [g for g in GRADES if g in grades],
        }
