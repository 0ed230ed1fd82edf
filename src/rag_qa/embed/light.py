"""A question's vector without sentence-transformers: the model's BERT forward pass, run here.

``rag-qa serve`` and ``rag-qa ask`` encode a question or a few sentences at a time. Through
sentence-transformers that needs torch, transformers and scikit-learn imported first (about 5 s
of a cold start on 2 cores); this reads the same ``model.safetensors`` with ``safetensors`` and
runs the same layers (token, position and type embeddings; post-norm attention and GELU
feed-forward blocks; mean pooling over the attention mask; L2 normalisation) in float32, in
numpy or (``backend="torch"``: torch alone, 0.8-1.0 s to import, on the very same weight
arrays) in torch. Their vectors match sentence-transformers' float32 ones to a cosine above
0.99999 (tests/test_light_encoder.py). Builds still embed passages through
sentence-transformers.

Only the architecture the shipped model has is accepted (``LightModelError`` otherwise: the
caller then falls back to sentence-transformers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from math import sqrt
from pathlib import Path

import numpy as np


class LightModelError(Exception):
    pass


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden): query, key and value projections side by side
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]


def _check_config(model_dir: Path) -> dict:
    """The model's config, if this module can run it exactly."""
    config = json.loads((model_dir / "config.json").read_text())
    modules = model_dir / "modules.json"
    kinds = [m.get("type", "") for m in json.loads(modules.read_text())] if modules.exists() else []
    pooling_file = model_dir / "1_Pooling" / "config.json"
    pooling = json.loads(pooling_file.read_text()) if pooling_file.exists() else {}
    wanted = {
        "model_type": config.get("model_type") == "bert",
        "hidden_act": config.get("hidden_act") == "gelu",
        "position_embedding_type": config.get("position_embedding_type", "absolute") == "absolute",
        "modules": [k.rsplit(".", 1)[-1] for k in kinds] == ["Transformer", "Pooling", "Normalize"],
        "mean pooling": pooling.get("pooling_mode_mean_tokens") is True
        and not any(
            pooling.get(k)
            for k in (
                "pooling_mode_cls_token",
                "pooling_mode_max_tokens",
                "pooling_mode_mean_sqrt_len_tokens",
            )
        ),
        "model.safetensors": (model_dir / "model.safetensors").exists(),
    }
    missing = [name for name, ok in wanted.items() if not ok]
    if missing:
        raise LightModelError(f"{model_dir}: not a plain BERT mean-pooling model ({missing})")
    return config


