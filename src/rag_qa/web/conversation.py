"""What a conversation keeps between questions (a plain dict, held by the page as its state),
and the records made from it: a passage as the page shows it, and a line of the feedback file.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from rag_qa.answer.extract import Answer
from rag_qa.answer.facts import FactsTable, entry_quote
from rag_qa.records import Passage
from rag_qa.retrieval.timeline import Timeline
from rag_qa.text.frameworks import AREA_LABELS


def new_state() -> dict:
    """An empty conversation: the questions as understood (for follow-ups), the chat messages,
    the feedback records keyed by the answer's position in the chat, the passages shown."""
    return {
        "questions": [],
        "messages": [],
        "turns": {},
        "passages": [],
        "facts": None,  # the last answer's facts table (facts_record), if any
        "timeline": None,  # its timeline (timeline_record), if any
        "export": None,  # its Markdown and the path of its CSV
    }


def remember_turn(
    state: dict,
    question: str,
    asked_md: str,
    reply_md: str,
    record: dict,
    passages: list[dict],
    max_turns: int,
) -> dict:
    """The conversation ``state`` after one more exchange (``question`` as understood, the
    user's and the answer's Markdown, the feedback ``record``, the passages shown), keeping the
    last ``max_turns`` exchanges: older ones drop off the top of the chat, and the feedback
    records, keyed by the answer's position in the chat, are re-keyed to match."""
    messages = [
        *state["messages"],
        {"role": "user", "content": asked_md},
        {"role": "assistant", "content": reply_md},
    ]
    turns = {**state["turns"], str(len(messages) - 1): record}
    drop = max(0, len(messages) - 2 * max(1, max_turns))
    if drop:
        messages = messages[drop:]
        turns = {str(int(i) - drop): t for i, t in turns.items() if int(i) >= drop}
    return {
        **state,
        "questions": [*state["questions"], question][-max(1, max_turns) :],
        "messages": messages,
        "turns": turns,
        "passages": passages,
    }


def passage_record(p: Passage, answer: Answer | None = None) -> dict:
    """What the page (and the feedback file) keeps of a passage."""
    sentences = [s.text for s in answer.sentences if s.passage_rank == p.rank] if answer else []
    return {
        **p.to_json(),
        "score": round(float(p.score), 4),
        "content_hash": p.document.content_hash,
        "sentences": sentences,
    }


def feedback_record(turn: dict, liked: bool, now: datetime | None = None) -> dict:
    """One line of the feedback file. Has the fields of an eval question (``id``,
    ``question``, ``answers``: the answering sentences, ``sources``: the cited sources,
    ``tags``) plus the vote, the answer shown, the cited passages and a timestamp."""
    now = now or datetime.now(UTC)
    cited = [p for p in turn["passages"] if p["sentences"]]
    sources = list(dict.fromkeys(p["source"] for p in cited))
    answers = [s for p in cited for s in p["sentences"]]
    vote = "up" if liked else "down"
    digest = hashlib.sha1(f"{turn['question']}|{now.isoformat()}".encode()).hexdigest()[:8]
    return {
        "id": f"fb-{now.strftime('%Y%m%d%H%M%S')}-{digest}",
        "question": turn["question"],
        "answers": answers,
        "sources": sources,
        "tags": ["feedback", vote],
        "vote": vote,
        "asked": turn.get("asked", turn["question"]),
        "answer": turn["answer"],
        "abstained": turn.get("abstained", False),
        "passages": [
            {k: p[k] for k in ("rank", "source", "title", "date", "page", "score", "text")}
            for p in (cited or turn["passages"])
        ],
        "filters": turn.get("filters", ""),
        "index_built_at": turn.get("index_built_at"),
        "timestamp": now.isoformat(timespec="seconds"),
    }


def facts_record(table: FactsTable | None) -> dict | None:
    """What the page keeps of a facts table: its description and a record per row (the
    report, its visit, the grade of the area asked about, the page it was read from)."""
    if table is None or not table.rows:
        return None
    rows = []
    for row in table.rows:
        d = row.document
        rows.append(
            {
                **row.to_json(),
                "label": d.label,
                "title": d.title,
                "area_label": AREA_LABELS.get(row.area, row.area),
                "citation": row.citation,
                "content_hash": d.content_hash,
            }
        )
    return {"description": table.description, "rows": rows}


def timeline_record(timeline: Timeline | None) -> dict | None:
    """What the page keeps of a timeline: its council, topic and note, the points of its plot,
    and an entry per report (visit date, kind, overall grade, the best sentence on the topic
    and its citation, and the passage as ``passage_record`` numbers it, 1 up)."""
    if timeline is None:
        return None
    entries = []
    for n, e in enumerate(timeline.entries, 1):
        p = e.passage
        passage = None
        if p is not None:
            passage = {
                **passage_record(p),
                "rank": n,
                "sentences": [entry_quote(e, timeline.topic)],
            }
        entries.append(
            {
                "doc_id": e.document.doc_id,
                "label": e.document.label,
                "kind": e.document.kind,
                "when": e.when,
                "grade": e.grade,
                "quote": entry_quote(e, timeline.topic) if p is not None else "",
                "citation": p.citation if p is not None else e.document.label,
                "passage": passage,
            }
        )
    return {
        "council": timeline.council,
        "topic": timeline.topic,
        "note": timeline.note,
        "points": [list(point) for point in timeline.points],
        "entries": entries,
    }
