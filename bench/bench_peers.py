"""rag-qa beside its peers (LlamaIndex, txtai): the same files, the same questions, one table.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/bench_peers.py \\
        [--peers-python /work/peers-venv/bin/python] [--sample 40] [--repeats 1] \\
        [--systems rag-qa,llamaindex-vector,llamaindex-bm25,txtai-hybrid]

The peers live in a venv of their own (bench/peers-requirements.txt says how to make it);
rag-qa never imports them. This script runs in rag-qa's venv: it copies the shipped corpus and
the first ``--sample`` reports of ../shared/ofsted-sample (one per council first, in sorted
order, then a second per council, ...) into a temporary corpus, builds rag-qa's index with the
real model, and runs bench/peers_run.py in the peers venv once per peer library over the same
files. Questions: those of eval/questions.jsonl and eval/multi_council.jsonl that have answers
and all of whose sources are among the copied files. Every system is scored by rag-qa's own
hit definition (``metrics.is_hit``: the passage's file is a source and its normalised text
holds an accepted answer; for rag-qa ``suite.passage_hit``, which also counts the files a
passage was merged with as a duplicate) over its top 10: hit@5 and MRR@10.

Build time: text extraction + chunking + embedding + indexing, the median of ``--repeats``
fresh builds, model load excluded (shown apart). Per-question time after 10 warm-up
questions: retrieval of the top 10 for the peers; for rag-qa ``engine.search(q, k=5)``
(search) and that search plus ``engine.answer`` (answer). Ratios are to rag-qa's search row.
Writes bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import CORPUS, SAMPLE, build, copy_file, copy_shipped  # noqa: E402

from bench import ms  # noqa: E402
from rag_qa.evaluation import metrics as M  # noqa: E402
from rag_qa.evaluation.suite import Question, load_questions, passage_hit  # noqa: E402
from rag_qa.ingest.loaders import list_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "peers.json"
PEERS_RUN = ROOT / "bench" / "peers_run.py"
PEERS_REQUIREMENTS = ROOT / "bench" / "peers-requirements.txt"
SUITES = (ROOT / "eval" / "questions.jsonl", ROOT / "eval" / "multi_council.jsonl")
PEERS = {
    "llamaindex-vector": "llamaindex",
    "llamaindex-bm25": "llamaindex",
    "txtai-hybrid": "txtai",
}
SYSTEMS = ("rag-qa", *PEERS)
K, WARMUP = 10, 10
CREATE = (
    "python3.11 -m venv /work/peers-venv && /work/peers-venv/bin/pip install torch==2.13.0 && "
    f"/work/peers-venv/bin/pip install -r {PEERS_REQUIREMENTS.relative_to(ROOT)}"
)


def pick_sample(sample_dir: Path, n: int) -> list[Path]:
    """The first ``n`` reports, taking one per council folder (sorted) before any council's
    second, and so on, so that a small sample spans many councils."""
    by_council: dict[str, list[Path]] = {}
    for pdf in sorted(sample_dir.glob("*/*.pdf")):
        by_council.setdefault(pdf.parent.name, []).append(pdf)
    picked: list[Path] = []
    rounds = max((len(v) for v in by_council.values()), default=0)
    for i in range(rounds):
        picked += [files[i] for _, files in sorted(by_council.items()) if i < len(files)]
    return picked[:n]


def covered(source: str, files: list[str]) -> bool:
    """Whether a question's source names one of ``files`` (corpus-relative): the file itself,
    or the file under a folder (a sample source ``council/report.pdf`` is copied to
    ``ofsted-sample/council/report.pdf``)."""
    return any(f == source or f.endswith("/" + source) for f in files)


def select_questions(questions: list[Question], files: list[str]) -> list[Question]:
    """The answerable questions all of whose sources are among ``files``."""
    return [q for q in questions if q.answerable and all(covered(s, files) for s in q.sources)]


def relevance(q: Question, ranked: list[tuple[str, str]]) -> list[bool]:
    """For a peer's ranked (source, text) passages: which are hits by rag-qa's definition."""
    return [M.is_hit(source, text, list(q.sources), list(q.answers)) for source, text in ranked]


def score(relevances: list[list[bool]]) -> dict:
    n = max(1, len(relevances))
    return {
        "hit@5": round(sum(M.hit_at_k(r, 5) for r in relevances) / n, 4),
        "mrr@10": round(sum(M.reciprocal_rank(r, 10) for r in relevances) / n, 4),
    }


def ratio(value, base) -> float | None:
    return round(value / base, 2) if value is not None and base else None


COLUMNS = (
    ("hit@5", lambda r: r["hit@5"], "{:.3f}"),
    ("MRR@10", lambda r: r["mrr@10"], "{:.3f}"),
    ("build s", lambda r: r.get("build_s"), "{:.1f}"),
    ("p50 ms", lambda r: r["ms"]["p50"], "{:.1f}"),
    ("p95 ms", lambda r: r["ms"]["p95"], "{:.1f}"),
)


def table_rows(systems: dict) -> list[dict]:
    """One row per system (rag-qa: a search row and an answer row), each with its ratios to
    rag-qa's search row (None where there is no rag-qa row or no value)."""
    rows = []
    for name, s in systems.items():
        row = {"system": name, "hit@5": s["hit@5"], "mrr@10": s["mrr@10"]}
        if name == "rag-qa":
            rows.append({**row, "system": "rag-qa search", "build_s": s["build_s"]})
            rows[-1]["ms"] = s["search_ms"]
            rows.append({**row, "system": "rag-qa answer", "build_s": None, "ms": s["answer_ms"]})
        else:
            rows.append({**row, "build_s": s["build_s"], "ms": s["ms"]})
    base = next((r for r in rows if r["system"] == "rag-qa search"), None)
    for row in rows:
        row["ratios"] = {
            label: ratio(get(row), get(base)) if base else None for label, get, _ in COLUMNS
        }
    return rows


