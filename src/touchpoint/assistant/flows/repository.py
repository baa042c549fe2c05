"""Every query of flows, flow sessions, action calls and payment requests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import FlowDefinition, FlowSession, PaymentRequest

OPEN_SESSION_STATUSES = ("active", "waiting_action", "waiting_approval")


async def active_flow(session: AsyncSession, workspace_id: int, name: str) -> FlowDefinition | None:
    return (await session.execute(
        select(FlowDefinition).where(FlowDefinition.workspace_id == workspace_id, FlowDefinition.name == name,
                                     FlowDefinition.is_active.is_(True))
        .order_by(FlowDefinition.version.desc()).limit(1)
    )).scalar_one_or_none()


async def flow_version(session: AsyncSession, workspace_id: int, name: str, version: int) -> FlowDefinition | None:
    return (await session.execute(
        select(FlowDefinition).where(FlowDefinition.workspace_id == workspace_id, FlowDefinition.name == name,
                                     FlowDefinition.version == version)
    )).scalar_one_or_none()


async def flow_versions(session: AsyncSession, workspace_id: int, name: str) -> Sequence[FlowDefinition]:
    return (await session.execute(
        select(FlowDefinition).where(FlowDefinition.workspace_id == workspace_id, FlowDefinition.name == name)
        .order_by(FlowDefinition.version)
    )).scalars().all()


async def active_flows(session: AsyncSession, workspace_id: int) -> Sequence[FlowDefinition]:
    return (await session.execute(
        select(FlowDefinition).where(FlowDefinition.workspace_id == workspace_id, FlowDefinition.is_active.is_(True))
        .order_by(FlowDefinition.name)
    )).scalars().all()


async def latest_version_number(session: AsyncSession, workspace_id: int, name: str) -> int:
    value = (await session.execute(
        select(func.max(FlowDefinition.version)).where(FlowDefinition.workspace_id == workspace_id,
                                                       FlowDefinition.name == name)
    )).scalar()
    return int(value or 0)


async def deactivate_flow(session: AsyncSession, workspace_id: int, name: str) -> int:
    result = await session.execute(
        update(FlowDefinition).where(FlowDefinition.workspace_id == workspace_id, FlowDefinition.name == name,
                                     FlowDefinition.is_active.is_(True))
        .values(is_active=False).execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0) or 0)


async def flow_by_id(session: AsyncSession, flow_id: int) -> FlowDefinition | None:
    return await session.get(FlowDefinition, flow_id)


async def open_session(session: AsyncSession, conversation_id: int) -> FlowSession | None:
    return (await session.execute(
        select(FlowSession).where(FlowSession.conversation_id == conversation_id,
                                  FlowSession.status.in_(OPEN_SESSION_STATUSES))
        .order_by(FlowSession.id.desc()).limit(1)
    )).scalar_one_or_none()


async def access_payment(session: AsyncSession, workspace_id: int, request_id: int) -> PaymentRequest | None:
    return (await session.execute(
        select(PaymentRequest).where(PaymentRequest.workspace_id == workspace_id, PaymentRequest.id == request_id)
    )).scalar_one_or_none()


async def payments_of(session: AsyncSession, workspace_id: int, *, status: str | None,
                      limit: int) -> Sequence[PaymentRequest]:
    stmt = select(PaymentRequest).where(PaymentRequest.workspace_id == workspace_id)
    if status:
        stmt = stmt.where(PaymentRequest.status == status)
    return (await session.execute(stmt.order_by(PaymentRequest.id.desc()).limit(limit))).scalars().all()


async def decide_payment(session: AsyncSession, request: PaymentRequest, *, status: str, agent_id: int,
                         at: object, note: str | None) -> bool:
    """Atomic: only a pending request can be decided, once (two agents clicking at once: one wins)."""
    result = await session.execute(
        update(PaymentRequest).where(PaymentRequest.id == request.id,
                                     PaymentRequest.status == "pending_approval")
        .values(status=status, decided_by=agent_id, decided_at=at, note=note)
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        return False
    await session.refresh(request)
    return True
