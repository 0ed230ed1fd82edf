"""The web chat (``rag-qa serve``): questions answered with cited passages, in a Gradio app.

The page has the chat (the extractive answer with its ``[n]`` markers), the passages it cites
(report title, date, page and score, the answering sentence highlighted), a view of a chosen
passage in context (the whole page of the report, and for a PDF the page itself rendered with
``pdftoppm`` when it is installed), filters (years, document types, particular reports, number
of passages), example questions, an index panel, optional uploads into the corpus, and thumbs
up/down saved as JSON Lines that the eval suite can read as questions.

Everything that is not Gradio wiring is a plain, unit-tested function: follow-up rewriting
(``followup``), highlighting and page views (``views``), upload checks (``uploads``), and here
filtering (``Filters``, ``filtered_search``) and feedback records (``feedback_record``). ``gradio`` is imported only
inside ``create_app``/``launch``, so the CLI stays fast to start.
"""

from __future__ import annotations

import atexit
import hashlib
import html
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

from rag_qa.answer.extract import Answer
from rag_qa.engine import Engine, Filters, Turn
from rag_qa.index import generations as G
from rag_qa.ingest.loaders import SUPPORTED
from rag_qa.records import Document, Passage, format_date
from rag_qa.settings import Settings
from rag_qa.web.memory import HeapTrimmer
from rag_qa.web.uploads import MAX_UPLOAD_BYTES, UploadRejected, store_upload
from rag_qa.web.views import (
    chat_markdown,
    context_html,
    highlight,
    index_html,
    md_escape,
    meta_line,
    passage_choice,
    passages_html,
    render_pdf_page,
)

log = logging.getLogger(__name__)

EXAMPLES = [
    "What did Ofsted say about management oversight in 2018?",
    "How high were caseloads in the 2023 inspection?",
    "What did the November 2025 visit find about care leavers?",
    "What did the latest focused visit say about the front door?",
]
MAX_QUESTION_CHARS = 1000
FILTER_POOL = 40  # passages searched before filtering by year, type or report
MAX_PASSAGES = 10
# Memory bounds (see rag_qa.memory and bench/load_test.py --minutes). Gradio keeps a session
# (its copy of the page's config, the outputs last shown, the chat state) for every visitor
# and API client until it holds 10,000 of them: here the least recently used go past
# MAX_SESSIONS. A conversation keeps its last MAX_TURNS exchanges, and its state is dropped
# STATE_TTL_S after its last answer (a later question starts a new conversation).
MAX_SESSIONS = 500
MAX_TURNS = 20
STATE_TTL_S = 4 * 3600
TRIM_EVERY_S = 30.0  # at most this often, freed heap is handed back to the system


# ---------------------------------------------------------------------------------------------
# Feedback


def passage_record(p: Passage, answer: Answer | None = None) -> dict:
    """What the page (and the feedback file) keeps of a passage."""
    sentences = [s.text for s in answer.sentences if s.passage_rank == p.rank] if answer else []
    return {
        **p.to_json(),
        "score": round(float(p.score), 4),
        "content_hash": p.document.content_hash,
        "sentences": sentences,
    }


