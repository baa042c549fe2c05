"""The language of a message for storage and routing, without requiring the nlu extra."""

from __future__ import annotations


def detect_language_code(text: str) -> str | None:
    """ISO 639-1 of a message, or None when unsure or when the nlu extra is not installed."""
    try:
        from touchpoint.assistant.nlu.language import detect_language
    except ImportError:
        return None
    guess = detect_language(text)
    return guess.code if guess.reliable and guess.code != "und" else None
