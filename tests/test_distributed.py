"""Embedding with Ray Data (the [ray] extra) gives the single-process build, bit for bit.

The tests marked ``ray`` start Ray on this machine, use the real model and a few real PDFs from
the Ofsted sample, and are skipped where ray is not installed (``pip install -e '.[ray]'``). The
others check what a user without the extra sees, and run everywhere.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import REPO

from rag_qa.cli import main
from rag_qa.embed.model import ModelError, SentenceTransformerEmbedder
from rag_qa.engine import Engine
from rag_qa.index import generations as G
from rag_qa.index.build import run_build
from rag_qa.index.store import Store
from rag_qa.settings import Settings

SAMPLE = REPO.parent / "shared" / "ofsted-sample"
MODEL, PRECISION = Settings().embed.model, Settings().embed.precision


def differences(a: np.ndarray, b: np.ndarray) -> str:
    cosines = (a * b).sum(axis=1)
    return f"max abs diff {np.abs(a - b).max():.2e}, min cosine {cosines.min():.8f}"


def varied_texts(n: int = 100) -> list[str]:
    """Passages of 0 to ~400 words cut from the shipped reports, in no particular order."""
    words = " ".join(p.read_text() for p in sorted((REPO / "corpus").glob("*.txt"))).split()
    lengths = [1, 3, 7, 12, 25, 40, 60, 90, 140, 200, 300, 400]
    starts = [(97 * i) % (len(words) - 400) for i in range(n - 2)]
    texts = [" ".join(words[s : s + lengths[(i * 5) % len(lengths)]]) for i, s in enumerate(starts)]
    return [*texts, "", "Café, naïve — “quoted” ½"]


@pytest.fixture(scope="module")
def plain():
    return SentenceTransformerEmbedder(MODEL, PRECISION)


@pytest.fixture(scope="module")
def ray_embedder():
    pytest.importorskip("ray")
    from rag_qa.embed.distributed import RayEmbedder, RayOptions

    with RayEmbedder(MODEL, PRECISION, RayOptions()) as embedder:  # the defaults, as the CLI
        yield embedder


@pytest.mark.ray
def test_vectors_and_order_match_the_single_process_embedder(ray_embedder, plain):
    """Ray's vectors are those a local build stores (``encode_passages``, the same as
    ``encode_spans``), bit for bit."""
    from rag_qa.embed.distributed import RayEmbedder, RayOptions

    texts = varied_texts()
    assert ray_embedder.bulk and ray_embedder.precision == plain.precision
    assert (ray_embedder.name, ray_embedder.dim, ray_embedder.max_tokens) == (
        plain.name,
        plain.dim,
        plain.max_tokens,
    )

    # Default groups (batch_size * 8 texts, as run_build slices) and threads (torch's count
    # here, so one actor on 2 cores): 100 texts are one model call, as in the plain embedder.
    got, want = (
        ray_embedder.encode(texts, batch_size=32),
        plain.encode_passages(texts, batch_size=32),
    )
    assert got.dtype == np.float32 and got.shape == (100, 384)
    assert np.array_equal(got, want), differences(got, want)

    # 15 groups over 2 one-thread actors: back in input order, each group equal to one plain
    # call on one thread (bf16 sums depend on the thread count, see rag_qa.embed.distributed).
    small = RayEmbedder(MODEL, PRECISION, RayOptions(actors=2, threads=1, group_size=7))
    got = small.encode(texts, batch_size=4)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        want = np.vstack(
            [plain.encode_passages(texts[i : i + 7], batch_size=4) for i in range(0, 100, 7)]
        )
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(got, want), differences(got, want)
    assert np.array_equal(np.argmax(got @ want.T, axis=1), np.arange(100))  # order, not luck
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)

    assert ray_embedder.encode([]).shape == (0, 384)
    assert np.array_equal(ray_embedder.encode(texts[5:6]), plain.encode_passages(texts[5:6]))


@pytest.fixture(scope="module")
def sample_corpus(tmp_path_factory):
    pdfs = sorted(SAMPLE.rglob("*.pdf"))
    visits = [p for p in pdfs if "focused visit" in p.name][::20][:3]
    inspections = [p for p in pdfs if "inspection -" in p.name][::20][:2]
    if len(visits + inspections) < 5:
        pytest.skip(f"needs the Ofsted sample PDFs in {SAMPLE}")
    corpus = tmp_path_factory.mktemp("sample") / "corpus"
    for pdf in visits + inspections:
        dst = corpus / pdf.relative_to(SAMPLE)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf, dst)  # copyfile: the sources are read-only
    return corpus


def built_index(settings: Settings) -> tuple[dict, list[tuple[int, str, str]], np.ndarray]:
    gen = G.current_generation(settings.index_dir)
    manifest = G.read_manifest(gen)
    store = Store(gen / G.STORE)
    try:
        rows = [(vec_id, chunk.chunk_id, key) for vec_id, chunk, key in store.chunks()]
        rows.sort()
        vectors = store.get_embeddings([key for _, _, key in rows], manifest["dim"])
    finally:
        store.close()
    return manifest, rows, np.vstack([vectors[key] for _, _, key in rows])


@pytest.mark.ray
@pytest.mark.slow
def test_ray_build_equals_the_single_process_build(ray_embedder, plain, sample_corpus):
    # batch_size 8: the build embeds slices of 64 texts, so this corpus is two groups or more.
    base = Settings.make(corpus_dir=sample_corpus, batch_size=8)
    single = base.with_dirs(None, sample_corpus.parent / "index-single")
    with_ray = base.with_dirs(None, sample_corpus.parent / "index-ray")
    one = run_build(single, lambda: plain, progress=False)
    two = run_build(with_ray, lambda: ray_embedder, progress=False)
    assert not one.skipped and one.chunks == two.chunks == two.chunks_embedded > 64

    manifest_one, rows_one, vecs_one = built_index(single)
    manifest_two, rows_two, vecs_two = built_index(with_ray)
    for field in ("files", "documents", "chunks", "model", "dim", "precision", "index_key"):
        assert manifest_one[field] == manifest_two[field], field
    assert rows_one == rows_two  # the same chunk ids and embedded texts, in the same vec_id order
    assert np.array_equal(vecs_one, vecs_two), differences(vecs_one, vecs_two)

    lines = (REPO / "eval" / "questions.jsonl").read_text().splitlines()[:10]
    questions = [json.loads(line)["question"] for line in lines]
    retrievers = [Engine(s, plain) for s in (single, with_ray)]
    for question in questions:
        for mode in ("dense", "hybrid"):
            one_ids, two_ids = (
                [p.chunk.chunk_id for p in r.search(question, k=10, mode=mode).passages]
                for r in retrievers
            )
            assert one_ids == two_ids and len(one_ids) == 10, (question, mode)


@pytest.mark.ray
def test_cli_index_with_ray(ray_embedder, plain, corpus, tmp_path):
    # Ray is already up (the fixture): the command joins it and leaves it running.
    args = ["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")]
    result = CliRunner().invoke(main, [*args, "--ray", "--ray-actors", "1", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["documents"] == 3 and summary["chunks_embedded"] == summary["chunks"] > 0

    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    single = settings.with_dirs(None, tmp_path / "single")
    run_build(single, lambda: plain, progress=False)
    _, rows, vecs = built_index(settings)
    _, rows_single, vecs_single = built_index(single)
    assert rows == rows_single and np.array_equal(vecs, vecs_single)


@pytest.mark.ray
def test_an_error_in_the_actors_is_one_model_error(ray_embedder, tmp_path):
    """A model folder without its weights: fine for the driver (tokenizer, sizes), not for
    the actors that load the model; the build gets one ModelError, not a Ray traceback."""
    from rag_qa.embed.distributed import RayEmbedder
    from rag_qa.embed.model import resolve_model_dir

    broken = tmp_path / "model"
    shutil.copytree(
        resolve_model_dir(MODEL), broken, ignore=shutil.ignore_patterns("*.safetensors")
    )
    embedder = RayEmbedder(str(broken), PRECISION)
    with pytest.raises(ModelError, match=r"^embedding with Ray failed: .*model\.safetensors"):
        embedder.encode(["caseloads are high"])


@pytest.mark.ray
def test_ray_client_addresses_are_refused_with_what_to_do_instead():
    pytest.importorskip("ray")
    from rag_qa.embed.distributed import RayEmbedder, RayOptions

    with pytest.raises(ModelError, match="--ray-address auto"):
        RayEmbedder(MODEL, PRECISION, RayOptions(address="ray://head:10001"))


def test_actors_get_the_builds_threads_unless_more_actors_are_asked_for():
    from rag_qa.embed.distributed import RayOptions, plan_actors

    assert plan_actors(RayOptions(), 2, [2]) == (1, 2)  # this machine: one build-like actor
    assert plan_actors(RayOptions(), 16, [16, 16, 16, 16]) == (4, 16)  # one per node
    assert plan_actors(RayOptions(actors=2), 2, [2]) == (2, 1)  # the CPUs shared
    assert plan_actors(RayOptions(actors=3), 16, [16, 16, 16, 16]) == (3, 16)
    assert plan_actors(RayOptions(actors=8), 1, [2]) == (8, 1)
    assert plan_actors(RayOptions(threads=4), 2, [2, 2]) == (2, 2)  # never more than a node has
    assert plan_actors(RayOptions(actors=2, threads=2), 2, [2]) == (2, 2)


def test_without_ray_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    from rag_qa.embed.distributed import RayEmbedder

    with pytest.raises(ModelError, match=r"pip install 'rag-qa\[ray\]'"):
        RayEmbedder(MODEL, PRECISION)


def test_cli_without_ray_is_one_clear_line(monkeypatch, corpus, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    args = ["index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--ray"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: embedding with Ray needs the ray extra")
    assert "pip install 'rag-qa[ray]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "index").exists() or G.current_generation(tmp_path / "index") is None


def test_ray_options_need_the_ray_flag(corpus, tmp_path):
    args = ["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")]
    result = CliRunner().invoke(main, [*args, "--ray-address", "auto"])
    assert result.exit_code == 2 and "add --ray" in result.output
