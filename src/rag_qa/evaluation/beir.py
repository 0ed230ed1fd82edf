"""Read a BEIR-format dataset and score a retrieval run on it the way BEIR does.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (header ``query-id<TAB>corpus-id<TAB>score``, then
one graded judgement per line).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag_qa.evaluation.metrics import ndcg_at_k, recall_at_k, summarise

log = logging.getLogger(__name__)

QRELS_HEADER = "query-id\tcorpus-id\tscore"
_INTEGER = re.compile(r"[+-]?[0-9]+")


class BeirError(ValueError):
    """A BEIR dataset folder is missing a file or holds a malformed line."""


@dataclass(frozen=True)
class BeirDataset:
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text); title "" when absent
    queries: dict[str, str]  # query id -> text; only queries that have qrels
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade


def load_beir(folder: Path, split: str = "test", *, strict: bool = False) -> BeirDataset:
    """Load ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` from ``folder``.

    As BEIR does, only queries that appear in the qrels are kept, and qrels naming a doc id that
    is not in the corpus are kept (they still count as relevant but can never be retrieved); a
    warning is logged for them, or a ``BeirError`` raised if ``strict``. A qrel naming a query id
    that is not in ``queries.jsonl`` is always an error. Raises ``BeirError`` naming the file and
    line for missing files, bad JSON, missing fields, duplicate ids and non-integer scores.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BeirError(f"BEIR dataset folder {folder} does not exist or is not a folder")
    corpus_path = folder / "corpus.jsonl"
    queries_path = folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    _require_file(corpus_path, "corpus.jsonl")
    _require_file(queries_path, "queries.jsonl")
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        have = f"splits present: {', '.join(splits)}" if splits else "no qrels/*.tsv found"
        raise BeirError(f"missing {qrels_path}; pass another split ({have})")

    corpus: dict[str, tuple[str, str]] = {}
    for where, obj in _read_jsonl(corpus_path):
        doc_id = _get_id(obj, where, corpus)
        corpus[doc_id] = (
            _get_text(obj, "title", where, optional=True),
            _get_text(obj, "text", where),
        )

    all_queries: dict[str, str] = {}
    for where, obj in _read_jsonl(queries_path):
        query_id = _get_id(obj, where, all_queries)
        all_queries[query_id] = _get_text(obj, "text", where)

    qrels = _read_qrels(qrels_path)
    unknown_queries = [qid for qid in qrels if qid not in all_queries]
    if unknown_queries:
        raise BeirError(
            f"{qrels_path}: {len(unknown_queries)} query id(s) not in {queries_path}, "
            f"e.g. {unknown_queries[:3]}; the qrels and queries must come from the same dataset"
        )
    unknown_docs = sorted({d for docs in qrels.values() for d in docs if d not in corpus})
    if unknown_docs:
        message = (
            f"{qrels_path}: {len(unknown_docs)} doc id(s) not in {corpus_path}, "
            f"e.g. {unknown_docs[:3]}"
        )
        if strict:
            raise BeirError(message + "; check the corpus is complete, or load with strict=False")
        log.warning(
            "%s; kept in qrels as BEIR does (they count as relevant but can't be found)", message
        )

    queries = {qid: all_queries[qid] for qid in qrels}
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels)


def evaluate_run(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    k_ndcg: int = 10,
    k_recall: int = 100,
) -> dict:
    """Score a run (query id -> doc ids, best first) with nDCG@k_ndcg and recall@k_recall.

    nDCG is trec_eval's ``ndcg_cut`` (graded, linear gain; see ``metrics.ndcg_at_k``); recall is
    BEIR's: |top-k retrieved ∩ docs with grade > 0| / |docs with grade > 0|. Queries with no
    relevant doc (no grade > 0) in ``qrels`` are skipped, and run entries for queries not in
    ``qrels`` are ignored; the means are over the evaluated queries. A judged query missing from
    ``run`` is an error (give it an empty list if nothing was retrieved). Unlike BEIR's
    ``EvaluateRetrieval.evaluate``, a doc whose id equals the query id is not dropped: remove
    those from the run first if the dataset needs it (ArguAna, Quora).

    Returns ``{"ndcg@10": mean, "recall@100": mean, "queries": n, "per_query": {query id:
    {"ndcg@10": x, "recall@100": y}}}``, the key names following ``k_ndcg`` and ``k_recall``.
    """
    ndcg_key, recall_key = f"ndcg@{k_ndcg}", f"recall@{k_recall}"
    judged = [qid for qid, grades in qrels.items() if any(g > 0 for g in grades.values())]
    if not judged:
        raise ValueError("no query in qrels has a relevant doc (grade > 0); nothing to evaluate")
    missing = [qid for qid in judged if qid not in run]
    if missing:
        raise ValueError(
            f"the run has no ranking for {len(missing)} judged query id(s), e.g. {missing[:3]}; "
            "give every query an entry, an empty list if nothing was retrieved"
        )

    per_query: dict[str, dict[str, float]] = {}
    for qid in judged:
        grades = qrels[qid]
        relevant = {doc_id for doc_id, g in grades.items() if g > 0}
        try:
            per_query[qid] = {
                ndcg_key: ndcg_at_k(run[qid], grades, k_ndcg),
                recall_key: recall_at_k(run[qid], relevant, k_recall),
            }
        except ValueError as exc:
            raise ValueError(f"query {qid!r}: {exc}") from exc

    means = summarise(list(per_query.values()), [ndcg_key, recall_key])
    return {
        ndcg_key: means[ndcg_key],
        recall_key: means[recall_key],
        "queries": len(per_query),
        "per_query": per_query,
    }


def _require_file(path: Path, name: str) -> None:
    if not path.is_file():
        raise BeirError(f"missing {path}; a BEIR dataset folder needs {name}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as f:
            yield from enumerate(f, start=1)
    except UnicodeDecodeError as exc:
        raise BeirError(f"{path} is not UTF-8 text ({exc}); re-encode it as UTF-8") from exc


def _read_jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    """Yield ("<path>, line <n>", object) for each non-blank line."""
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BeirError(f"{where}: invalid JSON ({exc.msg}, column {exc.colno})") from exc
        if not isinstance(obj, dict):
            raise BeirError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        yield where, obj


def _get_id(obj: dict, where: str, seen: Mapping[str, object]) -> str:
    if "_id" not in obj:
        raise BeirError(f'{where}: missing the "_id" field')
    raw = obj["_id"]
    if isinstance(raw, bool) or not isinstance(raw, str | int) or raw == "":
        raise BeirError(f'{where}: "_id" must be a non-empty string, got {raw!r}')
    doc_id = str(raw)
    if doc_id in seen:
        raise BeirError(f"{where}: duplicate _id {doc_id!r}; ids must be unique")
    return doc_id


def _get_text(obj: dict, field: str, where: str, optional: bool = False) -> str:
    value = obj.get(field)
    if value is None:
        if optional:
            return ""
        raise BeirError(f'{where}: missing the "{field}" field')
    if not isinstance(value, str):
        raise BeirError(f'{where}: "{field}" must be a string, got {type(value).__name__}')
    return value


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    header_seen = False
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
        if not header_seen:
            header_seen = True
            if len(fields) == 3 and not _INTEGER.fullmatch(fields[2]):
                continue  # the header line; BEIR skips it whatever its wording
            raise BeirError(
                f"{where}: expected the header {QRELS_HEADER!r} (tab-separated), "
                f"got {line.strip()!r}; add the header line"
            )
        if len(fields) != 3:
            raise BeirError(
                f"{where}: expected 3 tab-separated fields (query-id, corpus-id, score), "
                f"got {len(fields)}: {line.strip()!r}"
            )
        query_id, doc_id, score = fields
        if not query_id or not doc_id:
            raise BeirError(f"{where}: empty query-id or corpus-id")
        if not _INTEGER.fullmatch(score):
            raise BeirError(f"{where}: score {score!r} is not an integer grade")
        grade = int(score)
        grades = qrels.setdefault(query_id, {})
        if grades.get(doc_id, grade) != grade:
            raise BeirError(
                f"{where}: ({query_id!r}, {doc_id!r}) was already judged {grades[doc_id]}, "
                f"now {grade}; keep one judgement per pair"
            )
        grades[doc_id] = grade
    if not header_seen:
        raise BeirError(f"{path} is empty; it needs the header {QRELS_HEADER!r} and judgements")
    if not qrels:
        raise BeirError(
            f"{path} has a header but no judgements; add query-id/corpus-id/score lines"
        )
    return qrels
