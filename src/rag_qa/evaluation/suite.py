"""The retrieval eval suite: questions with known answers, per mode, per question.

A retrieved passage is a hit when its source (or a file it was merged with as a duplicate)
contains one of the question's ``sources`` and its text contains one of its ``answers``, after
normalising case, quotes and whitespace (``metrics.is_hit``). nDCG@10 is binary, its ideal
computed from every passage in the index that is a hit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag_qa.evaluation import metrics as M
from rag_qa.text.question_kind import KINDS, question_kind

CUTOFFS = (1, 3, 5, 10)


class EvalError(ValueError):
    pass


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    sources: tuple[str, ...]
    tags: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path) -> list[Question]:
    if not path.exists():
        raise EvalError(f"{path}: no such questions file")
    out, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            q = Question(
                id=str(obj["id"]),
                question=str(obj["question"]),
                answers=tuple(obj.get("answers", [])),
                sources=tuple(obj.get("sources", [])),
                tags=tuple(obj.get("tags", [])),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise EvalError(f"{path}:{number}: not a valid question ({err})") from err
        if q.id in seen:
            raise EvalError(f"{path}:{number}: duplicate id {q.id!r}")
        if q.answerable and not q.sources:
            raise EvalError(f"{path}:{number}: answers given but no sources")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise EvalError(f"{path}: no questions")
    return out


def passage_hit(q: Question, passage) -> bool:
    sources = [passage.document.source] + [s for s, _ in passage.also_in]
    return any(M.is_hit(s, passage.chunk.text, list(q.sources), list(q.answers)) for s in sources)


def relevant_count(q: Question, index) -> int:
    """How many passages in the whole index are hits (the ideal for nDCG)."""
    if not q.answerable:
        return 0
    n = 0
    sources = {d.doc_id: d.source for d in index.documents.values()}
    for doc_id, source in sources.items():
        if not any(s in source for s in q.sources):
            continue
        for _, chunk, _ in index.store.chunks(doc_id):
            if M.is_hit(source, chunk.text, list(q.sources), list(q.answers)):
                n += 1
    return n


def evaluate(
    engine,
    questions: list[Question],
    modes: list[str],
    k: int = 10,
) -> dict:
    """Run every question in every mode through ``engine.ask`` (the code the CLI and the chat
    run), the questions encoded together first (``Engine.encode_questions``: the latencies
    are then those of everything after the encoding); returns {"rows": [...],
    "summary": {mode: {...}}}."""
    rows = []
    ideal = {q.id: relevant_count(q, engine.index) for q in questions}
    engine.warm_up()  # so that the latencies measure steady state
    for mode in modes:
        vectors = engine.encode_questions([q.question for q in questions], mode)
        for q, vector in zip(questions, vectors, strict=True):
            turn = engine.ask(q.question, k=k, mode=mode, vector=vector)
            rows.append(question_row(q, turn, mode, ideal[q.id]))
    return {
        "rows": rows,
        "summary": {m: summarise_mode([r for r in rows if r["mode"] == m]) for m in modes},
    }


def question_row(q: Question, turn, mode: str, relevant_in_index: int) -> dict:
    """One question's row of the per-question results (per_question.jsonl).

    ``answer_missed``: a right passage is in the top 5 (hit@5 = 1) but the answer holds none of
    the accepted phrases (answer_hit = 0). An abstention with a right passage in the top 5
    counts as missed too (the row's ``abstained`` tells the two apart): the passage was there
    to answer from. Missed rows carry ``hit_passage``, the first of those top-5 passages."""
    result, answer = turn.result, turn.answer
    relevance = [passage_hit(q, p) for p in result.passages]
    row = {
        "mode": mode,
        "id": q.id,
        "question": q.question,
        "kind": question_kind(q.question),
        "tags": list(q.tags),
        "answerable": q.answerable,
        "abstained": answer.abstained,
        "abstain_reason": answer.reason,
        "evidence": round(
            answer.similarity if answer.similarity is not None else result.top_dense, 4
        ),
        "coverage": round(result.coverage, 4),
        "no_match": result.no_match,
        "first_hit_rank": next((i + 1 for i, r in enumerate(relevance) if r), None),
        "relevant_in_index": relevant_in_index,
        "latency_ms": round(turn.seconds * 1000, 2),
        "retrieved": [
            {"source": p.document.source, "page": p.chunk.page_start, "hit": h}
            for p, h in zip(result.passages, relevance, strict=True)
        ],
        "answer_text": answer.text,
        "answer_missed": False,
    }
    if not q.answerable:
        return row
    for c in CUTOFFS:
        row[f"hit@{c}"] = M.hit_at_k(relevance, c)
    row["mrr@10"] = M.reciprocal_rank(relevance, 10)
    row["answer_hit"] = float(
        not answer.abstained and any(M.normalise(a) in M.normalise(answer.text) for a in q.answers)
    )
    n_rel = max(relevant_in_index, sum(relevance[:10]), 1)
    row["ndcg@10"] = M.ndcg_at_k_binary(relevance, n_rel, 10)
    row["accepted"] = list(q.answers)
    row["answer_missed"] = row["hit@5"] == 1 and row["answer_hit"] == 0
    if row["answer_missed"]:
        p = next(p for p, h in zip(result.passages[:5], relevance, strict=False) if h)
        row["hit_passage"] = {
            "rank": p.rank,
            "source": p.document.source,
            "page": p.chunk.page_start,
            "text": p.chunk.text,
        }
    return row


def summarise_mode(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    keys = [f"hit@{c}" for c in CUTOFFS] + ["mrr@10", "ndcg@10", "answer_hit"]
    summary = {
        key: round(sum(r[key] for r in answerable) / max(1, len(answerable)), 4) for key in keys
    }
    latencies = [r["latency_ms"] for r in rows]
    false_abstentions = sum(r["abstained"] for r in answerable)
    missed = [r for r in answerable if r.get("answer_missed")]
    summary.update(
        {
            "questions": len(rows),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "abstained_unanswerable": sum(r["abstained"] for r in unanswerable),
            "false_abstentions": false_abstentions,
            "false_abstention_rate": round(false_abstentions / max(1, len(answerable)), 4),
            "unanswerable_abstained_rate": round(
                sum(r["abstained"] for r in unanswerable) / max(1, len(unanswerable)), 4
            ),
            "latency_p50_ms": round(M.percentile(latencies, 50), 2),
            "latency_p95_ms": round(M.percentile(latencies, 95), 2),
            "answer_missed": len(missed),
            "answer_missed_abstained": sum(r["abstained"] for r in missed),
        }
    )
    tags = sorted({t for r in answerable for t in r["tags"]})
    summary["by_tag"] = {t: _group([r for r in answerable if t in r["tags"]]) for t in tags}
    summary["hit@5_by_tag"] = {t: g["hit@5"] for t, g in summary["by_tag"].items()}
    kinds = [kind for kind in KINDS if any(r.get("kind") == kind for r in answerable)]
    summary["by_kind"] = {
        kind: _group([r for r in answerable if r["kind"] == kind]) for kind in kinds
    }
    return summary


def _group(rows: list[dict]) -> dict:
    """A group of answerable rows (one tag's, one kind's): how many, hit@5, the answer-phrase
    rate (answer_hit) and how many were answer-missed."""
    n = len(rows)
    return {
        "n": n,
        "hit@5": round(sum(r["hit@5"] for r in rows) / n, 4),
        "answer_hit": round(sum(r["answer_hit"] for r in rows) / n, 4),
        "answer_missed": sum(bool(r.get("answer_missed")) for r in rows),
    }


def calibrate(rows: list[dict], max_false_rate: float = 0.05) -> dict:
    """Abstention thresholds fitted to one mode's rows: the pair (sentence similarity, coverage) that
    abstains on the most unanswerable questions while false abstentions on answerable ones
    stay at or under ``max_false_rate`` in every suite (rows carry their ``suite``; ties: fewer
    false abstentions, then lower thresholds). Questions with no matching document abstain
    whatever the thresholds."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    if not answerable:
        return {}
    suites = sorted({r.get("suite", "") for r in answerable})
    budget = {
        s: int(max_false_rate * sum(r.get("suite", "") == s for r in answerable)) for s in suites
    }
    sims = sorted({0.0} | {r["evidence"] for r in rows})
    covs = sorted({0.0} | {r["coverage"] for r in rows})

    def abstains(r: dict, sim: float, cov: float) -> bool:
        return r["no_match"] or r["evidence"] < sim or r["coverage"] < cov

    best = None
    for sim in sims:
        for cov in covs:
            wrong = [r.get("suite", "") for r in answerable if abstains(r, sim, cov)]
            if any(wrong.count(s) > budget[s] for s in suites):
                continue
            caught = sum(abstains(r, sim, cov) for r in unanswerable)
            key = (-caught, len(wrong), sim + cov)
            if best is None or key < best[0]:
                best = (key, sim, cov, caught, len(wrong))
    if best is None:
        return {}
    _, sim, cov, caught, false = best
    return {
        "min_similarity": round(sim, 4),
        "min_coverage": round(cov, 4),
        "unanswerable_abstained": caught,
        "unanswerable": len(unanswerable),
        "false_abstentions": false,
        "answerable": len(answerable),
        "margin": _margins(answerable, unanswerable, sim, cov),
    }


def _margins(answerable: list[dict], unanswerable: list[dict], sim: float, cov: float) -> dict:
    """How far each threshold sits from the questions nearest it: the lowest value among the
    answerable questions it keeps, less the highest among the unanswerable ones it catches
    (None where it catches none). A small margin is a threshold to refit as questions come."""
    out = {}
    for key, floor in (("evidence", sim), ("coverage", cov)):
        kept = [r[key] for r in answerable if not r["no_match"] and r[key] >= floor]
        caught = [r[key] for r in unanswerable if not r["no_match"] and r[key] < floor]
        name = "similarity" if key == "evidence" else key
        out[name] = round(min(kept) - max(caught), 4) if kept and caught else None
    return out


def describe_calibration(questions: int, settings, calibration: dict) -> str:
    """One line: the abstention thresholds in force, and those fitted on this run."""
    c = calibration
    return (
        f"{questions} questions. Abstention: sentence similarity < {settings.min_similarity}, "
        f"coverage < {settings.min_coverage}; fitted on this run: similarity < "
        f"{c.get('min_similarity')}, coverage < {c.get('min_coverage')} "
        f"({c.get('unanswerable_abstained')}/{c.get('unanswerable')} unanswerable, "
        f"{c.get('false_abstentions')} false; margins {c.get('margin')})."
    )


def main_mode(modes) -> str:
    """The mode a run is judged and described by: hybrid if it ran, else the first."""
    return "hybrid" if "hybrid" in modes else next(iter(modes))


def below_thresholds(summary: dict, min_hit_at_5: float | None, min_mrr: float | None) -> str:
    """ "" when the main mode (hybrid if run) meets the thresholds, else what falls short."""
    mode = main_mode(summary)
    s = summary[mode]
    failures = []
    if min_hit_at_5 is not None and s["hit@5"] < min_hit_at_5:
        failures.append(f"hit@5 {s['hit@5']:.3f} < {min_hit_at_5}")
    if min_mrr is not None and s["mrr@10"] < min_mrr:
        failures.append(f"MRR@10 {s['mrr@10']:.3f} < {min_mrr}")
    return f"{mode} below threshold: " + "; ".join(failures) if failures else ""


TABLE_KEYS = ["hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10"]


def format_table(summary: dict) -> str:
    header = (
        f"{'mode':<8}"
        + "".join(f"{k:>9}" for k in TABLE_KEYS)
        + f"{'answer':>9}{'missed':>8}{'abstain':>10}{'false':>7}{'p50 ms':>8}{'p95 ms':>8}"
    )
    lines = [header, "-" * len(header)]
    for mode, s in summary.items():
        lines.append(
            f"{mode:<8}"
            + "".join(f"{s[k]:>9.3f}" for k in TABLE_KEYS)
            + f"{s['answer_hit']:>9.3f}{s.get('answer_missed', 0):>8}"
            + f"{s['abstained_unanswerable']:>6}/{s['unanswerable']:<3}"
            + f"{s['false_abstentions']:>7}"
            + f"{s['latency_p50_ms']:>8.1f}{s['latency_p95_ms']:>8.1f}"
        )
    return "\n".join(lines)


def format_breakdown(report: dict, show_missed: bool = False) -> str:
    """The main mode's answerable questions by kind and by tag: how many (n), hit@5, the
    answer-phrase rate and the answer-missed count; with ``show_missed``, those questions."""
    mode = main_mode(report["summary"])
    s = report["summary"][mode]
    header = f"{mode + ': by kind, by tag':<28}{'n':>5}{'hit@5':>8}{'answer':>8}{'missed':>8}"
    lines = [header, "-" * len(header)]
    for label, groups in (("kind", s["by_kind"]), ("tag", s["by_tag"])):
        for name, g in groups.items():
            lines.append(
                f"{label + ' ' + name:<28}{g['n']:>5}{g['hit@5']:>8.3f}"
                f"{g['answer_hit']:>8.3f}{g['answer_missed']:>8}"
            )
    lines.append(
        f"{s['answer_missed']} answer-missed (a right passage in the top 5, no accepted phrase in "
        f"the answer; {s['answer_missed_abstained']} of them abstained)"
    )
    if show_missed:
        lines += ["", format_missed([r for r in report["rows"] if r["mode"] == mode])]
    return "\n".join(lines)


def format_missed(rows: list[dict], width: int = 200) -> str:
    """The answer-missed rows: id, kind, question, the answer given (cut to ``width``
    characters) and the first accepted phrase."""
    out = []
    for r in (r for r in rows if r.get("answer_missed")):
        given = " ".join(r["answer_text"].split())
        given = given if len(given) <= width else given[: width - 1] + "…"
        more = f" (+{len(r['accepted']) - 1} more)" if len(r["accepted"]) > 1 else ""
        out += [
            f"{r['id']} [{r['kind']}] {r['question']}",
            f"    answer{' (abstained)' if r['abstained'] else ''}: {given}",
            f"    accepted: {r['accepted'][0]!r}{more}",
        ]
    return "\n".join(out) if out else "no answer-missed questions"


def write_results(report: dict, out_dir: Path, extra: dict | None = None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "per_question": out_dir / "per_question.jsonl",
        "summary": out_dir / "summary.json",
        "chart": out_dir / "modes.png",
    }
    with paths["per_question"].open("w", encoding="utf-8") as fh:
        for row in report["rows"]:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    paths["summary"].write_text(
        json.dumps({"summary": report["summary"], **(extra or {})}, indent=1)
    )
    bar_chart(report["summary"], paths["chart"])
    return paths


def bar_chart(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(summary)
    width = 0.8 / max(1, len(modes))
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    for i, mode in enumerate(modes):
        values = [summary[mode][k] for k in TABLE_KEYS]
        xs = [j + i * width for j in range(len(TABLE_KEYS))]
        bars = ax.bar(xs, values, width, label=mode)
        ax.bar_label(bars, fmt="%.2f", fontsize=6)
    ax.set_xticks([j + width * (len(modes) - 1) / 2 for j in range(len(TABLE_KEYS))], TABLE_KEYS)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Retrieval by mode (answerable questions)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
