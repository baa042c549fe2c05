"""One call per message: language, intent (or out of scope) and escalation signal, from one loaded model version.

The engine knows nothing about workspaces or databases; the assistant keeps one engine per workspace and swaps it
for a new one when a background retrain saves a new version (or a rollback activates an old one). Encoders are
shared per process: loading the ONNX model once serves every workspace that uses it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from touchpoint.assistant.nlu.classifier import IntentClassifier, IntentPrediction, encode_views
from touchpoint.assistant.nlu.encoders import OnnxSentenceEncoder, load_encoder
from touchpoint.assistant.nlu.escalation import EscalationScore
from touchpoint.assistant.nlu.language import LanguageGuess, detect_language
from touchpoint.assistant.nlu.store import NluModel
from touchpoint.assistant.nlu.text import clean_text
from touchpoint.assistant.nlu.threads import single_thread_blas_once

_encoders: dict[str, OnnxSentenceEncoder | None] = {}
_encoders_lock = threading.Lock()


def shared_encoder(model_dir: str | Path | None = None) -> OnnxSentenceEncoder | None:
    """The process-wide encoder for `model_dir` (None: the bundled model, or None when it is not installed).
    A missing or corrupt directory raises ModelLoadError every time it is asked for; nothing bad is cached."""
    key = str(Path(model_dir).resolve()) if model_dir is not None else ""
    with _encoders_lock:
        if key not in _encoders:
            _encoders[key] = load_encoder(model_dir)
        return _encoders[key]


@dataclass(frozen=True, slots=True)
class Understanding:
    language: LanguageGuess
    intent: IntentPrediction
    escalation: EscalationScore | None
    model_version: str | None
    elapsed_ms: float


class NluEngine:
    def __init__(self, model: NluModel, languages: tuple[str, ...] = ()) -> None:
        self.model = model
        self.languages = languages  # the languages the workspace's assistant serves (a prior for detection)
        single_thread_blas_once()  # see threads.py: a BLAS split over busy cores costs 10x at p99

    @property
    def intents(self) -> IntentClassifier:
        return self.model.intents

    def understand(self, text: str | bytes | None) -> Understanding:
        started = time.perf_counter()
        message = text if isinstance(text, str) else (text.decode("utf-8", "replace") if text else "")
        language = detect_language(message, self.languages)
        cleaned = [clean_text(message)]
        encoder = self.model.intents.encoder
        encoded = encode_views(encoder, cleaned) if encoder is not None else None  # once, for both models
        intent = self.model.intents.predict_many(cleaned, encoded=encoded)[0]
        escalation = None
        if self.model.escalation is not None:
            embeddings = encoded[0] if encoded is not None and self.model.escalation.encoder is not None else None
            escalation = self.model.escalation.score_many(cleaned, embeddings)[0]
        return Understanding(language, intent, escalation, self.model.version,
                             round((time.perf_counter() - started) * 1000, 3))

    def warm_up(self) -> None:
        """First calls pay for lazy initialisation (onnxruntime arenas, the language model): do it off the path."""
        for text in ("hello", "I was charged twice for my order, can someone call me?"):
            self.understand(text)
