"""Workspace-level queries: workspaces, channel accounts, agents, teams, API keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import Agent, ApiKey, ChannelAccount, Team, TeamMember, Workspace


async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace | None:
    return (await session.execute(select(Workspace).where(Workspace.slug == slug))).scalar_one_or_none()


async def account_by_key(session: AsyncSession, key: str) -> ChannelAccount | None:
    return (await session.execute(
        select(ChannelAccount).where(ChannelAccount.key == key, ChannelAccount.is_active.is_(True))
    )).scalar_one_or_none()


async def accounts_of(session: AsyncSession, workspace_id: int, channel: str | None = None) -> Sequence[ChannelAccount]:
    stmt = select(ChannelAccount).where(ChannelAccount.workspace_id == workspace_id)
    if channel:
        stmt = stmt.where(ChannelAccount.channel == channel)
    return (await session.execute(stmt.order_by(ChannelAccount.id))).scalars().all()


async def agent_by_email(session: AsyncSession, email: str, workspace_id: int | None = None) -> Agent | None:
    stmt = select(Agent).where(Agent.email == email.strip().lower())
    if workspace_id is not None:
        stmt = stmt.where(Agent.workspace_id == workspace_id)
    return (await session.execute(stmt.order_by(Agent.id).limit(1))).scalar_one_or_none()


async def access_agent(session: AsyncSession, workspace_id: int, agent_id: int) -> Agent | None:
    return (await session.execute(
        select(Agent).where(Agent.id == agent_id, Agent.workspace_id == workspace_id))).scalar_one_or_none()


async def agents_of(session: AsyncSession, workspace_id: int) -> Sequence[Agent]:
    return (await session.execute(
        select(Agent).where(Agent.workspace_id == workspace_id).order_by(Agent.name))).scalars().all()


async def access_team(session: AsyncSession, workspace_id: int, team_id: int) -> Team | None:
    return (await session.execute(
        select(Team).where(Team.id == team_id, Team.workspace_id == workspace_id))).scalar_one_or_none()


async def teams_of(session: AsyncSession, workspace_id: int) -> Sequence[Team]:
    return (await session.execute(
        select(Team).where(Team.workspace_id == workspace_id).order_by(Team.name))).scalars().all()


async def team_ids_of_agent(session: AsyncSession, agent_id: int) -> list[int]:
    return list((await session.execute(
        select(TeamMember.team_id).where(TeamMember.agent_id == agent_id))).scalars())


async def api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return (await session.execute(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))).scalar_one_or_none()
