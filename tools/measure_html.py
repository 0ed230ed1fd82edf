"""Which HTML main-text extractor rag_qa.ingest.html uses, measured on council pages.

    PYTHONPATH=src .venv/bin/python tools/measure_html.py

For every page in tests/fixtures/html/expected.json, each candidate's text (through the same
tree-to-lines walk, ``rag_qa.ingest.html.tree_blocks``) is scored: the share of the page's
expected main-text sentences it keeps (headings as "## ..." lines, table rows as
"cell | cell") and the share of its boilerplate lines (cookie banner, navigation, breadcrumbs,
sidebars, footer) it leaks. "+ page" rows put each extractor's kept lines back into the page's
own lines (``project``: the page's headings, order and table rows), as the loader does.
readability-lxml is only needed to run this (pip install readability-lxml==0.9).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from rag_qa.ingest import html as H

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "html"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'")).strip().lower()


def trafilatura_lines(text: str, favor_precision: bool = False) -> list[str]:
    return H.main_text_lines(text, favor_precision=favor_precision)


def readability_lines(text: str) -> list[str]:
    import lxml.html
    from readability import Document

    summary = Document(text).summary(html_partial=True)
    return H.tree_blocks(lxml.html.fragment_fromstring(summary, create_parent="div"))


def with_page(extract):
    def run(text: str) -> list[str]:
        tree = lxml_tree(text)
        return H.project(H.tree_blocks(tree.find("body")), extract(text))

    return run


def lxml_tree(text: str):
    import lxml.html

    return lxml.html.document_fromstring(text)


CANDIDATES = {
    "trafilatura 2.3.1 (default)": trafilatura_lines,
    "trafilatura 2.3.1 (favor_precision)": lambda t: trafilatura_lines(t, favor_precision=True),
    "readability-lxml 0.9": readability_lines,
    "trafilatura default + page": with_page(trafilatura_lines),
    "trafilatura favor_precision + page": with_page(
        lambda t: trafilatura_lines(t, favor_precision=True)
    ),
    "readability-lxml 0.9 + page": with_page(readability_lines),
}


def score(lines: list[str], expected: dict) -> tuple[int, int, list[str], list[str]]:
    out = "\n".join(_norm(ln) for ln in lines)
    as_lines = set(out.split("\n"))
    kept = [s for s in expected["main"] if _norm(s) in out]
    # A heading counts only as its own "## ..." line; a sentence anywhere in the text.
    kept = [s for s in kept if not s.startswith("#") or _norm(s) in as_lines]
    leaked = [b for b in expected["boilerplate"] if _norm(b) in out]
    missed = [s for s in expected["main"] if s not in kept]
    return len(kept), len(leaked), missed, leaked


def main(verbose: bool = False) -> None:
    expected = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
    pages = {k: v for k, v in expected.items() if not k.startswith("_")}
    for name, extract in CANDIDATES.items():
        kept = leaked = total_main = total_boiler = 0
        seconds = 0.0
        notes = []
        for page, exp in pages.items():
            text = (FIXTURES / page).read_text(encoding="utf-8")
            start = time.perf_counter()
            try:
                lines = extract(text)
            except Exception as err:  # noqa: BLE001 - a candidate failing is a result
                lines = []
                notes.append(f"{page}: {type(err).__name__}")
            seconds += time.perf_counter() - start
            k, lk, missed, leaks = score(lines, exp)
            kept, leaked = kept + k, leaked + lk
            total_main += len(exp["main"])
            total_boiler += len(exp["boilerplate"])
            if not exp["main"] and lines:
                notes.append(f"{page}: {len(lines)} lines from a page with no main text")
            if verbose:
                for m in missed:
                    notes.append(f"{page}: missed {m[:60]!r}")
                for b in leaks:
                    notes.append(f"{page}: leaked {b[:60]!r}")
        print(
            f"{name:40} main kept {kept}/{total_main} ({kept / total_main:.0%})  "
            f"boilerplate leaked {leaked}/{total_boiler} ({leaked / total_boiler:.0%})  "
            f"{seconds * 1000:.0f} ms"
        )
        for note in notes:
            print("    " + note)


if __name__ == "__main__":
    main(verbose="-v" in sys.argv)
