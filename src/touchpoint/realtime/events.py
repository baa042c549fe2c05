"""Services stage events on the session; the transaction owner publishes them after commit.

A rolled-back transaction therefore never tells a browser about something that did not happen.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "touchpoint.staged_events"


def stage(session: AsyncSession, topic: str, event: dict[str, Any]) -> None:
    session.info.setdefault(_KEY, []).append((topic, event))


def take_staged(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    return list(session.info.pop(_KEY, []))


def workspace_topic(workspace_id: int) -> str:
    return f"ws:{workspace_id}"


def conversation_topic(conversation_id: int) -> str:
    return f"conv:{conversation_id}"
