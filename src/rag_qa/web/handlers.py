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
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rag_qa.answer.export import facts_csv, turn_csv, turn_markdown
from rag_qa.engine import Filters
from rag_qa.index import generations as G
from rag_qa.records import Document
from rag_qa.web import reports as R
from rag_qa.web.conversation import (
    facts_record,
    feedback_record,
    new_state,
    passage_record,
    remember_turn,
    timeline_record,
)
from rag_qa.web.service import Service
from rag_qa.web.uploads import UploadRejected, store_uploaded_file
from rag_qa.web.views import (
    chat_markdown,
    facts_markdown,
    facts_table_html,
    index_head,
    md_escape,
    passage_choice,
    passage_view_html,
    passages_html,
    report_page_html,
    reports_table_html,
    skipped_html,
    timeline_html,
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
    HTML, the passage picker's choices (label, rank) and the new conversation state; and for
    the last answer its facts table's and timeline's HTML ("" when it has none), its Markdown
    and the path of its CSV (None before a question)."""

    messages: list[dict]
    cards: str
    choices: list[tuple[str, int]]
    state: dict
    facts: str = ""
    timeline: str = ""
    markdown: str = ""
    csv: str | None = None


@dataclass(frozen=True)
class PassageView:
    """A passage opened in its page: the HTML, and the PNG of the PDF page (a path) or None."""

    html: str
    image: str | None


@dataclass(frozen=True)
class IndexView:
    """The index panel's HTML (the table of reports, unfiltered) and the filters' choices:
    the year sliders' range (first and last year), the document types, the reports as (label,
    doc_id), the councils, report kinds and overall judgements; the Index tab's own filter
    choices (``reports.choices``) and the path of the reports' CSV."""

    panel: str
    years: list[int]
    types: list[str]
    reports: list[tuple[str, str]]
    councils: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    judgements: list[str] = field(default_factory=list)
    table: dict = field(default_factory=dict)
    csv: str | None = None


@dataclass(frozen=True)
class ReportsView:
    """The Index tab's table after a filter or sort: its HTML, the sort (``{"by",
    "descending"}``), how many reports it shows, and the path of their facts as CSV."""

    panel: str
    sort: dict
    shown: int
    csv: str


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


def filters_from(
    choices: dict, y_from, y_to, types, reports, councils=(), kinds=(), judgements=()
) -> Filters:
    """The filters the page's controls ask for: a year slider at the end of the range (or an
    index with no dated document) filters nothing, so undated documents stay in; councils,
    report kinds and overall judgements as chosen (none: all)."""
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
    return Filters(
        y_from,
        y_to,
        tuple(types or ()),
        tuple(reports or ()),
        councils=tuple(councils or ()),
        kinds=tuple(kinds or ()),
        judgements=tuple(judgements or ()),
    )


