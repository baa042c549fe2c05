"""Replies to the built-in conversational intents (greeting, thanks, goodbye), worded per workspace.

A workspace may set its own words in `settings["assistant"]["small_talk"][intent]`; the defaults are plain
and short, and always say what the bot can do or how to reach a person.
"""

from __future__ import annotations

from typing import Any

from touchpoint.assistant.base import Reply
from touchpoint.models import Workspace

DEFAULTS = {
    "greeting": "Hello! I can answer questions, check or change a booking and help with your bill. "
                "Type 'agent' at any time to talk to a person.",
    "thanks": "You're welcome! Is there anything else I can help with?",
    "goodbye": "Thanks for writing to us. Have a good day!",
}


def small_talk_reply(intent: str, workspace: Workspace) -> Reply | None:
    assistant_settings: dict[str, Any] = (workspace.settings or {}).get("assistant") or {}
    custom = assistant_settings.get("small_talk") or {}
    text = custom.get(intent) if isinstance(custom, dict) else None
    if not isinstance(text, str) or not text.strip():
        text = DEFAULTS.get(intent)
    return Reply(text, {"intent": intent}) if text else None
