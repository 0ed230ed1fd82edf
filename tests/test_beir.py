import logging
import re
import shutil
from math import log2
from pathlib import Path

import pytest

from rag_qa.evaluation.beir import BeirDataset, BeirError, evaluate_run, load_beir

FIXTURE = Path(__file__).parent / "fixtures" / "beir"

# A hand-made run on the fixture (best first) and its expected scores, worked out by hand from
# qrels/test.tsv: q1 {d02: 2, d01: 1, d09: 0}, q2 {d03: 2}, q3 {d05: 2, d06: 0}, q4 {d07: 1},
# q5 {d12: 2}.
RUN = {
    "q1": ["d01", "d05", "d02"],
    "q2": ["d03", "d04"],
    "q3": ["d06", "d05"],
    # d07 at rank 11: outside nDCG@10, inside recall@100.
    "q4": ["d08", "d10", "d11", "d09", "d04", "d03", "d06", "d05", "d02", "d01", "d07"],
    "q5": [],
    "q6": ["d11"],  # not in the qrels: ignored
}
NDCG = {
    "q1": (1 / log2(2) + 0 / log2(3) + 2 / log2(4)) / (2 / log2(2) + 1 / log2(3)),
    "q2": (2 / log2(2)) / (2 / log2(2)),
    "q3": (0 / log2(2) + 2 / log2(3)) / (2 / log2(2)),
    "q4": 0.0,
    "q5": 0.0,
}
RECALL = {"q1": 2 / 2, "q2": 1 / 1, "q3": 1 / 1, "q4": 1 / 1, "q5": 0 / 1}


def copy_fixture(tmp_path: Path) -> Path:
    folder = tmp_path / "beir"
    shutil.copytree(FIXTURE, folder)
    return folder


# --- load_beir ------------------------------------------------------------------------------


def test_load_fixture():
    data = load_beir(FIXTURE)
    assert isinstance(data, BeirDataset)
    assert len(data.corpus) == 12
    assert len(data.queries) == 5  # q6 has no qrels, so it is dropped as BEIR does
    assert sorted(data.queries) == ["q1", "q2", "q3", "q4", "q5"]
    assert data.queries["q4"] == "What is the offside rule?"
    title, text = data.corpus["d07"]
    assert title == "The offside rule in football"
    assert text.startswith("A player is offside if")
    assert data.corpus["d09"][0] == ""  # no title field
    assert data.corpus["d10"][0] == ""  # empty title
    assert data.qrels["q1"] == {"d02": 2, "d01": 1, "d09": 0}
    assert data.qrels["q3"]["d05"] == 2
    assert data.qrels["q4"]["d07"] == 1
    assert sum(len(v) for v in data.qrels.values()) == 8


def test_dataset_is_frozen():
    data = load_beir(FIXTURE)
    with pytest.raises(AttributeError):
        data.queries = {}  # type: ignore[misc]


def test_integer_ids_are_read_as_strings(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "corpus.jsonl").write_text('{"_id": 7, "text": "seven"}\n', encoding="utf-8")
    (folder / "queries.jsonl").write_text('{"_id": 1, "text": "q"}\n', encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t7\t1\n")
    data = load_beir(folder)
    assert data.corpus == {"7": ("", "seven")}
    assert data.qrels == {"1": {"7": 1}}


def test_other_split(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq6\td01\t1\n")
    data = load_beir(folder, split="dev")
    assert data.queries == {"q6": "What is the capital of Peru?"}


def test_missing_folder(tmp_path):
    with pytest.raises(BeirError, match="does not exist"):
        load_beir(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["corpus.jsonl", "queries.jsonl"])
def test_missing_jsonl_file(tmp_path, name):
    folder = copy_fixture(tmp_path)
    (folder / name).unlink()
    with pytest.raises(BeirError, match=f"missing .*{name}"):
        load_beir(folder)


def test_missing_split_lists_the_splits_present(tmp_path):
    folder = copy_fixture(tmp_path)
    with pytest.raises(BeirError, match=r"missing .*dev\.tsv.*splits present: test"):
        load_beir(folder, split="dev")


def test_bad_json_names_file_and_line(tmp_path):
    folder = copy_fixture(tmp_path)
    path = folder / "corpus.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(2, '{"_id": "d99", "text": "unterminated}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BeirError, match=r"corpus\.jsonl, line 3: invalid JSON"):
        load_beir(folder)


