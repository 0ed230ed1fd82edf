"""The chunk store: one SQLite file per index generation (documents, pages, chunks, and the
embedding cache keyed by a hash of the model and the exact text embedded)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from rag_qa.records import Chunk, DateMention, Document, Fact, Page

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, source TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
    doc_type TEXT NOT NULL, date TEXT, visit_start TEXT, visit_end TEXT, source_url TEXT,
    content_hash TEXT NOT NULL, dates_json TEXT NOT NULL, warnings_json TEXT NOT NULL,
    council TEXT, kind TEXT NOT NULL, facts_json TEXT NOT NULL
);
CREATE TABLE pages (
    doc_id TEXT NOT NULL, idx INTEGER NOT NULL, number INTEGER, text TEXT NOT NULL,
    PRIMARY KEY (doc_id, idx)
);
CREATE TABLE chunks (
    vec_id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL, text TEXT NOT NULL, page_start INTEGER, page_end INTEGER,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, section TEXT,
    token_count INTEGER NOT NULL, embed_key TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks (doc_id, ordinal);
CREATE TABLE embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE sentences (key TEXT PRIMARY KEY, version INTEGER NOT NULL, data BLOB NOT NULL);
"""


class Store:
    def __init__(self, path: Path, readonly: bool = True):
        self.path = path
        if readonly:
            uri = f"file:{path}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.row_factory = sqlite3.Row

    @classmethod
    def create(cls, path: Path) -> Store:
        store = cls(path, readonly=False)
        # 16 KiB pages: a passage's sentence vectors (about 1.8 KB) pack without the slack of
        # 4 KiB pages; the sample's store is 27.3 MB instead of 33.5 (21.6 before sentences).
        store.db.execute("PRAGMA page_size = 16384")
        store.db.executescript(SCHEMA)
        return store

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------------
    def add_document(self, doc: Document) -> None:
        self.db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.doc_id,
                doc.source,
                doc.title,
                doc.doc_type,
                doc.date,
                doc.visit_start,
                doc.visit_end,
                doc.source_url,
                doc.content_hash,
                json.dumps([m.__dict__ for m in doc.dates]),
                json.dumps(list(doc.warnings)),
                doc.council,
                doc.kind,
                json.dumps([f.__dict__ for f in doc.facts]),
            ),
        )
        self.db.executemany(
            "INSERT INTO pages VALUES (?,?,?,?)",
            [(doc.doc_id, i, p.number, p.text) for i, p in enumerate(doc.pages)],
        )

    def add_chunks(self, rows: list[tuple[int, Chunk, str]]) -> None:
        self.db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    vec_id,
                    c.chunk_id,
                    c.doc_id,
                    c.ordinal,
                    c.text,
                    c.page_start,
                    c.page_end,
                    c.char_start,
                    c.char_end,
                    c.section,
                    c.token_count,
                    key,
                )
                for vec_id, c, key in rows
            ],
        )

    def put_embeddings(self, items: list[tuple[str, np.ndarray]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?,?)",
            [(key, np.asarray(vec, dtype="<f4").tobytes()) for key, vec in items],
        )

    def put_sentences(self, items: list[tuple[str, bytes]], version: int) -> None:
        """Each passage text's sentence vectors (rag_qa.index.sentences), by embedding key."""
        self.db.executemany(
            "INSERT OR REPLACE INTO sentences VALUES (?,?,?)",
            [(key, version, blob) for key, blob in items],
        )

    def commit(self) -> None:
        self.db.commit()

    # -- reading ---------------------------------------------------------------------------
    def _by_key(self, select: str, keys: list[str], *params):
        """Rows of ``select ... AND key IN (...)`` (``select`` ends before the IN list),
        500 keys a query."""
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            yield from self.db.execute(f"{select} ({','.join('?' * len(part))})", [*params, *part])

    def get_embeddings(self, keys: list[str], dim: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for row in self._by_key("SELECT key, vector FROM embeddings WHERE key IN", keys):
            vec = np.frombuffer(row["vector"], dtype="<f4")
            if vec.shape[0] == dim:
                found[row["key"]] = vec
        return found

    def get_sentences(self, keys: list[str], version: int) -> dict[str, bytes]:
        """Stored sentence vectors by embedding key (none from a store older than them)."""
        select = "SELECT key, data FROM sentences WHERE version = ? AND key IN"
        try:
            return {r[0]: r[1] for r in self._by_key(select, keys, version)}
        except sqlite3.OperationalError:  # no such table: an index built before them
            return {}

    def sentences_of(self, chunk_ids: list[str], version: int) -> dict[str, bytes]:
        """The sentence vectors of these passages, by chunk_id (those that have them)."""
        if not chunk_ids:
            return {}
        q = (
            "SELECT c.chunk_id, s.data FROM chunks c JOIN sentences s ON s.key = c.embed_key "
            f"WHERE s.version = ? AND c.chunk_id IN ({','.join('?' * len(chunk_ids))})"
        )
        try:
            return {r[0]: r[1] for r in self.db.execute(q, [version, *chunk_ids])}
        except sqlite3.OperationalError:
            return {}

    def documents(self, pages: bool = True) -> list[Document]:
        """Every document, by source. ``pages=False``: without their page texts (``pages`` is
        empty), which is what searching needs; an index of a million passages holds gigabytes
        of page text, read one document at a time by ``document``."""
        texts: dict[str, list[Page]] = {}
        if pages:
            rows = self.db.execute("SELECT doc_id, number, text FROM pages ORDER BY doc_id, idx")
            for row in rows:
                texts.setdefault(row["doc_id"], []).append(Page(row["number"], row["text"]))
        return [
            _document(row, tuple(texts.get(row["doc_id"], [])))
            for row in self.db.execute("SELECT * FROM documents ORDER BY source")
        ]

    def document(self, doc_id: str) -> Document | None:
        """One document with its page texts."""
        row = self.db.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        rows = self.db.execute(
            "SELECT number, text FROM pages WHERE doc_id = ? ORDER BY idx", (doc_id,)
        )
        return _document(row, tuple(Page(r["number"], r["text"]) for r in rows))

    def chunks(self, doc_id: str | None = None) -> list[tuple[int, Chunk, str]]:
        sql = "SELECT * FROM chunks"
        args: tuple = ()
        if doc_id is not None:
            sql += " WHERE doc_id = ?"
            args = (doc_id,)
        return [
            (r["vec_id"], _chunk(r), r["embed_key"])
            for r in self.db.execute(sql + " ORDER BY vec_id", args)
        ]

    def chunks_by_vec_ids(self, vec_ids: list[int]) -> dict[int, Chunk]:
        if not vec_ids:
            return {}
        q = f"SELECT * FROM chunks WHERE vec_id IN ({','.join('?' * len(vec_ids))})"
        return {r["vec_id"]: _chunk(r) for r in self.db.execute(q, vec_ids)}

    def chunk(self, chunk_id: str) -> Chunk | None:
        row = self.db.execute("SELECT * FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
        return None if row is None else _chunk(row)

    def passage_counts(self) -> list[tuple[str, int]]:
        """(doc_id, passages) per document, in the order their passages are stored."""
        sql = "SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id ORDER BY MIN(vec_id)"
        return [(r[0], r[1]) for r in self.db.execute(sql)]

    def passage_texts(self, doc_id: str):
        """(vec_id, text) of one document's passages in order, read lazily."""
        sql = "SELECT vec_id, text FROM chunks WHERE doc_id = ? ORDER BY vec_id"
        return ((r[0], r[1]) for r in self.db.execute(sql, (doc_id,)))

    def count(self, table: str) -> int:
        assert table in ("documents", "chunks", "embeddings", "pages", "sentences")
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _chunk(r: sqlite3.Row) -> Chunk:
    return Chunk(
        chunk_id=r["chunk_id"],
        doc_id=r["doc_id"],
        ordinal=r["ordinal"],
        text=r["text"],
        page_start=r["page_start"],
        page_end=r["page_end"],
        char_start=r["char_start"],
        char_end=r["char_end"],
        section=r["section"],
        token_count=r["token_count"],
    )


def _document(row: sqlite3.Row, pages: tuple[Page, ...]) -> Document:
    return Document(
        doc_id=row["doc_id"],
        source=row["source"],
        title=row["title"],
        doc_type=row["doc_type"],
        date=row["date"],
        visit_start=row["visit_start"],
        visit_end=row["visit_end"],
        dates=tuple(DateMention(**m) for m in json.loads(row["dates_json"])),
        pages=pages,
        content_hash=row["content_hash"],
        source_url=row["source_url"],
        warnings=tuple(json.loads(row["warnings_json"])),
        council=row["council"],
        kind=row["kind"],
        facts=tuple(Fact(**f) for f in json.loads(row["facts_json"])),
    )
