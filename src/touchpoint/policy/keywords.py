"""Consent keywords. A message that is only one of these words is a consent instruction.

Defaults follow carrier practice (CTIA / Twilio's list) plus common translations; a workspace adds its
own in settings["consent_keywords"] = {"stop": [...], "start": [...]}. "CANCEL" and "YES" are left out
on purpose: in a chat about bookings they mean something else, and a workspace can add them back.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

DEFAULT_STOP = frozenset({
    "stop", "stopall", "stop all", "unsubscribe", "end", "quit", "optout", "opt out", "opt-out",
    "arret", "arrete", "desabonner", "desinscrire",  # fr
    "parar", "baja", "detener", "alto",             # es
    "stopp", "abmelden",                            # de
    "parar de receber", "sair",                     # pt
    "tuiding", "退订", "取消订阅",                     # zh
    "配信停止", "停止",                               # ja
})
DEFAULT_START = frozenset({"start", "unstop", "subscribe", "resume", "opt in", "optin", "opt-in"})

_PUNCT = re.compile(r"[\s!.,;:?¡¿'\"()\[\]]+")


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _PUNCT.sub(" ", folded).strip()


def classify(text: str, workspace_settings: dict[str, Any] | None = None) -> str | None:
    """'stop', 'start' or None. Only whole-message matches count: "please stop calling me" is a
    complaint, not an opt-out keyword."""
    if len(text) > 40:
        return None
    word = normalise(text)
    extra = (workspace_settings or {}).get("consent_keywords", {})
    stop = DEFAULT_STOP | {normalise(w) for w in extra.get("stop", [])}
    start = DEFAULT_START | {normalise(w) for w in extra.get("start", [])}
    if word in stop:
        return "stop"
    if word in start:
        return "start"
    return None