def test_json_that_is_not_an_object(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "queries.jsonl").write_text('["q1", "text"]\n', encoding="utf-8")
    with pytest.raises(BeirError, match=r"queries\.jsonl, line 1: expected a JSON object"):
        load_beir(folder)


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("corpus.jsonl", '{"title": "t", "text": "x"}', 'missing the "_id" field'),
        ("corpus.jsonl", '{"_id": "d99", "title": "t"}', 'missing the "text" field'),
        ("corpus.jsonl", '{"_id": "d99", "text": 3}', '"text" must be a string'),
        ("corpus.jsonl", '{"_id": "d99", "title": 3, "text": "x"}', '"title" must be a string'),
        ("corpus.jsonl", '{"_id": "", "text": "x"}', '"_id" must be a non-empty string'),
        ("corpus.jsonl", '{"_id": "d01", "text": "again"}', "duplicate _id 'd01'"),
        ("queries.jsonl", '{"_id": "q9"}', 'missing the "text" field'),
        ("queries.jsonl", '{"_id": "q1", "text": "again"}', "duplicate _id 'q1'"),
    ],
)
def test_bad_record_names_file_and_line(tmp_path, name, line, message):
    folder = copy_fixture(tmp_path)
    path = folder / name
    n = len(path.read_text(encoding="utf-8").splitlines())
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    with pytest.raises(BeirError, match=rf"{re.escape(name)}, line {n + 1}: ") as info:
        load_beir(folder)
    assert message in str(info.value)


def test_blank_lines_are_skipped(tmp_path):
    folder = copy_fixture(tmp_path)
    path = folder / "queries.jsonl"
    path.write_text(path.read_text(encoding="utf-8") + "\n   \n", encoding="utf-8")
    assert len(load_beir(folder).queries) == 5


def test_not_utf8(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "caf\xe9"}\n')
    with pytest.raises(BeirError, match=r"queries\.jsonl is not UTF-8"):
        load_beir(folder)


def write_qrels(folder: Path, text: str) -> Path:
    path = folder / "qrels" / "test.tsv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td01\t1.0\n", r"line 2: score '1\.0' is not an integer"),
        ("query-id\tcorpus-id\tscore\nq1\td01\thigh\n", r"line 2: score 'high' is not an integer"),
        ("query-id\tcorpus-id\tscore\nq1\td01\n", r"line 2: expected 3 tab-separated fields"),
        ("query-id\tcorpus-id\tscore\nq1 d01 1\n", r"line 2: expected 3 tab-separated fields"),
        ("query-id\tcorpus-id\tscore\n\td01\t1\n", r"line 2: empty query-id or corpus-id"),
        ("q1\td01\t1\n", r"line 1: expected the header"),
        ("", r"test\.tsv is empty"),
        ("query-id\tcorpus-id\tscore\n", r"test\.tsv has a header but no judgements"),
        (
            "query-id\tcorpus-id\tscore\nq1\td01\t1\nq1\td01\t2\n",
            r"line 3: \('q1', 'd01'\) was already judged 1, now 2",
        ),
        ("query-id\tcorpus-id\tscore\nq1\td01\t1\nq42\td01\t1\n", r"query id\(s\) not in .*"),
    ],
)
def test_bad_qrels_name_the_file(tmp_path, text, message):
    folder = copy_fixture(tmp_path)
    write_qrels(folder, text)
    with pytest.raises(BeirError, match=r"qrels/test\.tsv") as info:
        load_beir(folder)
    assert info.match(message)


