"""Creating and configuring workspaces: channel accounts, agents, teams, API keys, secrets."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.channels.registry import get_adapter
from touchpoint.kit.errors import AppError, Conflict
from touchpoint.kit.passwords import hash_password
from touchpoint.kit.secrets import SecretBox, new_token, sha256_hex
from touchpoint.models import Agent, ApiKey, ChannelAccount, Role, Team, TeamMember, Workspace
from touchpoint.workspaces import repository

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


async def create_workspace(session: AsyncSession, box: SecretBox, *, slug: str, name: str,
                           timezone: str = "UTC", settings: dict[str, Any] | None = None) -> Workspace:
    if not SLUG.match(slug):
        raise AppError("slug: 2-63 lowercase letters, digits and dashes", code="invalid_slug")
    if await repository.workspace_by_slug(session, slug):
        raise Conflict(f"workspace {slug!r} exists", code="workspace_exists")
    workspace = Workspace(slug=slug, name=name, timezone=timezone, settings=settings or {},
                          secrets_sealed=box.seal({"widget_secret": new_token(nbytes=32)}))
    session.add(workspace)
    await session.flush()
    return workspace


def widget_secret(box: SecretBox, workspace: Workspace) -> str:
    return str(box.open(workspace.secrets_sealed).get("widget_secret", ""))


async def add_channel_account(session: AsyncSession, box: SecretBox, *, workspace: Workspace, channel: str,
                              name: str, credentials: dict[str, Any] | None = None,
                              settings: dict[str, Any] | None = None, key: str | None = None) -> ChannelAccount:
    if get_adapter(channel) is None:
        raise AppError(f"unknown channel {channel!r}", code="unknown_channel")
    account = ChannelAccount(workspace_id=workspace.id, channel=channel, name=name, key=key or new_token(nbytes=12),
                             credentials_sealed=box.seal(credentials or {}), settings=settings or {})
    session.add(account)
    await session.flush()
    return account


async def add_agent(session: AsyncSession, *, workspace: Workspace, email: str, name: str, password: str,
                    role: Role = Role.agent, languages: str = "en") -> Agent:
    email = email.strip().lower()
    if await repository.agent_by_email(session, email, workspace.id):
        raise Conflict(f"agent {email} exists", code="agent_exists")
    if len(password) < 8:
        raise AppError("password: at least 8 characters", code="weak_password")
    agent = Agent(workspace_id=workspace.id, email=email, name=name, role=role.value,
                  password_hash=hash_password(password), languages=languages)
    session.add(agent)
    await session.flush()
    return agent


async def add_team(session: AsyncSession, *, workspace: Workspace, slug: str, name: str) -> Team:
    team = Team(workspace_id=workspace.id, slug=slug, name=name)
    session.add(team)
    await session.flush()
    return team


async def add_member(session: AsyncSession, *, team: Team, agent: Agent, lead: bool = False) -> None:
    session.add(TeamMember(team_id=team.id, agent_id=agent.id, workspace_id=team.workspace_id, is_lead=lead))
    await session.flush()


async def create_api_key(session: AsyncSession, *, workspace: Workspace, name: str) -> tuple[ApiKey, str]:
    """Returns the row and the plaintext key, which is shown once and stored only as a hash."""
    plaintext = new_token("tp_", 30)
    key = ApiKey(workspace_id=workspace.id, name=name, prefix=plaintext[:10], key_hash=sha256_hex(plaintext))
    session.add(key)
    await session.flush()
    return key, plaintext
