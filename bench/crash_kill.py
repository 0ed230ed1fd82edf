"""kill -9 during rebuilds: the previous index must survive, and the next build must be clean.

Builds an index of a corpus, records the answers to a fixed set of questions (``rag-qa ask
--json``, compared by passage chunk_id), then repeatedly: changes the corpus (adds, modifies and
removes a few files), starts ``rag-qa index`` as a subprocess, sleeps a random time within the
expected build duration and sends SIGKILL. After each kill it checks that

(a) the previous index is untouched: CURRENT still names it, its files are byte-identical, it
    loads (``open_index``), is internally consistent and answers exactly as before;
(b) nothing left behind breaks the next build: ``rag-qa index`` (no --wait: the lock must be
    free) finishes cleanly, reports exactly the corpus changes, leaves no tmp-* and at most two
    generations, and its manifest lists exactly the corpus files, each once, with chunk counts
    that agree between the manifest, SQLite, FAISS (ntotal) and BM25, vec_ids 0..n-1, and
    FAISS rows equal to the cached embeddings of their chunks.

A kill that lands after the commit point (CURRENT already switched) must leave the new index
complete instead. At the end the incremental index is compared with a full rebuild of the same
corpus in another folder (same files, same chunk ids).

    .venv/bin/python bench/crash_kill.py                  # real model, 20 kills (minutes)
    .venv/bin/python bench/crash_kill.py --fake --kills 50  # fake embedder, fast

Default corpus: a copy of corpus/ plus --extra PDFs of ../shared/ofsted-sample; each round adds
--adds PDFs from the rest of the sample. With --fake, the tests' fake embedder is used through
tests/fake_rag_qa.py, whose test hook also stretches each build stage by --stretch seconds so
that kills spread over the whole build. Ends with ``kills survived: X/Y``; writes
bench/results/crash_kill.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from rag_qa.index import generations as G  # noqa: E402
from rag_qa.index.loaded import open_index  # noqa: E402
from rag_qa.ingest.loaders import list_corpus  # noqa: E402
from rag_qa.settings import DEFAULT_MODEL, Settings  # noqa: E402

FAKE_LAUNCHER = REPO / "tests" / "fake_rag_qa.py"
FAKE_MODEL = "test-hash"
SAMPLE = REPO.parent / "shared" / "ofsted-sample"
QUESTIONS = [
    "What did Ofsted say about management oversight in 2018?",
    "How high were caseloads in the 2023 inspection?",
    "What did the November 2025 visit find about care leavers?",
    "What did the latest focused visit say about the front door?",
    "How stable is the social care workforce?",
]
ADDENDUM_WORDS = (
    "caseloads supervision oversight leavers fostering adoption placements workforce "
    "advocacy audit partnership safeguarding assessment planning reviews"
).split()


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def short(self) -> str:
        return f"+{len(self.added)} ~{len(self.changed)} -{len(self.removed)}"


@dataclass
class Round:
    number: int
    killed: bool
    delay_s: float
    phase: str = ""
    survived: bool = False
    rebuild_s: float = 0.0
    chunks: int = 0
    error: str = ""


def tree_digest(folder: Path) -> str:
    """Hash of every file's path and bytes under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def check_index(settings: Settings, corpus_files: set[str] | None = None) -> dict:
    """Open the live index and check it is whole: raises CheckFailed (or IndexError_)."""
    import numpy as np

    index = open_index(settings)
    try:
        manifest = index.manifest
        files, skipped = manifest["files"], manifest.get("skipped", {})
        check(
            not set(files) & set(skipped),
            f"files both indexed and skipped: {set(files) & set(skipped)}",
        )
        if corpus_files is not None:
            lost = corpus_files - set(files) - set(skipped)
            extra = set(files) - corpus_files
            check(
                not lost and not extra,
                f"manifest vs corpus: missing {sorted(lost)}, extra {sorted(extra)}",
            )
        db = index.store.db
        sources = [r[0] for r in db.execute("SELECT source FROM documents")]
        check(len(sources) == len(set(sources)), "a source is stored twice")
        check(sorted(sources) == sorted(files), "SQLite documents differ from the manifest's files")
        check(manifest["documents"] == len(files), "manifest document count is wrong")
        n = manifest["chunks"]
        per_file = sum(int(e["chunks"]) for e in files.values())
        n_sql = index.store.count("chunks")
        check(
            n == per_file == n_sql == index.vectors.ntotal == index.bm25.size,
            f"chunk counts disagree: manifest {n}, per file {per_file}, SQLite {n_sql}, "
            f"FAISS {index.vectors.ntotal}, BM25 {index.bm25.size}",
        )
        rows = db.execute(
            "SELECT c.vec_id, c.chunk_id, c.embed_key, d.source FROM chunks c "
            "LEFT JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.vec_id"
        ).fetchall()
        check([r[0] for r in rows] == list(range(n)), "vec_ids are not 0..n-1")
        check(len({r[1] for r in rows}) == n, "duplicate chunk_ids")
        check(all(r[3] is not None for r in rows), "a chunk belongs to no stored document")
        counts: dict[str, int] = {}
        for r in rows:
            counts[r[3]] = counts.get(r[3], 0) + 1
        for source, entry in files.items():
            check(
                counts.get(source, 0) == entry["chunks"],
                f"{source}: manifest says {entry['chunks']} chunks, SQLite holds {counts.get(source, 0)}",
            )
        dim = int(manifest["dim"])
        cached = index.store.get_embeddings(sorted({r[2] for r in rows}), dim)
        check(len(cached) == len({r[2] for r in rows}), "a chunk's embedding is missing")
        matrix = index.vectors.reconstruct_n(0, n) if n else np.zeros((0, dim), np.float32)
        wanted = np.vstack([cached[r[2]] for r in rows]) if n else matrix
        check(np.array_equal(matrix, wanted), "FAISS rows differ from the chunks' embeddings")
        return {
            "generation": index.generation.name,
            "documents": len(files),
            "chunks": n,
            "chunk_ids": sorted(r[1] for r in rows),
        }
    finally:
        index.close()


