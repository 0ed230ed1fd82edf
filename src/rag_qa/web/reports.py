"""The Index tab's list of reports: a plain record per indexed document with its facts
(``Document.report_facts``), filtered by council, kind, year and overall judgement, and sorted
by a column. No Gradio here."""

from __future__ import annotations

from collections.abc import Iterable

from rag_qa.records import Document
from rag_qa.text.frameworks import GRADE_RANK, GRADES

SORTS = ("council", "label", "kind", "inspected", "published", "lead_inspector", "overall")
DEFAULT_SORT = "inspected"
NOT_GRADED = "not graded"  # the judgement filter's choice for reports without an overall grade


def report_row(doc: Document) -> dict:
    """A document's row: its report facts, with its doc_id, label, year and overall grade."""
    facts = doc.report_facts()
    return {
        **facts,
        "doc_id": doc.doc_id,
        "label": doc.label,
        "year": doc.year,
        "overall": (facts["judgements"] or {}).get("overall_effectiveness"),
    }


def _one(value) -> str | None:
    """A dropdown's value: "" and None (and the "all" choice) mean no filter."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return None if value in (None, "", "all") else str(value)


def filter_rows(
    rows: Iterable[dict], council=None, kind=None, year=None, judgement=None
) -> list[dict]:
    """The rows of ``council``, ``kind``, ``year`` (a document's year: its date's, else its
    visit's) and overall ``judgement`` (one of GRADES, or NOT_GRADED); None: any."""
    council, kind, year, judgement = map(_one, (council, kind, year, judgement))
    out = []
    for r in rows:
        if council is not None and r["council"] != council:
            continue
        if kind is not None and r["kind"] != kind:
            continue
        if year is not None and str(r["year"]) != year:
            continue
        if judgement is not None and (r["overall"] or NOT_GRADED) != judgement:
            continue
        out.append(r)
    return out


def _key(row: dict, by: str):
    if by == "overall":
        return GRADE_RANK.get(row["overall"] or "")
    if by == "inspected":
        return row["visit_start"] or row["date"]
    value = row.get(by)
    return value.casefold() if isinstance(value, str) else value


def sort_rows(rows: Iterable[dict], by: str = DEFAULT_SORT, descending: bool = False):
    """The rows sorted by a column of ``SORTS`` (a grade by its rank, best last ascending);
    rows without a value last either way, ties by inspection date then source."""
    by = by if by in SORTS else DEFAULT_SORT
    rows = sorted(rows, key=lambda r: (r["visit_start"] or r["date"] or "", r["source"]))
    known = [r for r in rows if _key(r, by) not in (None, "")]
    unknown = [r for r in rows if _key(r, by) in (None, "")]
    return sorted(known, key=lambda r: _key(r, by), reverse=descending) + unknown


def next_sort(current: dict | None, by: str) -> dict:
    """The sort after a click on column ``by``: the same column again flips its direction."""
    current = current or {"by": DEFAULT_SORT, "descending": False}
    if by not in SORTS:
        return dict(current)
    if current.get("by") == by:
        return {"by": by, "descending": not current.get("descending", False)}
    return {"by": by, "descending": False}


def choices(rows: list[dict]) -> dict:
    """The Index tab's filter choices: councils, kinds, years and judgements held by ``rows``."""
    grades = {r["overall"] for r in rows if r["overall"]}
    judged = [g for g in GRADES if g in grades]
    if any(not r["overall"] for r in rows):
        judged.append(NOT_GRADED)
    return {
        "councils": sorted({r["council"] for r in rows if r["council"]}),
        "kinds": sorted({r["kind"] for r in rows if r["kind"]}),
        "years": sorted({r["year"] for r in rows if r["year"] is not None}, reverse=True),
        "judgements": judged,
    }
