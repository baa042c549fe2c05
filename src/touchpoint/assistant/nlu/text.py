"""Cleaning a customer's message before any model sees it.

Customers send anything: empty strings, megabytes of pasted logs, bytes that are not UTF-8, control characters,
emoji. Every featuriser goes through `clean_text` so none of them has to defend itself, and a message is never
rejected here: the worst case is an empty string, which every model handles as "I do not understand".
"""

from __future__ import annotations

import re
import unicodedata

# Intent and escalation cues live in the first few sentences; a cap keeps the latency bound for pasted logs.
MAX_CHARS = 2000
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACES = re.compile(r"\s+")


def clean_text(text: str | bytes | None, max_chars: int = MAX_CHARS) -> str:
    """NFKC-normalised, control-free, whitespace-collapsed text of at most `max_chars` characters."""
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        text = str(text)
    text = text[: max_chars * 4]  # normalising a huge string costs time; cut before, and again after
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\ufffd", " ")
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()[:max_chars]


def letter_share(text: str) -> float:
    """Share of characters that are letters: near zero for emoji-only, numbers or binary noise."""
    if not text:
        return 0.0
    letters = sum(1 for ch in text if ch.isalpha())
    return letters / len(text)
