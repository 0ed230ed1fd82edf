"""Sentence-aware chunking sized in the embedding model's own tokens.

Chunks never cut inside a sentence unless that one sentence exceeds the budget; sentences run
across page breaks; a chunk keeps its page span, page-local character offsets and the section
heading it sits under. Consecutive chunks of one section overlap by whole sentences.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from rag_qa.ingest.clean import is_heading
from rag_qa.records import PAGE_JOIN, Chunk, Document
from rag_qa.settings import IngestSettings
from rag_qa.text.sentences import split_sentences


class Tokenizer(Protocol):
    def count(self, text: str) -> int: ...

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of every token (no special tokens)."""
        ...


class WordPieceTokenizer:
    """The model's own tokenizer, loaded from its ``tokenizer.json`` (no torch needed)."""

    def __init__(self, tokenizer_json: str):
        from tokenizers import Tokenizer as HFTokenizer

        self._tok = HFTokenizer.from_file(tokenizer_json)
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def spans(self, text: str) -> list[tuple[int, int]]:
        return list(self._tok.encode(text, add_special_tokens=False).offsets)


class WhitespaceTokenizer:
    """Deterministic stand-in for tests: one token per word or punctuation mark."""

    _re = re.compile(r"\w+|[^\w\s]")

    def count(self, text: str) -> int:
        return len(self._re.findall(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._re.finditer(text)]


TERMINAL = (".", "!", "?", ":", ";", "’", "”", '"', ")")


@dataclass(frozen=True)
class Unit:
    """A sentence (or heading) with document-level character offsets."""

    start: int
    end: int
    tokens: int
    section: str | None
    heading: bool = False


def document_units(doc: Document, tokenizer: Tokenizer) -> tuple[str, list[int], list[Unit]]:
    """The document's text, each page's start offset in it, and its sentence units."""
    offsets, parts, pos = [], [], 0
    for page in doc.pages:
        offsets.append(pos)
        parts.append(page.text)
        pos += len(page.text) + len(PAGE_JOIN)
    full = PAGE_JOIN.join(parts)

    raw: list[tuple[int, int, bool]] = []  # (start, end, heading)
    for page_start, page in zip(offsets, doc.pages, strict=True):
        line_start = 0
        for line in page.text.split("\n"):
            s = page_start + line_start
            line_start += len(line) + 1
            if not line.strip():
                continue
            if is_heading(line):
                raw.append((s, s + len(line.rstrip()), True))
                continue
            for a, b in split_sentences(line):
                raw.append((s + a, s + b, False))

    # Join a sentence broken by a page break: it ends without punctuation and the next page
    # goes on in lower case.
    merged: list[tuple[int, int, bool]] = []
    page_starts = set(offsets)
    for unit in raw:
        if merged and not unit[2] and not merged[-1][2]:
            prev = merged[-1]
            crosses = any(prev[1] < p <= unit[0] for p in page_starts)
            gap = full[prev[1] : unit[0]]
            if (
                crosses
                and gap.strip() == ""
                and not full[prev[0] : prev[1]].rstrip().endswith(TERMINAL)
                and full[unit[0] : unit[0] + 1].islower()
            ):
                merged[-1] = (prev[0], unit[1], False)
                continue
        merged.append(unit)

    units, section = [], None
    for start, end, heading in merged:
        text = full[start:end]
        if heading:
            name = text.strip().lstrip("#").strip()
            section = re.sub(r"(?<=[A-Za-z?])\d{1,2}$|\s+\d{1,3}$", "", name).rstrip("?: ")
        units.append(Unit(start, end, tokenizer.count(text), section, heading))
    return full, offsets, units


def _split_long(unit: Unit, full: str, budget: int, tokenizer: Tokenizer) -> list[Unit]:
    """Cut one over-long sentence at token boundaries (the only cut inside a sentence)."""
    text = full[unit.start : unit.end]
    spans = tokenizer.spans(text)
    pieces = []
    for i in range(0, len(spans), budget):
        window = spans[i : i + budget]
        a = window[0][0]
        b = spans[i + budget][0] if i + budget < len(spans) else len(text)
        while b > a and text[b - 1].isspace():
            b -= 1
        pieces.append(Unit(unit.start + a, unit.start + b, len(window), unit.section))
    return pieces


def _split_chars(unit: Unit, full: str, max_chars: int, tokenizer: Tokenizer) -> list[Unit]:
    """Cut a unit longer than ``max_chars`` characters into pieces of at most that many, at the
    last space of each piece where there is one: a run of text without spaces counts as one
    token (the model's tokenizer reads a word of over 100 characters as one unknown token), so
    the token budget alone would let a 2 MB line of one letter be one passage."""
    if unit.end - unit.start <= max_chars:
        return [unit]
    pieces, a = [], unit.start
    while a < unit.end:
        b = min(a + max_chars, unit.end)
        if b < unit.end:
            space = full.rfind(" ", a + max_chars // 2, b)
            b = space + 1 if space > 0 else b
        pieces.append(Unit(a, b, tokenizer.count(full[a:b]), unit.section, unit.heading))
        a = b
    return pieces


def chunk_document(
    doc: Document,
    tokenizer: Tokenizer,
    chunk_tokens: int,
    overlap_tokens: int,
    max_chars: int = IngestSettings.max_chunk_chars,
) -> list[Chunk]:
    """The document's passages: whole sentences up to ``chunk_tokens`` tokens (and never over
    ``max_chars`` characters), overlapping by up to ``overlap_tokens``."""
    full, offsets, units = document_units(doc, tokenizer)
    flat: list[Unit] = []
    for u in units:
        for piece in (
            _split_long(u, full, chunk_tokens, tokenizer) if u.tokens > chunk_tokens else [u]
        ):
            flat.extend(_split_chars(piece, full, max_chars, tokenizer))

    groups: list[list[Unit]] = []
    current: list[Unit] = []
    used = 0
    for u in flat:
        new_section = u.heading and current and used >= chunk_tokens // 4
        too_long = current and u.end - current[0].start > max_chars
        if current and (used + u.tokens > chunk_tokens or new_section or too_long):
            groups.append(current)
            carry: list[Unit] = []
            if not u.heading:
                kept = 0
                for prev in reversed(current):
                    if prev.heading or kept + prev.tokens > overlap_tokens:
                        break
                    if used - prev.tokens <= 0:
                        break
                    carry.insert(0, prev)
                    kept += prev.tokens
                while carry and (
                    sum(c.tokens for c in carry) + u.tokens > chunk_tokens
                    or u.end - carry[0].start > max_chars
                ):
                    carry.pop(0)
            current, used = carry, sum(c.tokens for c in carry)
        current.append(u)
        used += u.tokens
    if current:
        groups.append(current)

    chunks = []
    for group in groups:
        if all(u.heading for u in group) and len(groups) > 1:
            continue  # a lone trailing heading carries no content
        start, end = group[0].start, group[-1].end
        text = full[start:end]
        section = next((u.section for u in group if not u.heading), group[0].section)
        ps, cs = _locate(offsets, start)
        pe, ce = _locate(offsets, end, at_end=True)
        page_start = doc.pages[ps].number
        page_end = doc.pages[pe].number
        chunk_id = hashlib.sha1(f"{doc.doc_id}\0{start}\0{end}\0{text}".encode()).hexdigest()[:16]
        chunks.append(
            Chunk(
                chunk_id=chunk_id,
                doc_id=doc.doc_id,
                ordinal=len(chunks),
                text=text,
                page_start=page_start,
                page_end=page_end,
                char_start=cs,
                char_end=ce,
                section=section,
                token_count=sum(u.tokens for u in group),
            )
        )
    return chunks


def _locate(offsets: list[int], pos: int, at_end: bool = False) -> tuple[int, int]:
    """(page index, offset within that page) of a document-level offset."""
    idx = 0
    for i, start in enumerate(offsets):
        if start < pos or (start == pos and not at_end):
            idx = i
    return idx, pos - offsets[idx]


def chunk_page_text(doc: Document, chunk: Chunk) -> str:
    """Rebuild a chunk's text from its page span and offsets (the invariant tests check)."""
    index = {p.number: i for i, p in enumerate(doc.pages)}
    ps, pe = index[chunk.page_start], index[chunk.page_end]
    if ps == pe:
        return doc.pages[ps].text[chunk.char_start : chunk.char_end]
    parts = [doc.pages[ps].text[chunk.char_start :]]
    parts += [doc.pages[i].text for i in range(ps + 1, pe)]
    parts.append(doc.pages[pe].text[: chunk.char_end])
    return PAGE_JOIN.join(parts)
