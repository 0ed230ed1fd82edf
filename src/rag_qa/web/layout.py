"""The Gradio page: the Blocks of each tab, and the events wired to ``Handlers`` through thin
adapters that only turn the handlers' plain results into ``gr.update(...)`` values (and a
``UserError`` into ``gr.Error``). The only module of the web chat that imports gradio at the
top: ``rag_qa.web.app`` imports it when the app is built, so the CLI stays fast to start.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import gradio as gr

from rag_qa.ingest.loaders import SUPPORTED
from rag_qa.web import reports as R
from rag_qa.web.conversation import new_state
from rag_qa.web.handlers import EXAMPLES, ChatView, Handlers, IndexView, ReportsView, UserError
from rag_qa.web.uploads import MAX_UPLOAD_BYTES
from rag_qa.web.views import passages_html

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
#rq-index table, #rq-index th, #rq-index td, #rq-facts table, #rq-facts th, #rq-facts td {
  border-left: 0 !important; border-right: 0 !important; border-top: 0 !important;}
.rq-scroll {overflow-x: auto;}
.rq-facts-head {font-weight: 600; margin: 4px 0 6px;}
.rq-facts {font-size: 0.78em;}
.rq-index.rq-facts th, .rq-index.rq-facts td {padding: 4px 5px;}
.rq-facts td:nth-child(2) {min-width: 120px;}
.rq-facts .rq-grade {white-space: normal;}
.rq-open {cursor: pointer;}
tr.rq-open:hover, li.rq-open:hover {background: #fffbeb;}
.rq-link {color: #b45309; text-decoration: underline;}
.rq-grade {font-size: 0.85em; font-weight: 600; border-radius: 4px; padding: 1px 6px;
  white-space: nowrap;}
.rq-grade-outstanding {background: #dcfce7; color: #166534;}
.rq-grade-good {background: #dbeafe; color: #1e40af;}
.rq-grade-requires-improvement {background: #fef3c7; color: #92400e;}
.rq-grade-inadequate {background: #fee2e2; color: #991b1b;}
.rq-grade-none {background: #f1f5f9; color: #64748b; font-weight: 400;}
.rq-timeline {border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 8px 12px; margin: 8px 0; background: var(--background-fill-primary);}
.rq-plot-box {overflow-x: auto;}
.rq-tl {margin: 6px 0 0 1.2em; padding: 0;}
.rq-tl-entry {margin-bottom: 8px; padding: 4px 6px; border-radius: 6px;}
.rq-tl-head {font-weight: 600; font-size: 0.9em;}
.rq-tl-quote {margin: 4px 0 2px; padding-left: 8px; border-left: 3px solid #fcd34d;
  font-size: 0.9em;}
.rq-sort {cursor: pointer; white-space: nowrap;}
.rq-sort:hover {color: #b45309;}
.rq-areas {font-size: 0.85em;}
"""

# A click in a table or timeline: the element clicked (data-open) or heading (data-sort)
# goes to the server as the event's data; other clicks do nothing.
CLICK_JS = """element.addEventListener('click', (ev) => {
  const hit = ev.target.closest('[data-open], [data-sort]');
  if (!hit || !element.contains(hit)) return;
  if (hit.dataset.sort) { trigger('click', {sort: hit.dataset.sort}); }
  else { trigger('click', {open: hit.dataset.open}); }
});"""


# After a passage is opened: scroll its page box to the passage, and the page to the box.
SCROLL_TO_PASSAGE = """() => {
  const box = document.querySelector('#rq-context .rq-page-text');
  const hit = box && box.querySelector('.rq-passage');
  if (hit) { box.scrollTop = Math.max(0, hit.offsetTop - box.offsetTop - 40); }
  const ctx = document.querySelector('#rq-context');
  if (ctx) { ctx.scrollIntoView({behavior: 'smooth', block: 'start'}); }
}"""


@contextlib.contextmanager
def refusals():
    """A ``UserError`` raised inside shown to the user as a ``gr.Error`` (its message only)."""
    try:
        yield
    except UserError as err:
        raise gr.Error(str(err)) from err


# ---------------------------------------------------------------------------------------------
# The tabs


@dataclass
class AskTab:
    chatbot: gr.Chatbot
    box: gr.Textbox
    ask: gr.Button
    context: gr.HTML
    cards: gr.HTML
    pick: gr.Radio
    page_image: gr.Image
    filters: list  # [from year, to year, document types, reports]
    k: gr.Slider
    more: list  # [councils, kinds, judgements]
    timeline_on: gr.Checkbox
    facts: gr.HTML
    timeline: gr.HTML
    markdown: gr.Code
    csv: gr.DownloadButton


