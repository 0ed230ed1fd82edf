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
