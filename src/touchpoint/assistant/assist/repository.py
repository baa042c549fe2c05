"""Agent assist queries: one statement per kind of row, every one filtered on the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import AssistantDecision, CannedResponse, FlowSession, Message, PaymentRequest

# What the panel reads of a long conversation: enough for a summary, bounded for a chat that ran for weeks.
MESSAGE_WINDOW = 200
DECISION_WINDOW = 100


async def recent_messages(session: AsyncSession, workspace_id: int, conversation_id: int,
                          limit: int = MESSAGE_WINDOW) -> list[Message]:
    """The latest `limit` messages (internal notes excluded: they are the agents' own words), oldest first."""
    rows = (await session.execute(
        select(Message).where(Message.workspace_id == workspace_id, Message.conversation_id == conversation_id,
                              Message.status != "note")
        .order_by(Message.id.desc()).limit(limit))).scalars().all()
    return list(reversed(rows))


async def decisions_of(session: AsyncSession, workspace_id: int, conversation_id: int,
                       limit: int = DECISION_WINDOW) -> list[AssistantDecision]:
    rows = (await session.execute(
        select(AssistantDecision).where(AssistantDecision.workspace_id == workspace_id,
                                        AssistantDecision.conversation_id == conversation_id)
        .order_by(AssistantDecision.id.desc()).limit(limit))).scalars().all()
    return list(reversed(rows))


async def flow_sessions_of(session: AsyncSession, workspace_id: int, conversation_id: int,
                           limit: int = 20) -> list[FlowSession]:
    rows = (await session.execute(
        select(FlowSession).where(FlowSession.workspace_id == workspace_id,
                                  FlowSession.conversation_id == conversation_id)
        .order_by(FlowSession.id.desc()).limit(limit))).scalars().all()
    return list(reversed(rows))


async def payment_requests_of(session: AsyncSession, workspace_id: int, conversation_id: int,
                              limit: int = 20) -> Sequence[PaymentRequest]:
    """Newest first: the pending ones an agent must decide, and the recent decisions for context."""
    return (await session.execute(
        select(PaymentRequest).where(PaymentRequest.workspace_id == workspace_id,
                                     PaymentRequest.conversation_id == conversation_id)
        .order_by(PaymentRequest.id.desc()).limit(limit))).scalars().all()


async def canned_for_team(session: AsyncSession, workspace_id: int, team_id: int | None,
                          limit: int = 500) -> Sequence[CannedResponse]:
    """Canned responses an agent may use in a conversation of `team_id`: everyone's and that team's."""
    stmt = select(CannedResponse).where(CannedResponse.workspace_id == workspace_id)
    if team_id is None:
        stmt = stmt.where(CannedResponse.team_id.is_(None))
    else:
        stmt = stmt.where(or_(CannedResponse.team_id.is_(None), CannedResponse.team_id == team_id))
    return (await session.execute(stmt.order_by(CannedResponse.shortcut).limit(limit))).scalars().all()
