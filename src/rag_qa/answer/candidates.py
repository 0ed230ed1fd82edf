"""What an answer may quote from a passage: whole sentences, in the report's words.

A passage splits into sentences (``rag_qa.text.sentences.unit_spans``); the candidates are
built from them so that nothing quoted is a fragment:

- a list item is quoted with the line that introduces it ("Areas for priority action: Keeping
  in touch with ..."), its marker dropped;
- a run of short lines without a full stop (a letter's address block: a name, a role, a
  council) is quoted a few lines together (their line breaks read as spaces, as a sentence
  running across lines is), so that the name comes with the role;
- a heading alone, or a sentence opening on a lower-case word or a coordinating conjunction
  (the tail of a sentence cut elsewhere), is never a candidate by itself.

Each candidate keeps the rows of the sentences it joins, so its vector is their stored vectors
joined (``SentenceSet.joined``), as if the model's tokens had been pooled over all of them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rag_qa.records import Passage
from rag_qa.text.sentences import unit_lines, unit_spans, unit_text

# A list item's marker: bullets (including the private-use glyphs PDF fonts map them to),
# dashes, or "1." / "(a)".
_MARKER = re.compile(
    r"^(?:[\uf0b7\uf06e\uf0a7\uf0d8\uf02d\uf0be◼•■▪●◦‣∙–—-]+|\(?[0-9a-z]{1,2}[.)])\s+"
)
# Where a sentence cannot begin: the tail of one cut elsewhere.
_FRAGMENT = re.compile(r"^(?:[a-z]|(?i:and|but|nor|which|whom|whose)\b)")
_CLOSED = re.compile(r"[.!?;:)’”\"']$")
LABEL_WORDS = 12  # a line of at most this many words without a full stop is a label
LABEL_RUN = 4  # at most this many such lines quoted together


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    rows: tuple[int, ...]  # the passage's sentences (unit_spans indices) quoted together
    text: str
    sentences: int  # how many sentences the passage splits into (its stored vectors' count)

    @property
    def first(self) -> int:
        return self.rows[0]


@dataclass(frozen=True)
class _Unit:
    row: int
    text: str  # marker dropped
    item: bool  # opens a list item
    label: bool  # a whole short line with no closing punctuation (heading, address line)
    intro: bool  # introduces what follows: ends with a colon, or a label


def _units(text: str) -> list[_Unit]:
    spans = unit_spans(text)
    lines = unit_lines(text, spans)
    count: dict[int, int] = {}
    for line in lines:
        count[line] = count.get(line, 0) + 1
    out = []
    for row, (span, line) in enumerate(zip(spans, lines, strict=True)):
        raw = unit_text(text, span)
        marker = _MARKER.match(raw)
        body = raw[marker.end() :] if marker else raw
        first_on_line = row == 0 or lines[row - 1] != line
        item = bool(marker) and first_on_line
        label = (
            not item
            and count[line] == 1
            and len(body.split()) <= LABEL_WORDS
            and not _CLOSED.search(body)
        )
        out.append(_Unit(row, body, item, label, label or body.endswith(":")))
    return out


def _joined(intro: _Unit, unit: _Unit) -> str:
    head = intro.text.rstrip(":").rstrip()
    return f"{head}: {unit.text}"


def passage_candidates(passage: Passage) -> list[Candidate]:
    """The passage's candidates, in the passage's order."""
    n, parts = quotable(passage.chunk.text)
    return [Candidate(passage, rows, text, n) for rows, text in parts]


# A passage's candidates are read from its text alone, so they are kept for the recent
# passages (a passage comes back in the top of many questions): splitting them again was
# 0.44 ms a question (shipped corpus).
QUOTABLE_CACHE_PASSAGES = 1024


@functools.lru_cache(maxsize=QUOTABLE_CACHE_PASSAGES)
def quotable(text: str) -> tuple[int, tuple[tuple[tuple[int, ...], str], ...]]:
    """How many sentences ``text`` splits into, and what may be quoted from it: (the rows
    of the sentences quoted together, the text quoted), in the passage's order."""
    units = _units(text)
    n = len(units)
    out: list[tuple[tuple[int, ...], str]] = []
    intro: _Unit | None = None  # the line introducing the list being read
    i = 0
    while i < len(units):
        u = units[i]
        if u.item:
            if intro is not None:
                out.append(((intro.row, u.row), _joined(intro, u)))
            elif not _opens_mid_sentence(u.text):
                out.append(((u.row,), u.text))
            i += 1
            continue
        if u.label:
            run = [u]
            while i + len(run) < len(units) and units[i + len(run)].label and len(run) < LABEL_RUN:
                run.append(units[i + len(run)])
            nxt = units[i + len(run)] if i + len(run) < len(units) else None
            whole = len(run) > 1 or ": " in u.text  # an address block, or "Lead inspector: X"
            if whole and not _opens_mid_sentence(u.text):
                text = " ".join(x.text for x in run)
                out.append((tuple(x.row for x in run), text))
            intro = run[-1] if nxt is not None and nxt.item else None
            i += len(run)
            continue
        nxt = units[i + 1] if i + 1 < len(units) else None
        intro = u if u.intro and nxt is not None and nxt.item else None
        if intro is None and not _opens_mid_sentence(u.text):
            out.append(((u.row,), u.text))
        i += 1
    return n, tuple(out)


def _opens_mid_sentence(text: str) -> bool:
    return bool(_FRAGMENT.match(text.lstrip("‘“\"'([")))


def is_fragment(text: str) -> bool:
    """Would ``text`` open mid-sentence (a dash, a lower-case word, a conjunction)?"""
    return bool(_MARKER.match(text)) or _opens_mid_sentence(text)
