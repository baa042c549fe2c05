"""What a flow runs with: the conversation it is in, the workspace's clock, and the values its templates see."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.flows.definition import Flow
from touchpoint.assistant.flows.slots import display_value
from touchpoint.kit.clock import utcnow
from touchpoint.models import Workspace


@dataclass(frozen=True, slots=True)
class FlowContext:
    workspace_id: int
    conversation_id: int
    contact_id: int
    timezone: str = "UTC"
    now: datetime = field(default_factory=utcnow)
    # The understanding engine's intent for this message when it is confident (cancel, start_over, affirm,
    # deny are honoured inside a flow); None without a model.
    intent: str | None = None

    @property
    def today(self) -> date:
        """Today where the workspace is: "tomorrow" at 23:30 in Lisbon is not tomorrow in UTC."""
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return self.now.astimezone(zone).date()


async def flow_context(session: AsyncSession, *, workspace_id: int, conversation_id: int, contact_id: int,
                       now: datetime | None = None, intent: str | None = None) -> FlowContext:
    workspace = await session.get(Workspace, workspace_id)
    return FlowContext(workspace_id=workspace_id, conversation_id=conversation_id, contact_id=contact_id,
                       timezone=(workspace.timezone if workspace else None) or "UTC", now=now or utcnow(),
                       intent=intent)


def walk(value: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(".".join(path))
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class Scope:
    """The values a flow's templates may name: slots, saved action fields, built-ins (payment, error)."""

    def __init__(self, flow: Flow, slots: Mapping[str, Any], results: Mapping[str, Any],
                 extra: Mapping[str, Any] | None = None, today: date | None = None) -> None:
        self.flow = flow
        self.slots = slots
        self.results = results
        self.extra = extra or {}
        self.today = today or utcnow().date()

    def raw(self, name: str) -> Any:
        head, *rest = name.split(".")
        if head in self.flow.slots:
            if head not in self.slots:
                raise KeyError(name)
            return self.slots[head]
        if head in self.results:
            return walk(self.results[head], rest)
        if head in self.extra:
            return walk(self.extra[head], rest)
        raise KeyError(name)

    def text(self, name: str) -> str:
        """As a value in a URL, header or body text: dates stay ISO."""
        return as_text(self.raw(name))

    def display(self, name: str) -> str:
        """As a person reads it in a message: dates as "12 May", choices by label."""
        head = name.split(".")[0]
        spec = self.flow.slots.get(head)
        if spec is not None:
            return display_value(spec, self.raw(name), today=self.today)
        return as_text(self.raw(name))
