"""Synthetic index generations of any size, made from a real index.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/synthetic.py 100000 [--seed 0] [--force]

A real index is built once over the shipped corpus plus /work/shared/ofsted-sample (cached in
/tmp/rag-qa-scale/base/). Each synthetic chunk mixes 2-3 real chunks: its text is a run of
sentences from each, its vector the normalised sum of their vectors plus a little gaussian
noise, so that text (BM25) and vector (dense) agree. The first real chunk follows the
ordinals of one real "theme" document, so a synthetic document keeps a report's structure.
Documents hold ~30 chunks, are titled "<council> children's services inspection <year>"
(councils from rag_qa.text.councils, dates 2010-2026) and carry visit dates whose evidence is in
their first chunk, so steering by council, year and "when" questions is exercised.

The generation is written with the project's own Store, Bm25Index, choose_vectors /
write_vectors and generations.publish, with a manifest that ``open_index`` accepts, and
cached in /tmp/rag-qa-scale/<n>/index/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import time
import uuid
from array import array
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from rag_qa import __version__  # noqa: E402
from rag_qa.embed.model import lexical_text, load_embedder, resolve_precision  # noqa: E402
from rag_qa.index import generations as G  # noqa: E402
from rag_qa.index.bm25 import Bm25Index  # noqa: E402
from rag_qa.index.store import Store  # noqa: E402
from rag_qa.index.vectors import (  # noqa: E402
    VectorSpec,
    choose_vectors,
    read_vectors,
    stored_matrix,
    write_vectors,
)
from rag_qa.records import Chunk, DateMention, Document, Page  # noqa: E402
from rag_qa.settings import Settings  # noqa: E402
from rag_qa.text.councils import COUNCIL_NAMES  # noqa: E402
from rag_qa.text.sentences import split_sentences  # noqa: E402
from rag_qa.text.vocabulary import (
    MONTHS,  # noqa: E402
    tokenize,  # noqa: E402
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SAMPLE = Path("/work/shared/ofsted-sample")
CACHE = Path("/tmp/rag-qa-scale")
CHUNKS_PER_DOC = 30
CHUNKS_PER_PAGE = 3
NOISE = 0.01  # per-dimension sigma of the gaussian noise added to a mixed vector


def log(msg: str, t0: float | None = None) -> None:
    extra = f" ({time.perf_counter() - t0:.1f} s)" if t0 is not None else ""
    print(f"[synthetic] {msg}{extra}", flush=True)


# -- the real index the synthetic chunks are made from ---------------------------------------
def base_settings(cache: Path = CACHE) -> Settings:
    return Settings(corpus_dir=cache / "base" / "corpus", index_dir=cache / "base" / "index")


def ensure_base(cache: Path = CACHE) -> Path:
    """The live generation of the real index over shipped corpus + Ofsted sample (built once)."""
    settings = base_settings(cache)
    try:
        gen = G.current_generation(settings.index_dir)
    except G.IndexError_:
        gen = None
    if gen is not None and (gen / G.MANIFEST).exists():
        return gen
    from rag_qa.index.build import run_build

    t0 = time.perf_counter()
    corpus = settings.corpus_dir
    shutil.rmtree(cache / "base", ignore_errors=True)
    corpus.mkdir(parents=True)
    for src in sorted(CORPUS.iterdir()):
        if src.is_file():
            shutil.copyfile(src, corpus / src.name)
    for pdf in sorted(SAMPLE.glob("*/*.pdf")):
        dst = corpus / "ofsted-sample" / pdf.relative_to(SAMPLE)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf, dst)
    log(f"building the base index over {corpus} ...")
    summary = run_build(
        settings,
        lambda: load_embedder(settings.embed.model, settings.embed.precision),
        progress=False,
    )
    log(f"base index: {summary.documents} documents, {summary.chunks} chunks", t0)
    return G.current_generation(settings.index_dir)


@dataclass
class Base:
    texts: list[str]
    sentences: list[list[str]]  # each real chunk's sentences
    sections: list[str | None]
    matrix: np.ndarray  # (n, d) float32, unit rows
    doc_starts: np.ndarray  # first vec_id of each real document
    doc_lengths: np.ndarray


def load_base(cache: Path = CACHE) -> Base:
    gen = ensure_base(cache)
    db = sqlite3.connect(f"file:{gen / G.STORE}?mode=ro", uri=True)
    rows = db.execute("SELECT doc_id, text, section FROM chunks ORDER BY vec_id").fetchall()
    db.close()
    texts = [r[1] for r in rows]
    sentences = []
    for t in texts:
        spans = split_sentences(t) or [(0, len(t))]
        sentences.append([" ".join(t[a:b].split()) for a, b in spans if t[a:b].strip()] or [t])
    matrix = np.array(stored_matrix(read_vectors(gen / G.VECTORS)), dtype=np.float32)
    doc_ids = [r[0] for r in rows]
    starts = [i for i in range(len(doc_ids)) if i == 0 or doc_ids[i] != doc_ids[i - 1]]
    lengths = np.diff([*starts, len(doc_ids)])
    return Base(texts, sentences, [r[2] for r in rows], matrix, np.array(starts), lengths)


# -- the synthetic generation ------------------------------------------------------------------
def gen_dir(n_chunks: int, cache: Path = CACHE, variant: str = "") -> Path:
    return cache / (f"{n_chunks}-{variant}" if variant else str(n_chunks)) / "index"


def variant_name(settings: Settings, n_chunks: int) -> str:
    """ "" when ``settings`` pick the default vector index for this size, else its name."""
    spec = choose_vectors(n_chunks, settings)
    if spec == choose_vectors(n_chunks, Settings()):
        return ""
    return "flat" if spec.kind == "flat" else f"{spec.kind}-m{spec.m}-efc{spec.ef_construction}"


def _long_date(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def make_documents(n_chunks: int, rng: np.random.Generator) -> list[tuple[Document, int]]:
    """Synthetic documents (without pages yet) and their chunk counts, summing to n_chunks."""
    councils = list(COUNCIL_NAMES)
    first, last = date(2010, 1, 1).toordinal(), date(2026, 12, 31).toordinal()
    docs = []
    left, i = n_chunks, 0
    while left > 0:
        size = int(min(left, max(5, rng.integers(CHUNKS_PER_DOC - 10, CHUNKS_PER_DOC + 11))))
        if 0 < left - size < 5:
            size = left
        council = councils[int(rng.integers(len(councils)))]
        visit_end = date.fromordinal(int(rng.integers(first, last + 1)))
        visit_start = visit_end - timedelta(days=int(rng.integers(3, 15)))
        published = visit_end + timedelta(days=int(rng.integers(20, 50)))
        title = f"{council} children's services inspection {visit_end.year}"
        evidence = f"Inspection dates: {_long_date(visit_start)} to {_long_date(visit_end)}"
        slug = council.lower().replace(" ", "-").replace(",", "")
        source = f"synthetic/{slug}/inspection-{visit_end.isoformat()}-{i:07d}.txt"
        doc_id = f"syn-{i:07d}-{slug}"[:64]
        dates = (
            DateMention(
                "visit_start", visit_start.isoformat(), "inspection-dates-line", evidence, 1
            ),
            DateMention("visit_end", visit_end.isoformat(), "inspection-dates-line", evidence, 1),
            DateMention("published", published.isoformat(), "synthetic", _long_date(published)),
        )
        doc = Document(
            doc_id=doc_id,
            source=source,
            title=title,
            doc_type="inspection report",
            date=published.isoformat(),
            visit_start=visit_start.isoformat(),
            visit_end=visit_end.isoformat(),
            dates=dates,
            pages=(),
            content_hash=f"{i:064x}",
        )
        docs.append((doc, size))
        left -= size
        i += 1
    return docs


def mix_sources(
    n_chunks: int, docs: list[tuple[Document, int]], base: Base, rng: np.random.Generator
) -> np.ndarray:
    """(n, 3) real chunk ids per synthetic chunk (-1: only two mixed). Column 0 walks through
    one real document per synthetic document (its theme); columns 1-2 are random chunks."""
    n_base = len(base.texts)
    src = np.empty((n_chunks, 3), dtype=np.int64)
    themes = rng.integers(len(base.doc_starts), size=len(docs))
    pos = 0
    for (_, size), theme in zip(docs, themes, strict=True):
        start, length = base.doc_starts[theme], base.doc_lengths[theme]
        offset = int(rng.integers(length))
        src[pos : pos + size, 0] = start + (offset + np.arange(size)) % length
        pos += size
    src[:, 1] = rng.integers(n_base, size=n_chunks)
    src[:, 2] = np.where(rng.random(n_chunks) < 0.5, rng.integers(n_base, size=n_chunks), -1)
    return src


def mix_vectors(src: np.ndarray, base: Base, rng: np.random.Generator) -> np.ndarray:
    n, d = len(src), base.matrix.shape[1]
    out = np.empty((n, d), dtype=np.float32)
    step = 100_000
    for a in range(0, n, step):
        part = src[a : a + step]
        v = base.matrix[part[:, 0]] + base.matrix[part[:, 1]]
        third = part[:, 2] >= 0
        v[third] += base.matrix[part[third, 2]]
        v += rng.normal(0.0, NOISE, size=v.shape).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[a : a + step] = v
    return out


def mix_text(ids, base: Base, rng: np.random.Generator) -> str:
    """A run of sentences from each real chunk: about 1/k of each, at a random place."""
    ids = [int(i) for i in ids if i >= 0]
    parts = []
    for i in ids:
        sents = base.sentences[i]
        take = max(1, round(len(sents) / len(ids)))
        at = int(rng.integers(max(1, len(sents) - take + 1)))
        parts.extend(sents[at : at + take])
    return " ".join(parts)


class TokenIds:
    """Tokenized passages as one flat int32 array with offsets: a sequence of per-passage
    token-id lists for bm25s, without a Python list of token strings per passage (which at
    1M passages would take ~15 GB)."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.ids = array("i")
        self.ends = array("q")

    def add(self, tokens: list[str]) -> None:
        vocab = self.vocab
        self.ids.extend([vocab.setdefault(t, len(vocab)) for t in tokens])
        self.ends.append(len(self.ids))

    def __len__(self) -> int:
        return len(self.ends)

    def __iter__(self):
        ids = np.frombuffer(self.ids, dtype=np.int32)
        start = 0
        for end in self.ends:
            yield ids[start:end].tolist()
            start = end


