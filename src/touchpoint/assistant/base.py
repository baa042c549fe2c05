"""The Assistant protocol the processor calls for every message in a bot-owned conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class AssistantInput:
    workspace_id: int
    conversation_id: int
    contact_id: int
    text: str
    channel: str
    locale: str | None = None
    message_id: int | None = None
    # The message's understanding computed ahead, in a batch (assistant.understanding_batch.Preread), or None.
    # An assistant that cannot use it ignores it; the result must be the same either way.
    preread: Any = None


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    content: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Handoff:
    team_slug: str
    reason: str
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to say and whether to hand over. `rule` and `scores` make every decision auditable."""

    replies: tuple[Reply, ...] = ()
    handoff: Handoff | None = None
    intent: str | None = None
    confidence: float = 0.0
    rule: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    # answer | flow | clarify | escalate
    action: str = "answer"
    language: str | None = None
    sentiment: float | None = None
    # The customer's text as it may be stored (card numbers masked), when it differs from what was received.
    masked_text: str | None = None


class Assistant(Protocol):
    async def respond(self, session: AsyncSession, message: AssistantInput) -> Decision: ...