@dataclass
class IndexTab:
    panel: gr.HTML
    filters: list  # [council, kind, year, judgement]
    sort: gr.State
    csv: gr.DownloadButton
    context: gr.HTML
    page_image: gr.Image
    files: gr.File | None = None
    add: gr.Button | None = None
    status: gr.Markdown | None = None


def _filters(index: IndexView, top_k: int, max_passages: int) -> tuple[list, gr.Slider, list]:
    """The Filters accordion: the year sliders, types, reports, councils, report kinds,
    overall judgements and the number of passages."""
    years = index.years
    with gr.Accordion("Filters", open=False):
        with gr.Row():
            y_from = gr.Slider(years[0], years[-1], value=years[0], step=1, label="From year")
            y_to = gr.Slider(years[0], years[-1], value=years[-1], step=1, label="To year")
        types = gr.CheckboxGroup(index.types, label="Document types (none ticked: all)")
        reports = gr.Dropdown(
            index.reports, multiselect=True, label="Particular reports (none chosen: all)"
        )
        with gr.Row():
            councils = gr.Dropdown(
                index.councils, multiselect=True, label="Councils", elem_id="rq-f-councils"
            )
            kinds = gr.Dropdown(
                index.kinds, multiselect=True, label="Report kinds", elem_id="rq-f-kinds"
            )
            judgements = gr.Dropdown(
                index.judgements,
                multiselect=True,
                label="Overall effectiveness",
                elem_id="rq-f-judgements",
            )
        k = gr.Slider(1, max_passages, value=top_k, step=1, label="Passages")
    return [y_from, y_to, types, reports], k, [councils, kinds, judgements]


def _export() -> tuple[gr.Code, gr.DownloadButton]:
    """The last answer to keep: its Markdown (with a copy button) and its CSV."""
    with gr.Accordion("Export this answer", open=True, elem_id="rq-export"):
        markdown = gr.Code(
            "",
            language="markdown",
            label="Markdown: the answer and its cited passages",
            buttons=["copy"],
            lines=4,
            max_lines=14,
            interactive=False,
            wrap_lines=True,
            elem_id="rq-export-md",
        )
        csv = gr.DownloadButton("Download CSV", visible=False, size="sm", elem_id="rq-export-csv")
    return markdown, csv


def ask_tab(index: IndexView, top_k: int, max_passages: int) -> AskTab:
    """The Ask tab: the chat, the question box and examples, the passage in context; beside
    them the filters, the passage cards, the passage picker and the PDF page's image."""
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
            with gr.Row(equal_height=True):
                box = gr.Textbox(
                    show_label=False,
                    placeholder=EXAMPLES[0],
                    scale=8,
                    max_lines=3,
                    elem_id="rq-question",
                )
                timeline_on = gr.Checkbox(
                    False,
                    label="Timeline",
                    scale=1,
                    min_width=150,
                    elem_id="rq-timeline-switch",
                )
                ask = gr.Button("Ask", variant="primary", scale=1, elem_id="rq-ask")
            gr.Examples(EXAMPLES, inputs=box, label="Try one of these")
            timeline = gr.HTML("", elem_id="rq-timeline", js_on_load=CLICK_JS)
            markdown, csv = _export()
            context = gr.HTML("", elem_id="rq-context")
        with gr.Column(scale=5):
            filters, k, more = _filters(index, top_k, max_passages)
            facts = gr.HTML("", elem_id="rq-facts", js_on_load=CLICK_JS)
            gr.Markdown("### Passages")
            cards = gr.HTML(passages_html([]), elem_id="rq-passages", max_height=520)
            pick = gr.Radio(
                [], label="Open a passage in its page", visible=False, elem_id="rq-pick"
            )
            page_image = _page_image("rq-page-image")
    return AskTab(
        chatbot, box, ask, context, cards, pick, page_image, filters, k,
        more, timeline_on, facts, timeline, markdown, csv,
    )  # fmt: skip


def _page_image(elem_id: str) -> gr.Image:
    """The rendered page of a report (hidden until a passage or row is opened)."""
    return gr.Image(
        label="The page in the report",
        type="filepath",
        interactive=False,
        visible=False,
        height=680,
        buttons=["fullscreen"],
        elem_id=elem_id,
    )


