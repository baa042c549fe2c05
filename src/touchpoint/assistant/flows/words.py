"""The few words a flow understands at every step: cancel, start over, yes and no."""

from __future__ import annotations

import re

_FILLER = {"please", "pls", "plz", "ok", "okay", "just", "now", "thanks", "i", "want", "to", "lets", "let", "s",
           "can", "we", "you", "the", "this", "all", "it", "that", "oh"}
CANCEL_WORDS = {"cancel", "never mind", "nevermind", "forget", "forget about", "quit", "exit", "abort",
                "stop this", "stop the flow"}
START_OVER_WORDS = {"start over", "start again", "restart", "begin again", "reset", "from the beginning",
                    "start from scratch", "from scratch"}
YES_WORDS = {"yes", "y", "yeah", "yea", "yep", "yup", "sure", "ok", "okay", "correct", "confirm", "confirmed", "right",
             "yes please", "please do", "sounds good", "perfect",
             "go ahead", "do it", "absolutely", "definitely", "affirmative", "sim", "oui", "si", "sí", "ja", "👍"}
NO_WORDS = {"no", "n", "nope", "nah", "wrong", "incorrect", "not right", "change", "não", "nao", "non", "nein", "👎"}

def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+|[👍👎]", text.casefold().replace("'", ""))


def command_in(text: str) -> str | None:
    """"cancel" or "start_over" when the message is just that (politeness aside), else None."""
    words = _words(text)
    if not words or len(words) > 6:
        return None
    core = " ".join(w for w in words if w not in _FILLER)
    if core in START_OVER_WORDS or " ".join(words) in START_OVER_WORDS:
        return "start_over"
    if core in CANCEL_WORDS or " ".join(words) in CANCEL_WORDS:
        return "cancel"
    return None


def yes_or_no(text: str, intent: str | None) -> bool | None:
    words = _words(text)
    if words:
        phrase = " ".join(words)
        if phrase in YES_WORDS or (words[0] in YES_WORDS and len(words) <= 4 and not set(words) & NO_WORDS):
            return True
        if phrase in NO_WORDS or (words[0] in NO_WORDS and len(words) <= 6):
            return False
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    return None