def feedback_record(turn: dict, liked: bool, now: datetime | None = None) -> dict:
    """One line of the feedback file. Has the fields of an eval question (``id``,
    ``question``, ``answers``: the answering sentences, ``sources``: the cited sources,
    ``tags``) plus the vote, the answer shown, the cited passages and a timestamp."""
    now = now or datetime.now(UTC)
    cited = [p for p in turn["passages"] if p["sentences"]]
    sources = list(dict.fromkeys(p["source"] for p in cited))
    answers = [s for p in cited for s in p["sentences"]]
    vote = "up" if liked else "down"
    digest = hashlib.sha1(f"{turn['question']}|{now.isoformat()}".encode()).hexdigest()[:8]
    return {
        "id": f"fb-{now.strftime('%Y%m%d%H%M%S')}-{digest}",
        "question": turn["question"],
        "answers": answers,
        "sources": sources,
        "tags": ["feedback", vote],
        "vote": vote,
        "asked": turn.get("asked", turn["question"]),
        "answer": turn["answer"],
        "abstained": turn.get("abstained", False),
        "passages": [
            {k: p[k] for k in ("rank", "source", "title", "date", "page", "score", "text")}
            for p in (cited or turn["passages"])
        ],
        "filters": turn.get("filters", ""),
        "index_built_at": turn.get("index_built_at"),
        "timestamp": now.isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------------------------------
# The service behind the page: one model, one retriever swapped after index updates


class Service:
    """What the page needs besides the engine: the feedback file, and PDF pages rendered to
    PNG. Every question goes to the engine, which re-opens the index when its live generation
    changes (after an upload here, or ``rag-qa index``)."""

    def __init__(self, settings: Settings, embedder, feedback_file: Path | None = None):
        self.settings = settings
        self.engine = Engine(settings, embedder)
        self.feedback_file = feedback_file
        self._feedback_lock = threading.Lock()
        self.page_dir = Path(tempfile.mkdtemp(prefix="rag-qa-pages-"))
        atexit.register(shutil.rmtree, self.page_dir, True)
        # PDFs are shown as PNGs rendered by pdftoppm; without it, in an iframe from corpus/.
        self.pdf_via_iframe = shutil.which("pdftoppm") is None

    @property
    def answers(self) -> int:
        return self.engine.answered

    @property
    def retriever(self):
        self.engine.refresh()
        return self.engine.retriever

    def maybe_reload(self) -> bool:
        return self.engine.refresh()

    def ask(self, asked: str, history: Sequence[str], k: int, filters: Filters) -> Turn:
        self.engine.refresh()
        return self.engine.ask(asked, history, filters, k=k)

    def document(self, doc_id: str) -> Document | None:
        """The document with its page texts (the retriever's records have none)."""
        return self.engine.document(doc_id)

    def save_feedback(self, record: dict) -> None:
        if self.feedback_file is None:
            return
        line = json.dumps(record, ensure_ascii=False)
        with self._feedback_lock:
            self.feedback_file.parent.mkdir(parents=True, exist_ok=True)
            with self.feedback_file.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

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
        docs = self.retriever.docs
        years = sorted({d.year for d in docs.values() if d.year is not None})
        types = sorted({d.doc_type for d in docs.values()})
        reports = [
            (f"{d.title} ({format_date(d.date) if d.date else 'undated'})", d.doc_id)
            for d in sorted(docs.values(), key=lambda d: (d.date or d.visit_end or "", d.title))
        ]
        return {"years": years, "types": types, "reports": reports}


# ---------------------------------------------------------------------------------------------
# The Gradio app

CSS = """
.rq-header h1 {margin-bottom: 0.1em;}
.rq-header p {margin-top: 0; color: var(--body-text-color-subdued);}
#rq-passages {overflow-y: auto;}
.rq-card {border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 8px 10px; margin-bottom: 8px; background: var(--background-fill-primary);}
.rq-card.rq-cited {border-left: 4px solid #d97706;}
.rq-card-head {font-weight: 600; line-height: 1.3;}
.rq-rank {color: #b45309;}
.rq-badge {font-size: 0.72em; font-weight: 600; background: #fef3c7; color: #92400e;
  border-radius: 4px; padding: 1px 5px; margin-left: 4px; vertical-align: middle;}
.rq-meta, .rq-source, .rq-also {font-size: 0.82em; color: var(--body-text-color-subdued);}
.rq-text {white-space: pre-wrap; font-size: 0.9em; margin-top: 6px; line-height: 1.45;}
.rq-text mark, .rq-page-text mark {background: #fde68a; color: inherit; padding: 0 1px;}
.rq-context-head {font-size: 0.95em; margin-bottom: 6px;}
.rq-page {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 14px;
  margin-bottom: 10px; background: var(--background-fill-primary);}
.rq-page-no {font-size: 0.8em; font-weight: 600; color: var(--body-text-color-subdued);
  margin-bottom: 4px;}
.rq-page-text {white-space: pre-wrap; font-size: 0.9em; line-height: 1.5; max-height: 620px;
  overflow-y: auto;}
.rq-passage {background: #e0f2fe; border-radius: 2px;}
.rq-empty {color: var(--body-text-color-subdued); font-style: italic; padding: 8px 0;}
.rq-index {width: 100%; border-collapse: collapse; font-size: 0.9em;}
.rq-index th, .rq-index td {text-align: left; padding: 5px 8px;
  border-bottom: 1px solid var(--border-color-primary); vertical-align: top;}
.rq-index .rq-num {text-align: right;}
.rq-index-head {margin-bottom: 8px; font-weight: 600;}
#rq-index table, #rq-index th, #rq-index td {border-left: 0 !important; border-right: 0 !important;
  border-top: 0 !important;}
.rq-pdf-frame {width: 100%; height: 720px; border: 1px solid var(--border-color-primary);}
"""


# After a passage is opened: scroll its page box to the passage, and the page to the box.
SCROLL_TO_PASSAGE = """() => {
  const box = document.querySelector('#rq-context .rq-page-text');
  const hit = box && box.querySelector('.rq-passage');
  if (hit) { box.scrollTop = Math.max(0, hit.offsetTop - box.offsetTop - 40); }
  const ctx = document.querySelector('#rq-context');
  if (ctx) { ctx.scrollIntoView({behavior: 'smooth', block: 'start'}); }
}"""


def slider_years(years: list[int]) -> list[int]:
    """The year sliders' range. A slider needs minimum < maximum: with one year (or none,
    then this year) the year before it is added."""
    years = years or [date.today().year]
    return years if years[-1] > years[0] else [years[0] - 1, years[0]]


def _filters_from(choices: dict, y_from, y_to, types, reports) -> Filters:
    years = choices["years"]
    lo, hi = (years[0], years[-1]) if years else (None, None)
    if not years:  # no dated document: the sliders (shown for this year) filter nothing
        y_from = y_to = None
    y_from = int(y_from) if y_from not in (None, "") else None
    y_to = int(y_to) if y_to not in (None, "") else None
    if y_from is not None and y_to is not None and y_from > y_to:
        y_from, y_to = y_to, y_from
    if y_from is not None and lo is not None and y_from <= lo:
        y_from = None
    if y_to is not None and hi is not None and y_to >= hi:
        y_to = None
    return Filters(y_from, y_to, tuple(types or ()), tuple(reports or ()))


def _new_state() -> dict:
    return {"questions": [], "messages": [], "turns": {}, "passages": []}


def remember_turn(
    state: dict,
    question: str,
    asked_md: str,
    reply_md: str,
    record: dict,
    passages: list[dict],
    max_turns: int = MAX_TURNS,
) -> dict:
    """The conversation ``state`` after one more exchange (``question`` as understood, the
    user's and the answer's Markdown, the feedback ``record``, the passages shown), keeping the
    last ``max_turns`` exchanges: older ones drop off the top of the chat, and the feedback
    records, keyed by the answer's position in the chat, are re-keyed to match."""
    messages = [
        *state["messages"],
        {"role": "user", "content": asked_md},
        {"role": "assistant", "content": reply_md},
    ]
    turns = {**state["turns"], str(len(messages) - 1): record}
    drop = max(0, len(messages) - 2 * max(1, max_turns))
    if drop:
        messages = messages[drop:]
        turns = {str(int(i) - drop): t for i, t in turns.items() if int(i) >= drop}
    return {
        **state,
        "questions": [*state["questions"], question][-max(1, max_turns) :],
        "messages": messages,
        "turns": turns,
        "passages": passages,
    }


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
    max_sessions: int = MAX_SESSIONS,
    max_turns: int = MAX_TURNS,
    state_ttl: float = STATE_TTL_S,
) -> App:
    """Build the Gradio Blocks (not launched) around a Service with ``embedder``. Gradio keeps
    at most ``max_sessions`` sessions, a conversation its last ``max_turns`` exchanges, for
    ``state_ttl`` seconds after its last answer."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    service = Service(settings, embedder, feedback_file)
    first = service.choices()
    years = slider_years(first["years"])

    def chat_outputs(state: dict, context: str = "", image=None):
        passages = state["passages"]
        radio = gr.update(
            choices=[(passage_choice(p), p["rank"]) for p in passages],
            value=None,
            visible=bool(passages),
        )
        return (
            state["messages"],
            "",
            passages_html(passages),
            radio,
            context,
            gr.update(value=image, visible=image is not None),
            state,
        )

    def on_ask(question, state, y_from, y_to, types, reports, k):
        question = " ".join((question or "").split())
        if not question:
            raise gr.Error("Type a question first, for example: " + EXAMPLES[0])
        if len(question) > MAX_QUESTION_CHARS:
            raise gr.Error(f"Please keep questions under {MAX_QUESTION_CHARS} characters.")
        state = dict(state or _new_state())
        filters = _filters_from(service.choices(), y_from, y_to, types, reports)
        k = max(1, min(MAX_PASSAGES, int(k or settings.retrieval.top_k)))
        turn = service.ask(question, state["questions"], k, filters)
        passages = [passage_record(p, turn.answer) for p in turn.result.passages]
        record = {
            "asked": question,
            "question": turn.question,
            "answer": turn.answer.text,
            "abstained": turn.answer.abstained,
            "passages": passages,
            "filters": filters.describe(),
            "index_built_at": service.retriever.index.manifest.get("built_at"),
        }
        state = remember_turn(
            state,
            turn.question,
            md_escape(question),
            chat_markdown(question, turn.question, turn.answer, turn.result),
            record,
            passages,
            max_turns,
        )
        log.info("answered in %.3fs: %s", turn.seconds, turn.question)
        return chat_outputs(state)

    def on_open(rank, state):
        passages = (state or {}).get("passages", [])
        p = next((x for x in passages if x["rank"] == rank), None)
        if p is None:
            return "", gr.update(value=None, visible=False)
        doc = service.document(p["doc_id"])
        head = (
            f'<div class="rq-context-head"><b>[{p["rank"]}] {html.escape(p["title"])}</b><br>'
            f"{meta_line(p)} · {html.escape(p['source'])}"
        )
        if doc is None or doc.content_hash != p["content_hash"]:
            body = (
                '<div class="rq-empty">This report has changed in the index since the answer; '
                "showing the passage alone.</div>"
                f'<div class="rq-page"><div class="rq-page-text">'
                f"{highlight(p['text'], p['sentences'])}</div></div>"
            )
            return head + "</div>" + body, gr.update(value=None, visible=False)
        head += f" · {len(doc.pages)} page{'s' if len(doc.pages) != 1 else ''}</div>"
        chunk = service.engine.chunk(p["chunk_id"])
        if chunk is None or chunk.doc_id != doc.doc_id:
            body = f'<div class="rq-page-text">{highlight(p["text"], p["sentences"])}</div>'
            return head + body, gr.update(value=None, visible=False)
        body = context_html(doc, chunk, p["sentences"])
        image = service.pdf_page(doc, p["page"])
        is_pdf = doc.source.lower().endswith(".pdf")
        if image is None and p["page"] is not None and is_pdf and service.pdf_via_iframe:
            url = "/gradio_api/file=" + quote(str((settings.corpus_dir / doc.source).resolve()))
            body = (
                f'<iframe class="rq-pdf-frame" title="PDF page" '
                f'src="{html.escape(url)}#page={int(p["page"])}"></iframe>' + body
            )
        return head + body, gr.update(
            value=str(image) if image else None, visible=image is not None
        )

    def on_like(state, data: gr.LikeData):
        turn = (state or {}).get("turns", {}).get(str(data.index))
        if turn is None or data.liked not in (True, False):
            return
        service.save_feedback(feedback_record(turn, bool(data.liked)))
        gr.Info("Thanks: your feedback was saved.")

    # Gradio finds the LikeData argument by its annotation, which must be the class itself
    # (this module's annotations are strings, and ``gr`` is not a module-level name).
    on_like.__annotations__["data"] = gr.LikeData

    def on_clear():
        state = _new_state()
        return chat_outputs(state)

    def refreshed():
        c = service.choices()
        ys = slider_years(c["years"])
        r = service.retriever
        return (
            index_html(r.index.manifest, r.docs),
            gr.update(minimum=ys[0], maximum=ys[-1], value=ys[0]),
            gr.update(minimum=ys[0], maximum=ys[-1], value=ys[-1]),
            gr.update(choices=c["types"]),
            gr.update(choices=c["reports"]),
        )

    def answer_api(
        question: str,
        year_from: int | None = None,
        year_to: int | None = None,
        doc_types: list[str] | None = None,
        reports: list[str] | None = None,
        k: int = 5,
    ) -> dict:
        """Answer one question (no follow-up context): the answer with its [n] markers and
        the ranked passages, each with source, title, date, page, score and text."""
        question = " ".join((question or "").split())
        if not question:
            raise gr.Error("empty question")
        filters = Filters(year_from, year_to, tuple(doc_types or ()), tuple(reports or ()))
        k = max(1, min(MAX_PASSAGES, int(k)))
        turn = service.ask(question[:MAX_QUESTION_CHARS], [], k, filters)
        return {
            "question": turn.question,
            "answer": turn.answer.text,
            "abstained": turn.answer.abstained,
            "notes": list(turn.result.notes),
            "passages": [passage_record(p, turn.answer) for p in turn.result.passages],
            "seconds": round(turn.seconds, 4),
        }

    with gr.Blocks(
        title="rag-qa: Ofsted reports",
        analytics_enabled=False,
        delete_cache=(3600, 24 * 3600),  # Gradio's copies of uploads and page images
    ) as demo:
        state = gr.State(_new_state(), time_to_live=state_ttl)
        gr.Markdown(
            "# Ofsted reports on children's social care\n"
            "Ask a question: every sentence of an answer is copied from a report and cited "
            "**[n]**. The passages are listed on the right; open one to read it in its page.",
            elem_classes="rq-header",
        )
        with gr.Tab("Ask"), gr.Row(equal_height=False):
            with gr.Column(scale=6):
                chatbot = gr.Chatbot(
                    label="Answers",
                    show_label=False,
                    height=520,
                    latex_delimiters=[],
                    feedback_options=["Like", "Dislike"],
                    placeholder="Ask about the reports; follow up with e.g. “and in 2024?”",
                    elem_id="rq-chat",
                )
                with gr.Row():
                    box = gr.Textbox(
                        show_label=False,
                        placeholder=EXAMPLES[0],
                        scale=8,
                        max_lines=3,
                        elem_id="rq-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="rq-ask")
                gr.Examples(EXAMPLES, inputs=box, label="Try one of these")
                context = gr.HTML("", elem_id="rq-context")
            with gr.Column(scale=5):
                with gr.Accordion("Filters", open=False):
                    with gr.Row():
                        y_from = gr.Slider(
                            years[0], years[-1], value=years[0], step=1, label="From year"
                        )
                        y_to = gr.Slider(
                            years[0], years[-1], value=years[-1], step=1, label="To year"
                        )
                    types = gr.CheckboxGroup(
                        first["types"], label="Document types (none ticked: all)"
                    )
                    reports = gr.Dropdown(
                        first["reports"],
                        multiselect=True,
                        label="Particular reports (none chosen: all)",
                    )
                    k = gr.Slider(
                        1, MAX_PASSAGES, value=settings.retrieval.top_k, step=1, label="Passages"
                    )
                gr.Markdown("### Passages")
                cards = gr.HTML(passages_html([]), elem_id="rq-passages", max_height=520)
                pick = gr.Radio(
                    [],
                    label="Open a passage in its page",
                    visible=False,
                    elem_id="rq-pick",
                )
                page_image = gr.Image(
                    label="The page in the report",
                    type="filepath",
                    interactive=False,
                    visible=False,
                    height=680,
                    buttons=["fullscreen"],
                    elem_id="rq-page-image",
                )
        with gr.Tab("Index"):
            index_panel = gr.HTML(
                index_html(service.retriever.index.manifest, service.retriever.docs),
                elem_id="rq-index",
            )
            if allow_upload:
                gr.Markdown(
                    f"### Add reports\nPDF, .txt or .md files up to "
                    f"{MAX_UPLOAD_BYTES // 2**20} MB each. They are added to the corpus and "
                    "the index is updated (only what is new is processed); answers use the new "
                    "index as soon as it is ready."
                )
                files = gr.File(
                    file_count="multiple",
                    file_types=list(SUPPORTED),
                    label="Files to add",
                    elem_id="rq-upload",
                )
                add = gr.Button("Add to the corpus and update the index", variant="primary")
                upload_status = gr.Markdown("")

        outputs = [chatbot, box, cards, pick, context, page_image, state]
        inputs = [box, state, y_from, y_to, types, reports, k]
        ask.click(on_ask, inputs, outputs, api_name="ask", concurrency_id="qa")
        box.submit(on_ask, inputs, outputs, api_visibility="private", concurrency_id="qa")
        pick.input(
            on_open, [pick, state], [context, page_image], api_name="open", concurrency_id="open"
        ).then(None, None, None, js=SCROLL_TO_PASSAGE)
        chatbot.like(on_like, [state], None, api_visibility="private")
        chatbot.clear(on_clear, None, outputs, api_visibility="private")
        filter_outputs = [index_panel, y_from, y_to, types, reports]
        demo.load(refreshed, None, filter_outputs, api_visibility="private")
        gr.api(answer_api, api_name="answer", concurrency_id="qa")

        if allow_upload:

            def on_upload(paths, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
                paths = [paths] if isinstance(paths, str) else list(paths or [])
                if not paths:
                    raise gr.Error("Choose one or more PDF or text files first.")
                saved, problems = [], []
                for path in paths:
                    original = Path(str(path)).name
                    try:
                        size = os.path.getsize(path)
                        if size > MAX_UPLOAD_BYTES:
                            raise UploadRejected(f"{original}: over the size limit")
                        with open(path, "rb") as fh:
                            data = fh.read()
                        saved.append(store_upload(data, original, settings.corpus_dir))
                    except (UploadRejected, OSError) as err:
                        problems.append(str(err))
                lines = [f"Saved **{md_escape(p.name)}**" for p in saved]
                lines += [f"Not added: {md_escape(p)}" for p in problems]
                if not saved:
                    return ("\n\n".join(lines), gr.update(), *refreshed())
                progress(0, desc="Updating the index")
                try:
                    summary = service.update_index(progress=True)
                except (G.BuildLocked, G.IndexError_) as err:
                    lines.append(f"The index was not updated: {md_escape(str(err))}")
                    return ("\n\n".join(lines), gr.update(), *refreshed())
                except Exception as err:  # BuildError and anything a broken file raises
                    log.exception("index update failed")
                    lines.append(f"The index update failed: {md_escape(str(err))}")
                    return ("\n\n".join(lines), gr.update(), *refreshed())
                names = {p.relative_to(settings.corpus_dir.resolve()).as_posix() for p in saved}
                for source, reason in summary.skipped.items():
                    if source in names:
                        lines.append(f"Not indexed: {md_escape(source)}: {md_escape(reason)}")
                lines.append(
                    f"Index updated in {summary.seconds:.1f}s: {len(summary.added)} added, "
                    f"{len(summary.changed)} changed; {summary.documents} documents, "
                    f"{summary.chunks} passages. New questions use it now."
                )
                return ("\n\n".join(lines), None, *refreshed())

            add.click(
                on_upload,
                [files],
                [upload_status, files, *filter_outputs],
                api_visibility="private",
                concurrency_limit=1,
                concurrency_id="upload",
            )

    demo.queue(default_concurrency_limit=concurrency, max_size=max(8, concurrency * 8))
    corpus = str(settings.corpus_dir.resolve())
    blocked = [str(settings.index_dir.resolve())]
    if feedback_file is not None:
        blocked.append(str(feedback_file.resolve()))
    launch_kwargs = {
        "max_file_size": MAX_UPLOAD_BYTES if allow_upload else 1024 * 1024,
        # PDFs are shown as rendered PNGs; only without pdftoppm is corpus/ served (iframe).
        "allowed_paths": [corpus] if service.pdf_via_iframe else [],
        "blocked_paths": blocked,
        "css": CSS,
        "theme": gr.themes.Soft(primary_hue="amber", neutral_hue="slate"),
        "footer_links": ["api"],
        "ssr_mode": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "show_error": False,
        "quiet": True,
        # Sessions held in memory (the least recently used dropped first); gradio's default
        # is 10,000, each holding its own copy of the page's config and last outputs.
        "state_session_capacity": max(1, max_sessions),
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
    """``rag-qa serve``: load the model once, open the index, answer a warm-up question, then
    serve the chat on ``host:port`` until interrupted."""
    import click

    try:
        credentials = parse_auth(auth)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    if embedder_factory is None:
        from rag_qa.embed.model import load_embedder

        def embedder_factory():
            return load_embedder(settings.embed.model, settings.embed.precision)

    if G.current_generation(settings.index_dir) is None:  # fail before loading the model
        raise G.IndexError_(
            f"no index in {settings.index_dir}; build it with: "
            f"rag-qa index --corpus {settings.corpus_dir}"
        )
    started = time.perf_counter()
    embedder = embedder_factory()
    app = create_app(
        settings,
        embedder,
        allow_upload=allow_upload,
        feedback_file=feedback_file,
        concurrency=concurrency,
    )
    app.service.ask(
        EXAMPLES[0], [], settings.retrieval.top_k, Filters()
    )  # warm-up: first answer fast
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
    trimmer = HeapTrimmer(lambda: app.service.answers, TRIM_EVERY_S).start()
    try:
        launch(app, host, port, credentials)
    finally:
        trimmer.stop()
