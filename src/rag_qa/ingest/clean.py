"""Turning raw extracted page text into clean paragraphs.

* lines that repeat at the top or bottom of most pages (running headers and footers), page
  numbers, Ofsted's address block and its copyright/licence back matter are removed;
* lines broken by the PDF layout are joined, so each paragraph, heading or list item becomes
  one line of the cleaned page text.
"""

from __future__ import annotations

import re
from collections import Counter

PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)
# Ofsted's address block and contact lines, seen on every letter and report cover.
ADDRESS_LINES = [
    r"Ofsted",
    r"Piccadilly Gate",
    r"Store St(?:reet)?\.?",
    r"Manchester",
    r"M1 2WD",
    r"Aviation House",
    r"125 Kingsway",
    r"London",
    r"WC2B 6SE",
    r"Agora",
    r"6 Cumberland Place",
    r"Nottingham",
    r"NG1 6HJ",
    r"(?:T|Tel|Textphone|F)\s*:?\s*[\d ]{8,}",
    r"(?:E\s*:\s*)?enquiries@ofsted\.gov\.uk",
    r"(?:W\s*:\s*)?www\.(?:gov\.uk/ofsted|ofsted\.gov\.uk)",
    r"Direct (?:T|F)\s*:?.*",
]
ADDRESS_RE = re.compile(r"^\s*(?:" + "|".join(ADDRESS_LINES) + r")\s*$", re.I)
# Web-page furniture in saved articles and news releases.
WEB_FURNITURE_RE = re.compile(
    r"^\s*(?:Leave a Reply|Comments are closed\.?|More from Community Care|Share this:?|"
    r"Related posts?|Print this page)\s*$",
    re.I,
)
# Ofsted's standard back matter: from the "Ofsted is the ..." blurb or the "different format"
# line down to the "© Crown copyright" line.
BACK_MATTER_START = re.compile(
    r"^\s*(?:The Office for Standards in Education, Children.s Services and Skills \(Ofsted\)"
    r"|If you would like a copy of this document in a different format"
    r"|You may reuse this information \(not including logos\))",
    re.I,
)
BACK_MATTER_END = re.compile(r"©\s*Crown copyright", re.I)
BULLET_RE = re.compile(r"^\s*(?:[\uf0b7\uf06e\uf0a7\uf0d8•◼■▪●◦‣–\-*]|\d{1,3}[.)]\s|\(?[a-z]\)\s)")
TERMINAL = tuple(".!?:;")
KNOWN_HEADINGS = [
    r"Headline findings",
    r"Areas? for priority action",
    r"What needs to improve",
    r"What does the local authority need to improve",
    r"Main findings",
    r"Findings",
    r"Summary of key findings",
    r"Summary for children and young people",
    r"Executive summary",
    r"Overview",
    r"Next steps",
    r"Recommendations",
    r"Areas for (?:improvement|development)",
    r"Information about this (?:inspection|local authority area)",
    r"Inspection judgements about the local authority",
    r"What the inspection judge?ments mean",
    r"The experiences and progress of (?:children|care leavers)",
    r"The impact of leaders on social work practice",
    r"The effectiveness of (?:leaders and managers|the Local Safeguarding Children Board)",
    r"Leadership, management and governance",
    r"Children who need help and protection",
    r"Children looked after and achieving permanence",
    r"(?:Experiences and progress of )?care leavers$",
    r"Adoption performance",
    r"Section \d+:",
    r"Contents$",
    r"Evaluation of progress",
]
HEADING_RE = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+)?(?:" + "|".join(KNOWN_HEADINGS) + ")", re.I)


# A Markdown heading: how .md files, and the HTML and Word loaders, mark theirs.
MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(?P<text>\S.*)$")


def is_heading(line: str) -> bool:
    text = line.strip()
    if len(text) > 160 or not text:
        return False
    if MARKDOWN_HEADING.match(text):
        return True
    if HEADING_RE.match(text):
        # A known phrase that opens a long sentence is not a heading.
        return len(text) < 100 or not text.endswith(".")
    return False


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line)).strip().lower()


