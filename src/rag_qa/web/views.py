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
from pathlib import Path
from urllib.parse import quote

from rag_qa.answer.extract import Answer
from rag_qa.records import Chunk, Document, format_date
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
    ``frame`` (see ``pdf_frame_html``) and the page(s) of ``doc`` with ``chunk`` highlighted;
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


def pdf_frame_html(pdf: Path, page: int) -> str:
    """The PDF shown at ``page`` in an iframe, from Gradio's file route (used only when the
    page cannot be rendered to PNG and the corpus is served)."""
    url = "/gradio_api/file=" + quote(str(pdf))
    return (
        f'<iframe class="rq-pdf-frame" title="PDF page" '
        f'src="{html.escape(url)}#page={int(page)}"></iframe>'
    )


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
    skipped = manifest.get("skipped", {})
    skipped_html = "".join(
        f"<li>{html.escape(s)}: {html.escape(str(v.get('reason', '')))}</li>"
        for s, v in sorted(skipped.items())
    )
    return (
        f'<div class="rq-index-head">{len(documents)} reports, {manifest.get("chunks", "?")} '
        f"passages · built {html.escape(str(manifest.get('built_at', '?')))} · model "
        f"{html.escape(str(manifest.get('model', '?')))}</div>"
        '<table class="rq-index"><thead><tr><th>Report</th><th>Type</th><th>Date</th>'
        "<th>Visit</th><th>Pages</th><th>Passages</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + (f"<div class='rq-skipped'>Not indexed:<ul>{skipped_html}</ul></div>" if skipped else "")
    )


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
