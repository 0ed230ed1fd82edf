"""The web chat (``rag-qa serve``): questions answered with cited passages, in a Gradio app.

The page has the chat (the extractive answer with its ``[n]`` markers), the passages it cites
(report title, date, page and score, the answering sentence highlighted), a view of a chosen
passage in context (the whole page of the report, and for a PDF the page itself rendered with
``pdftoppm`` when it is installed), filters (years, document types, particular reports, number
of passages), example questions, an index panel, optional uploads into the corpus, and thumbs
up/down saved as JSON Lines that the eval suite can read as questions.

Everything that is not Gradio wiring is a plain function here and unit-tested: follow-up
rewriting (``rewrite_follow_up``), highlighting (``highlight``, ``context_html``), filtering
(``Filters``, ``filtered_search``), upload checks (``safe_upload_name``, ``check_upload``,
``store_upload``) and feedback records (``feedback_record``). ``gradio`` is imported only
inside ``create_app``/``launch``, so the CLI stays fast to start.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

from . import generations as G
from .answer import Answer, build_answer
from .councils import council_mentions
from .query import find_doc_types, find_period
from .records import Chunk, Document, Passage, format_date
from .settings import Settings

log = logging.getLogger(__name__)

EXAMPLES = [
    "What did Ofsted say about management oversight in 2018?",
    "How high were caseloads in the 2023 inspection?",
    "What did the November 2025 visit find about care leavers?",
    "What did the latest focused visit say about the front door?",
]
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPLOAD_TYPES = (".pdf", ".txt", ".md")
MAX_QUESTION_CHARS = 1000
FILTER_POOL = 40  # passages searched before filtering by year, type or report
MAX_PASSAGES = 10


# ---------------------------------------------------------------------------------------------
# Follow-up questions

_LEAD = re.compile(
    r"^\s*(?:(?:and|but|so|also|ok(?:ay)?|then)[\s,]+)?"
    r"(?:(?:what|how)\s+about|what\s+of|(?:the\s+)?same\s+(?:question\s+)?for)\b[\s,]*"
    r"|^\s*(?:and|also)\b[\s,]*",
    re.IGNORECASE,
)
_LATEST = re.compile(
    r"\b(?:latest|most\s+recent|newest|current|last\s+(?:one|inspection|visit|report))"
    r"(?:\s+(?:one|inspection|visit|report|letter))?\b",
    re.IGNORECASE,
)
_PREP = r"(?:in|during|for|from|at|on|of|by|since|before|after|until|between)"
_PREP_BEFORE = re.compile(r"\b(?:in|during|for|from|at|of|by)\s+\Z", re.IGNORECASE)
_STARTS_WITH_PREP = re.compile(rf"^{_PREP}\b", re.IGNORECASE)
# Words a follow-up may hold besides its period, document type or council.
_FILLER = set(
    """in the a an for during of at on from by since before after until between to then instead
    year years one ones please same again report reports letter letters ofsted council councils
    it that this those these there they them time period was were did do does is are what how
    about and also say said says find found show showed tell me us""".split()
)


@dataclass(frozen=True)
class _Parts:
    """Where a question names a period, document types, councils or "the latest"."""

    period: tuple[int, int] | None
    types: tuple[tuple[int, int], ...]
    councils: tuple[tuple[int, int], ...]
    latest: tuple[int, int] | None

    @property
    def spans(self) -> list[tuple[int, int]]:
        out = list(self.types) + list(self.councils)
        out += [s for s in (self.period, self.latest) if s]
        return sorted(out)

    @property
    def any(self) -> bool:
        return bool(self.spans)


def _parts(text: str, offset: int = 0) -> _Parts:
    """The parts of ``text`` found at or after ``offset``, with offsets counted from there
    (the words before it still count as context, e.g. "and Reading" is not a sentence start)."""

    def shift(span: tuple[int, int]) -> tuple[int, int]:
        return span[0] - offset, span[1] - offset

    _, evidence = find_period(text, date.today())
    periods = [(a, a + len(phrase)) for a, phrase in evidence if a >= offset]
    types = [(a, a + len(phrase)) for a, phrase, _ in find_doc_types(text) if a >= offset]
    councils = [(m.start, m.end) for m in council_mentions(text) if m.start >= offset]
    latest = next((m.span() for m in _LATEST.finditer(text) if m.start() >= offset), None)
    return _Parts(
        shift(periods[0]) if periods else None,
        tuple(shift(s) for s in types),
        tuple(shift(s) for s in councils),
        shift(latest) if latest else None,
    )


def _content_words(text: str, spans: list[tuple[int, int]]) -> list[str]:
    for a, b in sorted(spans, reverse=True):
        text = text[:a] + " " + text[b:]
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _FILLER and len(w) > 1]


_NEEDS_NO_PREP = re.compile(
    r"^(?:last|this|past|previous|the\s+(?:past|last|previous|year|current))\b|\bago$",
    re.IGNORECASE,
)


def _with_prep(phrase: str) -> str:
    """``phrase`` ready to follow a topic: "2024" -> "in 2024"; "since 2020", "last year"
    unchanged; a leading preposition in lower case."""
    if _STARTS_WITH_PREP.match(phrase):
        return phrase[0].lower() + phrase[1:]
    return phrase if _NEEDS_NO_PREP.search(phrase) else f"in {phrase}"


def _replace(text: str, span: tuple[int, int], new: str, keep_prep: bool) -> str:
    """``text`` with ``span`` replaced by ``new``; a preposition before the span ("in 2018")
    is replaced too when ``new`` brings its own (or gets "in")."""
    a, b = span
    before = _PREP_BEFORE.search(text[:a])
    if keep_prep or (not before and not _STARTS_WITH_PREP.match(text[a:b])):
        new = _strip_prep(new)
        if re.search(r"\bthe\s+\Z", text[:a], re.IGNORECASE):
            new = re.sub(r"^the\s+", "", new, flags=re.IGNORECASE)
        return text[:a] + new + text[b:]
    if before:
        a = before.start()
    return text[:a] + _with_prep(new) + text[b:]


def _strip_prep(phrase: str) -> str:
    return re.sub(r"^(?:in|during|for|at|of)\s+", "", phrase, flags=re.IGNORECASE)


def _append(question: str, phrase: str) -> str:
    body = question.rstrip().rstrip("?.!").rstrip()
    return f"{body} {_with_prep(phrase)}?"


def rewrite_follow_up(question: str, history_questions: Sequence[str]) -> str:
    """The question to search for, given the earlier questions of the conversation.

    A short question that only changes the period, document type, council or asks for the
    latest report ("and in 2024?", "what about the focused visits?", "2019?") takes the topic of
    the previous question: "What did Ofsted say about management oversight in 2018?" followed
    by "and in 2024?" becomes "What did Ofsted say about management oversight in 2024?". The
    previous question's period (or type, or council) is replaced when it has one; otherwise the
    new one is appended. Any other question is returned as it is (stripped)."""
    q = " ".join(question.split())
    previous = next((h for h in reversed(history_questions) if h and h.strip()), None)
    if not q or previous is None:
        return q
    lead = _LEAD.match(q)
    start = lead.end() if lead else 0
    body = q.rstrip("?.! ")
    rest = body[start:]
    if not rest or len(rest.split()) > 8:
        return q
    new = _parts(body, start)
    if not new.any or _content_words(rest, new.spans):
        return q
    prev = " ".join(previous.split())
    old = _parts(prev)
    phrase = rest
    kinds_new = {
        k for k, v in (("p", new.period or new.latest), ("t", new.types), ("c", new.councils)) if v
    }
    kinds_old = {
        k for k, v in (("p", old.period or old.latest), ("t", old.types), ("c", old.councils)) if v
    }
    if kinds_new <= kinds_old and len(new.spans) == len(kinds_new):
        # Replace each slot in place, right to left so that offsets stay valid.
        edits: list[tuple[tuple[int, int], str, bool]] = []
        if "p" in kinds_new:
            span = new.period or new.latest
            a, b = span
            before = _PREP_BEFORE.search(rest[:a]) or re.search(r"\bthe\s+\Z", rest[:a])
            text = rest[before.start() if before else a : b]
            edits.append((old.period or old.latest, text, False))
        if "t" in kinds_new:
            a, b = new.types[0]
            edits.append((old.types[0], rest[a:b], True))
        if "c" in kinds_new:
            a, b = new.councils[0]
            edits.append((old.councils[0], rest[a:b], True))
        out = prev
        for span, text, keep in sorted(edits, key=lambda e: -e[0][0]):
            out = _replace(out, span, text, keep)
        return out
    if "p" in kinds_new and (old.period or old.latest):
        return _replace(prev, old.period or old.latest, phrase, False)
    return _append(prev, phrase)


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


# ---------------------------------------------------------------------------------------------
# Filters


def doc_year(doc: Document) -> int | None:
    when = doc.date or doc.visit_end or doc.visit_start
    return int(when[:4]) if when else None


@dataclass(frozen=True)
class Filters:
    """Which documents may answer: a year range (inclusive; undated documents are left out
    when it is set), document types and particular documents (by doc_id)."""

    year_from: int | None = None
    year_to: int | None = None
    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(
            self.year_from is not None or self.year_to is not None or self.doc_types or self.doc_ids
        )

    def matches(self, doc: Document) -> bool:
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.doc_types and doc.doc_type not in self.doc_types:
            return False
        if self.year_from is not None or self.year_to is not None:
            year = doc_year(doc)
            if year is None:
                return False
            if self.year_from is not None and year < self.year_from:
                return False
            if self.year_to is not None and year > self.year_to:
                return False
        return True

    def describe(self) -> str:
        parts = []
        if self.year_from is not None or self.year_to is not None:
            parts.append(f"years {self.year_from or '…'}-{self.year_to or '…'}")
        if self.doc_types:
            parts.append(", ".join(self.doc_types))
        if self.doc_ids:
            parts.append(f"{len(self.doc_ids)} chosen report(s)")
        return "; ".join(parts)


def filtered_search(retriever, question: str, k: int, filters: Filters, mode: str | None = None):
    """``retriever.search`` restricted to the documents ``filters`` allows, ranks renumbered
    1..k. Passages come from a wider search (its steering and merging kept) filtered down; when
    that holds fewer than ``k`` allowed passages, the best-ranked allowed passages of the whole
    index fill the rest."""
    if not filters.active:
        return retriever.search(question, k=k, mode=mode)
    import numpy as np

    result = retriever.search(question, k=max(k, FILTER_POOL), mode=mode)
    kept = [p for p in result.passages if filters.matches(p.document)][:k]
    if len(kept) < k:
        allowed = {d for d, doc in retriever.docs.items() if filters.matches(doc)}
        mask = np.isin(retriever.doc_of, list(allowed))
        if mask.any():
            order, dense, lexical, _ = retriever.rank(
                question, mode or retriever.settings.mode, mask
            )
            seen = {p.chunk.chunk_id for p in kept}
            extra = [i for i in order if mask[i]][: k * 3]
            chunks = retriever.index.chunks(extra)
            for vec_id in extra:
                chunk = chunks[vec_id]
                if chunk.chunk_id in seen or len(kept) >= k:
                    continue
                seen.add(chunk.chunk_id)
                kept.append(
                    Passage(
                        rank=0,
                        score=float(dense[vec_id]) if dense.any() else float(lexical[vec_id]),
                        chunk=chunk,
                        document=retriever.docs[chunk.doc_id],
                        scores={"dense": float(dense[vec_id]), "bm25": float(lexical[vec_id])},
                    )
                )
    passages = [dataclasses.replace(p, rank=i) for i, p in enumerate(kept, start=1)]
    notes = list(result.notes)
    if not passages:
        notes.append(f"No passage matches the filters ({filters.describe()}).")
    top_dense = max((p.scores.get("dense", 0.0) for p in passages), default=0.0)
    return dataclasses.replace(
        result,
        passages=passages,
        notes=tuple(notes),
        top_dense=float(top_dense) if (mode or retriever.settings.mode) != "bm25" else 0.0,
        coverage=retriever.coverage(question, passages[:3]),
    )


# ---------------------------------------------------------------------------------------------
# Uploads


class UploadRejected(ValueError):
    pass


def safe_upload_name(original: str) -> str:
    """A file name for the corpus from a user's file name: its last component only, letters,
    digits, spaces and ``._-()'&,`` kept (others become ``_``), no leading dot, at most 120
    characters, the extension lower-cased. Raises UploadRejected for a type not accepted."""
    name = unicodedata.normalize("NFKC", original or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = "." + ext.lower().strip() if ext else ""
    if ext not in UPLOAD_TYPES:
        raise UploadRejected(
            f"{original!r}: only {', '.join(UPLOAD_TYPES)} files can be added"
            + (f" (not {ext})" if ext else "")
        )
    stem = re.sub(r"[^\w \-().,'&]", "_", stem)
    stem = re.sub(r"\s+", " ", stem).strip(" ._")
    stem = re.sub(r"\.{2,}", ".", stem)
    if stem.endswith(".meta"):  # never a metadata sidecar
        stem = stem[: -len(".meta")] + "_meta"
    stem = stem[:120].rstrip(" .") or "upload"
    return stem + ext


def check_upload(data: bytes, name: str) -> str:
    """The kind of file ("pdf" or "text") when ``data`` is what the extension of ``name`` says;
    raises UploadRejected otherwise (empty, too large, not a PDF, not text)."""
    ext = Path(name).suffix.lower()
    if not data:
        raise UploadRejected(f"{name}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"{name}: {len(data) / 1e6:.1f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB limit"
        )
    if ext == ".pdf":
        if not data.startswith(b"%PDF-"):
            raise UploadRejected(f"{name}: not a PDF (it does not start with %PDF)")
        return "pdf"
    if ext in (".txt", ".md"):
        try:
            if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                text = data.decode("utf-16")
            else:
                text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise UploadRejected(f"{name}: not UTF-8 or UTF-16 text") from err
        if "\x00" in text or not text.strip():
            raise UploadRejected(f"{name}: not a text file (binary or blank)")
        return "text"
    raise UploadRejected(f"{name}: only {', '.join(UPLOAD_TYPES)} files can be added")


def store_upload(data: bytes, original_name: str, corpus_dir: Path) -> Path:
    """Check ``data`` and write it into ``corpus_dir`` under a sanitised name, never
    overwriting: an existing name gets " (2)", " (3)" ... Returns the new file's path."""
    name = safe_upload_name(original_name)
    check_upload(data, name)
    root = corpus_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    stem, ext = name[: -len(Path(name).suffix)], Path(name).suffix
    for n in range(1, 1000):
        candidate = root / (name if n == 1 else f"{stem} ({n}){ext}")
        if candidate.resolve().parent != root:  # pragma: no cover - the name has no separator
            raise UploadRejected(f"{original_name!r}: not a valid file name")
        try:
            with candidate.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            continue
        return candidate
    raise UploadRejected(f"{original_name!r}: too many files with this name")


