"""Query latency at every index size, beside its raw limits measured in the same run.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_scale.py [--sizes 100000 1000000]
      (sizes: chunk counts of synthetic generations, or "shipped" / "sample" for the real
      indexes: the repository's index/ and the shipped corpus + Ofsted sample)
Writes bench/results/scale_bench.json (merged by size with earlier runs) and prints a table.

For each size: build time of the synthetic generation (bench/synthetic.py, cached in
/tmp/rag-qa-scale/<n>/), load time and RSS, then for every question of eval/questions.jsonl,
interleaved so that CPU contention from other processes hits all parts alike:
  (after a warm-up pass over all questions)
  raw limits  question encoding (the real model, warm), raw faiss search (k=100, the
              generation's index as loaded, efSearch as configured), raw bm25s retrieval
              (tokenize + get_scores + top-100 of the bm25s model inside Bm25Index);
  full path   Retriever.search(q, k=5) and its timings split, then build_answer.
Targets: search within 1.3x of the sum of the raw parts; p95 < 60 ms at 100k, < 250 ms at 1M.
For an HNSW generation: recall@10 of the graph against exact inner-product search for the
question vectors plus 500 held-out synthetic vectors, per efSearch, and top-10 overlap of the
full hybrid ranking against the same Retriever over an exact flat index.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import synthetic as SY  # noqa: E402

from rag_qa.answer.extract import build_answer  # noqa: E402
from rag_qa.embed.model import load_embedder  # noqa: E402
from rag_qa.index import generations as G  # noqa: E402
from rag_qa.index.loaded import open_index  # noqa: E402
from rag_qa.index.vectors import VectorSpec, read_vectors, write_vectors  # noqa: E402
from rag_qa.retrieval.query import topic_words  # noqa: E402
from rag_qa.retrieval.retriever import Retriever  # noqa: E402
from rag_qa.settings import Settings  # noqa: E402
from rag_qa.text.vocabulary import tokenize  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
RESULTS = ROOT / "bench" / "results" / "scale_bench.json"
SPLIT = ("analyse", "encode", "bm25", "faiss", "fusion", "passages")
EF_SEARCH = (32, 64, 128, 256)
TARGET_P95_MS = {100_000: 60.0, 1_000_000: 250.0}
RATIO_TARGET = 1.3
RECALL_TARGET = 0.98


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def mapped_mb(path: Path) -> tuple[float, float]:
    """(size, resident) MB of the memory mappings of ``path`` in this process."""
    size = rss = 0
    current = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):
            current = line.rstrip().endswith(str(path))
        elif current and first == "Size:":
            size += int(line.split()[1])
        elif current and first == "Rss:":
            rss += int(line.split()[1])
    return size / 1024, rss / 1024


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if len(values) else float("nan")


def stats(values) -> dict:
    return {"p50_ms": round(pct(values, 50), 2), "p95_ms": round(pct(values, 95), 2)}


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line]


# -- the index of one size -------------------------------------------------------------------
def resolve(size: str, settings: Settings, spec: VectorSpec | None) -> tuple[Settings, dict]:
    """Settings pointing at the index of ``size`` (building a synthetic one when missing)
    and what is known about its build."""
    if size == "shipped":
        return settings.replace(index_dir=ROOT / "index"), {"synthetic": False}
    if size == "sample":
        SY.ensure_base()
        return SY.base_settings(), {"synthetic": False}
    n = int(size)
    s = settings
    if spec is not None:
        s = settings.replace(
            hnsw_m=spec.m, hnsw_ef_construction=spec.ef_construction, ann_min_chunks=1
        )
    index_dir = SY.gen_dir(n, variant=SY.variant_name(s, n))
    gen = SY.ensure_generation(n, s, index_dir=index_dir)
    timings = json.loads((gen / "build_timings.json").read_text())
    return s.replace(index_dir=index_dir), {"synthetic": True, "build_s": timings}


def disk_bytes(gen: Path) -> dict:
    files = [p for p in gen.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    return {
        "total": total,
        "store": (gen / G.STORE).stat().st_size,
        "vectors": (gen / G.VECTORS).stat().st_size,
        "bm25": sum(p.stat().st_size for p in (gen / G.BM25).rglob("*") if p.is_file()),
    }


# -- the measurements ------------------------------------------------------------------------
def raw_faiss(index, q: np.ndarray, k: int, ef: int | None):
    import faiss

    params = None
    if ef is not None:
        params = faiss.SearchParametersHNSW()
        params.efSearch = ef
    return index.search(q.reshape(1, -1), k, params=params)


def raw_bm25(model, query: str, k: int = 100) -> np.ndarray:
    tokens = [t for t in tokenize(query) if t in model.vocab_dict]
    if not tokens:
        return np.zeros(0, dtype=np.int64)
    scores = model.get_scores(tokens)
    top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    return top[np.argsort(-scores[top])]


def measure_queries(retriever: Retriever, emb, settings: Settings, qs: list[str], rounds: int):
    """Raw parts and the full path, interleaved per question."""
    index = retriever.index.vectors
    ef = settings.index.hnsw_ef_search if not retriever.ranker.dense.exact else None
    model = retriever.index.bm25._model
    bm25_text = topic_words if settings.retrieval.strip_query else (lambda q: q)
    # Warm-up: one pass over every question. The vectors (and an HNSW graph) are mapped from
    # the file, so the first queries that reach a region of them page it in: at 1M passages a
    # cold first pass has a p95 of ~250-480 ms in the graph search against ~30 ms warm.
    t0 = time.perf_counter()
    for q in qs:
        v = emb.encode([q])[0]
        raw_faiss(index, v, 100, ef)
        raw_bm25(model, bm25_text(q))
        retriever.search(q, k=5)
    for q in qs[:20]:
        build_answer(retriever.search(q, k=5), settings.answer, embed=emb.encode)
    warmup_s = time.perf_counter() - t0
    rows = {k: [] for k in ("encode", "faiss", "bm25", "raw_sum", "search", "answer")}
    split = {k: [] for k in SPLIT}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        for q in qs:
            t0 = time.perf_counter()
            v = emb.encode([q])[0]
            t1 = time.perf_counter()
            raw_faiss(index, v, 100, ef)
            t2 = time.perf_counter()
            raw_bm25(model, bm25_text(q))
            t3 = time.perf_counter()
            result = retriever.search(q, k=5)
            t4 = time.perf_counter()
            build_answer(result, settings.answer, embed=emb.encode)
            t5 = time.perf_counter()
            rows["encode"].append(t1 - t0)
            rows["faiss"].append(t2 - t1)
            rows["bm25"].append(t3 - t2)
            rows["raw_sum"].append(t3 - t0)
            rows["search"].append(t4 - t3)
            rows["answer"].append(t5 - t4)
            for key in SPLIT:
                split[key].append(result.timings.get(key, 0.0))
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    out = {k: stats(v) for k, v in rows.items()}
    out["split"] = {k: stats(v) for k, v in split.items()}
    out["queries"] = len(rows["search"])
    out["warmup_s"] = round(warmup_s, 1)
    out["cpu_per_wall"] = round(cpu / wall, 2)
    raw, full = out["raw_sum"], out["search"]
    out["ratio"] = {
        "p50": round(full["p50_ms"] / raw["p50_ms"], 2),
        "p95": round(full["p95_ms"] / raw["p95_ms"], 2),
    }
    return out


def held_out_vectors(n: int, seed: int = 12345) -> np.ndarray:
    """Synthetic vectors made like the generation's, from another seed: not in the index."""
    base = SY.load_base()
    rng = np.random.default_rng(seed)
    docs = SY.make_documents(n, rng)
    return SY.mix_vectors(SY.mix_sources(n, docs, base, rng), base, rng)


