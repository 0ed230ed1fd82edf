"""``rag-qa`` with the tests' fake embedder ("test-hash") registered, for tests and benches
that need real ``rag-qa`` processes (kill -9, two builds at once) but not the real model:

    .venv/bin/python tests/fake_rag_qa.py index --corpus C --index I --model test-hash

Test hook, read here and nowhere in the library: ``RAG_QA_TEST_PAUSE`` names build stages
(comma-separated) at which the build pauses. At each, the stage name is appended to the file
``RAG_QA_TEST_PAUSE_MARKER`` (when set) and the process waits ``RAG_QA_TEST_PAUSE_SECONDS``
(default 30), or until the file ``RAG_QA_TEST_PAUSE_RELEASE`` appears (it is then deleted, so
the next stage waits for a new one); a test can SIGKILL it at a known point, or act while it
waits and then let it go on. The pause reaches the build through its seam: the command line
is run with ``IndexHooks(on_stage=pause)`` as click's context object, and ``rag-qa index``
passes it to ``run_build(on_stage=...)``. The stages, in build order, are
``rag_qa.index.build.STAGES`` (embed, faiss, publish, committed; described there).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import FAKE_MODEL, HashEmbedder  # noqa: E402

from rag_qa.cli import IndexHooks, main  # noqa: E402
from rag_qa.embed import model as embedding  # noqa: E402
from rag_qa.index.build import STAGES  # noqa: E402


def pause(stage: str) -> None:
    assert stage in STAGES, stage
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


if __name__ == "__main__":
    embedding.REGISTRY[FAKE_MODEL] = HashEmbedder
    sys.exit(main(obj=IndexHooks(on_stage=pause)))