def bm25_from_ids(tokens: TokenIds) -> Bm25Index:
    """What ``Bm25Index.build`` makes of the same texts (same bm25s model and parameters,
    same scores; token ids numbered differently), from ``TokenIds``."""
    import bm25s

    index = Settings().index  # as the build passes them to Bm25Index.build
    model = bm25s.BM25(k1=index.bm25_k1, b=index.bm25_b, method="lucene")
    vocab = dict(tokens.vocab)
    model.scores = model.build_index_from_ids(
        unique_token_ids=list(vocab.values()), corpus_token_ids=tokens, show_progress=False
    )
    if "" not in vocab:  # as bm25s' index() does
        vocab[""] = max(vocab.values()) + 1
    model.vocab_dict = vocab
    model.unique_token_ids_set = set(vocab.values())
    return Bm25Index(model)


def check_bm25_equivalence(texts: list[str], questions: list[str]) -> None:
    """bm25_from_ids gives the scores Bm25Index.build gives, for every question."""
    index = Settings().index
    reference = Bm25Index.build(texts, index.bm25_k1, index.bm25_b)
    tokens = TokenIds()
    for t in texts:
        tokens.add(tokenize(t) or ["\u2205"])
    ours = bm25_from_ids(tokens)
    assert ours.size == reference.size
    for q in questions:
        if not np.array_equal(ours.scores(q), reference.scores(q)):
            raise AssertionError(f"BM25 scores differ from Bm25Index.build for {q!r}")


