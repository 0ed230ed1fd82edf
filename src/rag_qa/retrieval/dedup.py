"""Near-duplicate passages: the same passage in two files (the 2024 letter is in the corpus as
text and as PDF) is listed once, citing both."""

from __future__ import annotations

import functools

from rag_qa.records import Chunk
from rag_qa.text.vocabulary import WORD


def shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    """The text's runs of ``n`` words (one run of all of them when it is shorter)."""
    words = WORD.findall(text.lower())
    if len(words) < n:
        return {tuple(words)}
    # The tuples are made in C, not in a loop; the shorter slices end the runs on purpose.
    return set(zip(*(words[i:] for i in range(n)), strict=False))


# Passages kept with their shingles: a passage comes back in the top of many questions, and
# making its shingles was 0.5 of the 0.7 ms merging took a question (shipped corpus, where
# every pair of reports is about one council and so compared). Hashed: 1,024 passages hold
# about 9 MB.
SHINGLE_CACHE_PASSAGES = 1024


@functools.lru_cache(maxsize=SHINGLE_CACHE_PASSAGES)
def hashed_shingles(text: str, n: int = 8) -> frozenset[int]:
    """``shingles`` as their hashes (what overlap compares), kept for recent passages."""
    return frozenset(map(hash, shingles(text, n)))


def shingles_overlap(sa: set, sb: set, threshold: float = 0.5) -> bool:
    if not sa or not sb:
        return False
    return len(sa & sb) / min(len(sa), len(sb)) >= threshold


def near_duplicate(a: str, b: str, threshold: float = 0.5, n: int = 8) -> bool:
    return shingles_overlap(shingles(a, n), shingles(b, n), threshold)


def merge_duplicates(
    head: list[int], chunks: dict[int, Chunk], docs, k: int, n: int = 8, threshold=0.5
) -> list[tuple[int, list[tuple[str, int | None]]]]:
    """The first ``k`` of ``head`` (vec_ids in rank order) that are not near-duplicates of a
    better-ranked passage of another document about the same council, each with the (source,
    page) of the duplicates merged into it. ``docs``: Documents by doc_id. Two councils'
    reports share Ofsted's standard paragraphs: those are never one passage."""
    made: dict[int, set] = {}  # each passage's shingles, made once (not per pair)

    def of(vec_id: int) -> set:
        if vec_id not in made:
            made[vec_id] = hashed_shingles(chunks[vec_id].text, n)
        return made[vec_id]

    def same_report(a: Chunk, b: Chunk) -> bool:
        return a.doc_id != b.doc_id and docs[a.doc_id].council == docs[b.doc_id].council

    kept: list[tuple[int, list[tuple[str, int | None]]]] = []
    for vec_id in head:
        chunk = chunks[vec_id]
        dup = next(
            (
                entry
                for entry in kept
                if same_report(chunks[entry[0]], chunk)
                and shingles_overlap(of(entry[0]), of(vec_id), threshold)
            ),
            None,
        )
        if dup is not None:
            source = docs[chunk.doc_id].source
            if source not in [s for s, _ in dup[1]]:
                dup[1].append((source, chunk.page_start))
            continue
        if len(kept) < k:
            kept.append((vec_id, []))
    return kept