def repeated_edge_lines(pages: list[list[str]], edge: int = 4) -> set[str]:
    """Normalised lines found among the first/last ``edge`` lines of most pages."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        body = [ln for ln in lines if ln.strip()]
        counts.update({_norm(ln) for ln in body[:edge] + body[-edge:]})
    threshold = max(2, (len(pages) + 1) // 2)
    return {line for line, n in counts.items() if n >= threshold and line not in ("", "#")}


def strip_boilerplate(pages: list[str]) -> list[list[str]]:
    """Per page, the lines that remain once headers, footers and back matter are gone."""
    split = [p.splitlines() for p in pages]
    repeated = repeated_edge_lines(split)
    out: list[list[str]] = []
    for lines in split:
        body = [ln for ln in lines if ln.strip()]
        edges = {id(x) for x in body[:4] + body[-4:]}
        kept: list[str] = []
        skipping = False
        for line in lines:
            if BACK_MATTER_START.match(line):
                skipping = True
            if skipping:
                if BACK_MATTER_END.search(line):
                    skipping = False
                continue
            if not line.strip():
                kept.append("")
                continue
            if PAGE_NUMBER.match(line) or ADDRESS_RE.match(line) or WEB_FURNITURE_RE.match(line):
                continue
            if id(line) in edges and _norm(line) in repeated:
                continue
            kept.append(line)
        out.append(kept)
    return out


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith(TERMINAL) or text.rstrip().endswith(("’", "”", '"', ")"))


def join_lines(lines: list[str], wrap_width: int | None = None) -> list[str]:
    """Rebuild paragraphs from layout lines: one output string per paragraph/heading/item.

    A line continues the previous one unless a blank line separates them, it starts a list
    item, or the previous line looks like a heading (short, no closing punctuation,
    followed by a capital letter).
    """
    if wrap_width is None:
        lengths = sorted(len(ln.rstrip()) for ln in lines if ln.strip())
        wrap_width = lengths[int(len(lengths) * 0.9)] if lengths else 80
    paras: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            text = ""
            for part in current:
                part = part.strip()
                # "co-" + "location": a line broken at a hyphen joins without a space.
                glue = "" if re.search(r"[A-Za-z]-$", text) and part[:1].islower() else " "
                text = f"{text}{glue}{part}" if text else part
            text = re.sub(r"\s+", " ", text).strip()
            if text:
                paras.append(text)
            current.clear()

    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            flush()
            continue
        if is_heading(line):
            flush()
            current.append(line)
            flush()
            continue
        if current:
            prev = current[-1].rstrip()
            starts_item = bool(BULLET_RE.match(line))
            prev_short = len(prev) < 0.7 * wrap_width
            prev_shortish = len(prev) < 0.8 * wrap_width
            looks_heading = (
                prev_short
                and not _ends_sentence(prev)
                and line.lstrip()[:1].isupper()
                and not prev.rstrip().endswith((",", "-", "–", "and", "or", "of", "the"))
            )
            short_finished = prev_shortish and _ends_sentence(prev)
            if starts_item or looks_heading or short_finished:
                flush()
        current.append(line)
    flush()
    return paras


def clean_pages(pages: list[str]) -> list[str]:
    """Cleaned text of each page: paragraphs joined by newlines."""
    kept = strip_boilerplate(pages)
    all_lines = [ln for page in kept for ln in page if ln.strip()]
    lengths = sorted(len(ln.rstrip()) for ln in all_lines)
    width = lengths[int(len(lengths) * 0.9)] if lengths else 80
    return ["\n".join(join_lines(lines, width)) for lines in kept]


def clean_text(text: str) -> str:
    """Plain text: lines are already paragraphs unless the file is hard-wrapped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    lines = [ln for ln in text.split("\n") if not WEB_FURNITURE_RE.match(ln)]
    body = [ln for ln in lines if ln.strip()]
    wrapped = body and sum(1 for ln in body if 40 <= len(ln) <= 100) > 0.6 * len(body)
    if wrapped:
        return "\n".join(join_lines(lines))
    return "\n".join(re.sub(r"\s+", " ", ln).strip() for ln in lines if ln.strip())
