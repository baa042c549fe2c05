"""Jinja environment for the inbox pages: autoescape always on, and the small formatting filters the
templates share (relative times, local clock times, channel and status labels)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from touchpoint.kit.clock import as_utc, utcnow

WEB = Path(__file__).resolve().parent.parent / "web"

STATUS_LABELS = {"queued": "Waiting", "assigned": "Assigned", "bot": "Bot", "snoozed": "Snoozed",
                 "resolved": "Resolved", "mine": "Mine"}
CHANNEL_LABELS = {"webchat": "Web chat", "api": "Custom API", "whatsapp": "WhatsApp", "messenger": "Messenger",
                  "instagram": "Instagram", "telegram": "Telegram", "line": "LINE", "wechat": "WeChat",
                  "sms": "SMS", "email": "Email"}


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """Compact elapsed time, as support tools show it: 45s, 12m, 3h, 2d."""
    if value is None:
        return ""
    seconds = max(0, int(((now or utcnow()) - as_utc(value)).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


@cache
def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def clock(value: datetime | None, timezone: str | None = None) -> str:
    """Time of day in the workspace's zone; the date too when it is not today."""
    if value is None:
        return ""
    zone = _zone(timezone)
    local = as_utc(value).astimezone(zone)
    today = utcnow().astimezone(zone).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d %b %H:%M")


def iso(value: datetime | None) -> str:
    return as_utc(value).isoformat() if value else ""


def channel_label(channel: str | None) -> str:
    return CHANNEL_LABELS.get(channel or "", (channel or "unknown").title())


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", (status or "").title())


def initials(name: str | None) -> str:
    parts = [p for p in (name or "").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def gate_summary(gate: dict[str, Any] | None) -> str:
    """The send gate's verdict in one line: what it decided, why, and what it checked."""
    if not gate:
        return ""
    parts = [str(gate.get("action", "?"))]
    reasons = gate.get("reasons") or []
    if reasons:
        parts.append("because " + ", ".join(str(r) for r in reasons))
    if gate.get("until"):
        parts.append(f"until {gate['until']}")
    if gate.get("fallback_channel"):
        parts.append(f"via {gate['fallback_channel']}")
    checks = gate.get("checks") or []
    if checks:
        parts.append("checked " + ", ".join(str(c) for c in checks))
    return " · ".join(parts)


@cache
def asset_version() -> str:
    """Changes whenever a static file the pages load changes, so browsers never run a stale script."""
    digest = hashlib.sha256()
    for name in ("app.css", "inbox.js", "assist.js", "vendor/htmx.min.js"):
        path = WEB / "static" / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ago=ago, clock=clock, iso=iso, channel_label=channel_label, status_label=status_label,
                       initials=initials, gate_summary=gate_summary)
    env.globals.update(asset_version=asset_version, status_labels=STATUS_LABELS)
    return Jinja2Templates(env=env)


templates = make_templates()
