"""Shared fixtures: a tiny deterministic embedder and small corpora built in tmp dirs."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag_qa.embed import model as embedding
from rag_qa.embed.model import resolve_precision
from rag_qa.ingest.chunking import WhitespaceTokenizer
from rag_qa.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
FAKE_MODEL = "test-hash"


class HashEmbedder:
    """Bag of hashed words: same text, same vector; shared words, higher cosine."""

    name = FAKE_MODEL
    dim = 256
    max_tokens = 254
    precision = resolve_precision("auto")  # what Settings() resolves to on this machine

    def __init__(self):
        self.tokenizer = WhitespaceTokenizer()
        self.calls: list[int] = []

    def encode(self, texts, batch_size=32, progress=False):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
                out[row, h % self.dim] += 1.0 if (h >> 8) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    """Register the fake under its own name; tests opt in with Settings.make(model=FAKE_MODEL)."""
    shared = HashEmbedder()
    monkeypatch.setitem(embedding.REGISTRY, FAKE_MODEL, lambda: shared)
    return shared


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


LETTER = """12 January 2026

Dear Director

Focused visit to Testshire children's services

This letter summarises the findings of the focused visit to Testshire children's services on 19 and 20 November 2025.

Headline findings

Care leavers receive an inconsistent level of support. Some young people have no allocated personal adviser.

Management oversight and supervision are not yet consistently effective.
"""

NEWS = """The council welcomed the report, published today (30/3/17), which praised work with care leavers.
Inspectors said agency staff numbers had fallen and caseloads were lower.
"""


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small corpus: the committed PDF fixture plus two text files."""
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(FIXTURES / "report.pdf", root / "testshire inspection - 17 march 2023.pdf")
    write_text(root / "letter.txt", LETTER)
    write_text(root / "news.txt", NEWS)
    return root


@pytest.fixture
def settings(tmp_path, corpus) -> Settings:
    return Settings.make(
        corpus_dir=corpus, index_dir=tmp_path / "index", model=FAKE_MODEL, min_similarity=0.0
    )


PDF_SOURCE = "testshire inspection - 17 march 2023.pdf"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched_app(root: Path, **options):
    """The web app over the small test corpus (fake embedder), served in this process on a
    free port; yields (app, url, settings)."""
    from rag_qa.index.build import run_build
    from rag_qa.web import app as A

    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / "report.pdf", corpus / PDF_SOURCE)
    write_text(corpus / "letter.txt", LETTER)
    write_text(corpus / "news.txt", NEWS)
    settings = Settings.make(
        corpus_dir=corpus, index_dir=root / "index", model=FAKE_MODEL, min_similarity=0.0
    )
    embedder = HashEmbedder()
    run_build(settings, lambda: embedder)
    app = A.create_app(settings, embedder, **options)
    _, url, _ = A.launch(app, port=free_port(), prevent_thread_lock=True)
    try:
        yield app, url, settings
    finally:
        app.demo.close()


def build_shipped(root: Path):
    """The shipped corpus copied under ``root`` and indexed with the fake embedder (the Slough
    reports, with their judgements): ``(settings, embedder)``."""
    from rag_qa.index.build import run_build

    shutil.copytree(REPO / "corpus", root / "corpus")
    settings = Settings.make(
        corpus_dir=root / "corpus", index_dir=root / "index", model=FAKE_MODEL, min_similarity=0.0
    )
    embedder = HashEmbedder()
    run_build(settings, lambda: embedder)
    return settings, embedder
