"""Sentence vectors: every sentence of every passage, as the model read it in its passage.

The build encodes each passage once; from that same forward pass it keeps, per sentence
(``rag_qa.text.sentences.unit_spans``), the mean of the contextual token vectors over the
sentence (``SentenceTransformerEmbedder.encode_spans``). So the answer step scores a passage's
sentences against the question with a matrix product over stored vectors instead of a model
call, and the build pays no extra model time for them.

Stored in the generation's store, one row per passage text (keyed like its passage vector, so
an incremental build reuses them), 4 bits a dimension: a sentence's unit direction quantised
between its own minimum and maximum, plus its weight (tokens x length of the mean vector), so
that a sentence joined to the next (a list item to its introduction) is their weighted mean,
exactly as if the model's tokens had been pooled over both. The quantisation moves a cosine by
about 0.01 (tests/test_sentence_vectors.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rag_qa.embed.model import SpanVectors
from rag_qa.text.sentences import UNITS_VERSION

# Stored with every row; a row of another version is not used (its sentences would not be
# the ones the answer splits a passage into).
SENTENCE_VERSION = UNITS_VERSION
_HEAD = np.dtype([("lo", "<f2"), ("step", "<f2"), ("weight", "<f4")])


@dataclass(frozen=True)
class SentenceSet:
    """A passage's sentence vectors."""

    dirs: np.ndarray  # (sentences, dim) float32 unit vectors; zero: the model never read it
    weights: np.ndarray  # (sentences,) float32

    def __len__(self) -> int:
        return len(self.weights)

    def joined(self, rows: list[int]) -> np.ndarray:
        """The unit vector of several sentences read as one (their tokens pooled together)."""
        v = (self.weights[rows, None] * self.dirs[rows]).sum(axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else v


def pack(span: SpanVectors) -> bytes:
    """4-bit codes of each sentence's unit direction, with its range and weight."""
    means = np.asarray(span.means, dtype=np.float32)
    n, dim = means.shape
    norms = np.linalg.norm(means, axis=1)
    dirs = means / np.maximum(norms, 1e-12)[:, None]
    lo, hi = dirs.min(axis=1, initial=0.0), dirs.max(axis=1, initial=0.0)
    step = np.maximum((hi - lo) / 15.0, 1e-6)
    head = np.zeros(n, dtype=_HEAD)
    head["lo"], head["step"] = lo, step
    head["weight"] = norms * np.asarray(span.counts, dtype=np.float32)
    # Codes against the stored (float16) range, so that decoding inverts exactly this.
    lo16, step16 = head["lo"].astype(np.float32), head["step"].astype(np.float32)
    codes = np.clip(np.rint((dirs - lo16[:, None]) / step16[:, None]), 0, 15).astype(np.uint8)
    if dim % 2:
        codes = np.pad(codes, ((0, 0), (0, 1)))
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    return np.uint32(n).tobytes() + head.tobytes() + packed.tobytes()


# Unpacked sets kept for the recent passages (a passage comes back in the top of many
# questions; unpacking was 0.22 ms a question on the shipped corpus): 512 of about 17 KB.
UNPACKED_CACHE_PASSAGES = 512


@functools.lru_cache(maxsize=UNPACKED_CACHE_PASSAGES)
def unpack(blob: bytes, dim: int) -> SentenceSet | None:
    """The sentences of ``pack`` (read-only arrays: the set is shared); None when the blob
    is not one of ``dim`` dimensions."""
    if len(blob) < 4:
        return None
    n = int(np.frombuffer(blob[:4], dtype="<u4")[0])
    width = (dim + 1) // 2
    if len(blob) != 4 + n * (_HEAD.itemsize + width):
        return None
    head = np.frombuffer(blob[4 : 4 + n * _HEAD.itemsize], dtype=_HEAD)
    packed = np.frombuffer(blob[4 + n * _HEAD.itemsize :], dtype=np.uint8).reshape(n, width)
    codes = np.empty((n, width * 2), dtype=np.float32)
    codes[:, 0::2], codes[:, 1::2] = packed & 15, packed >> 4
    lo, step = head["lo"].astype(np.float32), head["step"].astype(np.float32)
    dirs = lo[:, None] + step[:, None] * codes[:, :dim]
    weights = head["weight"].astype(np.float32)
    norms = np.linalg.norm(dirs, axis=1)
    dirs = np.where(weights[:, None] > 0, dirs / np.maximum(norms, 1e-12)[:, None], 0.0)
    dirs = dirs.astype(np.float32)
    dirs.flags.writeable = weights.flags.writeable = False
    return SentenceSet(dirs, weights)
