"""The understanding engine of the assistant: intents, out-of-scope, language and escalation signals.

Standalone (no database): train an `NluModel`, save it as a version in a `ModelStore`, load it into an
`NluEngine` and call `understand(text)`. Heavy dependencies (numpy, scipy, onnxruntime, tokenizers,
fasttext-predict) come from the optional `nlu` extra. The names below are imported on first use, so the light
modules (`cues`, `text`, `errors`) work on an install without the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from touchpoint.assistant.nlu.classifier import IntentClassifier, IntentPrediction
    from touchpoint.assistant.nlu.encoders import OnnxSentenceEncoder, SentenceEncoder, load_encoder
    from touchpoint.assistant.nlu.engine import NluEngine, Understanding, shared_encoder
    from touchpoint.assistant.nlu.errors import ModelLoadError, TrainingDataError, VersionNotFound
    from touchpoint.assistant.nlu.escalation import EscalationScore, EscalationScorer
    from touchpoint.assistant.nlu.language import LanguageGuess, detect_language
    from touchpoint.assistant.nlu.store import ModelStore, NluModel

_HOME = {
    "IntentClassifier": "classifier", "IntentPrediction": "classifier", "OnnxSentenceEncoder": "encoders",
    "SentenceEncoder": "encoders", "load_encoder": "encoders", "NluEngine": "engine", "Understanding": "engine",
    "shared_encoder": "engine", "ModelLoadError": "errors", "TrainingDataError": "errors",
    "VersionNotFound": "errors", "EscalationScore": "escalation", "EscalationScorer": "escalation",
    "LanguageGuess": "language", "detect_language": "language", "ModelStore": "store", "NluModel": "store",
}

__all__ = [
    "EscalationScore", "EscalationScorer", "IntentClassifier", "IntentPrediction", "LanguageGuess",
    "ModelLoadError", "ModelStore", "NluEngine", "NluModel", "OnnxSentenceEncoder", "SentenceEncoder",
    "TrainingDataError", "Understanding", "VersionNotFound", "detect_language", "load_encoder", "shared_encoder",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
