"""Which language is a message in? ISO 639-1 code plus a confidence, offline.

py3langid (a maintained fork of langid.py, BSD) ships its naive-Bayes byte n-gram model for 97 languages inside the
package; nothing is downloaded. Short chat messages are its weak spot ("thanks" alone looks like Xhosa), so the
languages a workspace declares act as a prior: a declared language needs less evidence than an undeclared one,
and a message too short to tell is "und" (undetermined) rather than a confident guess.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from touchpoint.assistant.nlu.text import clean_text

UNDETERMINED = "und"
MIN_LETTERS = 2
DECLARED_PRIOR = 8.0  # odds boost of a declared language over an undeclared one
RELIABLE = 0.6  # below this, the guess is shown but not acted on (e.g. not routed to a language team)
MIXED_MIN_LETTERS = 10  # a sentence needs this many letters to count as evidence of a second language
_SENTENCES = re.compile(r"[.!?\n;]+")

_lock = threading.Lock()
_identifier: Any = None


def _get_identifier() -> Any:
    """The py3langid model, loaded once per process (~1 s), or None when py3langid is not installed."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                try:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier
                except ImportError:
                    _identifier = False
                else:
                    _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
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
    ranked = identifier.rank(cleaned)[:8]
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
