"""What the page does, as plain functions of plain data: no Gradio here.

``Handlers`` takes what the page's controls hold (the question, the conversation state dict,
the filter values, the passage chosen, the uploaded files' paths) and returns what the page
shows (``ChatView``, ``PassageView``, ``IndexView``, ``UploadView``) or, for the ``/answer`` API,
a dict. A question that cannot be asked raises ``UserError``, whose message is shown to the
user as it is (the Gradio layer, ``rag_qa.web.layout``, raises it as ``gr.Error``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from rag_qa.engine import Filters
from rag_qa.index import generations as G
from rag_qa.web.conversation import feedback_record, new_state, passage_record, remember_turn
from rag_qa.web.service import Service
from rag_qa.web.uploads import UploadRejected, store_uploaded_file
from rag_qa.web.views import (
    chat_markdown,
    index_html,
    md_escape,
    passage_choice,
    passage_view_html,
    passages_html,
    pdf_frame_html,
)

log = logging.getLogger(__name__)

EXAMPLES = [
    "What did Ofsted say about management oversight in 2018?",
    "How high were caseloads in the 2023 inspection?",
    "What did the November 2025 visit find about care leavers?",
    "What did the latest focused visit say about the front door?",
]


class UserError(Exception):
    """A request the page refuses, with a message for the user (no traceback)."""


@dataclass(frozen=True)
class ChatView:
    """The Ask tab after a question (or a cleared chat): the chat messages, the passage cards'
    HTML, the passage picker's choices (label, rank) and the new conversation state."""

    messages: list[dict]
    cards: str
    choices: list[tuple[str, int]]
    state: dict


@dataclass(frozen=True)
class PassageView:
    """A passage opened in its page: the HTML, and the PNG of the PDF page (a path) or None."""

    html: str
    image: str | None


@dataclass(frozen=True)
class IndexView:
    """The index panel's HTML and the filters' choices: the year sliders' range (first and
    last year), the document types and the reports as (label, doc_id)."""

    panel: str
    years: list[int]
    types: list[str]
    reports: list[tuple[str, str]]


@dataclass(frozen=True)
class UploadView:
    """After an upload: the status lines (Markdown), and whether the index was updated (the
    file picker is then emptied)."""

    lines: list[str]
    indexed: bool

    @property
    def status(self) -> str:
        return "\n\n".join(self.lines)


def slider_years(years: list[int]) -> list[int]:
    """The year sliders' range. A slider needs minimum < maximum: with one year (or none,
    then this year) the year before it is added."""
    years = years or [date.today().year]
    return years if years[-1] > years[0] else [years[0] - 1, years[0]]


def filters_from(choices: dict, y_from, y_to, types, reports) -> Filters:
    """The filters the page's controls ask for: a year slider at the end of the range (or an
    index with no dated document) filters nothing, so undated documents stay in."""
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


def _one_line(question: str | None) -> str:
    return " ".join((question or "").split())


