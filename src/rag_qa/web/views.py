"""HTML and Markdown for the web chat: highlighted passages, pages in context, the index
panel, and PDF pages rendered with pdftoppm. Everything from a document is escaped."""

from __future__ import annotations

import contextlib
import hashlib
import html
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rag_qa.answer.extract import Answer
from rag_qa.records import Chunk, Document, format_date
from rag_qa.text.frameworks import GRADE_RANK, GRADES
from rag_qa.web.memory import prune_files

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Highlighting (everything escaped; the answering sentences wrapped in <mark>)


def find_span(text: str, sentence: str, start: int = 0, end: int | None = None):
    """(start, end) of ``sentence`` in ``text[start:end]``, whitespace-insensitive, or None."""
    end = len(text) if end is None else end
    sentence = sentence.strip()
    if not sentence:
        return None
    i = text.find(sentence, start, end)
    if i >= 0:
        return i, i + len(sentence)
    pattern = r"\s+".join(re.escape(w) for w in sentence.split())
    m = re.compile(pattern).search(text, start, end)
    return m.span() if m else None


def _render(text: str, passage: tuple[int, int] | None, marks: list[tuple[int, int]]) -> str:
    """Escaped ``text``; the ``passage`` span in a span.rq-passage, ``marks`` in <mark>."""
    points = {0, len(text)}
    if passage:
        points |= set(passage)
    for a, b in marks:
        points |= {a, b}
    cuts = sorted(p for p in points if 0 <= p <= len(text))
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a == b:
            continue
        piece = html.escape(text[a:b])
        if any(m0 <= a and b <= m1 for m0, m1 in marks):
            piece = f"<mark>{piece}</mark>"
        if passage and passage[0] <= a and b <= passage[1]:
            piece = f'<span class="rq-passage">{piece}</span>'
        out.append(piece)
    return "".join(out)


def highlight(text: str, sentences: Sequence[str]) -> str:
    """``text`` HTML-escaped, with each of ``sentences`` found in it wrapped in <mark>."""
    marks = [s for s in (find_span(text, x) for x in sentences) if s]
    return _render(text, None, marks)


def _page_index(doc: Document, number: int | None) -> int | None:
    if not doc.pages:
        return None
    if number is None:
        return 0
    for i, page in enumerate(doc.pages):
        if page.number == number:
            return i
    return None


def context_html(doc: Document, chunk: Chunk, sentences: Sequence[str] = ()) -> str:
    """The page(s) of ``doc`` that hold ``chunk``, the passage highlighted within them and the
    answering ``sentences`` marked; everything escaped."""
    first = _page_index(doc, chunk.page_start)
    last = _page_index(doc, chunk.page_end if chunk.page_end is not None else chunk.page_start)
    if first is None:
        return f'<div class="rq-page-text">{highlight(chunk.text, sentences)}</div>'
    last = first if last is None or last < first else last
    blocks = []
    for i in range(first, last + 1):
        page = doc.pages[i]
        text = page.text
        a = chunk.char_start if i == first else 0
        b = chunk.char_end if i == last else len(text)
        a, b = max(0, min(a, len(text))), max(0, min(b, len(text)))
        if b <= a:  # offsets out of step with the text: fall back to finding the passage
            found = find_span(text, chunk.text)
            a, b = found if found else (0, 0)
        marks = [s for s in (find_span(text, x, a, b) for x in sentences) if s]
        label = f"Page {page.number}" if page.number is not None else "Full text"
        blocks.append(
            f'<div class="rq-page"><div class="rq-page-no">{label}</div>'
            f'<div class="rq-page-text">{_render(text, (a, b) if b > a else None, marks)}</div>'
            "</div>"
        )
    return "".join(blocks)


