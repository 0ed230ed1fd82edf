"""Never lose the index: kill -9 during rebuilds, two rebuilds at once, a rebuild while the app
answers, and a damaged index seen from the command line.

Real ``rag-qa`` processes run through tests/fake_rag_qa.py (the fake embedder, plus a test hook
that pauses a build at a named stage so that a kill lands there); the checks are those of
bench/crash_kill.py, which runs the same experiment with the real model and random kill times.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    FAKE_MODEL,
    FIXTURES,
    LETTER,
    NEWS,
    REPO,
    free_port,
    launched_app,
    write_text,
)

from rag_qa.cli import main
from rag_qa.index import generations as G


def _bench():
    spec = importlib.util.spec_from_file_location("crash_kill", REPO / "bench" / "crash_kill.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


CK = _bench()

QUESTIONS = [
    "care leavers personal adviser",
    "management oversight and supervision",
    "agency staff and caseloads",
    "front door multi-agency safeguarding hub",
]
EXTRA = {
    "fostering.txt": "Private fostering arrangements were assessed promptly by social workers.",
    "adoption.txt": "Adoption panels met regularly and early permanence was considered.",
    "advocacy.txt": "Independent advocacy was offered to children in care at every review.",
    "audit.txt": "Case audits were moderated and the learning was shared with practitioners.",
    "housing.txt": "Care leavers in unsuitable housing were found homes with support.",
}


@pytest.fixture
def harness(tmp_path):
    corpus = tmp_path / "work" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "report.pdf").write_bytes((FIXTURES / "report.pdf").read_bytes())
    write_text(corpus / "letter.txt", LETTER)
    write_text(corpus / "news.txt", NEWS)
    pool = [write_text(tmp_path / "pool" / name, text) for name, text in EXTRA.items()]
    return CK.Harness(tmp_path / "work", pool, fake=True, questions=QUESTIONS, seed=3, timeout=60)


# ---------------------------------------------------------------------------------------------
# kill -9


def test_kill_9_at_three_points_of_a_rebuild(harness):
    """Killed while embedding into tmp-*, after the new generation was renamed into place but
    before CURRENT switched, and just after CURRENT switched: the previous index is
    byte-identical, whole and answers as before (after the commit point, the new one is
    whole), and the next plain ``rag-qa index`` clears the tmp-* the kill left, finishes
    cleanly with exactly the corpus, and keeps at most two generations."""
    lines: list[str] = []
    harness.log = lines.append
    rounds = CK.run_kills(harness, kills=3, stages=["embed", "publish", "committed"])
    assert [r.killed for r in rounds] == [True, True, True], lines
    assert [r.error for r in rounds] == ["", "", ""], lines
    assert [r.phase for r in rounds] == [
        "writing tmp-* generation",
        "renamed, CURRENT not switched",
        "after commit (CURRENT switched)",
    ]
    assert all(r.survived for r in rounds)
    report = CK.compare_with_full_build(harness)
    n = len(QUESTIONS)
    assert f"same answers: {n}/{n}" in report and "min cosine 1.00000" in report, report


# ---------------------------------------------------------------------------------------------
# Two rebuilds at once


def wait_for(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def blocked_on_a_lock(pid: int) -> bool:
    """Whether ``pid`` waits for a lock (a "->" line of /proc/locks)."""
    return any(
        line.split()[1] == "->" and line.split()[5] == str(pid)
        for line in Path("/proc/locks").read_text().splitlines()
    )


def _start_two(harness, tmp_path, *args):
    """Two ``rag-qa index`` started together; the one that takes the lock pauses (embedding)
    until ``let_go`` is called, so the other meets the lock for certain."""
    marker, release = tmp_path / "marker", tmp_path / "release"
    marker.touch()
    env = {
        "RAG_QA_TEST_PAUSE": "embed",
        "RAG_QA_TEST_PAUSE_MARKER": str(marker),
        "RAG_QA_TEST_PAUSE_RELEASE": str(release),
    }
    procs = [harness.start_index(*args, env=env) for _ in range(2)]
    wait_for(lambda: marker.read_text(), "one build to hold the lock and pause")

    def let_go():
        release.touch()
        return [(p.wait(timeout=60), *p.communicate()) for p in procs]

    return procs, let_go


def test_second_rebuild_stops_with_already_building(harness, tmp_path):
    harness.run_index()
    gens = harness.state()["gens"]
    diff = harness.mutate()
    procs, let_go = _start_two(harness, tmp_path)
    wait_for(lambda: any(p.poll() is not None for p in procs), "the second build to stop")
    results = sorted(let_go(), key=lambda r: r[0])
    (ok_code, ok_out, _), (bad_code, bad_out, bad_err) = results
    assert (ok_code, bad_code) == (0, 1)
    assert bad_out == ""
    assert bad_err.strip().splitlines() == [bad_err.strip()]  # one line, no traceback
    assert bad_err.startswith("Error: another 'rag-qa index' is already building")
    assert "--wait" in bad_err
    harness.verify_build(json.loads(ok_out), diff)
    assert len(set(harness.state()["gens"]) - set(gens)) == 1


def test_second_rebuild_waits_with_wait(harness, tmp_path):
    harness.run_index()
    gens = harness.state()["gens"]
    diff = harness.mutate()
    procs, let_go = _start_two(harness, tmp_path, "--wait")
    wait_for(lambda: any(blocked_on_a_lock(p.pid) for p in procs), "the second to wait")
    results = let_go()
    assert [r[0] for r in results] == [0, 0], [r[2] for r in results]
    summaries = sorted((json.loads(r[1]) for r in results), key=lambda s: len(s["added"]))
    # One did the work; the other waited for the lock, then found nothing left to do.
    assert summaries[0]["added"] == summaries[0]["changed"] == summaries[0]["removed"] == []
    assert summaries[0]["generation"] == summaries[1]["generation"]
    harness.verify_build(summaries[1], diff)
    assert len(set(harness.state()["gens"]) - set(gens)) == 1


# ---------------------------------------------------------------------------------------------
# A rebuild while the app answers

NEW_DOC = "Zebrafish tanks in the family centre were inspected; the zebrafish were well kept."


def test_rebuild_while_serving_switches_without_errors_or_restart(tmp_path):
    from gradio_client import Client

    with launched_app(tmp_path, concurrency=2) as (app, url, settings):
        client = Client(url, verbose=False)
        answers: list[tuple[float, set[str]]] = []
        errors: list[str] = []
        stop = threading.Event()

        def keep_asking():
            while not stop.is_set():
                try:
                    out = client.predict(
                        "zebrafish tanks in the family centre", None, None, [], [], 5,
                        api_name="/answer",
                    )  # fmt: skip
                    answers.append((time.monotonic(), {p["source"] for p in out["passages"]}))
                except Exception as err:  # noqa: BLE001 - every failure is a finding
                    errors.append(repr(err))

        asker = threading.Thread(target=keep_asking, daemon=True)
        asker.start()
        try:
            wait_for(lambda: len(answers) >= 2, "first answers")
            old = G.current_generation(settings.index_dir)
            write_text(settings.corpus_dir / "zebrafish.txt", NEW_DOC)
            h = CK.Harness(tmp_path, [], fake=True)  # runs rag-qa index on this app's folders
            marker, release = tmp_path / "marker", tmp_path / "release"
            marker.touch()
            env = {
                "RAG_QA_TEST_PAUSE": "faiss,publish",
                "RAG_QA_TEST_PAUSE_MARKER": str(marker),
                "RAG_QA_TEST_PAUSE_RELEASE": str(release),
            }
            build = h.start_index(env=env)
            for stage in ("faiss", "publish"):  # mid-build, then renamed but not yet live
                wait_for(lambda s=stage: s in marker.read_text(), f"stage {stage}")
                seen = len(answers)
                wait_for(lambda n=seen: len(answers) >= n + 3, f"answers during {stage}")
                assert build.poll() is None
                assert G.current_generation(settings.index_dir) == old
                release.touch()  # let the build go on
            during = len(answers)
            assert build.wait(timeout=60) == 0, build.communicate()[1]
            wait_for(lambda: "zebrafish.txt" in answers[-1][1], "the new document", 15)
        finally:
            stop.set()
            asker.join(timeout=30)
        assert errors == []
        assert all("zebrafish.txt" not in sources for _, sources in answers[:during])
        first_new = next(i for i, (_, s) in enumerate(answers) if "zebrafish.txt" in s)
        assert all("zebrafish.txt" in s for _, s in answers[first_new:])  # no flapping back
        live = G.current_generation(settings.index_dir)
        assert live != old and app.service.retriever.index.generation.name == live.name


@pytest.mark.parametrize(
    "texts",
    [
        {"letter.txt": LETTER},  # every document from one year (2026)
        {"notes.txt": "Care leavers said their personal advisers visited often."},  # undated
    ],
    ids=["one_year", "undated"],
)
def test_app_serves_an_index_of_one_year_or_of_undated_documents(tmp_path, fake_model, texts):
    """The year sliders need minimum < maximum (serve used to fall over with a traceback),
    and their default values must not filter out undated documents."""
    from gradio_client import Client

    from rag_qa.index.build import run_build
    from rag_qa.settings import Settings
    from rag_qa.web import app as A

    for name, text in texts.items():
        write_text(tmp_path / "corpus" / name, text)
    settings = Settings.make(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model=FAKE_MODEL
    )
    run_build(settings, lambda: fake_model)
    app = A.create_app(settings, fake_model)
    _, url, _ = A.launch(app, port=free_port(), prevent_thread_lock=True)
    try:
        messages, _, cards, *_ = Client(url, verbose=False).predict(
            question="What do care leavers say?", api_name="/ask"
        )
    finally:
        app.demo.close()
    assert "No passage matches the filters" not in messages[1]["content"][0]["text"]
    assert set(texts) <= set(re.findall(r"[\w.]+\.txt", cards))


# ---------------------------------------------------------------------------------------------
# A damaged index, from the command line


def _cli(settings, *args):
    where = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    return CliRunner().invoke(main, [args[0], *where, "--model", FAKE_MODEL, *args[1:]])


def _damage(gen: Path, how: str) -> None:
    if how == "truncate_vectors":
        data = (gen / G.VECTORS).read_bytes()
        (gen / G.VECTORS).write_bytes(data[: len(data) // 2])
    elif how == "edit_manifest":
        (gen / G.MANIFEST).write_text("{ not json")
    elif how == "remove_store":
        (gen / G.STORE).unlink()
    elif how == "garble_store":
        (gen / G.STORE).write_bytes(b"this is not a database" * 100)
    elif how == "remove_bm25":
        for f in (gen / G.BM25).iterdir():
            f.unlink()


@pytest.mark.parametrize(
    "how", ["truncate_vectors", "edit_manifest", "remove_store", "garble_store", "remove_bm25"]
)
def test_cli_reports_a_damaged_index_in_one_line_and_full_repairs(settings, how):
    assert _cli(settings, "index").exit_code == 0
    _damage(G.current_generation(settings.index_dir), how)
    result = _cli(settings, "ask", "care leavers")
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "rag-qa index --full" in lines[0] and "Traceback" not in result.output
    repaired = _cli(settings, "index", "--full")
    assert repaired.exit_code == 0, repaired.output
    answered = _cli(settings, "ask", "care leavers", "--json")
    assert answered.exit_code == 0 and json.loads(answered.output)["passages"]


def test_cli_full_rebuild_repairs_a_damaged_current_pointer(settings):
    """CURRENT is only ever replaced atomically, but if it is damaged anyway, the command the
    error names must repair it (prune() once failed on it before the build could start)."""
    assert _cli(settings, "index").exit_code == 0
    (settings.index_dir / "CURRENT").write_text("garbage\n")
    result = _cli(settings, "ask", "care leavers")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "CURRENT is damaged" in result.output and "rag-qa index --full" in result.output
    repaired = _cli(settings, "index", "--full")
    assert repaired.exit_code == 0, repaired.output
    answered = _cli(settings, "ask", "care leavers", "--json")
    assert answered.exit_code == 0 and json.loads(answered.output)["passages"]