class LightEncoder:
    """Unit vectors for a few texts, from the model's weights, in float32: numpy's products
    or (``backend="torch"``) torch's."""

    def __init__(self, model_dir: Path, max_seq_length: int, backend: str = "numpy"):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = _check_config(model_dir)
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        weights = load_file(str(model_dir / "model.safetensors"))
        weights = {
            k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in weights.items()
        }
        self.layers = [_layer(weights, i) for i in range(int(config["num_hidden_layers"]))]
        # Only the embedding tables are kept beside the layers, which hold their own
        # transposed copies of the matrices (keeping every array would hold those twice).
        self._embed = {k: v for k, v in weights.items() if k.startswith("embeddings.")}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        self._torch = _TorchLayers(self.layers, self.eps) if backend == "torch" else None

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text (all in one padded batch)."""
        batch = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        types = np.array([e.type_ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.float32)
        hidden = self._embeddings(ids, types)
        if self._torch is not None:
            return self._torch.encode(hidden, mask, self.heads)
        bias = (1.0 - mask)[:, None, None, :] * np.finfo(np.float32).min
        for layer in self.layers:
            hidden = self._block(layer, hidden, bias)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def _embeddings(self, ids: np.ndarray, types: np.ndarray) -> np.ndarray:
        w = self._embed
        positions = np.arange(ids.shape[1])
        hidden = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.token_type_embeddings.weight"][types]
            + w["embeddings.position_embeddings.weight"][positions][None]
        )
        norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        return _layer_norm(hidden, norm, self.eps)

    def _block(self, layer: _Layer, hidden: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """One encoder layer. The dense products run on (batch x length, size) matrices: one
        BLAS call each, where numpy's stacked product made one per text (3 sentences of 37
        tokens: 46.6 -> 30.3 ms; torch in bf16 takes 12-16 ms, numpy has no bf16 product)."""
        batch, length, size = hidden.shape
        head = size // self.heads
        flat = hidden.reshape(batch * length, size)
        qkv = flat @ layer.qkv_w + layer.qkv_b
        qkv = qkv.reshape(batch, length, 3, self.heads, head).transpose(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]
        scores = (query @ key.transpose(0, 1, 3, 2)) / np.float32(sqrt(head)) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * length, size)
        flat = _layer_norm(context @ layer.out_w + layer.out_b + flat, layer.norm1, self.eps)
        inner = _gelu(flat @ layer.up_w + layer.up_b)
        out = _layer_norm(inner @ layer.down_w + layer.down_b + flat, layer.norm2, self.eps)
        return out.reshape(batch, length, size)


class _TorchLayers:
    """The encoder layers in torch on the numpy weight arrays themselves (shared, not
    copied): a question of 18 tokens in 3.9 ms against numpy's 6.7 (OpenBLAS's products on
    so few rows run at a fraction of what torch's reach), the same vectors to a cosine of
    0.9999999. Only torch is imported, not transformers."""

    def __init__(self, layers: list[_Layer], eps: float):
        import torch

        def t(a: np.ndarray):
            return torch.from_numpy(a if a.flags.writeable else a.copy())

        self.torch, self.eps = torch, eps
        self.layers = [
            {
                name: tuple(t(a) for a in value) if isinstance(value, tuple) else t(value)
                for name, value in vars(layer).items()
            }
            for layer in layers
        ]

    def encode(self, hidden: np.ndarray, mask: np.ndarray, heads: int) -> np.ndarray:
        torch, eps = self.torch, self.eps
        fn = torch.nn.functional
        batch, length, size = hidden.shape
        keep = torch.from_numpy(mask)
        attend = keep[:, None, None, :] > 0  # True: a real token, attended to
        with torch.inference_mode():
            x = torch.from_numpy(hidden).reshape(batch * length, size)
            for w in self.layers:
                qkv = torch.addmm(w["qkv_b"], x, w["qkv_w"])
                qkv = qkv.reshape(batch, length, 3, heads, size // heads).permute(2, 0, 3, 1, 4)
                context = fn.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attend)
                context = context.transpose(1, 2).reshape(batch * length, size)
                x = torch.addmm(w["out_b"], context, w["out_w"]) + x
                x = fn.layer_norm(x, (size,), *w["norm1"], eps)
                inner = fn.gelu(torch.addmm(w["up_b"], x, w["up_w"]))
                x = fn.layer_norm(
                    torch.addmm(w["down_b"], inner, w["down_w"]) + x, (size,), *w["norm2"], eps
                )
            x = x.reshape(batch, length, size)
            pooled = (x * keep[:, :, None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1e-9)
            return np.ascontiguousarray(fn.normalize(pooled, dim=1).numpy(), dtype=np.float32)


def _layer(w: dict[str, np.ndarray], i: int) -> _Layer:
    p = f"encoder.layer.{i}."
    attn = p + "attention.self."

    def t(name: str) -> np.ndarray:  # torch's Linear stores (out, in)
        return np.ascontiguousarray(w[name].T)

    return _Layer(
        qkv_w=np.concatenate([t(attn + n + ".weight") for n in ("query", "key", "value")], axis=1),
        qkv_b=np.concatenate([w[attn + n + ".bias"] for n in ("query", "key", "value")]),
        out_w=t(p + "attention.output.dense.weight"),
        out_b=w[p + "attention.output.dense.bias"],
        norm1=(
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        ),
        up_w=t(p + "intermediate.dense.weight"),
        up_b=w[p + "intermediate.dense.bias"],
        down_w=t(p + "output.dense.weight"),
        down_b=w[p + "output.dense.bias"],
        norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
    )


def _layer_norm(x: np.ndarray, norm: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(eps)) * norm[0] + norm[1]


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26), float32's own precision."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x)."""
    return (x * 0.5 * (1.0 + _erf(x * np.float32(1 / sqrt(2.0))))).astype(np.float32, copy=False)