class Handlers:
    """The page's handlers over one ``Service``; a conversation keeps its last ``max_turns``
    exchanges (default: ``settings.web.max_turns``)."""

    def __init__(self, service: Service, max_turns: int | None = None):
        self.service = service
        self.settings = service.settings
        self.limits = service.settings.web
        self.max_turns = self.limits.max_turns if max_turns is None else max_turns

    def _k(self, k) -> int:
        return max(1, min(self.limits.max_passages, int(k)))

    # -- the Ask tab ---------------------------------------------------------------------
    def ask(
        self,
        question: str | None,
        state: dict | None,
        y_from=None,
        y_to=None,
        types: Sequence[str] | None = (),
        reports: Sequence[str] | None = (),
        k: int | None = None,
    ) -> ChatView:
        """Answer ``question`` in the conversation ``state`` (a follow-up is read with its
        earlier questions), within the filters the controls' values ask for."""
        question = _one_line(question)
        if not question:
            raise UserError("Type a question first, for example: " + EXAMPLES[0])
        limit = self.limits.max_question_chars
        if len(question) > limit:
            raise UserError(f"Please keep questions under {limit} characters.")
        state = dict(state or new_state())
        filters = filters_from(self.service.choices(), y_from, y_to, types, reports)
        turn = self.service.ask(
            question, state["questions"], self._k(k or self.settings.retrieval.top_k), filters
        )
        passages = [passage_record(p, turn.answer) for p in turn.result.passages]
        record = {
            "asked": question,
            "question": turn.question,
            "answer": turn.answer.text,
            "abstained": turn.answer.abstained,
            "passages": passages,
            "filters": filters.describe(),
            "index_built_at": self.service.engine.manifest.get("built_at"),
        }
        reply = chat_markdown(question, turn.question, turn.answer, turn.result)
        state = remember_turn(
            state, turn.question, md_escape(question), reply, record, passages, self.max_turns
        )
        log.info("answered in %.3fs: %s", turn.seconds, turn.question)
        return self.chat_view(state)

    def chat_view(self, state: dict) -> ChatView:
        passages = state["passages"]
        choices = [(passage_choice(p), p["rank"]) for p in passages]
        return ChatView(state["messages"], passages_html(passages), choices, state)

    def clear(self) -> ChatView:
        return self.chat_view(new_state())

    def open(self, rank, state: dict | None) -> PassageView:
        """The passage of ``rank`` among those last shown, in its page."""
        p = next((x for x in (state or {}).get("passages", []) if x["rank"] == rank), None)
        if p is None:
            return PassageView("", None)
        doc = self.service.document(p["doc_id"])
        current = doc is not None and doc.content_hash == p["content_hash"]
        chunk = self.service.engine.chunk(p["chunk_id"]) if current else None
        if chunk is None or chunk.doc_id != doc.doc_id:
            return PassageView(passage_view_html(p, doc, chunk), None)
        image = self.service.pdf_page(doc, p["page"])
        frame = ""
        is_pdf = doc.source.lower().endswith(".pdf")
        if image is None and p["page"] is not None and is_pdf and self.service.pdf_via_iframe:
            frame = pdf_frame_html((self.settings.corpus_dir / doc.source).resolve(), p["page"])
        return PassageView(passage_view_html(p, doc, chunk, frame), str(image) if image else None)

    def like(self, state: dict | None, index, liked) -> dict | None:
        """The feedback record saved for a thumbs up (``liked`` True) or down (False) on the
        answer at ``index`` in the chat; None when there is no such answer or vote."""
        turn = (state or {}).get("turns", {}).get(str(index))
        if turn is None or liked not in (True, False):
            return None
        record = feedback_record(turn, bool(liked))
        self.service.save_feedback(record)
        return record

    # -- the Index tab -------------------------------------------------------------------
    def index_view(self) -> IndexView:
        self.service.maybe_reload()  # a page load shows the live index
        c = self.service.choices()
        engine = self.service.engine
        panel = index_html(engine.manifest, engine.index.documents)
        return IndexView(panel, slider_years(c["years"]), c["types"], c["reports"])

    def upload(self, paths, before_update: Callable[[], None] | None = None) -> UploadView:
        """Add the uploaded files (``paths``: one or a list) to the corpus and update the index
        (``before_update`` is called first, to show progress): one status line a file, then
        the update's outcome."""
        paths = [paths] if isinstance(paths, str) else list(paths or [])
        if not paths:
            raise UserError("Choose one or more PDF or text files first.")
        saved, problems = [], []
        for path in paths:
            try:
                saved.append(store_uploaded_file(path, self.settings.corpus_dir))
            except (UploadRejected, OSError) as err:
                problems.append(str(err))
        lines = [f"Saved **{md_escape(p.name)}**" for p in saved]
        lines += [f"Not added: {md_escape(p)}" for p in problems]
        if not saved:
            return UploadView(lines, False)
        if before_update is not None:
            before_update()
        try:
            summary = self.service.update_index(progress=True)
        except (G.BuildLocked, G.IndexError_) as err:
            return UploadView([*lines, f"The index was not updated: {md_escape(str(err))}"], False)
        except Exception as err:  # BuildError and anything a broken file raises
            log.exception("index update failed")
            return UploadView([*lines, f"The index update failed: {md_escape(str(err))}"], False)
        names = {p.relative_to(self.settings.corpus_dir.resolve()).as_posix() for p in saved}
        for source, reason in summary.skipped.items():
            if source in names:
                lines.append(f"Not indexed: {md_escape(source)}: {md_escape(reason)}")
        lines.append(
            f"Index updated in {summary.seconds:.1f}s: {len(summary.added)} added, "
            f"{len(summary.changed)} changed; {summary.documents} documents, "
            f"{summary.chunks} passages. New questions use it now."
        )
        return UploadView(lines, True)

    # -- the /answer API -----------------------------------------------------------------
    # Gradio takes the API's parameters, their types and its description from this signature
    # and docstring (``layout.wire_api``): changing them changes the published API.
    def answer(
        self,
        question: str,
        year_from: int | None = None,
        year_to: int | None = None,
        doc_types: list[str] | None = None,
        reports: list[str] | None = None,
        k: int = 5,
    ) -> dict:
        """Answer one question (no follow-up context): the answer with its [n] markers and
        the ranked passages, each with source, title, date, page, score and text."""
        question = _one_line(question)
        if not question:
            raise UserError("empty question")
        filters = Filters(year_from, year_to, tuple(doc_types or ()), tuple(reports or ()))
        limit = self.limits.max_question_chars
        turn = self.service.ask(question[:limit], [], self._k(k), filters)
        return {
            "question": turn.question,
            "answer": turn.answer.text,
            "abstained": turn.answer.abstained,
            "notes": list(turn.result.notes),
            "passages": [passage_record(p, turn.answer) for p in turn.result.passages],
            "seconds": round(turn.seconds, 4),
        }