def passage_view_html(p: dict, doc: Document | None, chunk: Chunk | None, frame: str = "") -> str:
    """A chosen passage (its page record ``p``) in context: a heading (rank, title, date,
    source, and the number of pages when the document is the one answered from), then
    ``frame`` (extra HTML) and the page(s) of ``doc`` with ``chunk`` highlighted;
    the passage alone when the document has changed since the answer (``doc`` None or of
    another content hash) or ``chunk`` is not one of its passages."""
    head = (
        f'<div class="rq-context-head"><b>[{p["rank"]}] {html.escape(p["title"])}</b><br>'
        f"{meta_line(p)} · {html.escape(p['source'])}"
    )
    alone = highlight(p["text"], p["sentences"])
    if doc is None or doc.content_hash != p["content_hash"]:
        return (
            head + "</div>"
            '<div class="rq-empty">This report has changed in the index since the answer; '
            "showing the passage alone.</div>"
            f'<div class="rq-page"><div class="rq-page-text">{alone}</div></div>'
        )
    head += f" · {len(doc.pages)} page{'s' if len(doc.pages) != 1 else ''}</div>"
    if chunk is None or chunk.doc_id != doc.doc_id:
        return head + f'<div class="rq-page-text">{alone}</div>'
    return head + frame + context_html(doc, chunk, p["sentences"])


