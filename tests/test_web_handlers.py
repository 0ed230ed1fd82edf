"""The web chat's handlers without Gradio: plain values in (the question, the conversation
state, the filters' values), plain values out, over the small test corpus with the fake
embedder."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import PDF_SOURCE

from rag_qa.index.build import run_build
from rag_qa.web.conversation import new_state
from rag_qa.web.handlers import Handlers, UserError, filters_from, slider_years
from rag_qa.web.service import Service

OVERSIGHT = "What did inspectors say about management oversight?"


@pytest.fixture
def service(settings, fake_model, tmp_path):
    run_build(settings, lambda: fake_model)
    return Service(
        settings, fake_model, feedback_file=tmp_path / "fb" / "feedback.jsonl", upload_dir=tmp_path
    )


@pytest.fixture
def handlers(service):
    return Handlers(service)


# ---------------------------------------------------------------------------------------------
# Asking


def test_the_handlers_and_the_app_module_do_not_import_gradio():
    code = (
        "import sys, rag_qa.web.handlers, rag_qa.web.app, rag_qa.cli; "
        "print('gradio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("question", [None, "", "   \t\n \u00a0"])
def test_empty_question_is_refused(handlers, question):
    with pytest.raises(UserError, match=r"^Type a question first, for example: What did"):
        handlers.ask(question, None)


def test_over_long_question_is_refused(handlers, settings, fake_model):
    limit = settings.web.max_question_chars
    with pytest.raises(UserError, match=f"Please keep questions under {limit} characters"):
        handlers.ask("care leavers " * limit, None)
    short = Handlers(Service(settings.replace(max_question_chars=20), fake_model))
    with pytest.raises(UserError, match="under 20 characters"):
        short.ask(OVERSIGHT, None)
    assert short.ask("care leavers", None).messages  # under the limit: answered


def test_ask_returns_the_chat_the_cards_the_choices_and_the_state(handlers):
    view = handlers.ask(f"  {OVERSIGHT}  ", None)
    assert [m["role"] for m in view.messages] == ["user", "assistant"]
    assert view.messages[0]["content"] == OVERSIGHT  # spaces trimmed, nothing to escape
    assert "\\[1\\]" in view.messages[1]["content"] and "Testshire" in view.messages[1]["content"]
    assert PDF_SOURCE in view.cards and "<mark>" in view.cards
    ranks = [rank for _, rank in view.choices]
    assert ranks == [p["rank"] for p in view.state["passages"]] and ranks[0] == 1
    assert view.choices[0][0].startswith("[1] ")
    assert view.state["questions"] == [OVERSIGHT]
    record = view.state["turns"]["1"]  # keyed by the answer's position in the chat
    assert record["asked"] == OVERSIGHT and record["answer"] and not record["abstained"]
    assert record["passages"] == view.state["passages"] and record["filters"] == ""
    assert record["index_built_at"]
    assert 1 <= len(view.state["passages"]) <= handlers.settings.retrieval.top_k


def test_number_of_passages_is_clamped(handlers):
    assert len(handlers.ask(OVERSIGHT, None, k=1).state["passages"]) == 1
    limit = handlers.limits.max_passages
    many = handlers.ask(OVERSIGHT, None, k=limit * 5).state["passages"]
    assert 1 <= len(many) <= limit


def test_filters_from_the_slider_values():
    choices = {"years": [2017, 2023, 2026], "types": [], "reports": []}
    assert filters_from(choices, 2017, 2026, [], []).active is False  # the full range
    assert filters_from(choices, 2023, 2026, (), ()).year_from == 2023
    f = filters_from(choices, "2026", 2020, ["news"], ["d1"])  # swapped, as strings
    assert (f.year_from, f.year_to, f.doc_types, f.doc_ids) == (2020, None, ("news",), ("d1",))
    # No dated document: the sliders are shown for this year and filter nothing.
    assert not filters_from({"years": []}, 2025, 2026, None, None).active
    assert slider_years([]) == [slider_years([])[1] - 1, slider_years([])[1]]
    assert slider_years([2026]) == [2025, 2026] and slider_years([2017, 2026]) == [2017, 2026]


def test_ask_within_the_years_of_the_sliders(handlers):
    view = handlers.ask("care leavers", None, 2026, 2026)
    assert {p["source"] for p in view.state["passages"]} == {"letter.txt"}
    assert view.state["turns"]["1"]["filters"] == "years 2026-…"
    whole = handlers.ask("care leavers", None, 2017, 2026)  # the whole range: no filter
    assert len({p["source"] for p in whole.state["passages"]}) > 1
    typed = handlers.ask("care leavers", None, types=["focused visit letter"])
    assert {p["doc_type"] for p in typed.state["passages"]} == {"focused visit letter"}


def test_follow_up_uses_the_history(handlers):
    first = handlers.ask(OVERSIGHT, None)
    second = handlers.ask("and in 2025?", first.state)
    assert len(second.messages) == 4
    understood = "What did inspectors say about management oversight in 2025?"
    assert second.state["questions"] == [OVERSIGHT, understood]
    assert "management oversight in 2025" in second.messages[3]["content"]
    assert second.state["turns"]["3"]["asked"] == "and in 2025?"
    assert first.state["questions"] == [OVERSIGHT]  # the state given in is not changed
    fresh = handlers.ask("and in 2025?", None)  # no history: asked as it is
    assert fresh.state["questions"] == ["and in 2025?"]


def test_state_keeps_the_last_max_turns(service):
    handlers = Handlers(service, max_turns=2)
    state = None
    for n in range(3):
        state = handlers.ask(f"{OVERSIGHT[:-1]} round{n}?", state).state
    assert len(state["messages"]) == 4 and "round1" in state["messages"][0]["content"]
    assert state["questions"] == [f"{OVERSIGHT[:-1]} round{n}?" for n in (1, 2)]
    assert set(state["turns"]) == {"1", "3"}
    assert state["turns"]["3"]["asked"].endswith("round2?")
    default = Handlers(service)
    assert default.max_turns == service.settings.web.max_turns


def test_clear_starts_a_new_conversation(handlers):
    view = handlers.clear()
    assert view.messages == [] and view.choices == [] and view.state == new_state()
    assert "No passages yet" in view.cards


# ---------------------------------------------------------------------------------------------
# Opening a passage


def _asked(handlers):
    state = handlers.ask(OVERSIGHT, None).state
    top = state["passages"][0]
    assert top["source"] == PDF_SOURCE and top["page"] == 1
    return state


def test_open_a_passage_in_its_page(handlers, service):
    view = handlers.open(1, _asked(handlers))
    assert "[1] Testshire" in view.html and "3 pages" in view.html
    assert "Page 1" in view.html and '<span class="rq-passage">' in view.html
    assert "<mark>" in view.html and "changed in the index" not in view.html
    if shutil.which("pdftoppm"):
        assert view.image is not None and view.image.endswith(".png")
        with open(view.image, "rb") as fh:
            assert fh.read(8).startswith(b"\x89PNG")
    else:
        assert view.image is None and "<iframe" not in view.html  # the page's text only


def test_open_a_passage_whose_document_changed(handlers):
    state = _asked(handlers)
    state["passages"][0] = {**state["passages"][0], "content_hash": "an older version"}
    view = handlers.open(1, state)
    assert "This report has changed in the index since the answer" in view.html
    assert view.image is None and "Page 1" not in view.html and "3 pages" not in view.html
    assert "<mark>" in view.html  # the passage alone, its answering sentence marked


def test_open_a_passage_whose_chunk_is_missing(handlers):
    state = _asked(handlers)
    state["passages"][0] = {**state["passages"][0], "chunk_id": "no-such-chunk"}
    view = handlers.open(1, state)
    assert "3 pages" in view.html and "changed in the index" not in view.html
    assert "Page 1" not in view.html and 'class="rq-page-text"' in view.html
    assert view.image is None


def test_open_a_rank_not_shown(handlers):
    state = _asked(handlers)
    assert handlers.open(99, state) == handlers.open(1, None)
    assert handlers.open(99, state).html == "" and handlers.open(99, state).image is None


# ---------------------------------------------------------------------------------------------
# Feedback


def test_like_writes_a_feedback_record(handlers, service):
    state = handlers.ask(OVERSIGHT, None).state
    record = handlers.like(state, 1, True)
    assert record["vote"] == "up" and record["question"] == OVERSIGHT
    assert record["tags"] == ["feedback", "up"] and record["answers"]
    lines = service.feedback_file.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [record]
    down = handlers.like(state, "1", False)
    assert down["vote"] == "down"
    assert len(service.feedback_file.read_text(encoding="utf-8").splitlines()) == 2


def test_like_on_no_answer_writes_nothing(handlers, service):
    state = handlers.ask(OVERSIGHT, None).state
    assert handlers.like(state, 0, True) is None  # the user's message, not an answer
    assert handlers.like(state, 1, None) is None  # no vote
    assert handlers.like(None, 1, True) is None
    assert not service.feedback_file.exists()


# ---------------------------------------------------------------------------------------------
# The /answer API


def test_answer_api_returns_a_dict(handlers):
    out = handlers.answer(OVERSIGHT, None, None, [], [], 3)
    assert set(out) == {"question", "answer", "abstained", "notes", "passages", "seconds"}
    assert out["question"] == OVERSIGHT and "[1]" in out["answer"] and not out["abstained"]
    assert len(out["passages"]) == 3 and out["passages"][0]["source"] == PDF_SOURCE
    assert out["passages"][0]["sentences"] and isinstance(out["seconds"], float)
    json.dumps(out)  # plain data


def test_answer_api_filters_trims_and_refuses(handlers):
    only = handlers.answer("care leavers", 2026, 2026, None, None, 5)
    assert {p["source"] for p in only["passages"]} == {"letter.txt"}
    long = handlers.answer("care leavers " * 500)
    assert len(long["question"]) <= handlers.limits.max_question_chars
    for empty in (None, "", "  \n"):
        with pytest.raises(UserError, match="^empty question$"):
            handlers.answer(empty)


# ---------------------------------------------------------------------------------------------
# Uploads and the index panel


def test_upload_adds_files_and_reports_each(handlers, settings, tmp_path):
    incoming = tmp_path / "gradio-tmp"
    incoming.mkdir()
    good = incoming / "fostering.txt"
    good.write_text("Inspectors found that the fostering panel was exemplary.\n" * 3)
    fake = incoming / "fake.pdf"
    fake.write_bytes(b"<html>not a pdf</html>")
    calls = []
    view = handlers.upload([str(good), str(fake)], lambda: calls.append("progress"))
    assert view.indexed and calls == ["progress"]
    assert view.lines[0] == "Saved **fostering\\.txt**"
    assert view.lines[1].startswith("Not added: fake\\.pdf: not a PDF")
    assert view.lines[-1].startswith("Index updated in ") and "1 added, 0 changed" in view.lines[-1]
    assert view.status == "\n\n".join(view.lines)
    assert (settings.corpus_dir / "fostering.txt").exists()
    assert not (settings.corpus_dir / "fake.pdf").exists()
    panel = handlers.index_view()
    assert "fostering.txt" in panel.panel and "4 reports" in panel.panel


def test_upload_of_nothing_or_only_bad_files(handlers, tmp_path):
    for nothing in (None, []):
        with pytest.raises(UserError, match="Choose one or more PDF or text files first"):
            handlers.upload(nothing)
    bad = tmp_path / "blank.md"
    bad.write_text("   \n")
    calls = []
    view = handlers.upload(str(bad), lambda: calls.append("progress"))  # one path, not a list
    assert not view.indexed and calls == []  # nothing saved: no index update
    assert view.lines == ["Not added: blank\\.md: not a text file \\(binary or blank\\)"]
    gone = handlers.upload([str(tmp_path / "vanished.txt")])
    assert not gone.indexed and gone.lines[0].startswith("Not added: ")


def test_index_view_has_the_filters_choices(handlers):
    view = handlers.index_view()
    assert view.panel.startswith('<div class="rq-index-head">3 reports')
    assert view.years == [2017, 2023, 2026]
    assert "focused visit letter" in view.types
    assert {doc_id for _, doc_id in view.reports} == set(handlers.service.retriever.docs)


# ---------------------------------------------------------------------------------------------
# Facts tables, timelines, filters by council/kind/judgement, export, the Index tab's table:
# over the shipped corpus (one council's Ofsted reports, with their judgements)

FACTS_Q = "What was Slough's overall effectiveness judgement in 2019?"
CHANGE_Q = "How has management oversight changed?"
ILACS_2019 = "children's services inspection - 04 march 2019.pdf"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    from conftest import build_shipped

    settings, embedder = build_shipped(tmp_path_factory.mktemp("shipped"))
    return Handlers(Service(settings, embedder))


def test_facts_table_rows_with_citations_and_opening_the_report(shipped):
    view = shipped.ask(FACTS_Q, None)
    rows = view.state["facts"]["rows"]
    assert len(rows) == 1 and rows[0]["source"] == ILACS_2019
    assert rows[0]["grade"] == "requires improvement" and rows[0]["page"] == 1
    assert 'data-open="fact:0"' in view.facts and "requires improvement" in view.facts
    assert rows[0]["citation"] in view.facts.replace("&#x27;", "'")  # the row's citation
    assert "Donna Marriott" in view.facts and "21 January 2019 – 1 February 2019" in view.facts
    assert view.facts.index("<th>Overall</th>") > 0
    assert "**requires improvement**" in view.messages[1]["content"]  # and in the chat
    opened = shipped.open_target("fact:0", view.state)
    assert "Page 1" in opened.html and "<mark>" in opened.html
    assert "Inspection dates: 21 January 2019 to 1 February 2019" in opened.html
    assert shipped.open_target("fact:7", view.state).html == ""  # no such row
    assert shipped.open_target("nonsense", view.state).html == ""
    at = shipped.open_report(rows[0]["doc_id"], 3)
    assert "Page 3" in at.html and "Page 1" not in at.html
    assert "Page 1" in shipped.open_report(rows[0]["doc_id"], 999).html  # not a page: the first
    assert shipped.open_report("no-such-doc", 1).html == ""


def test_facts_table_is_escaped():
    from rag_qa.web.views import facts_table_html

    row = {
        "area": "overall_effectiveness", "area_label": "Overall effectiveness",
        "council": "<script>alert(1)</script>", "label": "A & B", "citation": "A & B, p. 2",
        "kind": "ILACS <standard>", "visit_start": "2019-01-21", "visit_end": None,
        "grade": "good", "lead_inspector": '"Quoted" <i>', "page": 2,
    }  # fmt: skip
    out = facts_table_html({"description": "Judged <good>", "rows": [row]})
    assert "<script>" not in out and "&lt;script&gt;" in out and "A &amp; B, p. 2" in out
    assert "Judged &lt;good&gt;" in out and "&quot;Quoted&quot; &lt;i&gt;" in out
    assert "ILACS &lt;standard&gt;" in out and "21 January 2019" in out
    assert facts_table_html(None) == "" and facts_table_html({"description": "", "rows": []}) == ""


def test_timeline_switch_renders_entries_in_order_and_the_plot(shipped, monkeypatch):
    asked = []
    ask = shipped.service.ask
    monkeypatch.setattr(
        shipped.service, "ask", lambda *a, **kw: asked.append(a[4:] or kw) or ask(*a, **kw)
    )
    off = shipped.ask("What did inspectors say about management oversight?", None)
    assert off.timeline == "" and off.state["timeline"] is None and asked[-1] == (None,)
    view = shipped.ask("What did inspectors say about management oversight?", None, timeline=True)
    assert asked[-1] == (True,)
    line = view.state["timeline"]
    whens = [e["when"] for e in line["entries"]]
    assert len(whens) == 8 and whens == sorted(whens)
    assert [e["grade"] for e in line["entries"][:3]] == [
        "inadequate",
        "inadequate",
        "requires improvement",
    ]
    html = view.timeline
    assert html.count('class="rq-tl-entry') == 8 and '<svg class="rq-plot"' in html
    assert html.count("<circle") == 4 and "Nov 2013" in html and "Jan 2023" in html
    positions = [html.index(f'data-when="{w}"') for w in whens]
    assert positions == sorted(positions)
    for e in line["entries"]:
        assert e["quote"] in e["passage"]["text"].replace("\n", " ") or e["quote"].endswith("…")
        assert e["citation"] in html.replace("&#x27;", "'")
    auto = shipped.ask(CHANGE_Q, None)  # unticked, but the question asks for change
    assert asked[-1] == (None,) and auto.state["timeline"]["entries"]
    opened = shipped.open_target("entry:2", view.state)
    assert '<span class="rq-passage">' in opened.html and "4 March 2019" in opened.html


def test_timeline_svg_puts_outstanding_on_top_and_is_escaped():
    from rag_qa.web.views import timeline_svg

    svg = timeline_svg([("2019-01-21", "outstanding", "<A>"), ("2023-01-23", "inadequate", "B")])
    ys = [float(v) for v in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)]
    assert ys[0] < ys[1]  # outstanding higher on the page
    assert "&lt;A&gt;" in svg and "<A>" not in svg
    assert timeline_svg([]) == "" and timeline_svg([("2019-01-01", None, "x")]) == ""
    one = timeline_svg([("2019-01-21", "good", "x")])
    assert one.count("<circle") == 1


def test_filters_by_council_kind_and_judgement_reach_the_engine(shipped, monkeypatch):
    seen = []
    ask = shipped.service.ask
    monkeypatch.setattr(shipped.service, "ask", lambda *a, **kw: seen.append(a[3]) or ask(*a, **kw))
    view = shipped.ask(
        "management oversight", None, councils=["Slough"], kinds=["SIF inspection"],
        judgements=["inadequate"],
    )  # fmt: skip
    f = seen[-1]
    assert (f.councils, f.kinds, f.judgements) == (
        ("Slough",),
        ("SIF inspection",),
        ("inadequate",),
    )
    assert {p["kind"] for p in view.state["passages"]} == {"SIF inspection"}
    assert "judged inadequate" in view.state["turns"]["1"]["filters"]
    ilacs = shipped.ask("management oversight", None, kinds=["ILACS standard inspection"])
    assert {p["source"] for p in ilacs.state["passages"]} <= {
        ILACS_2019,
        "children's services inspection - 17 march 2023.pdf",
    }
    choices = shipped.index_view()
    assert choices.councils == ["Slough"] and "focused visit" in choices.kinds
    assert choices.judgements == ["requires improvement", "inadequate"]


def test_markdown_and_csv_export_of_an_answer(shipped):
    view = shipped.ask("What did inspectors say about management oversight?", None)
    top = view.state["passages"][0]
    md = view.markdown
    assert md.startswith("## What did inspectors say about management oversight?")
    assert "[1]" in md and "### Passages" in md
    first_line = top["text"].strip().splitlines()[0]
    assert f"> {first_line}" in md  # the passage quoted whole
    cited = shipped.service.engine.ask("What did inspectors say about management oversight?")
    assert f"**[1] {cited.passages[0].citation}**" in md
    assert view.csv is not None and view.csv.endswith(".csv")
    with open(view.csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "kind",
        "rank",
        "council",
        "report",
        "source",
        "date",
        "page",
        "grade",
        "text",
    ]
    assert rows[1][0] == "answer"
    passage = next(r for r in rows if r[0] == "passage" and r[1] == "1")
    assert passage[4] == top["source"] and passage[8] == top["text"]
    again = shipped.ask("What did inspectors say about management oversight?", None)
    assert again.csv == view.csv  # the same answer, the same file
    assert shipped.clear().markdown == "" and shipped.clear().csv is None


def test_exports_are_bounded(shipped):
    from rag_qa.web.service import MAX_EXPORTS

    for n in range(MAX_EXPORTS + 5):
        shipped.service.write_export(f"row {n}\n", "answer")
    assert len(list(shipped.service.export_dir.glob("*.csv"))) <= MAX_EXPORTS


def _sources(view):
    return re.findall(r"<div class='rq-source'>([^<]+)</div>", view.panel)


def test_index_table_filters_and_sorts(shipped):
    everything = shipped.reports()
    assert everything.shown == 13 and everything.sort == {"by": "inspected", "descending": False}
    assert everything.panel.startswith('<div class="rq-index-head">13 reports')
    judged = shipped.reports(judgement="inadequate")
    assert judged.shown == 2 and "showing 2" in judged.panel
    assert all("february 2014" in s or "february 2016" in s for s in _sources(judged))
    assert shipped.reports(judgement="requires improvement").shown == 2
    assert shipped.reports(kind="focused visit").shown == 5
    assert shipped.reports(year="2019").shown == 1 and shipped.reports(council="Slough").shown == 13
    assert shipped.reports(council="Nowhere").shown == 0
    assert "No report matches" in shipped.reports(council="Nowhere").panel
    graded = shipped.reports(judgement="not graded")
    assert graded.shown == 9 and ILACS_2019 not in _sources(graded)
    # Sorting: by visit date (the default), newest first, by overall grade best first.
    dates = re.findall(r'data-open="report:([^"]+)"', everything.panel)
    newest = shipped.reports(sort={"by": "inspected", "descending": True})
    dated = re.findall(r'data-open="report:([^"]+)"', newest.panel)
    assert dated[0] != dates[0] and "▼" in newest.panel
    best = shipped.reports(sort={"by": "overall", "descending": True})
    order = re.findall(r'<span class="rq-grade rq-grade-([a-z-]+)">', best.panel)
    assert order[:2] == ["requires-improvement"] * 2
    worst = shipped.reports(sort={"by": "overall", "descending": False})
    first = re.findall(r"<tr class=\"rq-open\"[^>]*>.*?</tr>", worst.panel)[0]
    assert "rq-grade-inadequate" in first
    with open(judged.csv, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert lines[0].startswith("source,title,council,kind") and len(lines) == 3


def test_index_sort_toggles_and_a_row_opens_its_report(shipped):
    from rag_qa.web.reports import next_sort

    assert next_sort(None, "council") == {"by": "council", "descending": False}
    assert next_sort({"by": "council", "descending": False}, "council")["descending"] is True
    assert next_sort({"by": "council", "descending": True}, "kind")["descending"] is False
    assert next_sort({"by": "kind", "descending": True}, "<bogus>") == {
        "by": "kind",
        "descending": True,
    }
    view = shipped.reports(judgement="inadequate")
    target = re.findall(r'data-open="(report:[^"]+)"', view.panel)[0]
    opened = shipped.open_target(target, None)
    assert "Page 1" in opened.html and "lead inspector Gary Lamb" in opened.html
    first = shipped.open_target("report:" + target.split(":")[1] + ":", None)
    assert "Page 1" in first.html  # no page: the first
