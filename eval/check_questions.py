"""Check a retrieval evaluation set (by default eval/questions.jsonl) against its corpus.

For every question it checks the schema, that ids are unique, that unanswerable
questions have no answers and no sources, and that every answer phrase occurs
(after normalisation) in at least one of the listed sources. For PDFs a phrase
must occur within a single page, so that it does not straddle a page break.
It then prints the number of questions per tag.

Normalisation mirrors the hit test: lower-case, curly quotes and apostrophes
mapped to straight ones, en and em dashes to hyphens, all whitespace collapsed
to single spaces.

Two suites are known:

* ``slough`` (the default): eval/questions.jsonl against the flat Slough corpus
  (corpus/ or /work/shared/corpus); sources are file names.
* ``multi-council``: eval/multi_council.jsonl against ../shared/ofsted-sample, one
  folder per council, so sources are paths with a folder
  (``80438_brighton and hove/children's services inspection - 16 may 2024.pdf``).
  On top of the checks above it reads each report's kind from its first page
  (ILACS inspection, SIF inspection or re-inspection, focused visit, monitoring
  visit, JTAI, looked-after children inspection) and checks that

  - each answerable question carries exactly one report-kind tag, the kind of its sources;
  - the question names the council of every source (full name or a known short form),
    and the tags ``short-name``, ``possessive`` and ``temporal`` agree with the wording;
  - ``number``, ``date`` and ``judgement`` questions have an answer that holds one;
  - every answer phrase survives the boilerplate stripping done before indexing (running
    headers and footers, page numbers, Ofsted's address and back matter) and occurs on
    at most two pages of a source, so that it pins down the answering passage.

  It also prints the questions per report kind (ILACS split into standard and short
  inspections by the length of the inspection), the number naming a year or a visit,
  the unanswerable ones and the councils covered.

The suite is chosen with --suite, or from the questions file name (multi_council.jsonl),
or from a corpus whose reports sit in sub-folders.

Usage: python eval/check_questions.py [--suite NAME] [--questions PATH] [--corpus DIR] [-v]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pypdf import PdfReader

from rag_qa.ingest.clean import clean_pages

HERE = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = HERE / "questions.jsonl"
CORPUS_CANDIDATES = [HERE.parent / "corpus", Path("/work/shared/corpus")]
MULTI_QUESTIONS = HERE / "multi_council.jsonl"
MULTI_CORPUS_CANDIDATES = [
    HERE.parent.parent / "shared" / "ofsted-sample",
    Path("/work/shared/ofsted-sample"),
]

TAGS = {
    "lookup",
    "paraphrase",
    "temporal",
    "cross-year",
    "people",
    "date",
    "number",
    "text-doc",
    "pdf",
    "unanswerable",
}
# Report kinds, as tags of the multi-council suite; read from a report's first page.
KIND_TAGS = {
    "ilacs",
    "sif",
    "sif-reinspection",
    "focused-visit",
    "monitoring-visit",
    "jtai",
    "lac-inspection",
}
MULTI_TAGS = {
    "lookup",
    "paraphrase",
    "temporal",
    "cross-council",
    "named-thing",
    "number",
    "people",
    "date",
    "judgement",
    "short-name",
    "possessive",
    "unanswerable",
} | KIND_TAGS
KEYS = {"id", "question", "answers", "sources", "tags"}
# The 12 July 2024 focused visit letter exists twice; questions about it list both.
TWINS = {"004_47fcb011e17a0460.txt", "children's services focused visit - 12 july 2024.pdf"}
# Boilerplate that is stripped before indexing: answers must not rely on it.
BOILERPLATE = [
    "piccadilly gate",
    "store street",
    "textphone",
    "open government licence",
    "crown copyright",
    "enquiries@ofsted.gov.uk",
]
# Standard sentences of every letter or report: they do not pin down an answer.
STOCK_PHRASES = BOILERPLATE + [
    "ofsted will take the findings",
    "this letter summarises the findings",
    "this visit was carried out in line with",
    "yours sincerely",
    "ofsted produces this report under its power",
    "a full description of what the inspection judgements mean",
]

QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(QUOTES).lower()).strip()


def load_source(path: Path) -> list[str]:
    """Return the normalised text of a source as a list of units (pages for PDFs)."""
    if path.suffix.lower() == ".pdf":
        return [normalise(page.extract_text() or "") for page in PdfReader(path).pages]
    return [normalise(path.read_text(encoding="utf-8"))]


def find_corpus(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    for cand in CORPUS_CANDIDATES:
        if cand.is_dir() and any(cand.glob("*.pdf")):
            return cand
    sys.exit("corpus directory not found; pass --corpus")


# --- multi-council suite ------------------------------------------------------------------

# Short forms people use for councils of the sample, by the name part of the folder name
# (``80438_brighton and hove`` -> ``brighton and hove``). The full name always counts.
ALIASES = {
    "brighton and hove": ["brighton"],
    "kensington and chelsea": ["kensington and chelsea", "rbkc", "kensington"],
    "kingston upon thames": ["kingston"],
    "telford & wrekin": ["telford"],
    "hammersmith and fulham": ["hammersmith", "h&f"],
    "cheshire west and chester": ["cheshire west", "cwac"],
    "redcar and cleveland": ["redcar"],
    "isles of scilly": ["scilly", "the scillies"],
    "westmorland and furness": ["westmorland"],
    "central bedfordshire": ["central beds"],
    "north northamptonshire": ["north northants"],
    "west northamptonshire": ["west northants"],
    "west berkshire": ["west berks"],
    "north lincolnshire": ["north lincs"],
    "lincolnshire": ["lincs"],
    "leicestershire": ["leics"],
    "warwickshire": ["warks"],
    "worcestershire": ["worcs"],
    "gloucestershire": ["glos"],
    "hertfordshire": ["herts"],
}
# Full names other than the folder's: a short form is any name not listed here.
FULL_NAMES = {
    "telford & wrekin": ["telford & wrekin", "telford and wrekin"],
    "kensington and chelsea": ["royal borough of kensington and chelsea"],
    "kingston upon thames": ["kingston upon thames", "kingston-upon-thames"],
}
MONTHS = (
    "january february march april may june july august september october november december"
).split()
NUMBER_WORDS = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
    r"thirty|forty|fifty|hundred|thousand|half|third|quarter|dozen|single|first|second|"
    r"weekly|monthly|daily|fortnightly|annual|three-monthly|six-monthly)\b"
)
DATE_WORDS = re.compile(r"\b(?:(?:19|20)\d{2}|" + "|".join(MONTHS) + r")\b")
JUDGEMENT_WORDS = re.compile(
    r"\b(?:good|outstanding|inadequate|requires? improvement|adequate|no longer inadequate)\b"
)
TEMPORAL_RE = re.compile(
    r"\b(?:(?:19|20)\d{2}|visits?|inspections?|re-inspection|most recent|latest)\b", re.I
)
POSSESSIVE_RE = re.compile(r"\b[A-Z][A-Za-z&]+(?:'|\u2019)s\b")

# Page-1 patterns that tell the report kinds apart (checked in this order).
KIND_PATTERNS = [
    ("sif-reinspection", re.compile(r"re-inspection of services for children in need")),
    ("sif", re.compile(r"inspection of services for children in need of help and protection")),
    ("lac-inspection", re.compile(r"inspection of (?:safeguarding and )?looked after children")),
    ("jtai", re.compile(r"^joint targeted area inspection|joint targeted area inspection of ")),
    ("ilacs", re.compile(r"inspection dates?:.*lead inspector.*overall effectiveness")),
    ("focused-visit", re.compile(r"(?:^|\n)\s*focused visit to ")),
    ("monitoring-visit", re.compile(r"(?:^|\n)\s*monitoring visit (?:to|of) ")),
]
# Kinds recognised by a line of their own (the letter's title), not by running text.
LINE_KINDS = {"focused-visit", "monitoring-visit"}
ILACS_DATES = re.compile(
    r"inspection dates?:\s*(\d{1,2})(?:\s+([a-z]+))?(?:\s+(\d{4}))?\s*(?:to|-)\s*"
    r"(\d{1,2})\s+([a-z]+)\s+(\d{4})"
)


def indexed_pages(pages: list[str]) -> list[str]:
    """Page texts as the index sees them (rag_qa.ingest.clean itself: running headers and
    footers, page numbers, Ofsted's address and back matter dropped), normalised."""
    return [normalise(text) for text in clean_pages(pages)]


def _parse_day(day: str, month: str | None, year: str | None, end: date) -> date | None:
    try:
        m = MONTHS.index(month) + 1 if month else end.month
        return date(int(year) if year else end.year, m, int(day))
    except ValueError:
        return None


def report_kind(first_page: str) -> tuple[str | None, str]:
    """(kind tag, detail) read from a report's first page; detail splits ILACS by length."""
    flat, lines = normalise(first_page), first_page.lower()
    for kind, pattern in KIND_PATTERNS:
        if pattern.search(lines if kind in LINE_KINDS else flat):
            break
    else:
        return None, "unknown"
    if kind != "ilacs":
        return kind, kind
    m = ILACS_DATES.search(normalise(first_page))
    if not m:
        return kind, "ilacs (length unknown)"
    d1, m1, y1, d2, m2, y2 = m.groups()
    end = _parse_day(d2, m2, y2, date(int(y2), 1, 1))
    start = _parse_day(d1, m1, y1, end) if end else None
    if not start or not end:
        return kind, "ilacs (length unknown)"
    days = (end - start).days
    return kind, "ilacs (short)" if days <= 7 else "ilacs (standard)"


@dataclass
class Report:
    pages: list[str]
    indexed: list[str]
    kind: str | None
    detail: str
    council: str


def council_names(council: str) -> tuple[list[str], list[str]]:
    """(full names, short forms) by which a question may name a council."""
    return FULL_NAMES.get(council, [council]), ALIASES.get(council, [])


def _mentions(text: str, name: str) -> bool:
    return re.search(r"(?<![\w&])" + re.escape(name) + r"(?![\w&])", text) is not None


def load_reports(corpus: Path) -> dict[str, Report]:
    docs: dict[str, Report] = {}
    for p in sorted(corpus.rglob("*")):
        if p.suffix.lower() not in {".pdf", ".txt"} or not p.is_file():
            continue
        rel = p.relative_to(corpus).as_posix()
        if p.suffix.lower() == ".pdf":
            raw = [page.extract_text() or "" for page in PdfReader(p).pages]
        else:
            raw = [p.read_text(encoding="utf-8")]
        kind, detail = report_kind(raw[0] if raw else "")
        folder = rel.split("/", 1)[0] if "/" in rel else ""
        council = folder.split("_", 1)[1] if "_" in folder else folder
        docs[rel] = Report([normalise(t) for t in raw], indexed_pages(raw), kind, detail, council)
    return docs


@dataclass
class MultiStats:
    kinds: Counter[str] = field(default_factory=Counter)
    details: Counter[str] = field(default_factory=Counter)
    temporal: int = 0
    unanswerable: int = 0
    councils: set[str] = field(default_factory=set)


def check_wording(where: str, q: dict, docs: dict[str, Report], errors: list[str]) -> None:
    """Council names, short forms, possessives and years/visits against the tags."""
    text, tags = q["question"], set(q["tags"])
    low = normalise(text)
    if ("temporal" in tags) != bool(TEMPORAL_RE.search(text)):
        errors.append(f"{where}: tag 'temporal' must be given iff the question names a year/visit")
    if "unanswerable" in tags:
        wants = bool(POSSESSIVE_RE.search(text.replace("Ofsted's", "")))
        if ("possessive" in tags) != wants:
            errors.append(f"{where}: tag 'possessive' does not match the wording")
        return
    short_only = possessive = False
    for council in sorted({docs[s].council for s in q["sources"]}):
        full, short = council_names(council)
        named_full = [n for n in full if _mentions(low, n)]
        named_short = [n for n in short if _mentions(low, n)]
        if not named_full and not named_short:
            errors.append(f"{where}: the question does not name the council {council!r}")
            continue
        short_only |= not named_full
        possessive |= any(_mentions(low, n + "'s") for n in named_full + named_short)
    if ("short-name" in tags) != short_only:
        errors.append(
            f"{where}: tag 'short-name' must be given iff a council is named only by a short form"
        )
    if ("possessive" in tags) != possessive:
        errors.append(
            f"{where}: tag 'possessive' must be given iff a council is named in the possessive"
        )


def check_multi(
    where: str, q: dict, docs: dict[str, Report], errors: list[str], stats: MultiStats
) -> None:
    """The multi-council checks of one question whose schema is already valid."""
    tags = set(q["tags"])
    kinds = tags & KIND_TAGS
    if TEMPORAL_RE.search(q["question"]):
        stats.temporal += 1
    check_wording(where, q, docs, errors)
    if "unanswerable" in tags:
        stats.unanswerable += 1
        if len(kinds) > 1:
            errors.append(f"{where}: more than one report-kind tag {sorted(kinds)}")
        return
    if len(kinds) != 1:
        errors.append(f"{where}: give exactly one report-kind tag, not {sorted(kinds)}")
    for s in q["sources"]:
        rep = docs[s]
        stats.councils.add(rep.council)
        if "/" not in s:
            errors.append(f"{where}: source {s!r} has no council folder")
        if rep.kind is None:
            errors.append(f"{where}: cannot tell what kind of report {s!r} is")
        elif rep.kind not in tags:
            errors.append(f"{where}: {s!r} is a {rep.kind!r} report, tags say {sorted(kinds)}")
    stats.kinds.update(kinds)
    stats.details.update({docs[s].detail for s in q["sources"]})
    answers = [normalise(a) for a in q["answers"]]
    wants = {"number": NUMBER_WORDS, "date": DATE_WORDS, "judgement": JUDGEMENT_WORDS}
    for tag, pattern in wants.items():
        if tag in tags and not any(pattern.search(a) for a in answers):
            errors.append(f"{where}: tag {tag!r} but no answer holds a {tag}")
    for ans, norm in zip(q["answers"], answers, strict=True):
        if any(b in norm for b in STOCK_PHRASES):
            errors.append(f"{where}: answer {ans!r} is stock wording of every report")
        for s in q["sources"]:
            pages = sum(norm in page for page in docs[s].indexed)
            if pages > 2:
                errors.append(f"{where}: answer {ans!r} on {pages} pages of {s!r}; too vague")


def print_multi(stats: MultiStats, total: int) -> None:
    print("\nreport kinds (questions with a source of that kind)")
    for kind in sorted(KIND_TAGS, key=lambda k: (-stats.kinds[k], k)):
        print(f"  {kind:<17} {stats.kinds[kind]}")
    for detail in ("ilacs (standard)", "ilacs (short)"):
        print(f"    {detail:<15} {stats.details[detail]}")
    print(f"\nnaming a year or visit: {stats.temporal} of {total}")
    print(f"unanswerable: {stats.unanswerable}")
    print(f"councils covered ({len(stats.councils)}): {', '.join(sorted(stats.councils))}")


# --- main ---------------------------------------------------------------------------------


def choose_suite(args: argparse.Namespace) -> str:
    if args.suite:
        return args.suite
    if args.questions and Path(args.questions).name == MULTI_QUESTIONS.name:
        return "multi-council"
    if args.corpus:
        corpus = Path(args.corpus)
        flat = any(p.suffix.lower() in {".pdf", ".txt"} for p in corpus.glob("*"))
        if not flat and any(corpus.glob("*/*.pdf")):
            return "multi-council"
    return "slough"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=["slough", "multi-council"], default=None)
    ap.add_argument("--questions", default=None)
    ap.add_argument("--corpus", default=None)
    ap.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list answers that occur in sources not listed",
    )
    args = ap.parse_args()
    multi = choose_suite(args) == "multi-council"
    tag_set = MULTI_TAGS if multi else TAGS
    questions_path = Path(args.questions or (MULTI_QUESTIONS if multi else DEFAULT_QUESTIONS))

    if multi:
        corpus = (
            Path(args.corpus)
            if args.corpus
            else next((c for c in MULTI_CORPUS_CANDIDATES if c.is_dir()), None)
        )
        if corpus is None:
            sys.exit("corpus directory not found; pass --corpus")
        reports = load_reports(corpus)
        # Answers must be found in the text as indexed (boilerplate stripped, hyphenated
        # line breaks re-joined), so that is the text searched.
        docs = {name: rep.indexed for name, rep in reports.items()}
    else:
        corpus = find_corpus(args.corpus)
        reports = {}
        docs = {
            p.name: load_source(p)
            for p in sorted(corpus.iterdir())
            if p.suffix.lower() in {".pdf", ".txt"}
        }
    stats = MultiStats()

    errors: list[str] = []
    notes: list[str] = []
    questions = []
    for lineno, line in enumerate(questions_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            questions.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append(f"line {lineno}: invalid JSON ({exc})")

    ids = Counter(q.get("id") for _, q in questions)
    errors += [f"duplicate id {i!r} ({n} times)" for i, n in ids.items() if n > 1]

    tag_counts: Counter[str] = Counter()
    for lineno, q in questions:
        where = f"line {lineno} ({q.get('id')})"
        if set(q) != KEYS:
            errors.append(f"{where}: keys {sorted(q)} != {sorted(KEYS)}")
            continue
        if not isinstance(q["id"], str) or not q["id"]:
            errors.append(f"{where}: id must be a non-empty string")
        if not isinstance(q["question"], str) or not q["question"].strip():
            errors.append(f"{where}: question must be a non-empty string")
        for field_name in ("answers", "sources", "tags"):
            value = q[field_name]
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                errors.append(f"{where}: {field_name} must be a list of strings")
        bad_tags = set(q["tags"]) - tag_set
        if bad_tags:
            errors.append(f"{where}: unknown tags {sorted(bad_tags)}")
        if len(set(q["tags"])) != len(q["tags"]):
            errors.append(f"{where}: repeated tag")
        tag_counts.update(set(q["tags"]))

        if "unanswerable" in q["tags"]:
            if q["answers"] or q["sources"]:
                errors.append(f"{where}: unanswerable question must have empty answers/sources")
            elif multi:
                check_multi(where, q, reports, errors, stats)
            continue
        if not q["answers"] or not q["sources"]:
            errors.append(f"{where}: answerable question needs answers and sources")
            continue
        if not 1 <= len(q["answers"]) <= 3:
            errors.append(f"{where}: give one to three answer phrases")

        missing = [s for s in q["sources"] if s not in docs]
        if missing:
            errors.append(f"{where}: unknown sources {missing}")
            continue
        if not multi:
            if TWINS & set(q["sources"]) and not TWINS.issubset(q["sources"]):
                errors.append(f"{where}: the 12 July 2024 letter must be listed under both names")
            kinds = {"pdf" if s.endswith(".pdf") else "text-doc" for s in q["sources"]}
            for kind in kinds - set(q["tags"]):
                errors.append(f"{where}: a source is a {kind} but the tag {kind!r} is missing")
            for kind in {"pdf", "text-doc"} & set(q["tags"]) - kinds:
                errors.append(f"{where}: tag {kind!r} but no such source")

        low, high = (3, 15) if multi else (3, 12)
        for ans in q["answers"]:
            norm = normalise(ans)
            words = len(norm.split())
            if not low <= words <= high:
                errors.append(f"{where}: answer {ans!r} has {words} words (want {low}-{high})")
            if any(b in norm for b in BOILERPLATE):
                errors.append(f"{where}: answer {ans!r} relies on stripped boilerplate")
            hits = [s for s in q["sources"] if any(norm in unit for unit in docs[s])]
            if not hits:
                whole = [s for s in q["sources"] if norm in " ".join(docs[s])]
                raw = multi and any(norm in u for s in q["sources"] for u in reports[s].pages)
                why = " (only across a page break)" if whole else ""
                why = " (only in text stripped before indexing)" if raw else why
                errors.append(f"{where}: answer {ans!r} not found in listed sources{why}")
            elif not multi and TWINS.issubset(q["sources"]) and not TWINS.issubset(hits):
                notes.append(f"{where}: answer {ans!r} only in {hits}")
            others = [s for s in docs if s not in q["sources"] and any(norm in u for u in docs[s])]
            if others and args.verbose:
                notes.append(f"{where}: answer {ans!r} also occurs in unlisted {others}")
        if multi:
            check_multi(where, q, reports, errors, stats)

    for n in notes:
        print("note:", n)
    for e in errors:
        print("ERROR:", e)
    print(f"\n{len(questions)} questions, {len(docs)} corpus documents ({corpus})")
    for tag in sorted(tag_set, key=lambda t: (-tag_counts[t], t)):
        print(f"  {tag:<13} {tag_counts[tag]}")
    if multi:
        print_multi(stats, len(questions))
    if errors:
        print(f"\nFAILED: {len(errors)} error(s)")
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
