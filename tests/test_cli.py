import json

import pytest
from click.testing import CliRunner
from conftest import FAKE_MODEL, write_text

from rag_qa.cli import main


@pytest.fixture
def run(settings):
    runner = CliRunner()

    def invoke(*args, index=None, corpus=None):
        base = [
            "--corpus",
            str(corpus or settings.corpus_dir),
            "--index",
            str(index or settings.index_dir),
            "--model",
            FAKE_MODEL,
        ]
        command, rest = args[0], list(args[1:])
        return runner.invoke(main, [command, *base, *rest], catch_exceptions=False)

    return invoke


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("index", "ask", "docs"):
        assert command in result.output


def test_index_json_summary(run):
    result = run("index", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert sorted(summary["added"]) == [
        "letter.txt",
        "news.txt",
        "testshire inspection - 17 march 2023.pdf",
    ]
    assert summary["changed"] == summary["removed"] == [] and summary["unchanged"] == 0
    assert summary["chunks_embedded"] > 0 and isinstance(summary["seconds"], float)
    again = json.loads(run("index", "--json").output)
    assert (again["added"], again["unchanged"], again["chunks_embedded"]) == ([], 3, 0)


def test_index_human_summary(run):
    result = run("index")
    assert result.exit_code == 0
    assert "3 added, 0 changed, 0 removed, 0 unchanged" in result.output
    assert "chunks embedded" in result.output


def test_ask_json_lines_shape(run):
    run("index")
    result = run(
        "ask", "care leavers personal adviser", "management oversight", "-k", "2", "--json"
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [x["question"] for x in lines] == [
        "care leavers personal adviser",
        "management oversight",
    ]
    for obj in lines:
        assert isinstance(obj["answer"], str) and obj["answer"]
        assert len(obj["passages"]) == 2
        for rank, p in enumerate(obj["passages"], start=1):
            assert p["rank"] == rank
            assert isinstance(p["score"], float)
            for key in ("doc_id", "source", "title", "text"):
                assert isinstance(p[key], str) and p[key]
            assert p["date"] is None or len(p["date"]) == 10
            assert p["page"] is None or isinstance(p["page"], int)
    top = lines[0]["passages"][0]
    assert top["source"] == "letter.txt" and top["date"] == "2026-01-12" and top["page"] is None
    assert "[1]" in lines[0]["answer"] or "[2]" in lines[0]["answer"]


def test_ask_plain_text_has_citations(run):
    run("index")
    result = run("ask", "front door multi-agency safeguarding hub")
    assert result.exit_code == 0
    assert (
        "[1] Testshire County Council: Inspection of local authority children’s services, 17 March 2023, p. 2-3"
        in result.output
    )


def test_docs_shows_dates_and_rules(run):
    run("index")
    result = run("docs")
    assert "visit_start  2025-11-19  by visit-on" in result.output
    assert "letter-date-line" in result.output


def test_missing_index_is_one_clear_line(run, tmp_path):
    result = run("ask", "anything", index=tmp_path / "nowhere")
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: no index in")
    assert "rag-qa index" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_empty_corpus_message(run, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("index", corpus=empty)
    assert result.exit_code == 1
    assert "no PDF, .txt, .md, .html, .htm or .docx files in" in result.output


def test_broken_file_warns_but_succeeds(run, corpus):
    (corpus / "scan.pdf").write_bytes(b"%PDF-1.4\n%%EOF")
    write_text(corpus / "ok.md", "# Notes\nCaseloads are high.")
    result = run("index")
    assert result.exit_code == 0
    assert "skipped scan.pdf:" in result.output
    assert "4 added" in result.output


def test_all_files_broken_exits_non_zero(run, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.pdf").write_bytes(b"nope")
    result = run("index", corpus=bad)
    assert result.exit_code == 1
    assert "nothing could be indexed" in result.output and "a.pdf" in result.output


def test_mismatched_index_is_refused(run, settings):
    run("index")
    runner = CliRunner()
    result = runner.invoke(
        main, ["ask", "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir), "x"]
    )
    assert result.exit_code == 1
    assert "built with other settings" in result.output and "rag-qa index --full" in result.output


def test_empty_question_refused(run):
    run("index")
    result = run("ask", "   ")
    assert result.exit_code == 1 and "empty question" in result.output


def test_set_changes_a_setting_and_a_bad_one_names_the_allowed(run):
    assert run("index").exit_code == 0
    question = "management oversight of dragons"
    lax = run("ask", "--json", "--set", "min_similarity=-1", "--set", "min_coverage=0", question)
    assert lax.exit_code == 0, lax.output
    assert json.loads(lax.output)["abstained"] is False
    strict = run("ask", "--json", "--set", "answer.min_coverage=0.99", question)
    assert json.loads(strict.output)["abstained"] is True  # no passage speaks of dragons
    bad = CliRunner().invoke(main, ["ask", "--set", "fusion=rff", "x"])
    assert bad.exit_code == 2 and "must be one of rrf, weighted, not 'rff'" in bad.output
    unknown = CliRunner().invoke(main, ["ask", "--set", "no_such=1", "x"])
    assert unknown.exit_code == 2 and "no setting 'no_such'" in unknown.output


def test_docs_json_is_json_lines_only(run):
    """Every line on stdout is one JSON object; the summary for people goes to stderr."""
    assert run("index").exit_code == 0
    result = run("docs", "--json")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(isinstance(json.loads(line), dict) for line in lines)
    for doc in map(json.loads, lines):
        assert {"council", "kind", "facts"} <= set(doc)
        names = [f["name"] for f in doc["facts"]]
        assert "kind" in names and names.index("kind") <= 1  # council (if any), kind, then more
    assert "3 documents, built" in result.stderr


def test_index_full_uses_the_parse_cache_and_reparse_parses_again(run):
    assert "0 files from the parse cache" in run("index").output
    full = json.loads(run("index", "--full", "--json").output)
    assert full["parse_cached"] == 3 and full["chunks_embedded"] == full["chunks"]
    again = json.loads(run("index", "--reparse", "--json").output)
    assert again["parse_cached"] == 0 and again["chunks_embedded"] == 0
    assert "3 files from the parse cache" in run("index", "--full").output
    assert "--reparse" in run("index", "--help").output
