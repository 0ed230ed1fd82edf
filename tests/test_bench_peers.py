"""bench/bench_peers.py without the peers venv or the model: the sample it picks, the
questions it keeps, the scoring, the table and its ratios, and its exit when the venv is missing."""

from __future__ import annotations

import sys
from pathlib import Path

from rag_qa.evaluation.suite import Question

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import bench_peers as BP  # noqa: E402


def q(id_: str, sources: tuple[str, ...], answers: tuple[str, ...] = ("an answer",)) -> Question:
    return Question(id_, f"question {id_}?", answers, sources, ())


def test_pick_sample_takes_one_per_council_first(tmp_path):
    for council, reports in {"b_council": 3, "a_council": 2, "c_council": 1}.items():
        (tmp_path / council).mkdir()
        for i in range(reports):
            (tmp_path / council / f"report {i}.pdf").write_bytes(b"%PDF")
    picked = [p.relative_to(tmp_path).as_posix() for p in BP.pick_sample(tmp_path, 4)]
    assert picked == [
        "a_council/report 0.pdf",
        "b_council/report 0.pdf",
        "c_council/report 0.pdf",
        "a_council/report 1.pdf",
    ]
    assert len(BP.pick_sample(tmp_path, 100)) == 6


def test_select_questions_keeps_answerable_ones_whose_sources_were_copied():
    files = ["report 2014.pdf", "ofsted-sample/1_dorset/visit.pdf", "001_a.txt"]
    questions = [
        q("shipped", ("report 2014.pdf",)),
        q("sample", ("1_dorset/visit.pdf",)),
        q("both", ("001_a.txt", "1_dorset/visit.pdf")),
        q("one missing", ("001_a.txt", "2_leeds/visit.pdf")),
        q("not copied", ("2_leeds/visit.pdf",)),
        q("unanswerable", ("report 2014.pdf",), answers=()),
        q("part of a name", ("dorset/visit.pdf",)),
    ]
    kept = [x.id for x in BP.select_questions(questions, files)]
    assert kept == ["shipped", "sample", "both"]


def test_peer_passages_are_scored_by_rag_qas_hit_definition():
    question = q("x", ("1_dorset/visit.pdf",), answers=("Seen  every EIGHT weeks",))
    ranked = [
        ("ofsted-sample/2_leeds/visit.pdf", "seen every eight weeks"),  # other file
        ("ofsted-sample/1_dorset/visit.pdf", "nothing here"),  # no answer
        ("ofsted-sample/1_dorset/visit.pdf", "Most are seen every\neight weeks."),
    ]
    rel = BP.relevance(question, ranked)
    assert rel == [False, False, True]
    assert BP.score([rel, [False] * 10]) == {"hit@5": 0.5, "mrr@10": round((1 / 3) / 2, 4)}


def test_table_rows_and_ratios_to_rag_qa_search():
    systems = {
        "rag-qa": {
            "hit@5": 0.9,
            "mrr@10": 0.8,
            "build_s": 10.0,
            "search_ms": {"p50": 10.0, "p95": 20.0},
            "answer_ms": {"p50": 50.0, "p95": 80.0},
        },
        "txtai-hybrid": {
            "hit@5": 0.45,
            "mrr@10": 0.4,
            "build_s": 25.0,
            "ms": {"p50": 30.0, "p95": 30.0},
        },
    }
    rows = BP.table_rows(systems)
    assert [r["system"] for r in rows] == ["rag-qa search", "rag-qa answer", "txtai-hybrid"]
    assert rows[0]["ratios"] == {
        "hit@5": 1.0,
        "MRR@10": 1.0,
        "build s": 1.0,
        "p50 ms": 1.0,
        "p95 ms": 1.0,
    }
    assert rows[1]["ratios"]["p50 ms"] == 5.0 and rows[1]["ratios"]["build s"] is None
    assert rows[2]["ratios"] == {
        "hit@5": 0.5,
        "MRR@10": 0.5,
        "build s": 2.5,
        "p50 ms": 3.0,
        "p95 ms": 1.5,
    }
    text = BP.format_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["system", "hit@5"]
    assert lines[3].split()[0] == "rag-qa"
    assert lines[4].split() == [
        "txtai-hybrid",
        "0.450",
        "0.400",
        "25.0",
        "30.0",
        "30.0",
        "|",
        "0.50",
        "0.50",
        "2.50",
        "3.00",
        "1.50",
    ]
    assert "-" in lines[3].split()  # the answer row has no build of its own


def test_table_without_rag_qa_has_no_ratios():
    rows = BP.table_rows({"txtai-hybrid": {"hit@5": 1, "mrr@10": 1, "build_s": 1, "ms": {}}})
    assert set(rows[0]["ratios"].values()) == {None}


def test_missing_peers_venv_exits_2_with_one_line(tmp_path, capsys):
    code = BP.main(["--peers-python", str(tmp_path / "no-venv" / "bin" / "python")])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 2
    assert len(out) == 1
    assert out[0].startswith(f"no peers venv at {tmp_path / 'no-venv'}")
    assert "python3.11 -m venv" in out[0] and "peers-requirements.txt" in out[0]


def test_unknown_system_exits_2(capsys):
    assert BP.main(["--systems", "rag-qa,haystack"]) == 2
    assert "haystack" in capsys.readouterr().out


def test_rag_qa_alone_needs_no_peers_venv(monkeypatch, tmp_path):
    """Only the peer libraries need the venv: ask for rag-qa alone and the check passes (the
    run itself is stubbed here: it needs the model)."""
    monkeypatch.setattr(BP, "SAMPLE", tmp_path)
    monkeypatch.setattr(BP, "RESULTS", tmp_path / "peers.json")
    monkeypatch.setattr(BP, "copy_shipped", lambda dst: dst.mkdir(parents=True))
    called = []
    stub = {
        "hit@5": 1.0,
        "mrr@10": 1.0,
        "build_s": 1.0,
        "model_load_s": 0.1,
        "search_ms": {"p50": 1.0, "p95": 1.0},
        "answer_ms": {"p50": 2.0, "p95": 2.0},
    }
    monkeypatch.setattr(BP, "run_ragqa", lambda *a: called.append(a) or stub)
    args = ["--systems", "rag-qa", "--peers-python", str(tmp_path / "missing")]
    assert BP.main(args) == 0
    assert called and (tmp_path / "peers.json").exists()
