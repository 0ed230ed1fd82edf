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
