"""``rag-qa eval --beir DIR``: a BEIR-format dataset through the real pipeline.

Each BEIR document becomes a text file (with its title in a sidecar) in a temporary corpus,
indexed like any other; a document's score is its best passage's (MaxP). Queries are ranked
without date/type steering, and nDCG@10 and recall@100 are computed as BEIR does
(``beir.evaluate_run``), so figures compare with published tables.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from rag_qa.engine import Engine
from rag_qa.evaluation.beir import evaluate_run, load_beir
from rag_qa.index.build import run_build
from rag_qa.settings import Settings


def _file_name(doc_id: str) -> str:
    return hashlib.sha1(doc_id.encode()).hexdigest()[:16] + ".txt"


def run_beir(
    folder: Path, settings: Settings, embedder_factory, modes: list[str], depth: int = 100
) -> dict:
    data = load_beir(folder)
    with tempfile.TemporaryDirectory(prefix="rag-qa-beir-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        by_file = {}
        for doc_id, (title, text) in data.corpus.items():
            name = _file_name(doc_id)
            by_file[name] = doc_id
            (corpus / name).write_text(text or title or "(empty)", encoding="utf-8")
            meta = {"title": title or doc_id, "doc_type": "document"}
            (corpus / (name + ".meta.json")).write_text(json.dumps(meta), encoding="utf-8")
        local = settings.replace(corpus_dir=corpus, index_dir=Path(tmp) / "index", candidates=1000)
        embedder = embedder_factory()
        run_build(local, lambda: embedder, progress=False)
        engine = Engine(local, embedder)
        source_of = {
            vec: by_file[engine.index.documents[d].source]
            for vec, d in enumerate(engine.retriever.table.doc_of)
        }
        summary = {}
        for mode in modes:
            run = {}
            for qid, text in data.queries.items():
                order = engine.ranking(text, mode)
                ranked: list[str] = []
                for vec_id in order:
                    doc = source_of[vec_id]
                    if doc not in ranked:
                        ranked.append(doc)
                    if len(ranked) == depth:
                        break
                run[qid] = ranked
            result = evaluate_run(run, data.qrels)
            summary[mode] = {k: v for k, v in result.items() if k != "per_query"}
        engine.close()
    return {"dataset": str(folder), "documents": len(data.corpus), "summary": summary}