def cell(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def format_table(rows: list[dict]) -> str:
    """The table: the figures, then each one's ratio to rag-qa's search row."""
    labels = [label for label, _, _ in COLUMNS]
    width = max(14, *(len(r["system"]) for r in rows)) + 2
    head = f"{'system':<{width}}" + "".join(f"{x:>9}" for x in labels)
    head += " |" + "".join(f"{'x ' + x.split()[0]:>10}" for x in labels)
    lines = [head, "-" * len(head)]
    for row in rows:
        line = f"{row['system']:<{width}}"
        line += "".join(f"{cell(get(row), fmt):>9}" for _, get, fmt in COLUMNS)
        line += " |" + "".join(f"{cell(row['ratios'][x], '{:.2f}'):>10}" for x in labels)
        lines.append(line)
    return "\n".join(lines)


def corpus_files(corpus_dir: Path) -> list[dict]:
    return [
        {"path": str(p), "source": p.relative_to(corpus_dir).as_posix()}
        for p in list_corpus(corpus_dir)
    ]


def run_ragqa(tmp: Path, questions: list[Question], repeats: int) -> dict:
    from rag_qa.embed.model import load_embedder
    from rag_qa.engine import Engine
    from rag_qa.settings import Settings

    base = Settings()
    t0 = time.perf_counter()
    emb = load_embedder(base.embed.model, base.embed.precision)
    emb.encode_passages(["warm up"])  # the build's model loads lazily on its first call
    emb.encode(["warm up"])  # and the question encoder on its own
    load_s = time.perf_counter() - t0
    builds = []
    for i in range(repeats):
        s = Settings(corpus_dir=tmp / "corpus", index_dir=tmp / f"index-{i}")
        builds.append(build(s, emb, f"rag-qa build {i + 1}/{repeats}"))
    engine = Engine(s, emb)
    texts = [q.question for q in questions]
    for q in texts[:WARMUP]:
        engine.answer(engine.search(q, k=5))
    search, answer, rels = [], [], []
    for q in questions:
        t1 = time.perf_counter()
        result = engine.search(q.question, k=5)
        t2 = time.perf_counter()
        engine.answer(result)
        t3 = time.perf_counter()
        search.append(t2 - t1)
        answer.append(t3 - t1)
        rels.append([passage_hit(q, p) for p in engine.search(q.question, k=K).passages])
    engine.close()
    runs = [b["seconds"] for b in builds]
    return {
        **score(rels),
        "build_s": round(statistics.median(runs), 2),
        "build_runs_s": runs,
        "pages": builds[-1]["pages"],
        "chunks": builds[-1]["chunks"],
        "model_load_s": round(load_s, 2),
        "search_ms": ms(search),
        "answer_ms": ms(answer),
        "first_hit": [next((i + 1 for i, h in enumerate(r) if h), None) for r in rels],
    }


def run_peer(python: str, lib: str, spec: dict, tmp: Path) -> dict:
    spec_path, out_path = tmp / f"{lib}-spec.json", tmp / f"{lib}-out.json"
    spec_path.write_text(json.dumps({**spec, "system": lib}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)  # the peers venv must not see rag-qa
    print(f"\n== {lib} (in {python})", flush=True)
    subprocess.run([python, str(PEERS_RUN), str(spec_path), str(out_path)], env=env, check=True)
    return json.loads(out_path.read_text())


def peer_summary(questions: list[Question], got: dict) -> dict:
    rels = [relevance(q, ranked) for q, ranked in zip(questions, got["results"], strict=True)]
    return {
        **score(rels),
        **{k: got[k] for k in ("build_s", "build_runs_s", "pages", "chunks", "model_load_s")},
        "ms": ms(got["seconds"]),
        "first_hit": [next((i + 1 for i, h in enumerate(r) if h), None) for r in rels],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers-python", default="/work/peers-venv/bin/python")
    ap.add_argument("--sample", type=int, default=40, help="reports of ../shared/ofsted-sample")
    ap.add_argument("--repeats", type=int, default=1, help="builds per system (median)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    args = ap.parse_args(argv)
    args.repeats = max(1, args.repeats)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        print(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
        return 2
    libs = sorted({PEERS[s] for s in systems if s in PEERS})
    if libs and not Path(args.peers_python).exists():
        print(f"no peers venv at {args.peers_python}; create it with: {CREATE}")
        return 2

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        tmp = Path(tmp)
        copy_shipped(tmp / "corpus")
        reports = pick_sample(SAMPLE, args.sample)
        for pdf in reports:
            copy_file(pdf, tmp / "corpus" / "ofsted-sample" / pdf.relative_to(SAMPLE))
        files = corpus_files(tmp / "corpus")
        sources = [f["source"] for f in files]
        questions = select_questions([q for p in SUITES for q in load_questions(p)], sources)
        print(f"{len(files)} files ({len(reports)} sample reports), {len(questions)} questions")
        out: dict = {}
        if "rag-qa" in systems:
            out["rag-qa"] = run_ragqa(tmp, questions, args.repeats)
        spec = {
            "files": files,
            "questions": [q.question for q in questions],
            "k": K,
            "warmup": WARMUP,
            "repeats": args.repeats,
        }
        versions = {}
        for lib in libs:
            got = run_peer(args.peers_python, lib, spec, tmp)
            versions.update(got["versions"])
            for name, result in got["systems"].items():
                if name in systems:
                    out[name] = peer_summary(questions, result)
    rows = table_rows({name: out[name] for name in systems if name in out})
    print()
    print(format_table(rows))
    seconds = round(time.perf_counter() - started, 1)
    load_end = os.getloadavg()[0]
    print(
        f"{len(files)} files ({len(reports)} of {SAMPLE.name}), {len(questions)} questions, "
        f"top {K}; builds: median of {args.repeats}; model load apart: "
        + ", ".join(f"{n} {s['model_load_s']} s" for n, s in out.items())
        + f"; {os.cpu_count()} CPUs, load average {load_start:.2f} -> {load_end:.2f}; "
        f"{seconds} s in all"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "cpus": os.cpu_count(),
                "load_avg": [round(load_start, 2), round(load_end, 2)],
                "seconds": seconds,
                "sample": [p.relative_to(SAMPLE).as_posix() for p in reports],
                "shipped": CORPUS.name,
                "questions": [q.id for q in questions],
                "repeats": args.repeats,
                "versions": versions,
                "systems": out,
                "table": rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