def _questions() -> list[str]:
    path = ROOT / "eval" / "questions.jsonl"
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line]


def vectors_part(n_chunks: int, spec: VectorSpec, cache: Path = CACHE) -> Path:
    """Where the vector index of a size is kept aside, to be reused by (re)builds."""
    name = "flat" if spec.kind == "flat" else f"{spec.kind}-m{spec.m}-efc{spec.ef_construction}"
    return cache / str(n_chunks) / "parts" / f"vectors-{name}.faiss"


def mixed_vectors(n_chunks: int, seed: int = 0, base=None):
    """The documents, sources and vectors of the generation of this size and seed."""
    base = base or load_base()
    rng = np.random.default_rng(seed)
    docs = make_documents(n_chunks, rng)
    src = mix_sources(n_chunks, docs, base, rng)
    return docs, src, mix_vectors(src, base, rng)


def vector_index(matrix: np.ndarray, spec: VectorSpec, dest: Path) -> float:
    """Put the vector index of ``matrix`` at ``dest`` (a hard link to the kept part when it
    holds the same vectors, else built and kept); returns the seconds its build took."""
    part = vectors_part(len(matrix), spec)
    meta = part.with_suffix(".json")
    if part.exists() and meta.exists() and _same_vectors(part, matrix):
        os.link(part, dest)
        seconds = json.loads(meta.read_text())["seconds"]
        log(f"vector index reused from {part} (same vectors; built in {seconds:.0f} s)")
        return seconds
    log(f"writing the vector index ({spec.to_json()}) ...")
    t0 = time.perf_counter()
    write_vectors(matrix, dest, spec)
    seconds = time.perf_counter() - t0
    log(f"vector index written ({spec.kind})", t0)
    part.parent.mkdir(parents=True, exist_ok=True)
    part.unlink(missing_ok=True)
    os.link(dest, part)
    info = {"seconds": seconds, "spec": spec.to_json(), "loadavg": os.getloadavg()}
    meta.write_text(json.dumps(info))
    return seconds


