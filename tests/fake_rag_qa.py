"""``rag-qa`` with the tests' fake embedder ("test-hash") registered, for tests and benches
that need real ``rag-qa`` processes (kill -9, two builds at once) but not the real model:

    .venv/bin/python tests/fake_rag_qa.py index --corpus C --index I --model test-hash

Test hook, read here and nowhere in the library: ``RAG_QA_TEST_PAUSE`` names build stages
(comma-separated) at which the build pauses. At each, the stage name is appended to the file
``RAG_QA_TEST_PAUSE_MARKER`` (when set) and the process waits ``RAG_QA_TEST_PAUSE_SECONDS``
(default 30), or until the file ``RAG_QA_TEST_PAUSE_RELEASE`` appears (it is then deleted, so
the next stage waits for a new one); a test can SIGKILL it at a known point, or act while it
waits and then let it go on. The stages, in build order:

    embed      a tmp-* generation exists with its store open; no vector computed yet
    faiss      store committed and vectors.faiss written; no BM25 or manifest yet
    publish    the new generation renamed to gen-NNNNNN; CURRENT still names the old one
    committed  CURRENT names the new generation; old generations not pruned yet
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import FAKE_MODEL, HashEmbedder  # noqa: E402

from rag_qa.cli import main  # noqa: E402
from rag_qa.embed import model as embedding  # noqa: E402
from rag_qa.index import build as B  # noqa: E402
from rag_qa.index import generations as G  # noqa: E402

STAGES = ("embed", "faiss", "publish", "committed")


def pause(stage: str) -> None:
    wanted = [s.strip() for s in os.environ.get("RAG_QA_TEST_PAUSE", "").split(",")]
    if stage not in wanted:
        return
    marker = os.environ.get("RAG_QA_TEST_PAUSE_MARKER")
    if marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(stage + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    release = os.environ.get("RAG_QA_TEST_PAUSE_RELEASE")
    deadline = time.monotonic() + float(os.environ.get("RAG_QA_TEST_PAUSE_SECONDS", "30"))
    while time.monotonic() < deadline:
        if release and os.path.exists(release):
            os.unlink(release)
            return
        time.sleep(0.01)


class PausingEmbedder(HashEmbedder):
    def __init__(self):
        super().__init__()
        self._first = True

    def encode(self, texts, batch_size=32, progress=False):
        if self._first:  # the build's first batch (ask embeds only questions: no env set)
            self._first = False
            pause("embed")
        return super().encode(texts, batch_size=batch_size, progress=progress)


def install_hooks() -> None:
    embedding.REGISTRY[FAKE_MODEL] = PausingEmbedder
    write_vectors = B.write_vectors

    def _write_vectors(matrix, path, spec):
        write_vectors(matrix, path, spec)
        pause("faiss")

    B.write_vectors = _write_vectors
    fsync_dir = G.fsync_dir
    seen: list[Path] = []

    def _fsync_dir(path: Path) -> None:
        # publish(): fsync_tree(tmp) ends with fsync_dir(tmp); then rename, fsync_dir(index);
        # then CURRENT replaced, fsync_dir(index) again.
        fsync_dir(path)
        if not Path(path).name.startswith("tmp-"):
            seen.append(Path(path))
            pause("publish" if len(seen) == 1 else "committed")

    G.fsync_dir = _fsync_dir


if __name__ == "__main__":
    install_hooks()
    sys.exit(main())
