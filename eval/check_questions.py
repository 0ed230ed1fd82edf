"""Check the retrieval evaluation set eval/questions.jsonl against the corpus.

For every question it checks the schema, that ids are unique, that unanswerable
questions have no answers and no sources, and that every answer phrase occurs
(after normalisation) in at least one of the listed sources. For PDFs a phrase
must occur within a single page, so that it does not straddle a page break.
It then prints the number of questions per tag.

Normalisation mirrors the hit test: lower-case, curly quotes and apostrophes
mapped to straight ones, all whitespace collapsed to single spaces.

Usage: python eval/check_questions.py [--questions PATH] [--corpus DIR] [-v]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from pypdf import PdfReader

HERE = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = HERE / "questions.jsonl"
CORPUS_CANDIDATES = [HERE.parent / "corpus", Path("/work/shared/corpus")]

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

QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    ap.add_argument("--corpus", default=None)
    ap.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list answers that occur in sources not listed",
    )
    args = ap.parse_args()

    corpus = find_corpus(args.corpus)
    docs = {
        p.name: load_source(p)
        for p in sorted(corpus.iterdir())
        if p.suffix.lower() in {".pdf", ".txt"}
    }

    errors: list[str] = []
    notes: list[str] = []
    questions = []
    for lineno, line in enumerate(Path(args.questions).read_text(encoding="utf-8").splitlines(), 1):
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
        for field in ("answers", "sources", "tags"):
            if not isinstance(q[field], list) or not all(isinstance(x, str) for x in q[field]):
                errors.append(f"{where}: {field} must be a list of strings")
        bad_tags = set(q["tags"]) - TAGS
        if bad_tags:
            errors.append(f"{where}: unknown tags {sorted(bad_tags)}")
        if len(set(q["tags"])) != len(q["tags"]):
            errors.append(f"{where}: repeated tag")
        tag_counts.update(set(q["tags"]))

        if "unanswerable" in q["tags"]:
            if q["answers"] or q["sources"]:
                errors.append(f"{where}: unanswerable question must have empty answers/sources")
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
        if TWINS & set(q["sources"]) and not TWINS.issubset(q["sources"]):
            errors.append(f"{where}: the 12 July 2024 letter must be listed under both names")
        kinds = {"pdf" if s.endswith(".pdf") else "text-doc" for s in q["sources"]}
        for kind in kinds - set(q["tags"]):
            errors.append(f"{where}: a source is a {kind} but the tag {kind!r} is missing")
        for kind in {"pdf", "text-doc"} & set(q["tags"]) - kinds:
            errors.append(f"{where}: tag {kind!r} but no such source")

        for ans in q["answers"]:
            norm = normalise(ans)
            words = len(norm.split())
            if not 3 <= words <= 12:
                errors.append(f"{where}: answer {ans!r} has {words} words (want 3-12)")
            if any(b in norm for b in BOILERPLATE):
                errors.append(f"{where}: answer {ans!r} relies on stripped boilerplate")
            hits = [s for s in q["sources"] if any(norm in unit for unit in docs[s])]
            if not hits:
                whole = [s for s in q["sources"] if norm in " ".join(docs[s])]
                why = " (only across a page break)" if whole else ""
                errors.append(f"{where}: answer {ans!r} not found in listed sources{why}")
            elif TWINS.issubset(q["sources"]) and not TWINS.issubset(hits):
                notes.append(f"{where}: answer {ans!r} only in {hits}")
            others = [s for s in docs if s not in q["sources"] and any(norm in u for u in docs[s])]
            if others and args.verbose:
                notes.append(f"{where}: answer {ans!r} also occurs in unlisted {others}")

    for n in notes:
        print("note:", n)
    for e in errors:
        print("ERROR:", e)
    print(f"\n{len(questions)} questions, {len(docs)} corpus documents ({corpus})")
    for tag in sorted(TAGS, key=lambda t: (-tag_counts[t], t)):
        print(f"  {tag:<13} {tag_counts[tag]}")
    if errors:
        print(f"\nFAILED: {len(errors)} error(s)")
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