def make_generation(
    index_dir: Path, n_chunks: int, settings: Settings | None = None, seed: int = 0, base=None
) -> Path:
    """Write a publishable generation of ``n_chunks`` synthetic chunks into ``index_dir``;
    returns the published generation directory. Deterministic for a given seed. Documents are
    written to the store and tokenized for BM25 as they are made: nothing per passage but
    the vectors and the token ids is held in memory."""
    settings = (settings or Settings()).replace(index_dir=index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    timings = dict.fromkeys(("vectors", "texts", "store", "tokenize"), 0.0)
    t_all = time.perf_counter()
    base = base or load_base()

    t0 = time.perf_counter()
    docs, src, matrix = mixed_vectors(n_chunks, seed, base)
    timings["vectors"] = time.perf_counter() - t0
    log(f"{len(docs)} documents, {n_chunks} vectors mixed", t0)

    t0 = time.perf_counter()
    check_bm25_equivalence(
        [lexical_text(Document("d", "d", "d", "document", None, None, None, (), (), ""),
                      Chunk("c", "d", 0, t, None, None, 0, 0, None, 0), True)
         for t in base.texts[:2000]],
        _questions(),
    )  # fmt: skip
    log("BM25 from token ids checked against Bm25Index.build (2000 real passages)", t0)

    tmp = index_dir / f"tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir(parents=True)
    try:
        store = Store.create(tmp / G.STORE)
        store.db.execute("PRAGMA journal_mode=OFF")
        store.db.execute("PRAGMA synchronous=OFF")
        text_rng = np.random.default_rng([seed, 1])
        tokens = TokenIds()
        files = {}
        pos = 0
        t_loop = time.perf_counter()
        for n_doc, (doc, size) in enumerate(docs, start=1):
            t0 = time.perf_counter()
            texts = [mix_text(src[pos + j], base, text_rng) for j in range(size)]
            texts[0] = f"{doc.dates[0].evidence}. {texts[0]}"  # where visit dates are "read"
            pages, chunks = [], []
            for p in range(0, size, CHUNKS_PER_PAGE):
                group = texts[p : p + CHUNKS_PER_PAGE]
                offset = 0
                for j, text in enumerate(group):
                    ordinal = p + j
                    chunks.append(
                        Chunk(
                            chunk_id=f"{doc.doc_id}-{ordinal:03d}",
                            doc_id=doc.doc_id,
                            ordinal=ordinal,
                            text=text,
                            page_start=len(pages) + 1,
                            page_end=len(pages) + 1,
                            char_start=offset,
                            char_end=offset + len(text),
                            section=base.sections[src[pos + ordinal, 0]],
                            token_count=int(len(text.split()) * 1.3),
                        )
                    )
                    offset += len(text) + 1
                pages.append(Page(len(pages) + 1, "\n".join(group)))
            doc = replace(doc, pages=tuple(pages))
            t1 = time.perf_counter()
            store.add_document(doc)  # one transaction: sqlite3 opens it at the first INSERT
            store.add_chunks([(pos + c.ordinal, c, f"syn{pos + c.ordinal:010d}") for c in chunks])
            t2 = time.perf_counter()
            for c in chunks:
                tokens.add(
                    tokenize(lexical_text(doc, c, settings.ingest.embed_context)) or ["\u2205"]
                )
            t3 = time.perf_counter()
            timings["texts"] += t1 - t0
            timings["store"] += t2 - t1
            timings["tokenize"] += t3 - t2
            files[doc.source] = {
                "sha256": doc.content_hash,
                "size": 0,
                "mtime_ns": 0,
                "doc_id": doc.doc_id,
                "title": doc.title,
                "doc_type": doc.doc_type,
                "date": doc.date,
                "pages": len(pages),
                "chunks": size,
            }
            pos += size
            if n_doc % 5000 == 0:
                log(f"  {pos}/{n_chunks} chunks written and tokenized", t_loop)
        t0 = time.perf_counter()
        store.commit()
        store.close()
        timings["store"] += time.perf_counter() - t0
        log(f"store written, texts tokenized ({len(tokens.ids):,} tokens)", t_loop)

        spec = choose_vectors(n_chunks, settings)
        t0 = time.perf_counter()
        timings["vectors_index"] = vector_index(matrix, spec, tmp / G.VECTORS)
        reused = timings["vectors_index"] - (time.perf_counter() - t0)  # kept part: 0 s here
        del matrix

        t0 = time.perf_counter()
        bm25_from_ids(tokens).save(tmp / G.BM25)
        del tokens
        timings["bm25"] = time.perf_counter() - t0 + timings["tokenize"]
        log("bm25 written", t0)

        emb = load_embedder(settings.embed.model, settings.embed.precision)
        manifest = {
            "format": G.FORMAT,
            "rag_qa_version": __version__,
            "index_key": settings.index_key(),
            "settings": settings.index_params(),
            "model": emb.name,
            "dim": int(base.matrix.shape[1]),
            "precision": resolve_precision(settings.embed.precision),
            "vectors": spec.to_json(),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "documents": len(docs),
            "chunks": n_chunks,
            "synthetic": {"seed": seed, "noise": NOISE, "base_chunks": len(base.texts)},
            "build_timings": {k: round(v, 2) for k, v in timings.items()},
            "files": files,
            "skipped": {},
        }
        (tmp / G.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        t0 = time.perf_counter()
        final = G.publish(index_dir, tmp)
        timings["publish"] = time.perf_counter() - t0
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    timings["total"] = time.perf_counter() - t_all + max(0.0, reused)  # as if built here
    (final / "build_timings.json").write_text(json.dumps(timings, indent=1))
    log(f"published {final}", t_all)
    return final


def _same_vectors(path: Path, matrix: np.ndarray) -> bool:
    index = read_vectors(path)
    return index.ntotal == len(matrix) and np.array_equal(stored_matrix(index), matrix)


def ensure_generation(
    n_chunks: int,
    settings: Settings | None = None,
    seed: int = 0,
    force: bool = False,
    index_dir: Path | None = None,
) -> Path:
    """The cached generation of ``n_chunks`` synthetic chunks, made when missing. A generation
    with another vector index (``settings`` other than the defaults) shares the default
    generation's store and BM25 files (hard links) and only writes its own vectors."""
    settings = settings or Settings()
    variant = variant_name(settings, n_chunks)
    index_dir = index_dir or gen_dir(n_chunks, variant=variant)
    if force:
        shutil.rmtree(index_dir, ignore_errors=True)
    try:
        gen = G.current_generation(index_dir)
    except G.IndexError_:
        gen = None
    if gen is not None:
        manifest = G.read_manifest(gen)
        if manifest.get("chunks") == n_chunks and manifest.get("synthetic", {}).get("seed") == seed:
            return gen
        shutil.rmtree(index_dir, ignore_errors=True)
    if not variant:
        return make_generation(index_dir, n_chunks, settings, seed)
    source = ensure_generation(n_chunks, settings.replace(**_DEFAULT_ANN), seed)
    return make_variant(source, index_dir, n_chunks, settings)


_DEFAULT_ANN = {
    name: Settings().get(name)
    for name in ("ann_min_chunks", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search")
}


def make_variant(source: Path, index_dir: Path, n_chunks: int, settings: Settings) -> Path:
    """A copy of generation ``source`` with the vector index ``settings`` choose."""
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f"tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        os.link(source / G.STORE, tmp / G.STORE)
        shutil.copytree(source / G.BM25, tmp / G.BM25, copy_function=os.link)
        matrix = stored_matrix(read_vectors(source / G.VECTORS))
        seconds = vector_index(matrix, choose_vectors(n_chunks, settings), tmp / G.VECTORS)
        spec = choose_vectors(n_chunks, settings)
        manifest = G.read_manifest(source)
        manifest["vectors"] = spec.to_json()
        manifest["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        timings = json.loads((source / "build_timings.json").read_text())
        timings["total"] += seconds - timings["vectors_index"]
        timings["vectors_index"] = seconds
        manifest["build_timings"] = {k: round(v, 2) for k, v in timings.items()}
        (tmp / G.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        (tmp / "build_timings.json").write_text(json.dumps(timings, indent=1))
        return G.publish(index_dir, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[], help="chunk counts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="rebuild even when cached")
    ap.add_argument(
        "--hnsw", metavar="M,EFC", help="only build and keep an HNSW index of these vectors"
    )
    args = ap.parse_args()
    gen = ensure_base()
    log(f"base index: {gen}")
    for n in args.sizes:
        if args.hnsw:
            m, efc = (int(x) for x in args.hnsw.split(","))
            spec = VectorSpec("hnsw", m, efc, Settings().index.hnsw_ef_search)
            part = vectors_part(n, spec)
            if part.exists() and part.with_suffix(".json").exists():
                log(f"{part} exists")
                continue
            _, _, matrix = mixed_vectors(n, args.seed)
            tmp = part.with_suffix(".tmp")
            part.parent.mkdir(parents=True, exist_ok=True)
            vector_index(matrix, spec, tmp)
            tmp.unlink()
            continue
        log(f"generation of {n} chunks: {ensure_generation(n, seed=args.seed, force=args.force)}")


if __name__ == "__main__":
    main()
