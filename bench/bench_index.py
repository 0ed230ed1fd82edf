"""Benchmark the index build: shipped corpus, shipped + Ofsted sample, one incremental add.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_index.py [--skip-sample] [--precision fp32]
Writes bench/results/index_bench.json. Not a test: it prints figures and checks one invariant
(an incremental add embeds exactly the new report's chunks).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag_qa.embed.model import load_embedder  # noqa: E402
from rag_qa.index import generations as G  # noqa: E402
from rag_qa.index.build import run_build  # noqa: E402
from rag_qa.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SAMPLE = Path("/work/shared/ofsted-sample")
RESULTS = ROOT / "bench" / "results" / "index_bench.json"
PHASES = ("scan", "parse", "chunk", "embed", "write")


def copy_file(src: Path, dst: Path) -> None:
    # copyfile, not copy2/copytree: the sources are read-only and the copies must stay writable.
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def copy_shipped(dst: Path) -> None:
    for src in sorted(CORPUS.iterdir()):
        if src.is_file():
            copy_file(src, dst / src.name)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def live_gen(index_dir: Path) -> Path:
    gen = G.current_generation(index_dir)
    assert gen is not None, f"no CURRENT in {index_dir}"
    return gen


def write_results(path: Path, results: dict) -> None:
    """The run's figures as JSON beside the benchmarks, and where they went."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def build(settings: Settings, emb, label: str) -> dict:
    cpu0 = cpu_seconds()
    s = run_build(settings, lambda: emb, full=False, progress=False)
    cpu = cpu_seconds() - cpu0
    gen = live_gen(settings.index_dir)
    size = sum(p.stat().st_size for p in gen.rglob("*") if p.is_file())
    total = s.seconds or 1e-9
    row = {
        "documents": s.documents,
        "pages": s.pages,
        "chunks": s.chunks,
        "chunks_embedded": s.chunks_embedded,
        "added": len(s.added),
        "unchanged": s.unchanged,
        "skipped": s.skipped,
        "seconds": round(s.seconds, 2),
        "pages_per_s": round(s.pages / total, 1),
        "chunks_per_s": round(s.chunks_embedded / total, 1),
        "timings": {k: round(v, 2) for k, v in s.timings.items()},
        "share_pct": {k: round(100 * s.timings.get(k, 0.0) / total, 1) for k in PHASES},
        "index_bytes": size,
        "bytes_per_chunk": round(size / max(1, s.chunks)),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        # CPU seconds per wall second (2.0 = both cores busy); well under the thread count
        # while the load average is high means another process shared the CPUs.
        "cpu_per_wall": round(cpu / total, 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    print(f"\n== {label} ({gen.name})")
    for key in ("documents", "pages", "chunks", "chunks_embedded", "seconds"):
        print(f"  {key:<16} {row[key]}")
    print(f"  pages/s          {row['pages_per_s']}   chunks/s {row['chunks_per_s']}")
    shares = "  ".join(f"{k} {row['share_pct'][k]}%" for k in PHASES)
    print(f"  time share       {shares}")
    print(f"  index size       {size:,} B ({row['bytes_per_chunk']:,} B/chunk)")
    print(f"  peak RSS         {row['peak_rss_mb']} MB (process peak so far, incl. model)")
    print(f"  cpu/wall         {row['cpu_per_wall']} (load avg 1m {row['loadavg_1m']})")
    for source, reason in s.skipped.items():
        print(f"  SKIPPED {source}: {reason}")
    return row


def model_only(emb, settings: Settings) -> dict:
    """Encode the shipped build's chunk texts directly: the model's own throughput ceiling."""
    db = sqlite3.connect(live_gen(settings.index_dir) / G.STORE)
    texts = [r[0] for r in db.execute("SELECT text FROM chunks ORDER BY vec_id")]
    db.close()
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    emb.encode_passages(texts, batch_size=settings.embed.batch_size)  # the build's own path
    secs = time.perf_counter() - t0
    row = {"passages": len(texts), "seconds": round(secs, 2)}
    row["cpu_per_wall"] = round((cpu_seconds() - cpu0) / secs, 2)
    row["passages_per_s"] = round(len(texts) / secs, 1)
    print(f"\n== model alone: {row['passages']} passages in {row['seconds']} s")
    print(f"  passages/s       {row['passages_per_s']}   cpu/wall {row['cpu_per_wall']}")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-sample", action="store_true", help="only the shipped corpus")
    ap.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto")
    args = ap.parse_args()

    base = Settings.make(precision=args.precision)
    t0 = time.perf_counter()
    emb = load_embedder(base.embed.model, base.embed.precision)
    emb.encode_passages(["warm-up"])  # the model loads lazily: builds embed through it
    load_s = time.perf_counter() - t0
    print(f"model {emb.name} ({getattr(emb, 'precision', '?')}) loaded in {load_s:.2f} s")
    print(f"torch threads: {__import__('torch').get_num_threads()}, cpus: {os.cpu_count()}")
    results: dict = {
        "precision": getattr(emb, "precision", args.precision),
        "model_load_s": round(load_s, 2),
        "cpus": os.cpu_count(),
    }

    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        tmp = Path(tmp)
        shipped = Settings.make(
            corpus_dir=tmp / "c1", index_dir=tmp / "i1", precision=args.precision
        )
        copy_shipped(shipped.corpus_dir)
        results["shipped"] = build(shipped, emb, "shipped corpus, fresh build")
        results["model_only"] = model_only(emb, shipped)

        if not args.skip_sample:
            sample = Settings.make(
                corpus_dir=tmp / "c2", index_dir=tmp / "i2", precision=args.precision
            )
            copy_shipped(sample.corpus_dir)
            pdfs = sorted(SAMPLE.glob("*/*.pdf"))
            held, pdfs = pdfs[-1], pdfs[:-1]
            dest = sample.corpus_dir / "ofsted-sample"
            for pdf in pdfs:
                copy_file(pdf, dest / pdf.relative_to(SAMPLE))
            results["sample"] = build(sample, emb, f"shipped + {len(pdfs)} sample PDFs, fresh")

            copy_file(held, dest / held.relative_to(SAMPLE))
            source = (dest / held.relative_to(SAMPLE)).relative_to(sample.corpus_dir).as_posix()
            inc = build(sample, emb, f"incremental: + {source}")
            manifest = G.read_manifest(live_gen(sample.index_dir))
            expected = manifest["files"].get(source, {}).get("chunks")
            inc["source"] = source
            inc["expected_chunks"] = expected
            inc["check"] = "PASS" if inc["chunks_embedded"] == expected else "FAIL"
            print(f"  added {inc['added']}, unchanged {inc['unchanged']}")
            print(f"  chunks_embedded {inc['chunks_embedded']} vs manifest chunks {expected}:")
            print(f"  {inc['check']}")
            results["incremental"] = inc

    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {RESULTS}")


def print_table(results: dict) -> None:
    runs = [k for k in ("shipped", "sample", "incremental") if k in results]
    rows = [
        ("documents", lambda r: r["documents"]),
        ("pages parsed", lambda r: r["pages"]),
        ("chunks (index)", lambda r: r["chunks"]),
        ("chunks embedded", lambda r: r["chunks_embedded"]),
        ("skipped files", lambda r: len(r["skipped"])),
        ("seconds", lambda r: r["seconds"]),
        ("pages/s", lambda r: r["pages_per_s"]),
        ("chunks/s", lambda r: r["chunks_per_s"]),
        *[(f"{p} %", lambda r, p=p: r["share_pct"][p]) for p in PHASES],
        ("index bytes", lambda r: f"{r['index_bytes']:,}"),
        ("bytes/chunk", lambda r: f"{r['bytes_per_chunk']:,}"),
        ("peak RSS MB", lambda r: r["peak_rss_mb"]),
        ("cpu/wall", lambda r: r["cpu_per_wall"]),
        ("load avg 1m", lambda r: r["loadavg_1m"]),
    ]
    print("\n" + f"{'':<17}" + "".join(f"{k:>14}" for k in runs))
    for name, get in rows:
        print(f"{name:<17}" + "".join(f"{get(results[k])!s:>14}" for k in runs))
    mo = results["model_only"]
    print(f"model load: {results['model_load_s']} s ({results['precision']})")
    print(
        f"model alone: {mo['passages']} passages, {mo['passages_per_s']} passages/s "
        f"(cpu/wall {mo['cpu_per_wall']})"
    )
    if "incremental" in results:
        inc = results["incremental"]
        print(
            f"incremental check: embedded {inc['chunks_embedded']} == "
            f"manifest {inc['expected_chunks']}: {inc['check']}"
        )


if __name__ == "__main__":
    main()
