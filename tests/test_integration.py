"""The real model over the real corpus (marked: a build takes about 20 s on 2 cores)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import REPO

from rag_qa.embed.model import load_embedder
from rag_qa.engine import Engine
from rag_qa.index import generations as G
from rag_qa.index.build import run_build
from rag_qa.settings import Settings

pytestmark = pytest.mark.integration
SAMPLE = REPO.parent / "shared" / "ofsted-sample"


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'")).strip().lower()


@pytest.fixture(scope="session")
def embedder():
    return load_embedder(Settings().embed.model, Settings().embed.precision)


@pytest.fixture(scope="session")
def built(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("real")
    corpus = root / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    settings = Settings(corpus_dir=corpus, index_dir=root / "index")
    summary = run_build(settings, lambda: embedder, progress=False)
    return settings, summary


def test_model_is_offline_and_384_dimensional(embedder):
    import os

    vecs = embedder.encode(
        ["caseloads are too high", "social workers have too many cases", "the weather in Spain"]
    )
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert vecs.shape == (3, 384)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


def test_shipped_corpus_builds_with_no_skips(built):
    settings, summary = built
    assert summary.documents == 13 and not summary.skipped
    assert summary.chunks == summary.chunks_embedded > 300


def test_management_oversight_2018(built, embedder):
    settings, _ = built
    passages = (
        Engine(settings, embedder)
        .ask("What did Ofsted say about management oversight in 2018?", k=5)
        .passages
    )
    sources = [p.document.source for p in passages]
    assert "000_5500633fd7aad27d.txt" in sources[:3]
    hit = next(p for p in passages if p.document.source == "000_5500633fd7aad27d.txt")
    assert hit.document.date == "2018-02-02" and hit.chunk.page_start is None
    assert (hit.document.visit_start, hit.document.visit_end) == ("2018-01-10", "2018-01-11")


def test_pdf_pages_cited_are_the_real_pages(built, embedder):
    """The text of each cited PDF passage is found on that page of the original file."""
    import pypdf

    settings, _ = built
    retriever = Engine(settings, embedder)
    checked = 0
    for question in (
        "caseloads of social workers",
        "care leavers pathway plans",
        "the front door and MASH",
    ):
        for p in retriever.search(question, k=5).passages:
            if p.chunk.page_start is None:
                continue
            reader = pypdf.PdfReader(str(settings.corpus_dir / p.document.source))
            page_text = norm(reader.pages[p.chunk.page_start - 1].extract_text())
            first_words = norm(p.chunk.text)[:60].split(" ")[:6]
            assert norm(" ".join(first_words)) in page_text, (p.document.source, p.chunk.page_start)
            checked += 1
    assert checked >= 5


def test_adding_a_pdf_embeds_only_that_pdf(built, embedder, tmp_path):
    settings, _ = built
    extra = sorted(SAMPLE.glob("*/*.pdf"))[:1] if SAMPLE.exists() else []
    new = tmp_path / "new.pdf"
    shutil.copy(extra[0] if extra else REPO / "tests" / "fixtures" / "report.pdf", new)
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    local = Settings(corpus_dir=corpus, index_dir=index_dir)
    shutil.copy(new, corpus / "added report.pdf")
    summary = run_build(local, lambda: embedder, progress=False)
    manifest = json.loads((G.current_generation(index_dir) / G.MANIFEST).read_text())
    assert summary.added == ["added report.pdf"] and summary.unchanged == 13
    assert summary.chunks_embedded == manifest["files"]["added report.pdf"]["chunks"] > 0


def test_sentence_vectors_come_from_the_passage_pass(embedder):
    """``encode_spans``: the passage vectors are exactly ``encode_passages``' (and within
    bf16 rounding of ``encode``'s); each sentence's pooled
    vector is near the sentence encoded alone, nearer than to the other sentence."""
    import numpy as np

    first, second = "Caseloads are too high in every team.", "Supervision is regular and helpful."
    text = f"{first} {second}"
    spans = [[(0, len(first)), (len(first) + 1, len(text))]]
    vecs, pooled = embedder.encode_spans([text], spans)
    assert np.array_equal(vecs, embedder.encode_passages([text]))
    assert float(vecs[0] @ embedder.encode([text])[0]) > 0.999
    alone = embedder.encode([first, second])
    means = pooled[0].means / np.linalg.norm(pooled[0].means, axis=1, keepdims=True)
    sims = means @ alone.T
    assert pooled[0].counts.tolist()[0] > 5 and sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]
    assert sims[0, 0] > 0.6 and sims[1, 1] > 0.6
