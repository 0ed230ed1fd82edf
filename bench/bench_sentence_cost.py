"""What the stored sentence vectors cost a build: time and disk, with them and without.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_sentence_cost.py [--repeats 3] [--skip-sample]

The same code builds the same files (shipped corpus, or shipped + ../shared/ofsted-sample)
into fresh index directories, alternating "with" (the sentence-transformers embedder, whose
``encode_spans`` pools each passage's sentence vectors from its forward pass) and "without"
(the same embedder with ``encode_spans`` hidden: the build then stores passage vectors only,
as before sentence vectors). Fresh directories, so each build parses its PDFs too. Prints the
median build seconds and generation bytes of each, and their ratios (issue targets: under
1.25x the time and 1.30x the disk). Writes bench/results/sentence_cost.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import SAMPLE, build, copy_file, copy_shipped, write_results  # noqa: E402

from rag_qa.embed.model import load_embedder  # noqa: E402
from rag_qa.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sentence_cost.json"


class WithoutSentences:
    """The embedder as a build sees it, minus ``encode_spans``: passage vectors only, through
    the very path the build uses for them (``encode_passages``)."""

    def __init__(self, emb):
        self._emb = emb
        self.name, self.dim = emb.name, emb.dim
        self.tokenizer, self.max_tokens = emb.tokenizer, emb.max_tokens

    def encode(self, texts, batch_size: int = 32, progress: bool = False):
        return self._emb.encode_passages(texts, batch_size=batch_size)


def corpus(dst: Path, with_sample: bool) -> None:
    copy_shipped(dst)
    if with_sample:
        for pdf in sorted(SAMPLE.glob("*/*.pdf")):
            copy_file(pdf, dst / "ofsted-sample" / pdf.relative_to(SAMPLE))


def summary(rows: list[dict]) -> dict:
    return {
        "seconds": [r["seconds"] for r in rows],
        "median_s": statistics.median(r["seconds"] for r in rows),
        "median_bytes": statistics.median(r["index_bytes"] for r in rows),
        "chunks": rows[0]["chunks"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-sample", action="store_true", help="only the shipped corpus")
    args = ap.parse_args()
    base = Settings()
    emb = load_embedder(base.embed.model, base.embed.precision)
    emb.encode_passages([("warm up " * n).strip() for n in range(8, 264, 8)])
    variants = {"with": emb, "without": WithoutSentences(emb)}
    rows: dict[str, list[dict]] = {k: [] for k in variants}
    with tempfile.TemporaryDirectory(prefix="sentcost-") as tmp:
        src = Path(tmp) / "corpus"
        corpus(src, not args.skip_sample)
        for i in range(args.repeats):
            for name, e in variants.items():
                s = Settings(corpus_dir=src, index_dir=Path(tmp) / f"index-{name}-{i}")
                rows[name].append(build(s, e, f"{name} sentence vectors, {i + 1}/{args.repeats}"))
    out = {k: summary(v) for k, v in rows.items()}
    out["time_ratio"] = round(out["with"]["median_s"] / out["without"]["median_s"], 3)
    out["disk_ratio"] = round(out["with"]["median_bytes"] / out["without"]["median_bytes"], 3)
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"\n{'':<10}{'median s':>10}{'builds s':>26}{'median bytes':>16}")
    for k in variants:
        r = out[k]
        runs = ", ".join(f"{x:.1f}" for x in r["seconds"])
        print(f"{k:<10}{r['median_s']:>10.1f}{runs:>26}{int(r['median_bytes']):>16,}")
    print(f"with / without: time {out['time_ratio']} (target < 1.25), ")
    print(f"                disk {out['disk_ratio']} (target < 1.30)")
    write_results(RESULTS, out)


if __name__ == "__main__":
    main()
