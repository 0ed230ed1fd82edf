"""Per-document arrays for steering and filtering: each passage's document as a small integer
code, and per code the council, type and dates, so that a period, a council or a filter is a
few array comparisons, not a loop over documents."""

from __future__ import annotations

from datetime import date

import numpy as np

from rag_qa.index.loaded import LoadedIndex
from rag_qa.records import Document


def _day(iso: str | None) -> int:
    """An ISO date as the integer YYYYMMDD (ordered as the dates are), 0 for none."""
    return int(iso[:10].replace("-", "")) if iso else 0


def _days(isos: list[str | None]) -> np.ndarray:
    return np.array([_day(d) for d in isos], dtype=np.int64)


def overlaps(doc: Document, start: date, end: date) -> bool:
    """Whether a document's visit or own date falls in the period (one document; the table
    does it for all at once in ``in_period``)."""
    spans = []
    if doc.visit_start and doc.visit_end:
        spans.append((doc.visit_start, doc.visit_end))
    if doc.date:
        spans.append((doc.date, doc.date))
    s, e = start.isoformat(), end.isoformat()
    return any(a <= e and b >= s for a, b in spans)


class DocumentTable:
    """Passages are stored document by document, so each passage's code is a run-length
    decoding of the per-document passage counts; ``passage_mask`` spreads a boolean per code
    over the code's passages."""

    def __init__(self, index: LoadedIndex):
        self.docs = index.documents
        rows = index.store.passage_counts()
        self.doc_ids = [r[0] for r in rows]
        self.code = {d: i for i, d in enumerate(self.doc_ids)}
        self._size = np.array([r[1] for r in rows], dtype=np.int64)
        self.doc_code = np.repeat(np.arange(len(rows), dtype=np.int32), self._size)
        coded = [self.docs[d] for d in self.doc_ids]
        self._councils(coded)
        self.type_no = {t: i for i, t in enumerate(sorted({d.doc_type for d in coded}))}
        self.type = np.array([self.type_no[d.doc_type] for d in coded], dtype=np.int32)
        self.kind_no = {k: i for i, k in enumerate(sorted({d.kind for d in coded}))}
        self.kind = np.array([self.kind_no[d.kind] for d in coded], dtype=np.int32)
        self._dates(coded)

    def _councils(self, coded: list[Document]) -> None:
        councils = [d.council for d in coded]  # read from each report's text at build time
        self.council_no = {c: i for i, c in enumerate(sorted({c for c in councils if c}))}
        self.council = np.array([self.council_no.get(c, -1) for c in councils], dtype=np.int32)

    def _dates(self, coded: list[Document]) -> None:
        # Dates as YYYYMMDD integers, 0 where missing: a period is a few comparisons.
        self._visit_ok = np.array([bool(d.visit_start and d.visit_end) for d in coded], bool)
        ok = self._visit_ok
        self._visit_start = _days(
            [d.visit_start if o else None for d, o in zip(coded, ok, strict=True)]
        )
        self._visit_end = _days(
            [d.visit_end if o else None for d, o in zip(coded, ok, strict=True)]
        )
        self._date_ok = np.array([bool(d.date) for d in coded], dtype=bool)
        self.undated = ~(self._visit_ok | self._date_ok)  # a period cannot place these
        self._doc_date = _days([d.date for d in coded])
        self.newest_key = _days([d.date or d.visit_end for d in coded])  # what "latest" means
        dated = [d.date or d.visit_end for d in coded if d.date or d.visit_end]
        self.newest = date.fromisoformat(max(dated)) if dated else None

    def __len__(self) -> int:
        return len(self.doc_ids)

    @property
    def passages(self) -> int:
        return len(self.doc_code)

    @property
    def doc_of(self) -> np.ndarray:
        """Each passage's doc_id (an object array: for reports, not for per-query work)."""
        return np.array(self.doc_ids, dtype=object)[self.doc_code]

    def passage_mask(self, per_doc: np.ndarray) -> np.ndarray:
        """A boolean per document code, spread to its passages (``per_doc[doc_code]``, by
        run lengths: 4x faster than the lookup at 1M passages)."""
        return np.repeat(per_doc, self._size)

    def doc_mask(self, doc_ids) -> np.ndarray:
        """Boolean mask of the passages that belong to one of ``doc_ids``."""
        return self.passage_mask(self.codes_of(doc_ids))

    def codes_of(self, doc_ids) -> np.ndarray:
        """A boolean per document code: set for the documents of ``doc_ids``."""
        wanted = np.zeros(len(self.doc_ids), dtype=bool)
        wanted[[self.code[d] for d in doc_ids if d in self.code]] = True
        return wanted

    def in_period(self, start: date, end: date) -> np.ndarray:
        """Per document code, whether its visit or own date overlaps the period: ``overlaps``
        for every document, vectorised."""
        s, e = _day(start.isoformat()), _day(end.isoformat())
        hit = self._visit_ok & (self._visit_start <= e) & (self._visit_end >= s)
        hit |= self._date_ok & (self._doc_date <= e) & (self._doc_date >= s)
        return hit
