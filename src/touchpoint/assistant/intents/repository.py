"""Every query of intents and model versions; each one filters on the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import AssistantModel, Intent, Workspace


async def intents_of(session: AsyncSession, workspace_id: int) -> Sequence[Intent]:
    return (await session.execute(
        select(Intent).where(Intent.workspace_id == workspace_id).order_by(Intent.name))).scalars().all()


async def access_intent(session: AsyncSession, workspace_id: int, name: str) -> Intent | None:
    return (await session.execute(
        select(Intent).where(Intent.workspace_id == workspace_id, Intent.name == name))).scalar_one_or_none()


async def access_workspace(session: AsyncSession, workspace_id: int) -> Workspace | None:
    return await session.get(Workspace, workspace_id)


async def models_of(session: AsyncSession, workspace_id: int, limit: int = 100) -> Sequence[AssistantModel]:
    return (await session.execute(
        select(AssistantModel).where(AssistantModel.workspace_id == workspace_id)
        .order_by(AssistantModel.id.desc()).limit(limit))).scalars().all()


async def access_model(session: AsyncSession, workspace_id: int, version: str) -> AssistantModel | None:
    return (await session.execute(
        select(AssistantModel).where(AssistantModel.workspace_id == workspace_id, AssistantModel.version == version)
    )).scalar_one_or_none()


async def active_model(session: AsyncSession, workspace_id: int) -> AssistantModel | None:
    return (await session.execute(
        select(AssistantModel).where(AssistantModel.workspace_id == workspace_id, AssistantModel.is_active.is_(True))
        .order_by(AssistantModel.id.desc()).limit(1))).scalar_one_or_none()


async def ready_before(session: AsyncSession, workspace_id: int, model_id: int) -> AssistantModel | None:
    """The newest ready version older than `model_id` (what a rollback returns to)."""
    return (await session.execute(
        select(AssistantModel).where(AssistantModel.workspace_id == workspace_id, AssistantModel.status == "ready",
                                     AssistantModel.id < model_id)
        .order_by(AssistantModel.id.desc()).limit(1))).scalar_one_or_none()


async def deactivate_models(session: AsyncSession, workspace_id: int) -> None:
    await session.execute(
        update(AssistantModel).where(AssistantModel.workspace_id == workspace_id,
                                     AssistantModel.is_active.is_(True))
        .values(is_active=False).execution_options(synchronize_session=False))
