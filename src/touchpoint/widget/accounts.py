"""The web chat account a widget request is for, with the workspace policy it obeys.

Read on every widget call (each message, each poll), so it is cached for a few seconds: a changed
allow-list or verification mode takes effect within ACCOUNT_CACHE_SECONDS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from touchpoint.channels.base import AccountContext
from touchpoint.kit.errors import NotFound
from touchpoint.runtime import Runtime
from touchpoint.widget import repository
from touchpoint.workspaces.service import widget_secret

ACCOUNT_CACHE_SECONDS = 10.0
_CACHE_KEY = "widget_accounts"


@dataclass(frozen=True, slots=True)
class WidgetAccount:
    context: AccountContext
    workspace_name: str
    widget_settings: dict[str, Any]
    widget_secret: str

    @property
    def key(self) -> str:
        return self.context.key

    @property
    def require_verified(self) -> bool:
        """Verified-only mode (Chatwoot #9493): when on, anonymous visitors are refused everywhere,
        not just at setUser. Off by default so a brand's public site can chat with anyone."""
        return self.widget_settings.get("require_verified") is True

    @property
    def allowed_origins(self) -> list[str]:
        origins = self.widget_settings.get("allowed_origins") or []
        return [str(o).strip().rstrip("/").lower() for o in origins if str(o).strip()]

    def public_config(self, max_chars: int) -> dict[str, Any]:
        """What the widget may show: never secrets, never the allow-list."""
        settings = self.widget_settings
        return {"title": str(settings.get("title") or self.workspace_name)[:80],
                "greeting": str(settings.get("greeting") or "")[:500] or None,
                "accent_color": _color(settings.get("accent_color")),
                "max_chars": max_chars}


def _color(value: Any) -> str | None:
    text = str(value or "")
    if len(text) in (4, 7) and text.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in text[1:]):
        return text
    return None


async def load_account(runtime: Runtime, key: str) -> WidgetAccount:
    cache: dict[str, tuple[float, WidgetAccount | None]] = runtime.state.setdefault(_CACHE_KEY, {})
    hit = cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        account = hit[1]
    else:
        async with runtime.sessionmaker() as session:
            found = await repository.webchat_account(session, key)
        account = None
        if found is not None:
            channel_account, workspace = found
            account = WidgetAccount(
                context=AccountContext(channel_account.id, channel_account.workspace_id, channel_account.key, {},
                                       dict(channel_account.settings or {})),
                workspace_name=workspace.name,
                widget_settings=dict((workspace.settings or {}).get("widget") or {}),
                widget_secret=widget_secret(runtime.box, workspace))
        if len(cache) > 10_000:
            cache.clear()
        cache[key] = (time.monotonic() + ACCOUNT_CACHE_SECONDS, account)
    if account is None:
        raise NotFound("no web chat with that account key", code="unknown_account")
    return account


def forget_accounts(runtime: Runtime) -> None:
    """Workspace widget policy changed: read it again on the next request."""
    runtime.state.pop(_CACHE_KEY, None)
