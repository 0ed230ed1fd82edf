"""The question encoder (rag_qa.embed.light, numpy and torch) against sentence-transformers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from rag_qa.embed.light import LightEncoder, LightModelError
from rag_qa.embed.model import SentenceTransformerEmbedder, resolve_model_dir
from rag_qa.settings import Settings

MODEL = Settings().embed.model
TEXTS = [
    "What did Ofsted say about management oversight in 2018?",
    "Who led the 2019 inspection of Slough's children's services?",
    "short",
    "",
    "Children’s services in Slough require improvement to be good. " * 40,  # past 256 tokens
    "Leaders' oversight of practice—including supervision—was weak (see paragraph 12).",
]


@pytest.fixture(scope="module")
def light():
    return LightEncoder(resolve_model_dir(MODEL), 256)


def test_unit_rows_in_one_batch_equal_one_at_a_time(light):
    together = light.encode(TEXTS)
    assert together.shape == (len(TEXTS), 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.vstack([light.encode([t]) for t in TEXTS])
    assert np.min(np.sum(together * alone, axis=1)) > 0.99999  # padding changes nothing


def test_related_questions_are_closer_than_unrelated(light):
    a, b, c = light.encode(
        [
            "management oversight of social work",
            "how managers supervise social workers",
            "the weather in Scotland in July",
        ]
    )
    assert a @ b > a @ c + 0.2


def test_an_unknown_architecture_is_refused(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_act": "gelu"}))
    with pytest.raises(LightModelError, match="not a plain BERT mean-pooling model"):
        LightEncoder(model, 256)


def test_the_embedder_falls_back_to_the_model_for_an_unknown_architecture(tmp_path, monkeypatch):
    emb = SentenceTransformerEmbedder(MODEL)
    monkeypatch.setattr(
        "rag_qa.embed.light._check_config",
        lambda d: (_ for _ in ()).throw(LightModelError(f"{d}: not a plain BERT")),
    )
    assert emb.light is None and emb.query_encoder == "model"


@pytest.mark.parametrize("backend, torch_imported", [("numpy", "False"), ("torch", "True")])
def test_questions_need_neither_transformers_nor_sentence_transformers(backend, torch_imported):
    """Encoding a question through the embedder imports neither transformers nor
    sentence-transformers; through numpy, not torch either."""
    code = (
        "import sys; from rag_qa.embed.model import load_embedder; "
        f"e = load_embedder({MODEL!r}, query_encoder={backend!r}); v = e.encode(['a question']); "
        "print(v.shape, 'torch' in sys.modules, 'transformers' in sys.modules, "
        "'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    assert out == ["(1,", "384)", torch_imported, "False", "False"]


def test_torch_and_numpy_give_the_same_vectors(light):
    """The torch backend runs the same layers on the same weight arrays: the same vectors,
    in one padded batch and one text at a time."""
    torch_side = LightEncoder(resolve_model_dir(MODEL), 256, backend="torch")
    together = torch_side.encode(TEXTS)
    np.testing.assert_allclose(together, light.encode(TEXTS), atol=1e-5)
    alone = np.vstack([torch_side.encode([t]) for t in TEXTS])
    assert np.min(np.sum(together * alone, axis=1)) > 0.99999
    shared = torch_side._torch.layers[0]["qkv_w"].data_ptr()
    assert shared == torch_side.layers[0].qkv_w.ctypes.data  # the weights are not copied


@pytest.mark.integration
def test_vectors_are_the_float32_models():
    """Through the numpy and torch encoders and through sentence-transformers in float32,
    the same texts give the same vectors (to float32 rounding)."""
    model_side = SentenceTransformerEmbedder(MODEL, "fp32", "model").encode(TEXTS, batch_size=4)
    for backend in ("numpy", "torch"):
        ours = SentenceTransformerEmbedder(MODEL, "fp32", backend).encode(TEXTS, batch_size=4)
        cosines = np.sum(ours * model_side, axis=1)
        assert np.min(cosines) > 0.99999, (backend, cosines)
        np.testing.assert_allclose(ours, model_side, atol=2e-5)