def index_tab(index: IndexView, allow_upload: bool) -> IndexTab:
    """The Index tab: the table of reports with their facts (filters, a CSV of them, a row
    opened in the viewer below), and with ``allow_upload`` the upload panel."""
    with gr.Tab("Index"):
        t = index.table
        with gr.Row(equal_height=True):
            filters = [
                gr.Dropdown(
                    [("All", ""), *[(str(v), str(v)) for v in t.get(key, [])]],
                    value="",
                    label=label,
                    elem_id=f"rq-ix-{name}",
                )
                for key, name, label in (
                    ("councils", "council", "Council"),
                    ("kinds", "kind", "Kind"),
                    ("years", "year", "Year"),
                    ("judgements", "judgement", "Overall effectiveness"),
                )
            ]
            csv = gr.DownloadButton(
                "Download CSV", value=index.csv, size="sm", elem_id="rq-index-csv"
            )
        panel = gr.HTML(index.panel, elem_id="rq-index", js_on_load=CLICK_JS)
        sort = gr.State({"by": "inspected", "descending": False})
        context = gr.HTML("", elem_id="rq-index-context")
        image = _page_image("rq-index-page-image")
        tab = IndexTab(panel, filters, sort, csv, context, image)
        if allow_upload:
            gr.Markdown(
                f"### Add reports\nPDF, .txt or .md files up to "
                f"{MAX_UPLOAD_BYTES // 2**20} MB each. They are added to the corpus and "
                "the index is updated (only what is new is processed); answers use the new "
                "index as soon as it is ready."
            )
            tab.files = gr.File(
                file_count="multiple",
                file_types=list(SUPPORTED),
                label="Files to add",
                elem_id="rq-upload",
            )
            tab.add = gr.Button("Add to the corpus and update the index", variant="primary")
            tab.status = gr.Markdown("")
    return tab


# ---------------------------------------------------------------------------------------------
# The events: adapters between the components and the handlers


def chat_outputs(view: ChatView, context: str = "", image: str | None = None) -> tuple:
    """The Ask tab's outputs: chat, question box, cards, picker, context, page image, state."""
    radio = gr.update(choices=view.choices, value=None, visible=bool(view.choices))
    image_update = gr.update(value=image, visible=image is not None)
    return (view.messages, "", view.cards, radio, context, image_update, view.state)


def extras_outputs(view: ChatView) -> tuple:
    """The last answer's facts table, timeline, Markdown and CSV download."""
    csv = gr.update(value=view.csv, visible=view.csv is not None)
    return (view.facts, view.timeline, view.markdown, csv)


def _all(values) -> list:
    return [("All", ""), *[(str(v), str(v)) for v in values]]


def filter_outputs(index: IndexView) -> tuple:
    """The index panel and the filters, after the index may have changed: the Ask tab's
    (years, types, reports, councils, kinds, judgements), then the Index tab's (council,
    kind, year, judgement: back to all), its CSV and its sort."""
    ys, t = index.years, index.table
    return (
        index.panel,
        gr.update(minimum=ys[0], maximum=ys[-1], value=ys[0]),
        gr.update(minimum=ys[0], maximum=ys[-1], value=ys[-1]),
        gr.update(choices=index.types),
        gr.update(choices=index.reports),
        gr.update(choices=index.councils),
        gr.update(choices=index.kinds),
        gr.update(choices=index.judgements),
        *[
            gr.update(choices=_all(t.get(key, [])), value="")
            for key in ("councils", "kinds", "years", "judgements")
        ],
        index.csv,
        {"by": "inspected", "descending": False},
    )


def _opened(view) -> tuple:
    return view.html, gr.update(value=view.image, visible=view.image is not None)


def wire_ask(handlers: Handlers, tab: AskTab, state: gr.State) -> list:
    """The Ask tab's events (``/ask`` and ``/open`` in the API); returns its outputs."""

    def on_ask(question, state, y_from, y_to, types, reports, k, *more):
        with refusals():
            view = handlers.ask(question, state, y_from, y_to, types, reports, k, *more)
        return chat_outputs(view)

    def on_extras(state):
        return extras_outputs(handlers.chat_view(state or new_state()))

    def on_open(rank, state):
        return _opened(handlers.open(rank, state))

    def on_target(state, event: gr.EventData):
        return _opened(handlers.open_target((event._data or {}).get("open"), state))

    def on_like(state, data: gr.LikeData, request: gr.Request):
        session = getattr(request, "session_hash", None) or ""
        if handlers.like(state, data.index, data.liked, session) is not None:
            gr.Info("Thanks: your feedback was saved.")

    def on_clear():
        view = handlers.clear()
        return (*chat_outputs(view), *extras_outputs(view))

    outputs = [tab.chatbot, tab.box, tab.cards, tab.pick, tab.context, tab.page_image, state]
    extras = [tab.facts, tab.timeline, tab.markdown, tab.csv]
    inputs = [tab.box, state, *tab.filters, tab.k, *tab.more, tab.timeline_on]
    asked = [
        tab.ask.click(on_ask, inputs, outputs, api_name="ask", concurrency_id="qa"),
        tab.box.submit(on_ask, inputs, outputs, api_visibility="private", concurrency_id="qa"),
    ]
    for event in asked:  # /ask returns what it always has; the rest follows from the state
        event.then(on_extras, [state], extras, api_visibility="private")
    for html in (tab.facts, tab.timeline):
        html.click(
            on_target, [state], [tab.context, tab.page_image], api_visibility="private"
        ).then(None, None, None, js=SCROLL_TO_PASSAGE)
    tab.pick.input(
        on_open,
        [tab.pick, state],
        [tab.context, tab.page_image],
        api_name="open",
        concurrency_id="open",
    ).then(None, None, None, js=SCROLL_TO_PASSAGE)
    tab.chatbot.like(on_like, [state], None, api_visibility="private")
    tab.chatbot.clear(on_clear, None, outputs + extras, api_visibility="private")
    return outputs