def exact_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(matrix.shape[1])
    step = 200_000
    best_d = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for a in range(0, len(matrix), step):  # blocks: no second 1.5 GB copy of the vectors
        flat.reset()
        flat.add(np.ascontiguousarray(matrix[a : a + step]))
        d, i = flat.search(queries, k)
        d_all = np.concatenate([best_d, d], axis=1)
        i_all = np.concatenate([best_i, i + a], axis=1)
        order = np.argsort(-d_all, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(d_all, order, axis=1)
        best_i = np.take_along_axis(i_all, order, axis=1)
    return best_i


def graph_recall(index, queries: np.ndarray, exact: np.ndarray, labels: np.ndarray) -> list:
    """recall@10 and per-query latency of the HNSW graph per efSearch, searched with k=10
    and as the Retriever searches it (k=100, efSearch=max(ef, 100), top 10 kept)."""
    rows = []
    for ef in EF_SEARCH:
        for k in (10, 100):
            got = np.empty((len(queries), 10), dtype=np.int64)
            times = []
            for j, q in enumerate(queries):
                t0 = time.perf_counter()
                _, ids = raw_faiss(index, q, k, max(ef, k))
                times.append(time.perf_counter() - t0)
                got[j] = ids[0, :10]
            hits = np.array([len(set(g) & set(e)) / 10 for g, e in zip(got, exact, strict=True)])
            row = {"ef_search": max(ef, k), "k": k, **stats(times)}
            for name in np.unique(labels):
                row[f"recall@10_{name}"] = round(float(hits[labels == name].mean()), 4)
            row["recall@10"] = round(float(hits.mean()), 4)
            rows.append(row)
            print(
                f"  ef {max(ef, k):>4} k {k:>3}: recall@10 {row['recall@10']:.4f} "
                f"(questions {row['recall@10_question']:.4f}, held-out "
                f"{row['recall@10_heldout']:.4f}); {row['p50_ms']:.2f} / {row['p95_ms']:.2f} ms",
                flush=True,
            )
    return rows


def ranking_overlap(retriever: Retriever, settings: Settings, emb, qs: list[str]) -> dict:
    """Top-10 overlap of the hybrid ranking over HNSW against the same over an exact index."""
    flat_path = SY.CACHE / str(retriever.ranker.dense.size) / "flat.faiss"  # shared by variants
    if not flat_path.exists():
        t0 = time.perf_counter()
        write_vectors(
            retriever.ranker.dense.matrix, flat_path.with_suffix(".tmp"), VectorSpec("flat")
        )
        flat_path.with_suffix(".tmp").rename(flat_path)
        print(f"  wrote exact index {flat_path} in {time.perf_counter() - t0:.1f} s", flush=True)
    exact_index = dataclasses.replace(retriever.index, vectors=read_vectors(flat_path))
    exact = Retriever(exact_index, emb, settings)
    overlaps, same_first, t_exact = [], 0, []
    for q in qs:
        a = [p.chunk.chunk_id for p in retriever.search(q, k=10).passages]
        t0 = time.perf_counter()
        b = [p.chunk.chunk_id for p in exact.search(q, k=10).passages]
        t_exact.append(time.perf_counter() - t0)
        overlaps.append(len(set(a) & set(b)) / max(1, len(b)))
        same_first += bool(a and b and a[0] == b[0])
    return {
        "questions": len(qs),
        "top10_overlap": round(float(np.mean(overlaps)), 4),
        "min_overlap": round(float(np.min(overlaps)), 2),
        "same_top1": round(same_first / len(qs), 4),
        "exact_search": stats(t_exact),
    }


def run_size(size: str, args, emb, qs: list[str], spec: VectorSpec | None) -> dict:
    label = size if spec is None else f"{size}-m{spec.m}-efc{spec.ef_construction}"
    print(f"\n== {label}", flush=True)
    settings, built = resolve(size, Settings(), spec)
    gen = G.current_generation(settings.index_dir)
    manifest = G.read_manifest(gen)
    row: dict = {"label": label, "loadavg_start": loadavg(), **built}
    row["chunks"] = manifest["chunks"]
    row["documents"] = manifest["documents"]
    row["vectors"] = manifest.get("vectors", {"kind": "flat"})
    disk = disk_bytes(gen)
    row["disk_bytes"] = disk
    row["disk_bytes_per_chunk"] = round(disk["total"] / manifest["chunks"])
    print(f"  {row['chunks']} chunks in {row['documents']} documents, index {row['vectors']}")
    if "build_s" in built:
        print(f"  build (s): {built['build_s']}")

    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    loaded = open_index(settings)
    t1 = time.perf_counter()
    retriever = Retriever(loaded, emb, settings)
    t2 = time.perf_counter()
    vec_size, vec_rss = mapped_mb(gen / G.VECTORS)
    row["load"] = {
        "open_index_s": round(t1 - t0, 3),
        "retriever_s": round(t2 - t1, 3),
        "total_s": round(t2 - t0, 3),
        "rss_before_mb": round(rss0, 1),
        "rss_after_mb": round(rss_mb(), 1),
        "vectors_mapped_mb": round(vec_size, 1),
        "vectors_mapped_resident_mb": round(vec_rss, 1),
    }
    print(f"  load: {row['load']}", flush=True)

    row["loadavg_queries"] = loadavg()
    row["queries"] = measure_queries(retriever, emb, settings, qs, args.rounds)
    row["loadavg_after_queries"] = loadavg()
    row["rss_after_queries_mb"] = round(rss_mb(), 1)
    q = row["queries"]
    print(
        f"  search p50 {q['search']['p50_ms']} p95 {q['search']['p95_ms']} ms; raw sum p50 "
        f"{q['raw_sum']['p50_ms']} p95 {q['raw_sum']['p95_ms']} ms; ratio {q['ratio']}",
        flush=True,
    )

    if not retriever.ranker.dense.exact and not args.skip_recall:
        matrix = retriever.ranker.dense.matrix
        qv = emb.encode(qs)
        held = held_out_vectors(args.heldout)
        queries = np.ascontiguousarray(np.vstack([qv, held]), dtype=np.float32)
        labels = np.array(["question"] * len(qv) + ["heldout"] * len(held))
        t0 = time.perf_counter()
        exact = exact_top(matrix, queries, 10)
        print(f"  exact top-10 of {len(queries)} queries in {time.perf_counter() - t0:.1f} s")
        row["graph_recall"] = graph_recall(loaded.vectors, queries, exact, labels)
        if not args.skip_overlap:
            row["ranking_vs_exact"] = ranking_overlap(retriever, settings, emb, qs)
            print(f"  hybrid ranking vs exact: {row['ranking_vs_exact']}", flush=True)
    target = TARGET_P95_MS.get(row["chunks"])
    row["targets"] = {
        "p95_ms": target,
        "p95_ok": None if target is None else q["search"]["p95_ms"] < target,
        "ratio_ok": q["ratio"]["p95"] <= RATIO_TARGET and q["ratio"]["p50"] <= RATIO_TARGET,
    }
    recalls = [r["recall@10"] for r in row.get("graph_recall", []) if r["k"] == 100]
    if recalls:
        configured = [
            r["recall@10"]
            for r in row["graph_recall"]
            if r["k"] == 100 and r["ef_search"] == max(settings.index.hnsw_ef_search, 100)
        ]
        row["targets"]["recall_ok"] = bool(configured and configured[0] >= RECALL_TARGET)
    loaded.close()
    del retriever, loaded
    gc.collect()
    return row


# -- output ----------------------------------------------------------------------------------
def print_table(rows: list[dict]) -> None:
    def g(r, *path, fmt="{}"):
        cur = r
        for p in path:
            if not isinstance(cur, dict) or p not in cur:
                return "-"
            cur = cur[p]
        return fmt.format(cur)

    lines = [
        ("chunks", lambda r: g(r, "chunks")),
        ("vector index", lambda r: r["vectors"]["kind"]),
        ("build total s", lambda r: g(r, "build_s", "total", fmt="{:.1f}")),
        ("  vector index s", lambda r: g(r, "build_s", "vectors_index", fmt="{:.1f}")),
        ("  bm25 s", lambda r: g(r, "build_s", "bm25", fmt="{:.1f}")),
        ("  store s", lambda r: g(r, "build_s", "store", fmt="{:.1f}")),
        ("disk B/chunk", lambda r: g(r, "disk_bytes_per_chunk", fmt="{:,}")),
        ("load s", lambda r: g(r, "load", "total_s")),
        ("  open_index s", lambda r: g(r, "load", "open_index_s")),
        ("  Retriever s", lambda r: g(r, "load", "retriever_s")),
        ("RSS after load MB", lambda r: g(r, "load", "rss_after_mb", fmt="{:.0f}")),
        ("  vectors mmap MB", lambda r: g(r, "load", "vectors_mapped_mb", fmt="{:.0f}")),
        ("load avg (1m)", lambda r: g(r, "loadavg_queries", fmt="{}").split(",")[0] + "]"),
        ("queries", lambda r: g(r, "queries", "queries")),
    ]
    for part in ("encode", "faiss", "bm25", "raw_sum", "search"):
        name = {"raw_sum": "RAW SUM", "search": "SEARCH"}.get(part, f"raw {part}")
        lines.append((f"{name} p50/p95", lambda r, p=part: _pp(r["queries"][p])))
    lines.append(("ratio p50/p95", lambda r: f"{r['queries']['ratio']['p50']}/"
                  f"{r['queries']['ratio']['p95']}"))  # fmt: skip
    for part in SPLIT:
        lines.append((f"  search.{part}", lambda r, p=part: _pp(r["queries"]["split"][p])))
    lines.append(("build_answer p50/p95", lambda r: _pp(r["queries"]["answer"])))
    lines.append(("p95 target ms", lambda r: g(r, "targets", "p95_ms")))
    lines.append(("cpu/wall", lambda r: g(r, "queries", "cpu_per_wall")))
    width = max(16, *(len(r["label"]) + 2 for r in rows))
    print("\n" + f"{'':<22}" + "".join(f"{r['label']:>{width}}" for r in rows))
    for name, get in lines:
        print(f"{name:<22}" + "".join(f"{get(r)!s:>{width}}" for r in rows))
    for r in rows:
        for rec in r.get("graph_recall", []):
            print(
                f"{r['label']}: efSearch {rec['ef_search']:>3} (k={rec['k']:>3}) recall@10 "
                f"{rec['recall@10']:.4f} [questions {rec['recall@10_question']:.4f}, held-out "
                f"{rec['recall@10_heldout']:.4f}] {rec['p50_ms']:.2f}/{rec['p95_ms']:.2f} ms"
            )
        if "ranking_vs_exact" in r:
            print(f"{r['label']}: hybrid top-10 vs exact flat: {r['ranking_vs_exact']}")


def _pp(s: dict) -> str:
    return f"{s['p50_ms']:.1f}/{s['p95_ms']:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["100000", "1000000"])
    ap.add_argument("--rounds", type=int, default=2, help="passes over the questions")
    ap.add_argument("--heldout", type=int, default=500, help="held-out synthetic query vectors")
    ap.add_argument("--skip-recall", action="store_true")
    ap.add_argument("--skip-overlap", action="store_true", help="no exact flat Retriever")
    ap.add_argument(
        "--hnsw", nargs="+", default=[], metavar="M,EFC",
        help="also HNSW generations with these M,efConstruction (e.g. 16,40) at each size",
    )  # fmt: skip
    args = ap.parse_args()

    emb = load_embedder(Settings().embed.model, Settings().embed.precision)
    emb.encode(["warm-up"])
    qs = questions()
    print(f"{len(qs)} questions x {args.rounds} rounds; load avg {loadavg()}", flush=True)
    rows = []
    for size in args.sizes:
        rows.append(run_size(size, args, emb, qs, None))
        for variant in args.hnsw:
            m, efc = (int(x) for x in variant.split(","))
            rows.append(run_size(size, args, emb, qs, VectorSpec("hnsw", m, efc, 128)))
    print_table(rows)
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    for r in rows:
        if "graph_recall" in r:
            r["recall_measured_at"] = now
        # Keep what this run skipped (--skip-recall) from the previous run of the same label.
        saved[r["label"]] = {**saved.get(r["label"], {}), **r, "measured_at": now}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=1) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