# ---------------------------------------------------------------------------------------------
# Feedback


def passage_record(p: Passage, answer: Answer | None = None) -> dict:
    """What the page (and the feedback file) keeps of a passage."""
    sentences = [s.text for s in answer.sentences if s.passage_rank == p.rank] if answer else []
    return {
        "rank": p.rank,
        "score": round(float(p.score), 4),
        "doc_id": p.document.doc_id,
        "source": p.document.source,
        "title": p.document.title,
        "date": p.document.date,
        "doc_type": p.document.doc_type,
        "page": p.chunk.page_start,
        "page_end": p.chunk.page_end,
        "citation": p.citation,
        "section": p.chunk.section,
        "text": p.chunk.text,
        "chunk_id": p.chunk.chunk_id,
        "content_hash": p.document.content_hash,
        "sentences": sentences,
        "also_in": [{"source": s, "page": page} for s, page in p.also_in],
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


def _meta_line(p: dict) -> str:
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
            f'<div class="rq-meta">{_meta_line(p)}</div>'
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
            f"<td class='rq-num'>{len(doc.pages)}</td>"
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


def render_pdf_page(pdf: Path, page: int, out_dir: Path, dpi: int = 90) -> Path | None:
    """The page rendered to PNG with ``pdftoppm``, cached in ``out_dir``; None if that is not
    possible (no pdftoppm, a broken file, a timeout)."""
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
    return png if png.exists() else None


# ---------------------------------------------------------------------------------------------
# The service behind the page: one model, one retriever swapped after index updates


@dataclass
class Turn:
    asked: str
    question: str
    answer: Answer
    result: object
    seconds: float
    filters: Filters = field(default_factory=Filters)


class Service:
    """Holds the embedder (loaded once) and the live Retriever behind a lock; re-opens the
    index when its live generation changes (after an upload here, or ``rag-qa index``)."""

    def __init__(self, settings: Settings, embedder, feedback_file: Path | None = None):
        self.settings = settings
        self.embedder = embedder
        self.feedback_file = feedback_file
        self._lock = threading.Lock()
        self._building = threading.Lock()
        self._feedback_lock = threading.Lock()
        self.page_dir = Path(tempfile.mkdtemp(prefix="rag-qa-pages-"))
        atexit.register(shutil.rmtree, self.page_dir, True)
        # PDFs are shown as PNGs rendered by pdftoppm; without it, in an iframe from corpus/.
        self.pdf_via_iframe = shutil.which("pdftoppm") is None
        self._retriever = self._open()

    def _open(self):
        from .index import open_index
        from .search import Retriever

        return Retriever(open_index(self.settings), self.embedder, self.settings)

    @property
    def retriever(self):
        self.maybe_reload()
        with self._lock:
            return self._retriever

    def maybe_reload(self) -> bool:
        """Switch to the live index generation if it is not the one loaded."""
        live = G.current_generation(self.settings.index_dir)
        with self._lock:
            loaded = self._retriever.index.generation
        if live is None or Path(live).name == Path(loaded).name:
            return False
        try:
            fresh = self._open()
        except G.IndexError_ as err:
            log.warning("keeping the loaded index: %s", err)
            return False
        with self._lock:
            self._retriever = fresh
        return True

    def ask(self, asked: str, history: Sequence[str], k: int, filters: Filters) -> Turn:
        started = time.perf_counter()
        question = rewrite_follow_up(asked, history)
        retriever = self.retriever
        result = filtered_search(retriever, question, k, filters)
        answer = build_answer(
            result, self.settings, retriever.settings.mode, embed=retriever.embedder.encode
        )
        return Turn(asked, question, answer, result, time.perf_counter() - started, filters)

    def document(self, doc_id: str) -> Document | None:
        return self.retriever.docs.get(doc_id)

    def save_feedback(self, record: dict) -> None:
        if self.feedback_file is None:
            return
        line = json.dumps(record, ensure_ascii=False)
        with self._feedback_lock:
            self.feedback_file.parent.mkdir(parents=True, exist_ok=True)
            with self.feedback_file.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def update_index(self, progress: bool = True):
        """Refresh the index from the corpus (incremental) with the loaded model; returns the
        BuildSummary. Raises BuildLocked when another update is running."""
        from .build import run_build

        if not self._building.acquire(blocking=False):
            raise G.BuildLocked("an index update is already running; try again shortly")
        try:
            summary = run_build(self.settings, lambda: self.embedder, progress=progress)
        finally:
            self._building.release()
        self.maybe_reload()
        return summary

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
        years = sorted({y for d in docs.values() if (y := doc_year(d)) is not None})
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


def _filters_from(choices: dict, y_from, y_to, types, reports) -> Filters:
    years = choices["years"]
    lo, hi = (years[0], years[-1]) if years else (None, None)
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
) -> App:
    """Build the Gradio Blocks (not launched) around a Service with ``embedder``."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    service = Service(settings, embedder, feedback_file)
    first = service.choices()
    years = first["years"] or [date.today().year]

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
        k = max(1, min(MAX_PASSAGES, int(k or settings.top_k)))
        turn = service.ask(question, state["questions"], k, filters)
        passages = [passage_record(p, turn.answer) for p in turn.result.passages]
        messages = list(state["messages"])
        messages.append({"role": "user", "content": md_escape(question)})
        messages.append(
            {
                "role": "assistant",
                "content": chat_markdown(question, turn.question, turn.answer, turn.result),
            }
        )
        turns = dict(state["turns"])
        turns[str(len(messages) - 1)] = {
            "asked": question,
            "question": turn.question,
            "answer": turn.answer.text,
            "abstained": turn.answer.abstained,
            "passages": passages,
            "filters": filters.describe(),
            "index_built_at": service.retriever.index.manifest.get("built_at"),
        }
        state.update(
            questions=[*state["questions"], turn.question],
            messages=messages,
            turns=turns,
            passages=passages,
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
            f"{_meta_line(p)} · {html.escape(p['source'])}"
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
        chunk = next(
            (c for _, c, _ in service.retriever.index.store.chunks(doc.doc_id)
             if c.chunk_id == p["chunk_id"]),
            None,
        )  # fmt: skip
        if chunk is None:
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
        ys = c["years"] or years
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
        state = gr.State(_new_state())
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
                    k = gr.Slider(1, MAX_PASSAGES, value=settings.top_k, step=1, label="Passages")
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
                    file_types=list(UPLOAD_TYPES),
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
        from .embedding import load_embedder

        def embedder_factory():
            return load_embedder(settings.model, settings.precision)

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
    app.service.ask(EXAMPLES[0], [], settings.top_k, Filters())  # warm-up: first answer fast
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
    launch(app, host, port, credentials)
