"""`rag-qa eval`: results written, thresholds turn into exit codes, BEIR datasets run."""

import json

import pytest
from click.testing import CliRunner
from conftest import FAKE_MODEL, FIXTURES, write_text

from rag_qa.cli import main
from rag_qa.evaluation.suite import EvalError, calibrate, load_questions, summarise_mode

QUESTIONS = [
    {
        "id": "q1",
        "question": "Which personal adviser support do care leavers receive?",
        "answers": ["no allocated personal adviser"],
        "sources": ["letter.txt"],
        "tags": ["lookup"],
    },
    {
        "id": "q2",
        "question": "How effective is the multi-agency safeguarding hub front door?",
        "answers": ["The front door is effective"],
        "sources": ["testshire inspection"],
        "tags": ["pdf"],
    },
    {
        "id": "q3",
        "question": "When are the bins collected in Swindon?",
        "answers": [],
        "sources": [],
        "tags": ["unanswerable"],
    },
]


@pytest.fixture
def run(settings, tmp_path):
    runner = CliRunner()
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    base = [
        "--corpus",
        str(settings.corpus_dir),
        "--index",
        str(settings.index_dir),
        "--model",
        FAKE_MODEL,
    ]
    assert runner.invoke(main, ["index", *base]).exit_code == 0

    def invoke(*args):
        return runner.invoke(
            main,
            ["eval", *base, "--questions", str(qfile), "--out", str(tmp_path / "results"), *args],
        )

    return invoke


