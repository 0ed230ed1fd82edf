"""Build the same files with an earlier commit's code and with this checkout's, alternately.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_against.py --ref 5a871fa [--sample 40] \
        [--repeats 3]

The earlier code is checked out with ``git worktree`` into a temporary directory and imported
from there (same venv, same model files); each build runs in a process of its own, after the
model is loaded and warmed, into a fresh index directory (so each build parses its PDFs).
Files: the shipped corpus plus the first ``--sample`` reports of ../shared/ofsted-sample, one
per council first (as bench_peers.py picks them). Prints each build's seconds, the medians
and the ratio, and the generations' bytes. Writes bench/results/against.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import SAMPLE, copy_file, copy_shipped, write_results  # noqa: E402
from bench_peers import pick_sample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "against.json"

# Run in a child whose rag_qa is the code under test: load, warm, build once, print JSON.
CHILD = """
import json, sys, time
from pathlib import Path
from rag_qa.embed.model import load_embedder
from rag_qa.index.build import run_build
from rag_qa.settings import Settings
corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
s = Settings(corpus_dir=corpus, index_dir=index)
emb = load_embedder(s.embed.model, s.embed.precision)
warm = [("warm up " * n).strip() for n in range(8, 264, 8)]
(getattr(emb, "encode_passages", None) or emb.encode)(warm)
summary = run_build(s, lambda: emb, full=False, progress=False)
size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file() and "parse-cache" not in p.parts)
print(json.dumps({"seconds": summary.seconds, "chunks": summary.chunks, "bytes": size}))
"""


def one_build(src: Path, corpus: Path, index: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(corpus), str(index)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="the earlier commit")
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="against-") as tmp:
        tmp = Path(tmp)
        tree = tmp / "earlier"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.ref],
            check=True,
            capture_output=True,
        )
        try:
            corpus = tmp / "corpus"
            copy_shipped(corpus)
            for pdf in pick_sample(SAMPLE, args.sample):
                copy_file(pdf, corpus / "ofsted-sample" / pdf.relative_to(SAMPLE))
            files = sum(1 for p in corpus.rglob("*") if p.is_file())
            codes = {args.ref: tree / "src", "this": ROOT / "src"}
            rows: dict[str, list[dict]] = {k: [] for k in codes}
            for i in range(args.repeats):
                for name, src in codes.items():
                    row = one_build(src, corpus, tmp / f"index-{name}-{i}")
                    rows[name].append(row)
                    print(f"{name:<10} build {i + 1}: {row['seconds']:.1f} s, {row['bytes']:,} B")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
    out = {
        k: {
            "seconds": [r["seconds"] for r in v],
            "median_s": statistics.median(r["seconds"] for r in v),
            "bytes": v[0]["bytes"],
            "chunks": v[0]["chunks"],
        }
        for k, v in rows.items()
    }
    out["ratio"] = round(out["this"]["median_s"] / out[args.ref]["median_s"], 3)
    out["files"] = files
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    for k in codes:
        print(f"{k:<10} median {out[k]['median_s']:.1f} s, {out[k]['bytes']:,} B")
    print(f"this / {args.ref}: {out['ratio']}")
    write_results(RESULTS, out)


if __name__ == "__main__":
    main()
