"""Reading a saved web page (.html, .htm): its main text, title and date.

Only the page's main text is kept: navigation, cookie banners, breadcrumbs, sidebars, headers
and footers are dropped (trafilatura decides). Headings become Markdown heading lines
("## Heading", which cleaning and chunking treat as headings and section names), table rows become
"cell | cell" lines, every paragraph or list item one line.

Why trafilatura (measured by ``tools/measure_html.py`` on the council pages in
``tests/fixtures/html/``: scrutiny panel minutes, a news release, a cabinet report with a
table, a service page, each with cookie banner, navigation, breadcrumbs, sidebar and footer;
``expected.json`` lists each page's 42 main-text sentences, headings and table rows in all and
its 43 boilerplate lines; every candidate's tree goes through the same ``tree_blocks``):

=============================================  ==============  ====================
candidate                                      main text kept  boilerplate leaked
=============================================  ==============  ====================
trafilatura 2.3.1, default                     41/42 (98%)     3/43 (7%)
trafilatura 2.3.1, favor_precision             41/42 (98%)     0/43 (0%)
readability-lxml 0.9                           42/42 (100%)    2/43 (5%)
trafilatura favor_precision + page (used)      42/42 (100%)    0/43 (0%)
readability-lxml 0.9 + page                    42/42 (100%)    2/43 (5%)
=============================================  ==============  ====================

Trafilatura's default mode keeps a modern.gov page's cookie notice; readability-lxml keeps a
GOV.UK-style cookie banner (its text looks like prose); trafilatura in precise mode leaks
nothing but drops some headings (the cabinet report's, which it keeps neither as headings nor
as text). So the loader lets trafilatura (favor_precision) decide which lines are main text
and takes headings, order and table rows from the page itself (``project``: "+ page" rows).
Every candidate returns a line (a breadcrumb trail or a menu) for a page that is only
navigation and a cookie banner; ``has_main_text`` refuses that page. About 3 ms a page.

The title comes from og:title, else the first <h1>, else <title> less its " | Site name"
suffix; the date from a meta tag (article:published_time, DC.date, date ...; rule
"html-meta"), else the first <time datetime> ("html-time"), else a visible "Published: 3 March
2024" or "Last updated: ..." line ("html-published-line").

Limits: the file's size is capped by ``load_file`` (``max_bytes``); a page nested
``MAX_DEPTH`` elements deep (libxml2 silently drops what lies below depth 256) or holding more
than ``MAX_ELEMENTS`` elements (trafilatura takes ~70 microseconds an element: 5 s for 72,000)
is refused before extraction, in well under a second, with one clear message instead of
holding up the build.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag_qa.ingest import dates as D
from rag_qa.ingest.loaders import LoadError, decode_text

# libxml2 stops nesting at 256 and drops what lies deeper, so a page that reaches this depth
# has lost text; trafilatura takes ~70 microseconds an element (the fixtures have 30 to 100),
# so the cap keeps one page under ~3 s on this machine.
MAX_DEPTH = 250
MAX_ELEMENTS = 40_000

HEADINGS = {f"h{n}": n for n in range(1, 7)}
ROWS = {"tr", "row"}
CELLS = {"td", "th", "cell"}
SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
BLOCKS = {
    "p", "div", "li", "item", "blockquote", "quote", "section", "article", "main", "ul", "ol",
    "list", "dl", "dt", "dd", "pre", "caption", "figcaption", "figure", "header", "footer",
    "aside", "nav", "form", "br", "hr", "lb", "table", "tbody", "thead", "tfoot", "body",
    "address", "details", "summary", "fieldset", "legend", "code",
}  # fmt: skip

META_DATE_KEYS = (
    "article:published_time",
    "og:published_time",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "dcterms.issued",
    "dcterms.created",
    "date",
    "publication_date",
    "pubdate",
    "article:modified_time",
    "dcterms.modified",
    "last-modified",
)
VISIBLE_DATE = re.compile(
    r"\b(?:Date\s+published|Published(?:\s+on)?|Last\s+updated(?:\s+on)?|Updated(?:\s+on)?|"
    r"Page\s+last\s+updated|Last\s+reviewed)\s*:?\s*",
    re.I,
)
ISO_START = re.compile(r"^\s*(\d{4})-(\d\d)-(\d\d)")


def _tag(el) -> str:
    return el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""


def _heading_level(el) -> int:
    tag = _tag(el)
    if tag in HEADINGS:
        return HEADINGS[tag]
    if tag == "head":  # trafilatura's XML: <head rend="h2">
        m = re.fullmatch(r"h([1-6])", el.get("rend", ""))
        return int(m[1]) if m else 2
    return 0


def _squash(text: str) -> str:
    return " ".join(text.split())


def tree_blocks(root, xml: bool = False) -> list[str]:
    """The text of an element tree as lines: one a paragraph, list item or table row
    ("cell | cell"), headings as "## ..." lines. Iterative, so any depth is safe. ``xml``:
    the tree is trafilatura's XML, whose <head> is a heading, not the page's head."""
    from lxml import etree

    out: list[str] = []
    buf: list[str] = []
    cells: list[str] | None = None
    skip = SKIP - {"head"} if xml else SKIP

    def flush(prefix: str = "") -> None:
        text = _squash("".join(buf))
        buf.clear()
        if text:
            out.append(prefix + text)

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = _tag(el)
        if event == "start":
            if tag in skip or not tag:
                walker.skip_subtree()
                continue
            if tag in ROWS:
                flush()
                cells = []
            elif cells is None and (tag in BLOCKS or _heading_level(el)):
                flush()
            buf.append(el.text or "")
            continue
        if tag and tag not in skip:
            if tag in CELLS and cells is not None:
                cells.append(_squash("".join(buf)))
                buf.clear()
            elif tag in ROWS and cells is not None:
                cells.append(_squash("".join(buf)))
                buf.clear()
                row = [c for c in cells if c]
                if row:
                    out.append(" | ".join(row))
                cells = None
            elif cells is None and _heading_level(el):
                flush("#" * _heading_level(el) + " ")
            elif cells is None and tag in BLOCKS:
                flush()
        buf.append(el.tail or "")
    flush()
    return out


def parse_page(text: str, source: str):
    """The page as an lxml tree; LoadError for a page too deep or too big to read safely."""
    import lxml.html
    from lxml import etree

    if not text.strip():
        raise LoadError(source, "the web page is empty", "save the page again or remove it")
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as err:
        raise LoadError(
            source, "the web page has no main text (it is empty)", "save the page again"
        ) from err
    count, deepest = 0, 0
    depth = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        count += event == "start"
        deepest = max(deepest, depth)
        if deepest >= MAX_DEPTH or count > MAX_ELEMENTS:
            what = (
                f"nested {MAX_DEPTH} or more elements deep"
                if deepest >= MAX_DEPTH
                else f"more than {MAX_ELEMENTS:,} elements"
            )
            raise LoadError(
                source,
                f"the web page is too complex to read safely ({what})",
                "save the article alone, or as PDF or text",
            )
    return tree


def page_title(tree) -> str | None:
    """og:title, else the first <h1>, else <title> less a trailing " | Site name"."""
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or "").lower()
        if key in ("og:title", "dc.title") and _squash(el.get("content") or ""):
            return _squash(el.get("content"))
    for el in tree.iter("h1"):
        text = _squash(el.text_content())
        if text:
            return text
    for el in tree.iter("title"):
        text = _squash(el.text_content())
        if text:
            return re.split(r"\s+[|–—]\s+|\s+-\s+(?=[^-]*$)", text)[0].strip() or text
    return None


def _iso(value: str) -> str | None:
    m = ISO_START.match(value or "")
    if m:
        return D._mk(int(m[1]), int(m[2]), int(m[3]))
    one = D.parse_single(value or "")
    return one[0] if one else None


def page_date(tree) -> tuple[str, str] | None:
    """(ISO date, rule): a meta tag, else <time datetime>, else a visible "Published:" line."""
    metas = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").lower()
        if key and key not in metas and el.get("content"):
            metas[key] = el.get("content")
    for key in META_DATE_KEYS:
        iso = _iso(metas.get(key, ""))
        if iso:
            return iso, "html-meta"
    for el in tree.iter("time"):
        iso = _iso(el.get("datetime") or "")
        if iso:
            return iso, "html-time"
    body = tree.find("body")
    text = _squash(" ".join(body.itertext())) if body is not None else ""
    for m in VISIBLE_DATE.finditer(text):
        one = D.parse_single(text[m.end() : m.end() + 40])
        if one and text[m.end() : m.end() + 40].find(one[1]) <= 2:
            return one[0], "html-published-line"
    return None


def main_text_lines(text: str, favor_precision: bool = True) -> list[str]:
    """The page's main text as lines (trafilatura, tables kept; precise mode unless asked
    otherwise, which only tools/measure_html.py does)."""
    import trafilatura
    from lxml import etree

    xml = trafilatura.extract(
        text,
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_formatting=True,
        favor_precision=favor_precision,
        deduplicate=False,
    )
    if not xml:
        return []
    root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(recover=True, huge_tree=False))
    main = root.find("main")
    return tree_blocks(main if main is not None else root, xml=True)


def _key(line: str) -> str:
    return re.sub(r"\W+", " ", line.lstrip("#")).strip().lower()


def _same(page_key: str, kept_key: str, exact: bool) -> bool:
    if not page_key or not kept_key:
        return False
    if exact or page_key == kept_key:
        return page_key == kept_key
    short, long = sorted((page_key, kept_key), key=len)
    return len(short) >= 15 and 3 * len(short) >= len(long) and short in long


def _match(key: str, keys: list[str], j: int, window: int) -> int | None:
    """How far past ``j`` the kept line that ``key`` matches is: an equal one first."""
    span = range(min(window, len(keys) - j))
    for exact in (True, False):
        hit = next((d for d in span if _same(key, keys[j + d], exact)), None)
        if hit is not None:
            return hit
    return None


def project(page: list[str], kept: list[str], window: int = 40) -> list[str]:
    """The page's own lines (``tree_blocks`` of its body) that the extractor kept, in page
    order, each heading kept when the first line under it is: the extractor decides what is
    main text, the page gives its headings, table rows and order. A page line is kept when it
    matches one of the next ``window`` kept lines (equal, holding it or held in it: the
    extractor may drop an inline part or join lines); kept lines matched by no page line stay,
    where they came. Linear in the page's size."""
    kept = [k for k in kept if not k.startswith("#")]  # the page's own headings are used
    keys = [_key(k) for k in kept]
    out: list[str] = []
    pending: list[str] = []
    j = 0
    for line in page:
        if line.startswith("#"):
            pending.append(line)
            continue
        key = _key(line)
        hit = _match(key, keys, j, window)
        if hit is not None:
            out.extend(kept[j : j + hit])
            out.extend(pending)
            out.append(line)
            j += hit + 1
            while j < len(kept) and keys[j] != key and _same(key, keys[j], False):  # pieces
                j += 1
        pending = []
    out.extend(kept[j:])
    return out


