"""The understanding engine of the assistant: intents, out-of-scope, language and escalation signals.

Standalone (no database): train an `NluModel`, save it as a version in a `ModelStore`, load it into an
`NluEngine` and call `understand(text)`. Heavy dependencies (numpy, scipy, onnxruntime, tokenizers,
py3langid) come from the optional `nlu` extra; import this package only where they are installed.
"""

from touchpoint.assistant.nlu.classifier import IntentClassifier, IntentPrediction
from touchpoint.assistant.nlu.encoders import OnnxSentenceEncoder, SentenceEncoder, load_encoder
from touchpoint.assistant.nlu.engine import NluEngine, Understanding, shared_encoder
from touchpoint.assistant.nlu.errors import ModelLoadError, TrainingDataError, VersionNotFound
from touchpoint.assistant.nlu.escalation import EscalationScore, EscalationScorer
from touchpoint.assistant.nlu.language import LanguageGuess, detect_language
from touchpoint.assistant.nlu.store import ModelStore, NluModel

__all__ = [
    "EscalationScore", "EscalationScorer", "IntentClassifier", "IntentPrediction", "LanguageGuess",
    "ModelLoadError", "ModelStore", "NluEngine", "NluModel", "OnnxSentenceEncoder", "SentenceEncoder",
    "TrainingDataError", "Understanding", "VersionNotFound", "detect_language", "load_encoder", "shared_encoder",
]
