"""An answer, a facts table or the list of reports written out for people to keep: Markdown
(to paste into a paper, every passage cited with its report, date and page) and CSV."""

from __future__ import annotations

import csv
import io

from rag_qa.text.frameworks import AREA_KEYS

FACT_COLUMNS = (
    "source",
    "title",
    "council",
    "kind",
    "framework",
    "doc_type",
    "date",
    "published",
    "visit_start",
    "visit_end",
    "lead_inspector",
    "inspectors",
    *AREA_KEYS,
    "judgement_page",
    "in_care_and_care_leavers_combined",
)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    text = str(value)
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def facts_csv(records: list[dict]) -> str:
    """`Document.report_facts()` records as CSV, one judgement column per area."""
    flat = [{**r, **(r.get("judgements") or {})} for r in records]
    return to_csv(flat, FACT_COLUMNS)


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.strip().splitlines())


def _md_cell(value) -> str:
    return _cell(value).replace("|", "\\|").replace("\n", " ")


def turn_markdown(turn) -> str:
    """An answered question (an ``engine.Turn``) as Markdown: the answer, the facts table and
    the timeline if any, then every cited passage quoted whole with its report, date and page."""
    out = [f"## {turn.question}", "", turn.answer.text, ""]
    if turn.table is not None and turn.table.rows:
        out += [
            f"### {turn.table.description}",
            "",
            "| council | report | inspected | grade | page |",
        ]
        out.append("|---|---|---|---|---|")
        for row in turn.table.rows:
            d = row.document
            cells = (d.council, d.label, d.visit_start, row.grade, row.page)
            out.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        out.append("")
    if turn.timeline is not None and turn.timeline.entries:
        out += ["### Timeline: " + turn.timeline.note, ""]
        for e in turn.timeline.entries:
            grade = f" — overall {e.grade}" if e.grade else ""
            out.append(f"**{e.when} {e.document.kind}{grade}**")
            if e.passage is not None:
                out += ["", _quote(e.passage.chunk.text), "", f"— {e.passage.citation}"]
            out.append("")
    out += ["### Passages", ""]
    for p in turn.passages:
        out += [f"**[{p.rank}] {p.citation}**", "", _quote(p.chunk.text), ""]
        if p.document.source_url:
            out += [f"Source: {p.document.source_url}", ""]
    return "\n".join(out).rstrip() + "\n"


TURN_COLUMNS = ("kind", "rank", "council", "report", "source", "date", "page", "grade", "text")


def turn_csv(turn) -> str:
    """An answered question as CSV: the answer, each facts-table row, each timeline entry and
    each passage, a row apiece, with its report, date and page."""
    rows = [{"kind": "answer", "text": turn.answer.text}]
    for i, row in enumerate(turn.table.rows if turn.table else (), 1):
        d = row.document
        rows.append(
            {"kind": "fact", "rank": i, "council": d.council, "report": d.label, "source": d.source,
             "date": d.visit_start, "page": row.page, "grade": row.grade, "text": row.evidence}
        )  # fmt: skip
    for e in turn.timeline.entries if turn.timeline else ():
        p = e.passage
        rows.append(
            {"kind": "timeline", "council": e.document.council, "report": e.document.label,
             "source": e.document.source, "date": e.when, "grade": e.grade,
             "page": p.chunk.page_start if p else None, "text": p.chunk.text if p else ""}
        )  # fmt: skip
    for p in turn.passages:
        rows.append(
            {"kind": "passage", "rank": p.rank, "council": p.document.council,
             "report": p.document.label, "source": p.document.source, "date": p.document.date,
             "page": p.chunk.page_start, "text": p.chunk.text}
        )  # fmt: skip
    return to_csv(rows, TURN_COLUMNS)
