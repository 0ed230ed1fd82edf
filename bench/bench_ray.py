"""Benchmark embedding with Ray Data against the single-process build, on the Ofsted sample.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_ray.py [--questions 30] [--no-variant]
Needs the extra: pip install -e '.[ray]' torch==2.13.0. Writes bench/results/ray_bench.json.

Builds the index of every PDF under /work/shared/ofsted-sample into temporary folders three
times: single-process; with Ray on this machine and its defaults (actors with the torch thread
count of the single-process build: bit-identical vectors); and with two actors sharing two
cores, one thread each (``--no-variant`` skips it; bf16 vectors may differ slightly). Each Ray
build is compared with the single-process one: chunk ids in vec_id order, vectors, and the
top-10 passages for the first questions of eval/questions.jsonl (dense and hybrid retrieval).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from rag_qa.embed.distributed import RayEmbedder, RayOptions, import_ray, plan_actors  # noqa: E402
from rag_qa.embed.model import SentenceTransformerEmbedder  # noqa: E402
from rag_qa.engine import Engine  # noqa: E402
from rag_qa.index import generations as G  # noqa: E402
from rag_qa.index.build import run_build  # noqa: E402
from rag_qa.index.store import Store  # noqa: E402
from rag_qa.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path("/work/shared/ofsted-sample")
QUESTIONS = ROOT / "eval" / "questions.jsonl"
RESULTS = ROOT / "bench" / "results" / "ray_bench.json"


def copy_sample(dst: Path) -> int:
    pdfs = sorted(SAMPLE.rglob("*.pdf"))
    for pdf in pdfs:
        target = dst / pdf.relative_to(SAMPLE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf, target)  # copyfile: the sources are read-only
    return len(pdfs)


def build(settings: Settings, embedder, label: str) -> dict:
    load0 = os.getloadavg()[0]
    summary = run_build(settings, lambda: embedder, full=True, progress=False)
    row = {
        "label": label,
        "seconds": round(summary.seconds, 1),
        "embed_seconds": round(summary.timings.get("embed", 0.0), 1),
        "chunks": summary.chunks,
        "chunks_per_s": round(summary.chunks / summary.seconds, 1),
        "documents": summary.documents,
        "skipped": len(summary.skipped),
        "loadavg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }
    print(f"{label}: {row['chunks']} chunks in {row['seconds']} s", flush=True)
    return row


def contents(settings: Settings) -> tuple[dict, list[tuple[int, str]], np.ndarray]:
    gen = G.current_generation(settings.index_dir)
    manifest = G.read_manifest(gen)
    store = Store(gen / G.STORE)
    try:
        rows = sorted((vec_id, chunk.chunk_id, key) for vec_id, chunk, key in store.chunks())
        vectors = store.get_embeddings([key for *_, key in rows], manifest["dim"])
    finally:
        store.close()
    matrix = np.vstack([vectors[key] for *_, key in rows])
    return manifest, [(vec_id, chunk_id) for vec_id, chunk_id, _ in rows], matrix


def compare(single: Settings, other: Settings, embedder, questions: list[str]) -> dict:
    manifest_a, ids_a, vecs_a = contents(single)
    manifest_b, ids_b, vecs_b = contents(other)
    same = ids_a == ids_b
    row = {
        "same_files_and_chunk_counts": manifest_a["files"] == manifest_b["files"],
        "identical_chunk_ids": same,
        "identical_vectors": bool(same and np.array_equal(vecs_a, vecs_b)),
    }
    if same:
        row["max_abs_diff"] = float(np.abs(vecs_a - vecs_b).max())
        row["min_cosine"] = float((vecs_a * vecs_b).sum(axis=1).min())
    retrievers = [Engine(s, embedder) for s in (single, other)]
    for mode in ("dense", "hybrid"):
        overlap, exact = [], 0
        for question in questions:
            a, b = (
                [p.chunk.chunk_id for p in r.search(question, k=10, mode=mode).passages]
                for r in retrievers
            )
            overlap.append(len(set(a) & set(b)) / max(1, len(a)))
            exact += a == b
        row[f"top10_{mode}_overlap"] = round(float(np.mean(overlap)), 4)
        row[f"top10_{mode}_same_order"] = f"{exact}/{len(questions)}"
    for r in retrievers:
        r.index.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=30, help="first N eval questions")
    ap.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto")
    ap.add_argument("--no-variant", action="store_true", help="skip the --ray-actors 2 run")
    args = ap.parse_args()

    import torch

    ray = import_ray()
    lines = QUESTIONS.read_text().splitlines()[: args.questions]
    questions = [json.loads(line)["question"] for line in lines]
    results: dict = {
        "ray_version": ray.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "questions": len(questions),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        tmp = Path(tmp)
        base = Settings.make(corpus_dir=tmp / "corpus", precision=args.precision)
        results["pdfs"] = copy_sample(base.corpus_dir)
        single = base.with_dirs(None, tmp / "single")
        plain = SentenceTransformerEmbedder(base.embed.model, base.embed.precision)
        results["precision"] = plain.precision
        results["runs"].append(build(single, plain, "single process"))

        configs = [("Ray, defaults", RayOptions())]
        if not args.no_variant:
            configs.append(("Ray, --ray-actors 2", RayOptions(actors=2)))
        for i, (label, options) in enumerate(configs):
            settings = base.with_dirs(None, tmp / f"ray{i}")
            started = time.perf_counter()
            with RayEmbedder(base.embed.model, base.embed.precision, options) as embedder:
                row = build(settings, embedder, label)
            row["seconds_with_shutdown"] = round(time.perf_counter() - started, 1)
            actors, threads = plan_actors(options, torch.get_num_threads(), [os.cpu_count() or 1])
            row["actors_x_threads"] = f"{actors}x{threads}"
            row.update(compare(single, settings, plain, questions))
            results["runs"].append(row)

    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {RESULTS}")


def print_table(results: dict) -> None:
    runs = results["runs"]
    rows = [
        ("actors x threads", "actors_x_threads"),
        ("seconds (build)", "seconds"),
        ("  of which embed", "embed_seconds"),
        ("chunks", "chunks"),
        ("chunks/s", "chunks_per_s"),
        ("same files/counts", "same_files_and_chunk_counts"),
        ("same chunk ids", "identical_chunk_ids"),
        ("identical vectors", "identical_vectors"),
        ("max abs diff", "max_abs_diff"),
        ("min cosine", "min_cosine"),
        ("top-10 dense overlap", "top10_dense_overlap"),
        ("top-10 dense same", "top10_dense_same_order"),
        ("top-10 hybrid overlap", "top10_hybrid_overlap"),
        ("top-10 hybrid same", "top10_hybrid_same_order"),
        ("load avg 1m (start/end)", "loadavg_1m"),
    ]
    print(
        f"\n{results['pdfs']} PDFs, {results['precision']}, ray {results['ray_version']}, "
        f"{results['cpus']} CPUs, {results['questions']} questions"
    )
    print(f"{'':<24}" + "".join(f"{r['label']:>27}" for r in runs))
    for name, key in rows:
        cells = []
        for r in runs:
            value = r.get(key, "-")
            if isinstance(value, float) and key in ("max_abs_diff", "min_cosine"):
                value = f"{value:.3e}" if key == "max_abs_diff" else f"{value:.8f}"
            cells.append(f"{value!s:>27}")
        print(f"{name:<24}" + "".join(cells))


if __name__ == "__main__":
    main()