def test_eval_writes_table_and_results(run, tmp_path):
    result = run()
    assert result.exit_code == 0, result.output
    for mode in ("bm25", "dense", "hybrid"):
        assert mode in result.output
    assert "hit@5" in result.output and "mrr@10" in result.output
    rows = [
        json.loads(x)
        for x in (tmp_path / "results" / "per_question.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 9 and {r["mode"] for r in rows} == {"bm25", "dense", "hybrid"}
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["summary"]["hybrid"]["answerable"] == 2
    assert summary["summary"]["hybrid"]["unanswerable"] == 1
    assert (tmp_path / "results" / "modes.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_thresholds_set_the_exit_code(run):
    assert run("--mode", "hybrid", "--min-hit-at-5", "0.5", "--min-mrr", "0.1").exit_code == 0
    failed = run("--mode", "hybrid", "--min-hit-at-5", "1.01")
    assert failed.exit_code == 1 and "below threshold" in failed.output
    assert run("--mode", "hybrid", "--min-mrr", "1.01").exit_code == 1


def test_eval_show_missed_lists_the_answer_missed_questions(run, tmp_path):
    """q1's passage is retrieved first but the answer holds none of its accepted phrases."""
    plain = run("--mode", "hybrid")
    assert plain.exit_code == 0, plain.output
    assert "kind which" in plain.output and "tag lookup" in plain.output
    assert "1 answer-missed" in plain.output and "accepted:" not in plain.output
    result = run("--mode", "hybrid", "--show-missed")
    assert result.exit_code == 0, result.output
    assert "q1 [which] Which personal adviser support do care leavers receive?" in result.output
    assert "accepted: 'no allocated personal adviser'" in result.output
    assert "q2 [" not in result.output and "q3 [" not in result.output
    lines = (tmp_path / "results" / "per_question.jsonl").read_text().splitlines()
    rows = {r["id"]: r for r in map(json.loads, lines)}
    assert rows["q1"]["answer_missed"] and rows["q1"]["kind"] == "which"
    assert "no allocated personal adviser" in rows["q1"]["hit_passage"]["text"]
    assert not rows["q2"]["answer_missed"] and not rows["q3"]["answer_missed"]
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())["summary"]["hybrid"]
    assert summary["answer_missed"] == 1 and summary["hit@5_by_tag"] == {"lookup": 1.0, "pdf": 1.0}
    assert summary["by_kind"]["which"] == {
        "n": 1,
        "hit@5": 1.0,
        "answer_hit": 0.0,
        "answer_missed": 1,
    }


def _row(kind, tags, hit5, answer_hit, abstained=False):
    return {
        "answerable": True,
        "kind": kind,
        "tags": tags,
        **{f"hit@{c}": hit5 for c in (1, 3, 5, 10)},
        "mrr@10": hit5,
        "ndcg@10": hit5,
        "answer_hit": answer_hit,
        "answer_missed": hit5 == 1 and answer_hit == 0,
        "abstained": abstained,
        "latency_ms": 1.0,
    }


def test_summary_gives_answer_rates_by_kind_and_by_tag():
    rows = [
        _row("who", ["people"], 1.0, 1.0),
        _row("who", ["people", "date"], 1.0, 0.0),  # missed
        _row("when", ["date"], 1.0, 0.0, abstained=True),  # missed, abstained
        _row("when", ["date"], 0.0, 0.0),  # not found: not missed
        _row("number", ["number"], 1.0, 1.0),
        {"answerable": False, "kind": "who", "tags": ["unanswerable"], "abstained": True,
         "answer_missed": False, "latency_ms": 1.0},
    ]  # fmt: skip
    s = summarise_mode(rows)
    assert s["answer_hit"] == 0.4 and s["hit@5"] == 0.8
    assert s["answer_missed"] == 2 and s["answer_missed_abstained"] == 1
    assert s["by_kind"] == {
        "who": {"n": 2, "hit@5": 1.0, "answer_hit": 0.5, "answer_missed": 1},
        "when": {"n": 2, "hit@5": 0.5, "answer_hit": 0.0, "answer_missed": 1},
        "number": {"n": 1, "hit@5": 1.0, "answer_hit": 1.0, "answer_missed": 0},
    }
    assert list(s["by_kind"]) == ["who", "when", "number"]  # in KINDS order
    assert s["by_tag"] == {
        "date": {"n": 3, "hit@5": 0.6667, "answer_hit": 0.0, "answer_missed": 2},
        "number": {"n": 1, "hit@5": 1.0, "answer_hit": 1.0, "answer_missed": 0},
        "people": {"n": 2, "hit@5": 1.0, "answer_hit": 0.5, "answer_missed": 1},
    }
    assert s["hit@5_by_tag"] == {"date": 0.6667, "number": 1.0, "people": 1.0}


def test_eval_beir_fixture(run, tmp_path):
    result = run("--beir", str(FIXTURES / "beir"), "--mode", "bm25")
    assert result.exit_code == 0, result.output
    assert "nDCG@10" in result.output and "recall@100" in result.output
    report = json.loads((tmp_path / "results" / "beir_summary.json").read_text())
    s = report["summary"]["bm25"]
    assert 0.0 <= s["ndcg@10"] <= 1.0 and 0.0 <= s["recall@100"] <= 1.0
    assert s["queries"] == 5 and report["documents"] == 12


def test_bad_questions_file(tmp_path):
    path = tmp_path / "q.jsonl"
    write_text(path, '{"id": "a", "question": "x"}\n{"id": "a", "question": "y"}\n')
    with pytest.raises(EvalError, match="duplicate id"):
        load_questions(path)
    write_text(path, "not json\n")
    with pytest.raises(EvalError, match=r"q.jsonl:1: not a valid question"):
        load_questions(path)


def test_calibrate_respects_false_abstention_budget():
    rows = [
        {"answerable": True, "evidence": 0.5 + i / 100, "coverage": 1.0, "no_match": False}
        for i in range(40)
    ]
    rows += [{"answerable": False, "evidence": 0.3, "coverage": 0.2, "no_match": False}]
    rows += [{"answerable": False, "evidence": 0.9, "coverage": 1.0, "no_match": True}]
    fit = calibrate(rows, max_false_rate=0.05)
    assert fit["unanswerable_abstained"] == 2 and fit["false_abstentions"] <= 2


def test_suites_name_their_corpus_and_are_fitted_together(settings, tmp_path):
    """Two suites, each over its own corpus: each index is built by the eval itself, each
    table printed, the thresholds fitted on both, and a gate below the figures fails."""
    root = tmp_path / "project"
    other = root / "other-corpus"
    write_text(other / "kent.txt", "Inspection of Kent local authority children's services\n\n"
               "Care leavers in Kent have a personal adviser and a pathway plan.\n")  # fmt: skip
    (root / "eval").mkdir(parents=True)
    (root / "eval" / "slough.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    kent = [{"id": "k1", "question": "Do care leavers in Kent have a pathway plan?",
             "answers": ["a personal adviser and a pathway plan"], "sources": ["kent.txt"],
             "tags": ["lookup"]},
            {"id": "k2", "question": "When are the bins collected in Leeds?", "answers": [],
             "sources": [], "tags": ["unanswerable"]}]  # fmt: skip
    (root / "eval" / "kent.jsonl").write_text("\n".join(json.dumps(q) for q in kent))
    suites = {
        "small": {"questions": "eval/slough.jsonl", "corpus": str(settings.corpus_dir),
                  "index": "idx/small", "gate": {"hit@5": 0.5}},
        "kent": {"questions": "eval/kent.jsonl", "corpus": "other-corpus", "index": "idx/kent",
                 "gate": {"hit@5": 1.01}},
    }  # fmt: skip
    (root / "eval" / "suites.json").write_text(json.dumps(suites))
    args = ["eval", "--model", FAKE_MODEL, "--mode", "hybrid", "--suites",
            str(root / "eval" / "suites.json"), "--suite", "all", "--out", str(root / "out")]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--set", "min_similarity=0"])
    assert result.exit_code == 0, result.output
    assert "small:" in result.output and "kent:" in result.output
    assert result.output.count("hybrid: by kind, by tag") == 2  # each suite's breakdown
    assert "All suites together: 5 questions" in result.output
    for name in ("small", "kent"):
        summary = json.loads((root / "out" / name / "summary.json").read_text())
        assert summary["suite"] == name and "margin" in summary["calibration"]
    assert (root / "idx" / "kent" / "CURRENT").exists()  # built by the eval
    gated = CliRunner().invoke(main, [*args, "--gate"])
    assert (
        gated.exit_code == 1
        and "kent: hit@5" in gated.output
        and "small:" not in (gated.output.split("Error:")[-1])
    )
    unknown = CliRunner().invoke(main, [*args[:-4], "--suite", "nope"])
    assert unknown.exit_code == 1 and "no suite 'nope'; suites are: small, kent" in unknown.output