def wire_reports(handlers: Handlers, tab: IndexTab) -> None:
    """The Index tab's table: its filters re-render it, a heading sorts it (the same one
    again: the other way), a row opens its report in the viewer below."""

    def table(view: ReportsView) -> tuple:
        return view.panel, view.sort, view.csv

    def on_filter(council, kind, year, judgement, sort):
        return table(handlers.reports(council, kind, year, judgement, sort))

    def on_click(council, kind, year, judgement, sort, event: gr.EventData):
        data = event._data or {}
        if data.get("sort"):
            sort = R.next_sort(sort, data["sort"])
            return (*table(handlers.reports(council, kind, year, judgement, sort)), *_keep(2))
        if data.get("open"):
            return (*_keep(3), *_opened(handlers.open_target(data["open"], None)))
        return _keep(5)

    inputs = [*tab.filters, tab.sort]
    for dropdown in tab.filters:
        dropdown.change(on_filter, inputs, [tab.panel, tab.sort, tab.csv], api_visibility="private")
    tab.panel.click(
        on_click,
        inputs,
        [tab.panel, tab.sort, tab.csv, tab.context, tab.page_image],
        api_visibility="private",
        concurrency_id="open",
    )


def _keep(n: int) -> tuple:
    return tuple(gr.update() for _ in range(n))


def wire_index(handlers: Handlers, tab: IndexTab, filters: list) -> None:
    """The Index tab's table, and the upload button (when there is one): files in, status
    and refreshed filters out."""
    wire_reports(handlers, tab)
    if tab.add is None:
        return

    def on_upload(paths, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        with refusals():
            view = handlers.upload(paths, lambda: progress(0, desc="Updating the index"))
        files = None if view.indexed else gr.update()
        return (view.status, files, *filter_outputs(handlers.index_view()))

    tab.add.click(
        on_upload,
        [tab.files],
        [tab.status, tab.files, *filters],
        api_visibility="private",
        concurrency_limit=1,
        concurrency_id="upload",
    )


def wire_api(handlers: Handlers) -> None:
    """``/answer``: one question answered as a dict, for programs. Gradio reads the API's
    parameters, their types and its description from ``Handlers.answer``."""

    @functools.wraps(handlers.answer)
    def answer_api(*args, **kwargs) -> dict:
        with refusals():
            return handlers.answer(*args, **kwargs)

    gr.api(answer_api, api_name="answer", concurrency_id="qa")


# ---------------------------------------------------------------------------------------------
# The page


def build_blocks(handlers: Handlers, *, allow_upload: bool, state_ttl: float) -> gr.Blocks:
    """The page's Blocks (not queued, not launched); a conversation's state is dropped
    ``state_ttl`` seconds after its last change."""
    settings = handlers.settings
    first = handlers.index_view()
    with gr.Blocks(
        title="rag-qa: Ofsted reports",
        analytics_enabled=False,
        delete_cache=(3600, 24 * 3600),  # Gradio's copies of uploads and page images
    ) as demo:
        state = gr.State(new_state(), time_to_live=state_ttl)
        gr.Markdown(
            "# Ofsted reports on children's social care\n"
            "Ask a question: every sentence of an answer is copied from a report and cited "
            "**[n]**. The passages are listed on the right; open one to read it in its page.",
            elem_classes="rq-header",
        )
        ask = ask_tab(first, settings.retrieval.top_k, settings.web.max_passages)
        index = index_tab(first, allow_upload)
        wire_ask(handlers, ask, state)
        filters = [index.panel, *ask.filters, *ask.more, *index.filters, index.csv, index.sort]

        def refreshed():
            return filter_outputs(handlers.index_view())

        demo.load(refreshed, None, filters, api_visibility="private")
        wire_api(handlers)
        wire_index(handlers, index, filters)
    return demo


def look() -> dict:
    """The page's look, as launch() arguments: the CSS and the theme."""
    return {"css": CSS, "theme": gr.themes.Soft(primary_hue="amber", neutral_hue="slate")}