def test_qrels_with_crlf_and_a_repeated_identical_judgement(tmp_path):
    folder = copy_fixture(tmp_path)
    write_qrels(folder, "query-id\tcorpus-id\tscore\r\nq1\td01\t1\r\nq1\td01\t1\r\nq2\td03\t-1\r\n")
    assert load_beir(folder).qrels == {"q1": {"d01": 1}, "q2": {"d03": -1}}


def test_unknown_doc_ids_are_kept_with_a_warning(tmp_path, caplog):
    folder = copy_fixture(tmp_path)
    write_qrels(folder, "query-id\tcorpus-id\tscore\nq1\td01\t1\nq1\tgone\t2\n")
    with caplog.at_level(logging.WARNING, logger="rag_qa.evaluation.beir"):
        data = load_beir(folder)
    assert data.qrels == {"q1": {"d01": 1, "gone": 2}}
    assert "1 doc id(s) not in" in caplog.text and "'gone'" in caplog.text
    with pytest.raises(BeirError, match=r"test\.tsv: 1 doc id\(s\) not in .*corpus\.jsonl"):
        load_beir(folder, strict=True)


# --- evaluate_run ---------------------------------------------------------------------------


def test_evaluate_run_on_the_fixture():
    data = load_beir(FIXTURE)
    result = evaluate_run(RUN, data.qrels)
    assert set(result) == {"ndcg@10", "recall@100", "queries", "per_query"}
    assert result["queries"] == 5
    assert set(result["per_query"]) == {"q1", "q2", "q3", "q4", "q5"}
    for qid, scores in result["per_query"].items():
        assert scores == {
            "ndcg@10": pytest.approx(NDCG[qid]),
            "recall@100": pytest.approx(RECALL[qid]),
        }
    assert result["ndcg@10"] == pytest.approx(sum(NDCG.values()) / 5)
    assert result["ndcg@10"] == pytest.approx(0.4782, abs=1e-4)
    assert result["recall@100"] == pytest.approx(4 / 5)


def test_evaluate_run_key_names_follow_k():
    data = load_beir(FIXTURE)
    result = evaluate_run(RUN, data.qrels, k_ndcg=3, k_recall=2)
    assert set(result) == {"ndcg@3", "recall@2", "queries", "per_query"}
    # q1's top 2 is d01, d05: one of its two relevant docs.
    assert result["per_query"]["q1"]["recall@2"] == pytest.approx(1 / 2)
    assert result["per_query"]["q4"]["recall@2"] == 0.0
    assert result["recall@2"] == pytest.approx((1 / 2 + 1 + 1 + 0 + 0) / 5)
    assert result["ndcg@3"] == pytest.approx(sum(NDCG.values()) / 5)


def test_evaluate_run_skips_queries_without_relevant_docs():
    qrels = {"a": {"d1": 1}, "b": {"d2": 0}, "c": {}}
    result = evaluate_run({"a": ["d1"], "b": ["d2"]}, qrels)
    assert result["queries"] == 1
    assert list(result["per_query"]) == ["a"]
    assert result["ndcg@10"] == 1.0
    assert result["recall@100"] == 1.0


def test_evaluate_run_needs_every_judged_query():
    with pytest.raises(ValueError, match=r"no ranking for 1 judged query id\(s\), e.g. \['b'\]"):
        evaluate_run({"a": ["d1"]}, {"a": {"d1": 1}, "b": {"d2": 1}})


def test_evaluate_run_with_nothing_to_evaluate():
    with pytest.raises(ValueError, match="no query in qrels has a relevant doc"):
        evaluate_run({"a": ["d1"]}, {"a": {"d1": 0}})


def test_evaluate_run_names_the_query_with_a_bad_ranking():
    with pytest.raises(ValueError, match=r"query 'a': ranked_ids lists 'd1' more than once"):
        evaluate_run({"a": ["d1", "d1"]}, {"a": {"d1": 1}})
