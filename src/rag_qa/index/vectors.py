"""The dense vector index of a generation: exact search while it is cheap, HNSW beyond.

Up to ``Settings.index.ann_min_chunks`` passages the vectors are a flat (exact) inner-product index:
scoring every passage is one matrix-vector product, and steering can rank any subset exactly.
Beyond that an HNSW graph (faiss ``IndexHNSWFlat``) finds the candidates; their cosines are
then computed exactly from the stored vectors, so scores never depend on the index type.
bench/bench_scale.py measures recall@10 of the graph against exact search.

Files are loaded memory-mapped (``IO_FLAG_MMAP_IFC``): ``serve`` starts without reading the
vectors into memory, and the page cache is shared between processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag_qa.settings import IndexSettings


@dataclass(frozen=True)
class VectorSpec:
    kind: str = "flat"  # "flat" (exact) or "hnsw"
    m: int = IndexSettings.hnsw_m  # HNSW: neighbours per node
    ef_construction: int = IndexSettings.hnsw_ef_construction
    ef_search: int = IndexSettings.hnsw_ef_search

    def to_json(self) -> dict:
        if self.kind == "flat":
            return {"kind": "flat"}
        return {
            "kind": self.kind,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> VectorSpec:
        data = data or {}
        return cls(
            **{k: data[k] for k in ("kind", "m", "ef_construction", "ef_search") if k in data}
        )


def choose_vectors(n_vectors: int, settings) -> VectorSpec:
    """Flat below ``settings.index.ann_min_chunks`` passages (0 or less: always flat), else HNSW."""
    limit = settings.index.ann_min_chunks
    if limit <= 0 or n_vectors < limit:
        return VectorSpec("flat")
    return VectorSpec(
        "hnsw",
        settings.index.hnsw_m,
        settings.index.hnsw_ef_construction,
        settings.index.hnsw_ef_search,
    )


def write_vectors(matrix: np.ndarray, path: Path, spec: VectorSpec) -> None:
    import faiss

    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    dim = matrix.shape[1]
    if spec.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, spec.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
    else:
        raise ValueError(f"unknown vector index kind {spec.kind!r}")
    index.add(matrix)
    faiss.write_index(index, str(path))


def read_vectors(path: Path):
    """The faiss index at ``path``, its vectors memory-mapped where faiss can."""
    import faiss

    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError:
        return faiss.read_index(str(path))


class _Vectors:
    """The owner of a view into faiss' memory: keeps the index alive while the view is."""

    def __init__(self, index, view: np.ndarray):
        self.index = index
        self.__array_interface__ = view.__array_interface__


def stored_matrix(index) -> np.ndarray:
    """The stored vectors (n x d), a view into faiss' memory where possible; the view keeps
    ``index`` alive (its ``base``), so it stays valid after the caller drops the index."""
    import faiss

    flat = index
    if isinstance(index, faiss.IndexHNSW):
        flat = faiss.downcast_index(index.storage)
    if isinstance(flat, faiss.IndexFlat):
        n, d = flat.ntotal, flat.d
        if n == 0:
            return np.zeros((0, d), dtype=np.float32)
        view = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
        return np.asarray(_Vectors(index, view))
    return index.reconstruct_n(0, index.ntotal)


class DenseIndex:
    """Dense scores for a question vector: all of them (flat) or those of a candidate set.

    ``ef_search`` and ``mask_ef_factor`` (how far ``top`` widens efSearch for a selective
    mask) are ``settings.index.hnsw_ef_search`` and ``settings.index.mask_ef_factor``, and
    default to ``IndexSettings``' values. At 1M synthetic passages, on the masks the eval
    questions steer to (6-7% of the index), recall@10 against exact search of the masked
    part and time per search by mask_ef_factor were: 16: 0.997, 23 ms; 8: 0.993, 11 ms;
    4: 0.986, 5.8 ms; 2: 0.947, 3.1 ms."""

    def __init__(
        self,
        index,
        ef_search: int = IndexSettings.hnsw_ef_search,
        mask_ef_factor: int = IndexSettings.mask_ef_factor,
    ):
        import faiss

        self.index = index
        self.matrix = stored_matrix(index)
        self.exact = not isinstance(index, faiss.IndexHNSW)
        self.ef_search = ef_search
        self.mask_ef_factor = mask_ef_factor
        self.size = int(index.ntotal)

    def all_scores(self, q: np.ndarray) -> np.ndarray:
        """The inner product of ``q`` with every stored vector, by faiss's own SIMD kernel
        (``fvec_inner_products_ny``, what a flat search runs). A memory-mapped index file
        leaves the vectors at an address that is not a multiple of 4, where numpy's matmul
        falls back to a loop 5-10x slower than BLAS; this kernel reads them where they are
        (100k passages: 12.9 ms, against 19.7 ms for BLAS over aligned copies of blocks and
        15.3 ms for faiss's flat search itself)."""
        import faiss

        q = np.ascontiguousarray(q, dtype=np.float32)
        out = np.empty(self.size, dtype=np.float32)
        if self.size:
            matrix = np.ascontiguousarray(self.matrix, dtype=np.float32)  # as stored: no copy
            faiss.fvec_inner_products_ny(
                faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(matrix), q.size, self.size
            )
        return out

    def scores(self, ids: np.ndarray, q: np.ndarray) -> np.ndarray:
        return self.matrix[ids] @ q

    def top(self, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Ids of (about) the ``k`` nearest vectors, only among ``mask`` when given."""
        import faiss

        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        if mask is not None:
            # The graph search keeps only the neighbours the selector allows, so a selective
            # mask leaves it too few to choose from (1M passages, a 6% mask: top-10 overlap
            # with exact search 0.54): widen efSearch by the mask's rarity, within a limit.
            share = np.count_nonzero(mask) / max(self.size, 1)
            if 0 < share < 0.5:
                widest = params.efSearch * self.mask_ef_factor
                params.efSearch = int(min(params.efSearch / share, widest))
            bits = np.packbits(mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
            params.sel = selector
        _, ids = self.index.search(q.reshape(1, -1).astype(np.float32), k, params=params)
        ids = ids[0]
        return ids[ids >= 0]
