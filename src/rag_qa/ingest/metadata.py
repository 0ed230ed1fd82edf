"""From a loaded file to a ``Document``: cleaned pages, id, title, type and dates."""

from __future__ import annotations

import hashlib
import re
from datetime import date

from rag_qa.ingest import dates as D
from rag_qa.ingest.clean import MARKDOWN_HEADING, clean_pages, clean_text
from rag_qa.ingest.facts import Found, find_council, find_kind
from rag_qa.ingest.judgements import COMBINED, find_inspectors, find_judgements
from rag_qa.ingest.loaders import LoadError, RawDocument
from rag_qa.records import DateMention, Document, Fact, Page
from rag_qa.text.vocabulary import DOC_TYPES, KINDS


def doc_id_for(source: str) -> str:
    """Stable id from the document's path: readable slug plus a short hash of the path."""
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:48].strip("-") or "doc"
    return f"{slug}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"


_FOOTNOTE_MARK = re.compile(r"(?<=[A-Za-z])\d{1,2}\b")
LETTER_SUBJECT = re.compile(
    r"^(?:Focused visit|Monitoring visit|Joint targeted area inspection|Assurance visit)\b.*\bto\b",
    re.I,
)


def _tidy_title(text: str) -> str:
    text = _FOOTNOTE_MARK.sub("", text)
    text = re.split(r"\s+and\s+Review of\b", text)[0]
    text = re.sub(r"\s+", " ", text).strip(" .:-")
    if len(text) > 140:
        text = text[:140].rsplit(" ", 1)[0] + "…"
    return text


def find_title(lines: list[str]) -> str | None:
    # A Markdown heading's text without its "#" marks (.md files, web pages, Word files).
    head = [MARKDOWN_HEADING.sub(r"\g<text>", ln.strip()) for ln in lines[:25] if ln.strip()]
    for i, line in enumerate(head):
        if LETTER_SUBJECT.match(line):
            return _tidy_title(line)
        if line.startswith(("Inspection of ", "Re-inspection of ")):
            title = _tidy_title(line)
            prev = head[i - 1] if i else ""
            council = re.search(r"(Council|Borough|County|Authority)$", prev)
            if council and prev.lower() not in title.lower():
                title = f"{prev}: {title}"
            return title
    if head:
        first = head[0]
        if first.lower() == "agenda item" and len(head) > 1:
            return _tidy_title(head[1])
        if (
            len(first) <= 120
            and not first.endswith((".", ",", ";"))
            and not D.SINGLE_RE.match(first)
        ):
            return _tidy_title(first)
    return None


def fallback_title(source: str) -> str:
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[_]+", " ", stem).strip()
    return stem[:1].upper() + stem[1:]


def find_doc_type(title: str, text: str) -> str:
    t = title.lower()
    head = text[:3000].lower()
    if t.startswith("focused visit") or "findings of the focused visit" in head:
        return "focused visit letter"
    if "monitoring visit" in t and "minutes:" not in head:
        return "monitoring visit letter" if "dear " in head else "document"
    if "inspection of" in t:
        return "inspection report"
    if head.startswith("agenda item") or "\nminutes:" in head or "minutes:\n" in head:
        return "minutes"
    return "document"