class Harness:
    """One index folder, one corpus folder and the ``rag-qa`` processes that work on them."""

    def __init__(
        self,
        workdir: Path,
        pool: list[Path],
        *,
        fake: bool,
        questions: list[str] = QUESTIONS,
        seed: int = 0,
        adds: int = 1,
        stretch: float = 0.0,
        timeout: float = 900,
        log=print,
    ):
        self.workdir = Path(workdir)
        self.corpus = self.workdir / "corpus"
        self.index = self.workdir / "index"
        self.pool = list(pool)
        self.fake = fake
        self.questions = list(questions)
        self.rng = random.Random(seed)
        self.adds = adds
        self.stretch = stretch
        self.timeout = timeout
        self.log = log
        self.round_no = 0
        self.added_earlier: list[str] = []
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        for name in list(self.env):
            if name.startswith("RAG_QA_TEST_PAUSE"):
                del self.env[name]

    # -- processes -----------------------------------------------------------------------
    def command(self, name: str, *args: str, index: Path | None = None) -> list[str]:
        if self.fake:
            base = [sys.executable, str(FAKE_LAUNCHER)]
            model = ["--model", FAKE_MODEL]
        else:
            base, model = [str(REPO / ".venv" / "bin" / "rag-qa")], []
        where = ["--corpus", str(self.corpus), "--index", str(index or self.index)]
        return [*base, name, *where, *model, *args]

    def settings(self, index: Path | None = None) -> Settings:
        kw = {"model": FAKE_MODEL} if self.fake else {}
        return Settings.make(corpus_dir=self.corpus, index_dir=index or self.index, **kw)

    def stretch_env(self) -> dict:
        if not (self.fake and self.stretch):
            return {}
        return {
            "RAG_QA_TEST_PAUSE": "embed,faiss,publish,committed",
            "RAG_QA_TEST_PAUSE_SECONDS": str(self.stretch),
        }

    def start_index(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            self.command("index", "--json", *args),
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_index(self, *args: str, index: Path | None = None) -> tuple[dict, float]:
        """A build that must succeed; returns its JSON summary and wall time."""
        t = time.perf_counter()
        proc = subprocess.run(
            self.command("index", "--json", *args, index=index),
            env={**self.env, **self.stretch_env()},
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )
        seconds = time.perf_counter() - t
        check(
            proc.returncode == 0,
            f"rag-qa index exited {proc.returncode}: {proc.stderr.strip()[-600:]}",
        )
        return json.loads(proc.stdout.strip().splitlines()[-1]), seconds

    def answers(self, index: Path | None = None) -> dict[str, list[str]]:
        """``rag-qa ask --json`` over the fixed questions: question -> passage chunk_ids."""
        proc = subprocess.run(
            self.command("ask", "--json", "-k", "5", *self.questions, index=index),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )
        check(
            proc.returncode == 0,
            f"rag-qa ask exited {proc.returncode}: {proc.stderr.strip()[-600:]}",
        )
        out = {}
        for line in proc.stdout.splitlines():
            obj = json.loads(line)
            out[obj["question"]] = [p["chunk_id"] for p in obj["passages"]]
        check(list(out) == self.questions, "rag-qa ask did not answer every question")
        return out

    # -- the corpus ----------------------------------------------------------------------
    def corpus_files(self) -> set[str]:
        return {p.relative_to(self.corpus).as_posix() for p in list_corpus(self.corpus)}

    def mutate(self) -> Diff:
        """Add ``adds`` files from the pool, append to one text file, remove one file added
        in an earlier round (it goes back to the pool)."""
        self.round_no += 1
        diff = Diff()
        removable = [s for s in self.added_earlier if (self.corpus / s).exists()]
        if removable and (len(removable) > 2 or self.rng.random() < 0.5):
            source = self.rng.choice(removable)
            self.added_earlier.remove(source)
            kept = self.workdir / "removed" / Path(source).name
            kept.parent.mkdir(exist_ok=True)
            shutil.move(self.corpus / source, kept)
            diff.removed.append(source)
        for _ in range(min(self.adds, len(self.pool))):
            src = self.pool.pop(self.rng.randrange(len(self.pool)))
            dest = self.corpus / "added" / src.name
            dest.parent.mkdir(exist_ok=True)
            shutil.copyfile(src, dest)
            source = dest.relative_to(self.corpus).as_posix()
            self.added_earlier.append(source)
            diff.added.append(source)
        # A removed file may come back in a later round (not this one: no net change).
        self.pool += [self.workdir / "removed" / Path(s).name for s in diff.removed]
        texts = sorted(
            s for s in self.corpus_files() if s.endswith((".txt", ".md")) and s not in diff.added
        )
        if texts:
            source = self.rng.choice(texts)
            words = " ".join(self.rng.choice(ADDENDUM_WORDS) for _ in range(12))
            with (self.corpus / source).open("a", encoding="utf-8") as fh:
                fh.write(f"\n\nAddendum {self.round_no}: inspectors noted {words}.\n")
            diff.changed.append(source)
        diff.added.sort()
        return diff

    # -- state of the index folder ---------------------------------------------------------
    def state(self) -> dict:
        live = G.current_generation(self.index)
        return {
            "current": live.name if live else None,
            "gens": sorted(p.name for p in self.index.glob("gen-*")),
            "tmps": sorted(p.name for p in self.index.glob("tmp-*")),
        }

    def phase(self, before: dict, after: dict) -> str:
        if after["current"] != before["current"]:
            return "after commit (CURRENT switched)"
        if set(after["gens"]) - set(before["gens"]):
            return "renamed, CURRENT not switched"
        if after["tmps"]:
            return "writing tmp-* generation"
        return "startup/scan/parse"

    # -- one round ---------------------------------------------------------------------------
    def kill_build(
        self, delay: float | None = None, stage: str | None = None
    ) -> tuple[bool, float, str]:
        """Start ``rag-qa index`` and SIGKILL it after ``delay`` seconds, or once it reaches
        the test-hook ``stage`` (fake launcher only). Returns (killed, seconds it ran, its
        stdout); killed is False when it finished first."""
        env = self.stretch_env()
        marker = None
        if stage is not None:
            check(self.fake, "stages need the fake launcher")
            marker = Path(tempfile.mkstemp(prefix="pause-", dir=self.workdir)[1])
            env = {
                "RAG_QA_TEST_PAUSE": stage,
                "RAG_QA_TEST_PAUSE_MARKER": str(marker),
                "RAG_QA_TEST_PAUSE_SECONDS": "60",
            }
        t = time.perf_counter()
        proc = self.start_index(env=env)
        try:
            if marker is not None:
                deadline = time.monotonic() + 60
                while not marker.read_text().strip():
                    if proc.poll() is not None:
                        err = proc.communicate()[1]
                        raise CheckFailed(f"build ended before stage {stage}: {err[-600:]}")
                    check(time.monotonic() < deadline, f"build never reached stage {stage}")
                    time.sleep(0.02)
            else:
                try:
                    proc.wait(timeout=delay)
                    out, err = proc.communicate()
                    check(
                        proc.returncode == 0, f"rag-qa index exited {proc.returncode}: {err[-600:]}"
                    )
                    return False, time.perf_counter() - t, out
                except subprocess.TimeoutExpired:
                    pass
            os.kill(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            check(proc.returncode == -signal.SIGKILL, f"build was not killed ({proc.returncode})")
            return True, time.perf_counter() - t, out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            if marker is not None:
                marker.unlink(missing_ok=True)

    def verify_build(self, summary: dict, diff: Diff | None) -> dict:
        """(b): the build reported exactly ``diff`` (when known) and left a whole index."""
        if diff is not None:
            got = Diff(
                sorted(summary["added"]), sorted(summary["changed"]), sorted(summary["removed"])
            )
            want = Diff(sorted(diff.added), sorted(diff.changed), sorted(diff.removed))
            check(
                got == want, f"build reported {asdict(got)}, the corpus changed by {asdict(want)}"
            )
        st = self.state()
        check(not st["tmps"], f"tmp generations left after a clean build: {st['tmps']}")
        check(len(st["gens"]) <= 2, f"more than two generations kept: {st['gens']}")
        check(not (self.index / "CURRENT.tmp").exists(), "CURRENT.tmp left after a clean build")
        return check_index(self.settings(), self.corpus_files())

    def run_round(
        self, baseline: dict, delay: float | None = None, stage: str | None = None
    ) -> tuple[Round, dict, float]:
        """Mutate, kill a build, check (a) and (b). Returns the round, the new baseline answers
        and the clean rebuild's duration."""
        diff = self.mutate()
        before = self.state()
        live = G.current_generation(self.index)
        digest = tree_digest(live)
        killed, ran, out = self.kill_build(delay, stage)
        rnd = Round(self.round_no, killed, round(ran, 2))
        after = self.state()
        try:
            if not killed:  # it finished in time: a clean build, checked as one
                rnd.phase = "finished before the kill"
                info = self.verify_build(json.loads(out.strip().splitlines()[-1]), diff)
                rnd.survived, rnd.chunks = True, info["chunks"]
                return rnd, self.answers(), ran
            rnd.phase = self.phase(before, after)
            if after["current"] == before["current"]:
                # (a) the previous index: untouched, loads, whole, same answers
                check(
                    tree_digest(live) == digest,
                    f"{live.name} changed on disk during the killed build",
                )
                check_index(self.settings())
                now = self.answers()
                check(
                    now == baseline,
                    f"answers changed after the kill: {_first_difference(baseline, now)}",
                )
                expected = diff
            else:
                # Killed after the commit point: the new index must be complete.
                check_index(self.settings(), self.corpus_files())
                expected = Diff()
            summary, seconds = self.run_index()  # (b) no --wait: the lock must be free
            info = self.verify_build(summary, expected)
            rnd.rebuild_s, rnd.chunks, rnd.survived = round(seconds, 2), info["chunks"], True
            return rnd, self.answers(), seconds
        except (CheckFailed, G.IndexError_, sqlite3.Error, json.JSONDecodeError) as err:
            rnd.error = f"{type(err).__name__}: {err}"
            return rnd, baseline, 0.0


def _first_difference(a: dict, b: dict) -> str:
    for q in a:
        if a[q] != b.get(q):
            return f"{q!r}: {a[q][:3]} -> {(b.get(q) or [])[:3]}"
    return "question sets differ"


def run_kills(
    h: Harness, kills: int, stages: list[str] | None = None, max_rounds: int | None = None
) -> list[Round]:
    """The whole experiment: initial build, then rounds until ``kills`` builds were killed.
    With ``stages`` (fake launcher), the i-th kill lands at test-hook stage stages[i];
    otherwise after a random time within the expected build duration."""
    summary, first = h.run_index()
    check_index(h.settings(), h.corpus_files())
    baseline = h.answers()
    h.log(
        f"initial build: {summary['documents']} documents, {summary['chunks']} chunks in {first:.1f}s"
    )
    expected = None
    if stages is None:  # one incremental build to learn how long a round's build takes
        diff = h.mutate()
        summary, expected = h.run_index()
        h.verify_build(summary, diff)
        baseline = h.answers()
        h.log(f"calibration: an incremental build ({diff.short()}) takes {expected:.1f}s")
    rounds: list[Round] = []
    made = 0
    max_rounds = max_rounds or kills * 3
    while made < kills and len(rounds) < max_rounds:
        stage = stages[made % len(stages)] if stages else None
        delay = None if stage else h.rng.uniform(0.05, 1.0) * expected
        rnd, baseline, seconds = h.run_round(baseline, delay, stage)
        rounds.append(rnd)
        if seconds and expected is not None:
            expected = 0.7 * expected + 0.3 * seconds
        if rnd.killed:
            made += 1
        where = f"at stage {stage}" if stage else f"after {rnd.delay_s:.2f}s"
        status = "survived" if rnd.survived else f"FAILED: {rnd.error}"
        label = f"kill {made}/{kills} {where}" if rnd.killed else "no kill (build finished first)"
        h.log(f"round {rnd.number}: {label}; {rnd.phase}; {status}; {rnd.chunks} chunks")
        if not rnd.survived:  # recover so that later rounds still mean something
            try:
                h.run_index("--full")
                baseline = h.answers()
            except CheckFailed as err:
                h.log(f"could not recover: {err}")
                break
    return rounds


def compare_with_full_build(h: Harness) -> str:
    """The incremental index holds the same files and chunks as a full build of the corpus;
    reports how far the two embed each chunk apart and whether the answers agree (with the
    real model in bf16 a chunk's vector depends a little on the batch it was embedded in,
    and an incremental build embeds chunks in other batches than a full one)."""
    import numpy as np

    other = h.workdir / "index-full"
    shutil.rmtree(other, ignore_errors=True)
    h.run_index("--full", index=other)
    mine = check_index(h.settings(), h.corpus_files())
    full = check_index(h.settings(other), h.corpus_files())
    check(
        mine["chunk_ids"] == full["chunk_ids"], "incremental and full builds hold different chunks"
    )
    vectors = []
    for settings in (h.settings(), h.settings(other)):
        index = open_index(settings)
        ids = [r[0] for r in index.store.db.execute("SELECT chunk_id FROM chunks ORDER BY vec_id")]
        matrix = index.vectors.reconstruct_n(0, index.vectors.ntotal)
        vectors.append(dict(zip(ids, matrix, strict=True)))
        index.close()
    cosines = [float(np.dot(vectors[0][c], vectors[1][c])) for c in mine["chunk_ids"]]
    a, b = h.answers(), h.answers(other)
    same = sum(a[q] == b[q] for q in a)
    top = sum(a[q][:1] == b[q][:1] for q in a)
    return (
        f"{full['documents']} documents, {full['chunks']} chunks, same chunk ids; "
        f"same vectors: {sum(c > 0.999999 for c in cosines)}/{len(cosines)} (min cosine "
        f"{min(cosines, default=1.0):.5f}); same answers: {same}/{len(a)} (same top passage: "
        f"{top}/{len(a)})"
    )


def prepare(workdir: Path, fake: bool, extra: int, seed: int) -> list[Path]:
    """The default corpus: corpus/ plus ``extra`` sample PDFs; returns the pool of the rest."""
    corpus = workdir / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    for path in corpus.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    pdfs = sorted(SAMPLE.rglob("*.pdf")) if SAMPLE.is_dir() else []
    random.Random(seed).shuffle(pdfs)
    (corpus / "sample").mkdir()
    for i, pdf in enumerate(pdfs[:extra]):
        shutil.copyfile(pdf, corpus / "sample" / f"{i:03d} {pdf.parent.name} - {pdf.name}")
    pool = workdir / "pool"
    pool.mkdir()
    out = []
    for i, pdf in enumerate(pdfs[extra:]):
        dest = pool / f"{i:03d} {pdf.parent.name} - {pdf.name}"
        shutil.copyfile(pdf, dest)
        out.append(dest)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--fake", action="store_true", help="the fake embedder (fast)")
    parser.add_argument("--extra", type=int, default=4, help="sample PDFs in the first build")
    parser.add_argument("--adds", type=int, default=2, help="sample PDFs added per round")
    parser.add_argument("--stretch", type=float, default=0.3, help="--fake: seconds per stage")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--no-full-check", action="store_true", help="skip the final full build")
    args = parser.parse_args()
    if not args.fake and not (REPO / ".venv" / "bin" / "rag-qa").exists():
        parser.error("no .venv/bin/rag-qa: run make install, or use --fake")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rag-qa-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        pool = prepare(workdir, args.fake, args.extra, args.seed)
        h = Harness(
            workdir, pool, fake=args.fake, seed=args.seed, adds=args.adds, stretch=args.stretch
        )
        rounds = run_kills(h, args.kills)
        final = "skipped"
        if not args.no_full_check:
            try:
                final = compare_with_full_build(h)
            except CheckFailed as err:
                final = f"FAILED: {err}"
            print(f"full rebuild of the final corpus: {final}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    killed = [r for r in rounds if r.killed]
    survived = sum(r.survived for r in killed)
    phases: dict[str, int] = {}
    for r in killed:
        phases[r.phase] = phases.get(r.phase, 0) + 1
    report = {
        "model": FAKE_MODEL if args.fake else DEFAULT_MODEL,
        "kills": len(killed),
        "survived": survived,
        "finished_before_kill": len(rounds) - len(killed),
        "phases": phases,
        "final_full_build": final,
        "seconds": round(time.perf_counter() - started, 1),
        "rounds": [asdict(r) for r in rounds],
    }
    out = REPO / "bench" / "results" / "crash_kill.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print("kills by phase: " + ", ".join(f"{k}: {v}" for k, v in sorted(phases.items())))
    print(f"kills survived: {survived}/{len(killed)}")
    ok = survived == len(killed) == args.kills and not final.startswith("FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
