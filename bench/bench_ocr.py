"""Scanned reports answer like their text versions: the issue-14 target.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_ocr.py [--dpi 150]

Makes scans of three shipped Slough reports (each page rendered by pdftoppm at --dpi in grey
and put back as an image: no text layer), indexes the shipped corpus with those three replaced
by their scans (same file names), and runs every Slough eval question whose sources are those
reports against both indexes: hit@5 and MRR@10 each, and the OCR speed (pages a second, the
files parsed one after another with two tesseract calls at once). Writes
bench/results/ocr_bench.json. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag_qa.embed.model import load_embedder  # noqa: E402
from rag_qa.engine import Engine  # noqa: E402
from rag_qa.evaluation import metrics as M  # noqa: E402
from rag_qa.evaluation.suite import load_questions, passage_hit  # noqa: E402
from rag_qa.index.build import run_build  # noqa: E402
from rag_qa.ingest.loaders import read_pdf_pages  # noqa: E402
from rag_qa.ingest.ocr import OcrOptions  # noqa: E402
from rag_qa.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCANNED = (
    "children's services inspection - 04 march 2019.pdf",
    "children's services inspection - 17 march 2023.pdf",
    "children's services inspection - 17 february 2016.pdf",
)
RESULTS = ROOT / "bench" / "results" / "ocr_bench.json"


def scan(pdf: Path, out: Path, dpi: int) -> int:
    """``pdf`` as a scanner would give it: one grey image per page. Returns the pages."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", pdf, f"{tmp}/p"], check=True)
        images = [Image.open(p) for p in sorted(Path(tmp).glob("p*.png"))]
        images[0].save(out, save_all=True, append_images=images[1:], resolution=dpi)
        return len(images)


def scores(engine: Engine, questions) -> dict:
    hits, rr = [], []
    for q in questions:
        relevance = [passage_hit(q, p) for p in engine.ask(q.question, k=10).passages]
        hits.append(M.hit_at_k(relevance, 5))
        rr.append(M.reciprocal_rank(relevance, 10))
    return {"hit@5": round(sum(hits) / len(hits), 4), "mrr@10": round(sum(rr) / len(rr), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dpi", type=int, default=150, help="resolution of the made scans")
    args = ap.parse_args()
    questions = [
        q for q in load_questions(ROOT / "eval" / "questions.jsonl")
        if q.answerable and set(q.sources) & set(SCANNED)
    ]  # fmt: skip
    embedder = load_embedder("all-MiniLM-L6-v2")
    out: dict = {"questions": len(questions), "scan_dpi": args.dpi}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        pages = sum(scan(ROOT / "corpus" / name, corpus / name, args.dpi) for name in SCANNED)
        started = time.perf_counter()
        for name in SCANNED:
            read_pdf_pages(corpus / name, name, OcrOptions())
        seconds = time.perf_counter() - started
        out["ocr"] = {"pages": pages, "seconds": round(seconds, 1),
                      "pages_per_s": round(pages / seconds, 2)}  # fmt: skip
        for label, root in (("text", ROOT / "corpus"), ("scanned", corpus)):
            settings = Settings.make(corpus_dir=root, index_dir=Path(tmp) / f"index-{label}")
            run_build(settings, lambda: embedder, progress=False)
            out[label] = scores(Engine(settings, embedder), questions)
    out["hit@5_drop"] = round(out["text"]["hit@5"] - out["scanned"]["hit@5"], 4)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
