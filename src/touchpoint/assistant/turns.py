"""The conversation's recent bot turns, as the escalation policy needs them: how many failed in a row, how
many were unsure, whether the bot just asked "did this answer your question?"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.signals_builder import TurnContext
from touchpoint.models import AssistantDecision, Contact, Direction, Message, MessageStatus, SenderKind

RECENT_TURNS = 6


def contact_tags(contact: Contact | None) -> tuple[str, ...]:
    """`{"vip": true}` → "vip"; `{"tags": ["gold", "press"]}` → "gold", "press"."""
    if contact is None:
        return ()
    attributes: dict[str, Any] = contact.attributes or {}
    tags = {str(name).casefold() for name, value in attributes.items() if value is True}
    listed = attributes.get("tags")
    if isinstance(listed, list):
        tags |= {str(tag).casefold() for tag in listed if isinstance(tag, str | int)}
    return tuple(sorted(tags))


def _run_length(rows: list[dict[str, Any]], key: str) -> int:
    count = 0
    for scores in rows:
        if not scores.get(key):
            break
        count += 1
    return count


async def load_turn_context(session: AsyncSession, *, conversation_id: int, contact: Contact | None,
                            in_flow: bool) -> TurnContext:
    decisions = (await session.execute(
        select(AssistantDecision.scores).where(AssistantDecision.conversation_id == conversation_id)
        .order_by(AssistantDecision.id.desc()).limit(RECENT_TURNS))).scalars().all()
    recent = [scores or {} for scores in decisions]
    last_outbound = (await session.execute(
        select(Message.sender_kind, Message.content).where(
            Message.conversation_id == conversation_id, Message.direction == Direction.outbound.value,
            Message.status != MessageStatus.note.value)
        .order_by(Message.id.desc()).limit(1))).first()
    feedback_for = None
    if last_outbound is not None and last_outbound.sender_kind == SenderKind.bot.value:
        value = (last_outbound.content or {}).get("feedback_for")
        feedback_for = int(value) if isinstance(value, int) else None
    return TurnContext(failed_in_row=_run_length(recent, "failed"),
                       low_confidence_in_row=_run_length(recent, "low_confidence"),
                       feedback_for=feedback_for, contact_tags=contact_tags(contact), in_flow=in_flow)