# ---------------------------------------------------------------------------------------------
# Rendering for the page


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def md_escape(text: str) -> str:
    """Plain text made safe for the Chatbot's Markdown: punctuation escaped, then HTML."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def chat_markdown(asked: str, question: str, answer: Answer, result) -> str:
    lines = []
    if question != " ".join(asked.split()):
        lines.append(f"*Read as: “{md_escape(question)}”*")
    if answer.abstained:
        lines.append(md_escape(answer.text))
    else:
        if result.notes:
            lines.append("*" + md_escape(" ".join(result.notes)) + "*")
        lines.append(
            " ".join(f"{md_escape(s.text)} **\\[{s.passage_rank}\\]**" for s in answer.sentences)
        )
    cited = sorted({s.passage_rank for s in answer.sentences})
    by_rank = {p.rank: p for p in result.passages}
    groups: dict[str, list[int]] = {}  # one line per citation: "[1] [2] Report, date"
    for r in cited:
        if r in by_rank:
            groups.setdefault(by_rank[r].citation, []).append(r)
    refs = [
        " ".join(f"**\\[{r}\\]**" for r in ranks) + " " + md_escape(citation)
        for citation, ranks in groups.items()
    ]
    if refs:
        lines.append("  \n".join(refs))
    return "\n\n".join(lines)


def meta_line(p: dict) -> str:
    bits = [format_date(p["date"]) if p.get("date") else "undated"]
    if p.get("page") is not None:
        end = p.get("page_end")
        bits.append(f"p. {p['page']}" + (f"-{end}" if end not in (None, p["page"]) else ""))
    bits.append(p.get("doc_type") or "")
    bits.append(f"score {p['score']:.3f}")
    return " · ".join(html.escape(b) for b in bits if b)


def passages_html(passages: Sequence[dict]) -> str:
    if not passages:
        return '<div class="rq-empty">No passages yet: ask a question.</div>'
    cards = []
    for p in passages:
        cited = bool(p["sentences"])
        also = "".join(
            f'<div class="rq-also">also in {html.escape(a["source"])}'
            + (f", p. {a['page']}" if a.get("page") else "")
            + "</div>"
            for a in p.get("also_in", [])
        )
        badge = '<span class="rq-badge">cited</span>' if cited else ""
        cards.append(
            f'<div class="rq-card{" rq-cited" if cited else ""}" data-rank="{p["rank"]}">'
            f'<div class="rq-card-head"><span class="rq-rank">[{p["rank"]}]</span> '
            f'<span class="rq-title">{html.escape(p["title"])}</span> {badge}</div>'
            f'<div class="rq-meta">{meta_line(p)}</div>'
            f'<div class="rq-source">{html.escape(p["source"])}'
            + (f" · {html.escape(p['section'])}" if p.get("section") else "")
            + f"</div>{also}"
            f'<div class="rq-text">{highlight(p["text"], p["sentences"])}</div></div>'
        )
    return "".join(cards)


def passage_choice(p: dict) -> str:
    """The label to open a passage: "[2] Focused visit to Slough … · 12 July 2024 · p. 3"."""
    title = p["title"] if len(p["title"]) <= 48 else p["title"][:46].rstrip() + "…"
    bits = [f"[{p['rank']}] {title}", format_date(p["date"]) if p.get("date") else "undated"]
    if p.get("page") is not None:
        bits.append(f"p. {p['page']}")
    return " · ".join(bits)


def index_html(manifest: dict, documents: dict[str, Document]) -> str:
    files = manifest.get("files", {})
    rows = []
    for doc in sorted(documents.values(), key=lambda d: (d.date or d.visit_end or "", d.source)):
        entry = files.get(doc.source, {})
        visit = (
            f"{format_date(doc.visit_start)} – {format_date(doc.visit_end)}"
            if doc.visit_start and doc.visit_end
            else "–"
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(doc.title)}<div class='rq-source'>{html.escape(doc.source)}</div></td>"
            f"<td>{html.escape(doc.doc_type)}</td>"
            f"<td>{format_date(doc.date) if doc.date else 'undated'}</td>"
            f"<td>{html.escape(visit)}</td>"
            f"<td class='rq-num'>{entry.get('pages', '–')}</td>"
            f"<td class='rq-num'>{entry.get('chunks', '–')}</td>"
            "</tr>"
        )
    return (
        f'<div class="rq-index-head">{index_head(manifest, len(documents))}</div>'
        '<table class="rq-index"><thead><tr><th>Report</th><th>Type</th><th>Date</th>'
        "<th>Visit</th><th>Pages</th><th>Passages</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + skipped_html(manifest)
    )


def index_head(manifest: dict, total: int) -> str:
    """ "12 reports, 340 passages · built … · model …" (escaped)."""
    return (
        f"{total} reports, {manifest.get('chunks', '?')} passages · built "
        f"{html.escape(str(manifest.get('built_at', '?')))} · model "
        f"{html.escape(str(manifest.get('model', '?')))}"
    )


def skipped_html(manifest: dict) -> str:
    """The files the index left out, with the reason ("" when none)."""
    skipped = manifest.get("skipped", {})
    items = "".join(
        f"<li>{html.escape(s)}: {html.escape(str(v.get('reason', '')))}</li>"
        for s, v in sorted(skipped.items())
    )
    return f"<div class='rq-skipped'>Not indexed:<ul>{items}</ul></div>" if skipped else ""


# ---------------------------------------------------------------------------------------------
# PDF pages


MAX_PAGE_IMAGES = 200  # rendered pages kept on disk (the least recently shown go first)


def render_pdf_page(
    pdf: Path, page: int, out_dir: Path, dpi: int = 90, keep: int = MAX_PAGE_IMAGES
) -> Path | None:
    """The page rendered to PNG with ``pdftoppm``, cached in ``out_dir`` (at most ``keep``
    pages: the least recently shown are deleted); None if that is not possible (no pdftoppm,
    a broken file, a timeout)."""
    exe = shutil.which("pdftoppm")
    if exe is None or page < 1:
        return None
    try:
        stat = pdf.stat()
    except OSError:
        return None
    key = hashlib.sha1(f"{pdf}|{stat.st_size}|{stat.st_mtime_ns}|{page}|{dpi}".encode())
    out = out_dir / f"page-{key.hexdigest()[:20]}"
    png = out.with_suffix(".png")
    if png.exists():
        with contextlib.suppress(OSError):
            os.utime(png)  # recently shown: kept longest
        return png
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [exe, "-f", str(page), "-l", str(page), "-r", str(dpi), "-png", "-singlefile"]
            + [str(pdf), str(out)],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as err:
        log.warning("could not render page %s of %s: %s", page, pdf, err)
        return None
    if not png.exists():
        return None
    prune_files(out_dir, keep, "page-*.png")
    return png if png.exists() else None


# ---------------------------------------------------------------------------------------------
# Facts tables, timelines and the list of reports (from the plain records of conversation.py)

SHORT_AREAS = {
    "overall_effectiveness": "Overall",
    "impact_of_leaders": "Leaders",
    "help_and_protection": "Help and protection",
    "in_care": "In care",
    "care_leavers": "Care leavers",
    "looked_after": "Looked after",
    "adoption": "Adoption",
    "leadership": "Leadership",
    "lscb": "LSCB",
}


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def span_text(start: str | None, end: str | None) -> str:
    """A visit as "21 January 2019 – 1 February 2019" (one day once; "–" when unknown)."""
    if not start:
        return "–"
    if not end or end == start:
        return format_date(start)
    return f"{format_date(start)} – {format_date(end)}"


def grade_badge(grade: str | None) -> str:
    """A grade as a coloured badge ("not graded" in grey)."""
    if not grade:
        return '<span class="rq-grade rq-grade-none">not graded</span>'
    slug = re.sub(r"[^a-z]+", "-", grade.lower()).strip("-")
    return f'<span class="rq-grade rq-grade-{slug}">{_e(grade)}</span>'


def facts_table_html(facts: dict | None) -> str:
    """A facts answer (``conversation.facts_record``) as a table, a row per report; each row
    opens its report at the judgement's page (``data-open="fact:<n>"``). Empty without rows."""
    if not facts or not facts["rows"]:
        return ""
    area = SHORT_AREAS.get(facts["rows"][0]["area"], facts["rows"][0]["area_label"])
    rows = []
    for i, r in enumerate(facts["rows"]):
        page = f"p. {r['page']}" if r.get("page") else "–"
        rows.append(
            f'<tr class="rq-open" data-open="fact:{i}" title="Open the report at this page">'
            f"<td>{_e(r['council'] or '–')}</td>"
            f"<td>{_e(r['citation'])}</td>"
            f"<td>{_e(r['kind'])}</td><td>{_e(span_text(r['visit_start'], r['visit_end']))}</td>"
            f"<td>{grade_badge(r['grade'])}</td><td>{_e(r['lead_inspector'] or '–')}</td>"
            f"<td class='rq-num'><span class='rq-link'>{_e(page)}</span></td></tr>"
        )
    return (
        f'<div class="rq-facts-head">{_e(facts["description"])} · {len(rows)} report'
        f"{'s' if len(rows) != 1 else ''} · click a row to open the report</div>"
        '<div class="rq-scroll"><table class="rq-index rq-facts"><thead><tr><th>Council</th>'
        f"<th>Report (cited)</th><th>Kind</th><th>Inspected</th><th>{_e(area)}</th>"
        "<th>Lead inspector</th><th>Page</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


PLOT_W, PLOT_H = 600, 200  # the timeline plot's size (px; it scales down to fit)
_PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP, _PLOT_BOTTOM = 150, 40, 30, 40


def _month(day: str) -> str:
    """ "2019-01-21" -> "Jan 2019" (a point's label)."""
    try:
        return date.fromisoformat(day[:10]).strftime("%b %Y")
    except (TypeError, ValueError):
        return day


def _ordinal(day: str) -> int | None:
    try:
        return date.fromisoformat(day[:10]).toordinal()
    except (TypeError, ValueError):
        return None


def timeline_svg(points: Sequence[Sequence[str]]) -> str:
    """An inline SVG plot of judgements over time: x the visit date, y the four grades
    (outstanding at the top), a labelled point per graded report joined by a line. Empty
    without a graded point."""
    pts = [(_ordinal(d), g, label, d) for d, g, label in points if g in GRADE_RANK]
    pts = [p for p in pts if p[0] is not None]
    if not pts:
        return ""
    lo, hi = min(p[0] for p in pts), max(p[0] for p in pts)
    span = max(hi - lo, 1)
    inner_w = PLOT_W - _PLOT_LEFT - _PLOT_RIGHT
    inner_h = PLOT_H - _PLOT_TOP - _PLOT_BOTTOM

    def x(day: int) -> float:
        return _PLOT_LEFT + (inner_w / 2 if hi == lo else inner_w * (day - lo) / span)

    def y(grade: str) -> float:
        return _PLOT_TOP + inner_h * (4 - GRADE_RANK[grade]) / 3

    parts = [
        f'<svg class="rq-plot" xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'style="max-width: {PLOT_W}px" viewBox="0 0 {PLOT_W} {PLOT_H}" role="img" '
        'aria-label="Overall effectiveness judgements over time">'
    ]
    for g in GRADES:  # the y axis: a grid line and a label per grade
        parts.append(
            f'<line class="rq-plot-grid" x1="{_PLOT_LEFT}" x2="{PLOT_W - _PLOT_RIGHT}" '
            f'y1="{y(g):.1f}" y2="{y(g):.1f}" stroke="#cbd5e1" stroke-dasharray="3 3"/>'
            f'<text x="{_PLOT_LEFT - 8}" y="{y(g) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#475569">{_e(g)}</text>'
        )
    line = " ".join(f"{x(p[0]):.1f},{y(p[1]):.1f}" for p in pts)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#b45309" stroke-width="2"/>')
    below, last = False, None
    for day, grade, label, iso in pts:
        # A label close to the one before on the same line goes on the other side of it.
        below = (not below) if last and last[1] == grade and x(day) - last[0] < 70 else False
        last = (x(day), grade)
        ty = y(grade) + 17 if below else y(grade) - 9
        parts.append(
            f'<g class="rq-plot-point"><title>{_e(label)}: {_e(grade)} '
            f"({_e(format_date(iso[:10]))})</title>"
            f'<circle cx="{x(day):.1f}" cy="{y(grade):.1f}" r="5" fill="#d97706"/>'
            f'<text x="{x(day):.1f}" y="{ty:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#1e293b">{_e(_month(iso))}</text></g>'
        )
    parts.append(
        f'<line x1="{_PLOT_LEFT}" x2="{PLOT_W - _PLOT_RIGHT}" y1="{PLOT_H - 18}" '
        f'y2="{PLOT_H - 18}" stroke="#94a3b8"/>'
        f'<text x="{PLOT_W - _PLOT_RIGHT}" y="{PLOT_H - 4}" font-size="10" fill="#475569" '
        'text-anchor="end">visit date →</text></svg>'
    )
    return "".join(parts)


def timeline_html(timeline: dict | None) -> str:
    """A timeline (``conversation.timeline_record``): its note, the plot of the overall
    judgements, then an entry per report in visit-date order (date, kind, grade, the quote and
    its citation); an entry with a passage opens it (``data-open="entry:<n>"``)."""
    if not timeline:
        return ""
    head = f'<div class="rq-facts-head">Timeline · {_e(timeline["note"])}</div>'
    if not timeline["entries"]:
        return f'<div class="rq-timeline">{head}</div>'
    items = []
    for i, e in enumerate(timeline["entries"]):
        top = (
            f'<div class="rq-tl-head"><span class="rq-tl-date">{_e(format_date(e["when"]))}'
            f"</span> · {_e(e['kind'])} {grade_badge(e['grade']) if e['grade'] else ''}</div>"
        )
        if e["passage"] is None:
            items.append(
                f'<li class="rq-tl-entry" data-when="{_e(e["when"])}">{top}'
                f'<div class="rq-empty">Nothing on this topic in {_e(e["label"])}.</div></li>'
            )
            continue
        items.append(
            f'<li class="rq-tl-entry rq-open" data-open="entry:{i}" data-when="{_e(e["when"])}" '
            f'title="Open this passage in its page">{top}'
            f'<blockquote class="rq-tl-quote">{_e(e["quote"])}</blockquote>'
            f'<div class="rq-source">{_e(e["citation"])}</div></li>'
        )
    plot = timeline_svg(timeline["points"])
    return (
        f'<div class="rq-timeline">{head}'
        + (f'<div class="rq-plot-box">{plot}</div>' if plot else "")
        + f'<ol class="rq-tl">{"".join(items)}</ol></div>'
    )


def report_page_html(doc: Document, page: int | None, marks: Sequence[str] = (), frame=""):
    """A report opened at ``page`` (its first page when None or not one of its pages): a
    heading (label, dates, source, number of pages), ``frame``, and the page's text with
    ``marks`` (e.g. the judgement's words) highlighted; everything escaped."""
    i = _page_index(doc, page)
    i = 0 if i is None and doc.pages else i
    when = span_text(doc.visit_start, doc.visit_end)
    lead = f" · lead inspector {_e(doc.lead_inspector)}" if doc.lead_inspector else ""
    head = (
        f'<div class="rq-context-head"><b>{_e(doc.label)}</b><br>{_e(doc.kind)} · inspected '
        f"{_e(when)}{lead} · {_e(doc.source)} · {len(doc.pages)} page"
        f"{'s' if len(doc.pages) != 1 else ''}</div>"
    )
    if i is None:
        return head + '<div class="rq-empty">This report has no page text.</div>'
    shown = doc.pages[i]
    label = f"Page {shown.number}" if shown.number is not None else "Full text"
    return (
        head + frame + f'<div class="rq-page"><div class="rq-page-no">{label}</div>'
        f'<div class="rq-page-text">{highlight(shown.text, marks)}</div></div>'
    )


REPORT_COLUMNS = (  # (sort key, heading) of the Index tab's table
    ("council", "Council"),
    ("label", "Report"),
    ("kind", "Kind"),
    ("inspected", "Inspected"),
    ("published", "Published"),
    ("lead_inspector", "Lead inspector"),
    ("overall", "Overall effectiveness"),
)


def reports_table_html(rows: Sequence[dict], head: str, sort: str, descending: bool) -> str:
    """The Index tab's table: a row per report (``conversation.report_row``) with its facts;
    a heading sorts by its column (``data-sort``), a row opens the report at its judgement's
    page (``data-open="report:<doc_id>:<page>"``)."""
    arrow = " ▼" if descending else " ▲"
    heads = "".join(
        f'<th class="rq-sort" data-sort="{key}" title="Sort by {_e(name.lower())}">'
        f"{_e(name)}{arrow if key == sort else ''}</th>"
        for key, name in REPORT_COLUMNS
    )
    body = []
    for r in rows:
        areas = "".join(
            f"<div>{_e(SHORT_AREAS.get(k, k))}: {grade_badge(g)}</div>"
            for k, g in (r["judgements"] or {}).items()
            if k != "overall_effectiveness"
        )
        target = f"report:{r['doc_id']}:{r['judgement_page'] or ''}"
        body.append(
            f'<tr class="rq-open" data-open="{_e(target)}" data-doc="{_e(r["doc_id"])}" '
            'title="Open the report">'
            f"<td>{_e(r['council'] or '–')}</td>"
            f"<td>{_e(r['label'])}<div class='rq-source'>{_e(r['source'])}</div></td>"
            f"<td>{_e(r['kind'])}</td><td>{_e(span_text(r['visit_start'], r['visit_end']))}</td>"
            f"<td>{_e(format_date(r['published']) if r['published'] else '–')}</td>"
            f"<td>{_e(r['lead_inspector'] or '–')}</td>"
            f"<td>{grade_badge(r['overall']) if r['judgements'] else '–'}</td>"
            f"<td class='rq-areas'>{areas or '–'}</td></tr>"
        )
    if not body:
        body.append('<tr><td colspan="8" class="rq-empty">No report matches the filters.</td></tr>')
    return (
        f'<div class="rq-index-head">{head}</div>'
        f'<table class="rq-index rq-reports"><thead><tr>{heads}<th>Other areas</th></tr>'
        "</thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def facts_markdown(facts: dict | None, timeline: dict | None) -> str:
    """The chat's lines for a facts table (a line per report: council, visit, the grade and
    its page) and a timeline (its note); "" for neither. Everything escaped."""
    lines = []
    if facts and facts["rows"]:
        lines.append(f"*{md_escape(facts['description'])}* (the table beside the passages):")
        for i, r in enumerate(facts["rows"], 1):
            grade = r["grade"] or "not graded"
            page = f", p\\. {r['page']}" if r.get("page") else ""
            lines.append(
                f"{i}\\. {md_escape(r['council'] or r['label'])}, inspected "
                f"{md_escape(span_text(r['visit_start'], r['visit_end']))}: "
                f"**{md_escape(grade)}** \\({md_escape(r['label'])}{page}\\)"
            )
    if timeline:
        lines.append(f"*Timeline: {md_escape(timeline['note'])}*")
    return "  \n".join(lines)
