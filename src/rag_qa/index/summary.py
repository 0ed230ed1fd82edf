"""What ``rag-qa index`` reports: its summary, or the error when nothing usable results."""

from __future__ import annotations

from dataclasses import dataclass, field


class BuildError(Exception):
    pass


@dataclass
class BuildSummary:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # source -> reason
    documents: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    full: bool = False
    note: str = ""
    generation: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    pages: int = 0
    sentence_passages: int = 0  # passages stored with their sentence vectors
    parse_cached: int = 0  # files whose parse came from index/parse-cache (not parsed again)

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "documents": self.documents,
            "chunks": self.chunks,
            "chunks_embedded": self.chunks_embedded,
            "pages": self.pages,
            "sentence_passages": self.sentence_passages,
            "parse_cached": self.parse_cached,
            "seconds": round(self.seconds, 3),
            "full": self.full,
            "note": self.note,
            "generation": self.generation,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)
