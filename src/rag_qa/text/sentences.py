"""Sentence boundaries, shared by chunking (passages never cut inside a sentence) and the
answer (whole sentences quoted)."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) when the next
# word starts with a capital letter, digit, quote or list marker.
SENT_END_RE = re.compile(r"(?<=[.!?])[’”\"')\]]*\s+(?=[A-Z0-9‘“\"'(\uf0b7\uf06e◼•■▪●–-])")
ABBREV_RE = re.compile(
    r"\b(?:e\.g|i\.e|etc|Mr|Mrs|Ms|Dr|Cllr|No|St|vs|cf|Prof|Rev|approx)\.$", re.I
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in SENT_END_RE.finditer(text):
        candidate = text[start : m.start()]
        if ABBREV_RE.search(candidate) or len(candidate.strip()) < 3:
            continue
        spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


# What a passage's sentences are (``unit_spans``) is part of what the index stores for each
# passage (rag_qa.index.sentences); change this when ``unit_spans`` changes.
UNITS_VERSION = 1


def _lines(text: str) -> list[str]:
    """The passage's lines, a line break before a lower-case word (a sentence running across
    a line or page break) read as a space: as long as ``text`` with its breaks."""
    return re.sub(r"\n(?=[a-z])", " ", text).split("\n")


def unit_lines(text: str, spans: list[tuple[int, int]] | None = None) -> list[int]:
    """The line (of ``_lines``) each sentence of ``unit_spans`` (``spans``, if already
    split) is on."""
    ends, pos = [], 0
    for line in _lines(text):
        pos += len(line) + 1
        ends.append(pos)
    out, i = [], 0
    for a, _ in unit_spans(text) if spans is None else spans:
        while ends[i] <= a:
            i += 1
        out.append(i)
    return out


def unit_spans(text: str) -> list[tuple[int, int]]:
    """The passage's sentences as (start, end) offsets into ``text``, stripped, none empty.
    A line break (paragraph, list item, heading) always ends one, except before a lower-case
    word: that is a sentence running across a line or page break."""
    out: list[tuple[int, int]] = []
    pos = 0
    for line in _lines(text):
        for a, b in split_sentences(line):
            piece = line[a:b]
            lead = len(piece) - len(piece.lstrip())
            end = b - (len(piece) - len(piece.rstrip()))
            if end > a + lead:
                out.append((pos + a + lead, pos + end))
        pos += len(line) + 1
    return out


def unit_text(text: str, span: tuple[int, int]) -> str:
    """One sentence of ``unit_spans``, a line break inside it read as a space."""
    return text[span[0] : span[1]].replace("\n", " ")