def build_document(raw: RawDocument) -> Document:
    if raw.kind == "pdf":
        cleaned = clean_pages([text for _, text in raw.pages])
        pages = tuple(Page(num, txt) for (num, _), txt in zip(raw.pages, cleaned, strict=True))
    else:
        pages = (Page(None, clean_text(raw.pages[0][1])),)
    if not any(p.text.strip() for p in pages):
        raise LoadError(raw.source, "no text left after cleaning", "check the file's content")

    side = raw.sidecar
    all_lines = [ln for p in pages for ln in p.text.splitlines()]
    title = (
        side.get("title")
        or find_title(all_lines)
        or raw.meta.get("title")
        or fallback_title(raw.source)
    )
    full_text = "\n".join(p.text for p in pages)
    doc_type = side.get("doc_type") or find_doc_type(title, full_text)

    raw_pages = list(raw.pages)
    mentions: list[DateMention] = []
    warnings: list[str] = []
    visit = D.find_visit_dates(raw_pages)
    for role in ("visit_start", "visit_end"):
        if side.get(role):
            iso = _check_iso(side[role], raw.source, role, warnings)
            if iso:
                visit = [m for m in visit if m.role != role]
                visit.append(DateMention(role, iso, "sidecar", f"{role}: {side[role]}"))
    mentions.extend(visit)

    candidates: list[DateMention] = []
    if side.get("date"):
        iso = _check_iso(side["date"], raw.source, "date", warnings)
        if iso:
            candidates.append(DateMention("document", iso, "sidecar", f"date: {side['date']}"))
    letter = D.find_letter_date(pages[0].text, pages[0].number)
    if letter:
        candidates.append(letter)
    published = D.find_published_date(raw_pages)
    if published and published.rule != "originally-published":
        candidates.append(published)
    if raw.meta.get("date"):  # an HTML page's meta tags, a Word file's core properties
        iso = _check_iso(raw.meta["date"], raw.source, "date", warnings)
        if iso:
            rule = raw.meta.get("date_rule", "document-metadata")
            candidates.append(DateMention("document", iso, rule, f"{rule}: {iso}"))
    from_name = D.find_filename_date(raw.source)
    if from_name:
        candidates.append(from_name)
    if published and published.rule == "originally-published":
        candidates.append(published)
    mentions.extend(candidates)

    vs = next((m.date for m in visit if m.role == "visit_start"), None)
    ve = next((m.date for m in visit if m.role == "visit_end"), None)
    doc_type = doc_type if doc_type in DOC_TYPES else "document"
    cleaned = [(p.number, p.text) for p in pages]
    council, kind, facts = _facts(side, title, doc_type, cleaned, (vs, ve))
    if raw.meta.get("ocr_pages"):
        read = ", ".join(map(str, raw.meta["ocr_pages"]))
        facts += (Fact("ocr_pages", read, "ocr", f"pages without a text layer, OCR'd: {read}"),)
    return Document(
        doc_id=doc_id_for(raw.source),
        source=raw.source,
        title=title,
        doc_type=doc_type,
        date=candidates[0].date if candidates else None,
        visit_start=vs,
        visit_end=ve,
        dates=tuple(mentions),
        pages=pages,
        content_hash=raw.content_hash,
        source_url=_web_address(side.get("source_url"), raw.source, warnings),
        warnings=tuple(warnings),
        council=council,
        kind=kind,
        facts=facts,
    )


def _facts(side: dict, title: str, doc_type: str, pages, visit) -> tuple:
    """The council and report kind (a sidecar's "council" / "kind" win), with their facts."""
    found = find_council(title, pages)
    if isinstance(side.get("council"), str) and side["council"].strip():
        found = Found(side["council"].strip(), "sidecar", f"council: {side['council']}")
    kind = find_kind(title, doc_type, pages[0][1] if pages else "", visit)
    if side.get("kind") in KINDS:
        kind = Found(side["kind"], "sidecar", f"kind: {side['kind']}")
    facts = [Fact("kind", kind.value, kind.rule, kind.evidence, kind.page)]
    if found:
        facts.insert(0, Fact("council", found.value, found.rule, found.evidence, found.page))
    facts += _report_facts(kind.value, pages)
    return (found.value if found else None), kind.value, tuple(facts)


def _report_facts(kind: str, pages) -> list[Fact]:
    """The judgements and inspectors of a report (ingest.judgements), as facts."""
    facts = []
    for key, f in find_judgements(kind, pages).items():
        if key == COMBINED:
            facts.append(Fact(COMBINED, "in_care+care_leavers", f.rule, f.evidence, f.page))
        else:
            facts.append(Fact(f"judgement.{key}", f.value, f.rule, f.evidence, f.page))
    lead, others = find_inspectors(kind, pages)
    if lead is not None:
        facts.append(Fact("lead_inspector", lead.value, lead.rule, lead.evidence, lead.page))
    if others:
        facts.append(Fact("inspectors", "; ".join(others), "named", "; ".join(others)))
    return facts


def _web_address(value: str | None, source: str, warnings: list[str]) -> str | None:
    """A sidecar's ``source_url`` when it is an http(s) address (never javascript: or file:)."""
    if not value or re.match(r"https?://[^\s]+$", value, re.I):
        return value or None
    warnings.append(f"{source}: metadata 'source_url' must be an http(s) address; ignored")
    return None


def _check_iso(value: str, source: str, field: str, warnings: list[str]) -> str | None:
    """``value`` when it is a real day written YYYY-MM-DD ("2024-13-45" is not)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        try:
            date.fromisoformat(value)
            return value
        except ValueError:
            pass
    shown = value if isinstance(value, str) and len(value) <= 40 else type(value).__name__
    warnings.append(
        f"{source}: metadata '{field}' must be a date YYYY-MM-DD, got {shown!r}; ignored"
    )
    return None