def _one_line(question: str | None, limit: int, trim: bool = False) -> str:
    """The question on one line. The raw string's length is checked before it is split (a
    huge string is never split into words): over ``limit`` characters is a UserError, or with
    ``trim`` (the /answer API) only its first ``limit`` characters are read."""
    question = question if isinstance(question, str) else ""
    if len(question) > limit:
        if not trim:
            raise UserError(f"Please keep questions under {limit} characters.")
        question = question[:limit]
    return " ".join(question.split())


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
        councils: Sequence[str] | None = (),
        kinds: Sequence[str] | None = (),
        judgements: Sequence[str] | None = (),
        timeline: bool | None = False,
    ) -> ChatView:
        """Answer ``question`` in the conversation ``state`` (a follow-up is read with its
        earlier questions), within the filters the controls' values ask for; ``timeline``
        ticked always gives a timeline, unticked one when the question asks how something
        changed."""
        question = _one_line(question, self.limits.max_question_chars)
        if not question:
            raise UserError("Type a question first, for example: " + EXAMPLES[0])
        state = dict(state or new_state())
        filters = filters_from(
            self.service.choices(), y_from, y_to, types, reports, councils, kinds, judgements
        )
        k = self._k(k or self.settings.retrieval.top_k)
        turn = self.service.ask(
            question, state["questions"], k, filters, True if timeline else None
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
        facts, line = facts_record(turn.table), timeline_record(turn.timeline)
        reply = chat_markdown(question, turn.question, turn.answer, turn.result)
        summary = facts_markdown(facts, line)
        reply = f"{summary}\n\n{reply}" if summary else reply
        state = remember_turn(
            state, turn.question, md_escape(question), reply, record, passages, self.max_turns
        )
        csv = self.service.write_export(turn_csv(turn), "answer")
        state["facts"], state["timeline"] = facts, line
        state["export"] = {"markdown": turn_markdown(turn), "csv": str(csv)}
        log.info("answered in %.3fs: %s", turn.seconds, turn.question)
        return self.chat_view(state)

    def chat_view(self, state: dict) -> ChatView:
        passages = state["passages"]
        choices = [(passage_choice(p), p["rank"]) for p in passages]
        export = state.get("export") or {}
        return ChatView(
            state["messages"],
            passages_html(passages),
            choices,
            state,
            facts_table_html(state.get("facts")),
            timeline_html(state.get("timeline")),
            export.get("markdown", ""),
            export.get("csv"),
        )

    def clear(self) -> ChatView:
        return self.chat_view(new_state())

    def open(self, rank, state: dict | None) -> PassageView:
        """The passage of ``rank`` among those last shown, in its page."""
        p = next((x for x in (state or {}).get("passages", []) if x["rank"] == rank), None)
        return self.open_passage(p)

    def open_passage(self, p: dict | None) -> PassageView:
        """A passage record (``passage_record``) in its page; nothing for None."""
        if p is None:
            return PassageView("", None)
        doc = self.service.document(p["doc_id"])
        current = doc is not None and doc.content_hash == p["content_hash"]
        chunk = self.service.engine.chunk(p["chunk_id"]) if current else None
        if chunk is None or chunk.doc_id != doc.doc_id:
            return PassageView(passage_view_html(p, doc, chunk), None)
        # Without pdftoppm there is no image: the page's text only (the corpus is never served).
        image = self.service.pdf_page(doc, p["page"])
        return PassageView(passage_view_html(p, doc, chunk), str(image) if image else None)

    def open_report(self, doc_id: str, page: int | None, marks: Sequence[str] = ()) -> PassageView:
        """The report ``doc_id`` at ``page`` (its first page when None), ``marks`` (e.g. the
        words its judgement was read from) highlighted; nothing for a report not indexed."""
        doc = self.service.document(doc_id) if doc_id else None
        if doc is None:
            return PassageView("", None)
        numbers = [pg.number for pg in doc.pages if pg.number is not None]
        page = page if page in numbers else (numbers[0] if numbers else None)
        image = self.service.pdf_page(doc, page)
        html = report_page_html(doc, page, [m for m in marks if m])
        return PassageView(html, str(image) if image else None)

    def open_target(self, target: str | None, state: dict | None) -> PassageView:
        """What a click in the facts table, the timeline or the Index tab's table opens:
        ``fact:<n>`` (row n of the last facts table, at its judgement's page),
        ``entry:<n>`` (entry n of the last timeline, its passage in its page) or
        ``report:<doc_id>:<page>`` (a report at a page; no page: its first)."""
        kind, _, rest = str(target or "").partition(":")
        state = state or {}
        if kind == "report":
            doc_id, _, page = rest.rpartition(":")
            return self.open_report(doc_id, int(page) if page.isdigit() else None)
        if kind in ("fact", "entry") and rest.isdigit():
            n = int(rest)
            if kind == "fact":
                rows = (state.get("facts") or {}).get("rows", [])
                if n < len(rows):
                    row = rows[n]
                    return self.open_report(row["doc_id"], row["page"], [row["evidence"]])
            else:
                entries = (state.get("timeline") or {}).get("entries", [])
                if n < len(entries):
                    return self.open_passage(entries[n]["passage"])
        return PassageView("", None)

    def like(self, state: dict | None, index, liked, session: str = "") -> dict | None:
        """The feedback record saved for a thumbs up (``liked`` True) or down (False) on the
        answer at ``index`` in the chat; None when there is no such answer or vote, or when
        ``session`` has voted too often (``Service.save_feedback``)."""
        turn = (state or {}).get("turns", {}).get(str(index))
        if turn is None or liked not in (True, False):
            return None
        record = feedback_record(turn, bool(liked))
        if not self.service.save_feedback(record, session):
            return None
        return record

    # -- the Index tab -------------------------------------------------------------------
    def index_view(self) -> IndexView:
        self.service.maybe_reload()  # a page load shows the live index
        c = self.service.choices()
        table = self.reports()
        return IndexView(
            table.panel,
            slider_years(c["years"]),
            c["types"],
            c["reports"],
            c["councils"],
            c["kinds"],
            c["judgements"],
            R.choices(self._report_rows()),
            table.csv,
        )

    def _report_rows(self) -> list[dict]:
        docs: list[Document] = self.service.engine.documents()
        return [R.report_row(d) for d in docs]

    def reports(
        self,
        council: str | None = None,
        kind: str | None = None,
        year=None,
        judgement: str | None = None,
        sort: dict | None = None,
    ) -> ReportsView:
        """The Index tab's table of reports: those of ``council``, ``kind``, ``year`` and
        overall ``judgement`` (None or "": any), sorted by ``sort`` (``{"by": a column of
        reports.SORTS, "descending": bool}``; default by inspection date), and their facts
        as CSV."""
        sort = R.next_sort(None, "") if not sort else dict(sort)
        rows = self._report_rows()
        shown = R.sort_rows(
            R.filter_rows(rows, council, kind, year, judgement),
            sort.get("by", R.DEFAULT_SORT),
            bool(sort.get("descending")),
        )
        manifest = self.service.engine.manifest
        head = index_head(manifest, len(rows))
        if len(shown) != len(rows):
            head += f" · showing {len(shown)}"
        panel = reports_table_html(shown, head, sort.get("by"), bool(sort.get("descending")))
        keep = {"doc_id", "label", "year", "overall"}
        facts = [{k: v for k, v in r.items() if k not in keep} for r in shown]
        csv = self.service.write_export(facts_csv(facts), "reports")
        return ReportsView(panel + skipped_html(manifest), sort, len(shown), str(csv))

    def _check_uploaded(self, path) -> None:
        """Only a file the web server received for this app (in its upload folder)."""
        root = self.service.upload_dir
        where = Path(str(path)).resolve()
        if root is None or not where.is_relative_to(root) or not where.is_file():
            raise UploadRejected(f"{Path(str(path)).name}: not a file uploaded to this page")

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
                self._check_uploaded(path)
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
        question = _one_line(question, self.limits.max_question_chars, trim=True)
        if not question:
            raise UserError("empty question")
        filters = Filters(year_from, year_to, tuple(doc_types or ()), tuple(reports or ()))
        turn = self.service.ask(question, [], self._k(k), filters)
        return {
            "question": turn.question,
            "answer": turn.answer.text,
            "abstained": turn.answer.abstained,
            "notes": list(turn.result.notes),
            "passages": [passage_record(p, turn.answer) for p in turn.result.passages],
            "seconds": round(turn.seconds, 4),
        }