def has_main_text(lines: list[str]) -> bool:
    """A sentence of six words or more, or a table row: a breadcrumb trail or a lone link
    that the extractor let through is not a page's main text."""
    for line in lines:
        if line.startswith("#"):
            continue
        if " | " in line or (
            len(re.findall(r"\w+", line)) >= 6 and re.search(r"[.!?:;\"”)]$", line)
        ):
            return True
    return False


def load_html(path: Path, source: str) -> tuple[list[tuple[int | None, str]], dict]:
    """A web page's main text as one page, and its title and date (``meta``)."""
    text = decode_text(path.read_bytes(), source)
    tree = parse_page(text, source)
    body = tree.find("body")
    lines = project(tree_blocks(body if body is not None else tree), main_text_lines(text))
    if not has_main_text(lines):
        raise LoadError(
            source,
            "the web page has no main text (only navigation, cookie notices or nothing)",
            "save the page's article itself, or remove the file",
        )
    meta: dict = {}
    title = page_title(tree)
    if title:
        meta["title"] = title
        first = lines[0].lstrip("#").strip() if lines else ""
        if first != title:
            lines.insert(0, f"# {title}")
        elif not lines[0].startswith("#"):
            lines[0] = f"# {title}"
    found = page_date(tree)
    if found:
        meta["date"], meta["date_rule"] = found
    return [(None, "\n\n".join(lines) + "\n")], meta
