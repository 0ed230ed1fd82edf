"""The layout is the map (docs/architecture.md): each folder imports only the layers below it,
no function is longer than a screen, and the top of the package stays small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "rag_qa"

# What each folder (or top-level module) may import, as docs/architecture.md says.
BASE = {"settings", "text", "records"}
MAY_IMPORT = {
    "settings": set(),
    "text": set(),
    "records": {"text"},
    "ingest": BASE,
    "embed": BASE | {"ingest"},
    "index": BASE | {"ingest", "embed"},
    "retrieval": BASE | {"embed", "index"},
    "answer": BASE | {"retrieval"},
    "engine": BASE | {"ingest", "embed", "index", "retrieval", "answer"},
    "evaluation": BASE | {"ingest", "embed", "index", "retrieval", "answer", "engine"},
    "web": BASE | {"ingest", "embed", "index", "retrieval", "answer", "engine"},
    "cli": BASE
    | {"ingest", "embed", "index", "retrieval", "answer", "engine"}
    | {"evaluation", "web"},
    "__init__": set(),
}
MAX_FUNCTION_LINES = 100
MAX_TOP_MODULES = 8


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_layers(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rag_qa"):
            parts = node.module.split(".")
            names = [a.name for a in node.names] if len(parts) == 1 else [parts[1]]
            found |= {n for n in names if n != "__version__"}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("rag_qa.")}
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_the_layers_below_it(path):
    layer = _layer(path)
    assert layer in MAY_IMPORT, f"{layer}/ is not in docs/architecture.md's table"
    imported = _imported_layers(ast.parse(path.read_text(encoding="utf-8"))) - {layer}
    assert imported <= MAY_IMPORT[layer], f"{path.name} imports {imported - MAY_IMPORT[layer]}"


def test_no_function_is_over_a_hundred_lines():
    long = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines})")
    assert not long


def test_the_top_of_the_package_is_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= set(MAY_IMPORT), folders - set(MAY_IMPORT)


def test_the_retriever_is_built_in_one_place():
    builders = [
        str(path.relative_to(PACKAGE))
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Retriever"
    ]
    assert builders == ["engine.py"]


def test_no_council_is_named_outside_the_gazetteer():
    """Slough is the shipped example, not a special case: no council's name in code outside
    text/councils.py (docstrings and comments may give it as an example). Ofsted's own office
    addresses (stripped from every report's cover) name cities, not councils."""
    from rag_qa.ingest.clean import ADDRESS_LINES
    from rag_qa.text.councils import COUNCIL_NAMES

    names = {n.lower() for n in COUNCIL_NAMES}
    ofsted_offices = set(ADDRESS_LINES)
    offenders = []
    for path in SOURCES:
        if path.name == "councils.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings or node.value in ofsted_offices:
                    continue
                words = set(node.value.lower().replace("|", " ").split())
                if words & names:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert not offenders
