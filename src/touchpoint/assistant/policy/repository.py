"""Every query of the escalation policy's versions and of the assistant's stored decisions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import AssistantDecision, EscalationPolicyVersion


async def active_version(session: AsyncSession, workspace_id: int) -> EscalationPolicyVersion | None:
    return (await session.execute(
        select(EscalationPolicyVersion)
        .where(EscalationPolicyVersion.workspace_id == workspace_id, EscalationPolicyVersion.is_active.is_(True))
        .order_by(EscalationPolicyVersion.version.desc()).limit(1))).scalar_one_or_none()


async def active_version_number(session: AsyncSession, workspace_id: int) -> int | None:
    return (await session.execute(
        select(EscalationPolicyVersion.version)
        .where(EscalationPolicyVersion.workspace_id == workspace_id, EscalationPolicyVersion.is_active.is_(True))
        .order_by(EscalationPolicyVersion.version.desc()).limit(1))).scalar_one_or_none()


async def version(session: AsyncSession, workspace_id: int, number: int) -> EscalationPolicyVersion | None:
    return (await session.execute(
        select(EscalationPolicyVersion).where(EscalationPolicyVersion.workspace_id == workspace_id,
                                              EscalationPolicyVersion.version == number))).scalar_one_or_none()


async def versions_of(session: AsyncSession, workspace_id: int) -> Sequence[EscalationPolicyVersion]:
    return (await session.execute(
        select(EscalationPolicyVersion).where(EscalationPolicyVersion.workspace_id == workspace_id)
        .order_by(EscalationPolicyVersion.version.desc()))).scalars().all()


async def latest_number(session: AsyncSession, workspace_id: int) -> int:
    return int((await session.execute(
        select(func.max(EscalationPolicyVersion.version))
        .where(EscalationPolicyVersion.workspace_id == workspace_id))).scalar() or 0)


async def deactivate_all(session: AsyncSession, workspace_id: int) -> None:
    await session.execute(
        update(EscalationPolicyVersion)
        .where(EscalationPolicyVersion.workspace_id == workspace_id, EscalationPolicyVersion.is_active.is_(True))
        .values(is_active=False).execution_options(synchronize_session="fetch"))


async def decisions_of(session: AsyncSession, workspace_id: int, conversation_id: int, *, limit: int = 100,
                       before_id: int | None = None) -> Sequence[AssistantDecision]:
    """Newest first."""
    stmt = select(AssistantDecision).where(AssistantDecision.workspace_id == workspace_id,
                                           AssistantDecision.conversation_id == conversation_id)
    if before_id is not None:
        stmt = stmt.where(AssistantDecision.id < before_id)
    return (await session.execute(stmt.order_by(AssistantDecision.id.desc()).limit(limit))).scalars().all()
