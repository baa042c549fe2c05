"""Helpers for /api/v1 tests: API keys made the way the product makes them, and workspace look-ups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from tests.support.harness import Harness
from tests.support.servers import eventually
from touchpoint.models import AuditEntry, ChannelAccount, Conversation, Team, Workspace
from touchpoint.workspaces import repository as workspaces_repo
from touchpoint.workspaces import service as workspaces


@dataclass
class Api:
    """An HTTP client bound to one API key."""

    h: Harness
    key: str
    key_id: int

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}", **(extra or {})}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.h.client.get(f"{self.h.base_url}/api/v1{path}", params=params, headers=self.headers())

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.h.client.post(f"{self.h.base_url}/api/v1{path}", json=body, headers=self.headers(headers))

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.h.client.patch(f"{self.h.base_url}/api/v1{path}", json=body, headers=self.headers())


async def api_for(h: Harness, workspace_id: int | None = None, name: str = "tests") -> Api:
    async with h.runtime.transaction() as session:
        workspace = await session.get(Workspace, workspace_id or h.workspace_id)
        assert workspace is not None
        key, plaintext = await workspaces.create_api_key(session, workspace=workspace, name=name)
    return Api(h, plaintext, key.id)


async def other_workspace(h: Harness) -> int:
    """A second tenant with its own agent and team, to prove nothing leaks between workspaces."""
    async with h.runtime.transaction() as session:
        workspace = await workspaces.create_workspace(session, h.runtime.box, slug="other-brand", name="Other")
        await workspaces.add_agent(session, workspace=workspace, email="eve@other.example", name="Eve Other",
                                   password="other-password-1")
        await workspaces.add_team(session, workspace=workspace, slug="service", name="Service")
        return workspace.id


async def agent_id(h: Harness, email: str, workspace_id: int | None = None) -> int:
    async with h.runtime.sessionmaker() as session:
        agent = await workspaces_repo.agent_by_email(session, email, workspace_id or h.workspace_id)
        assert agent is not None
        return agent.id


async def one(h: Harness, model: Any, *where: Any) -> Any:
    async with h.runtime.sessionmaker() as session:
        return (await session.execute(select(model).where(*where).order_by(model.id).limit(1))).scalar_one_or_none()


async def team_id(h: Harness, slug: str, workspace_id: int | None = None) -> int:
    team = await one(h, Team, Team.slug == slug, Team.workspace_id == (workspace_id or h.workspace_id))
    return int(team.id)


async def audit_entries(h: Harness, action: str) -> list[AuditEntry]:
    async with h.runtime.sessionmaker() as session:
        return list((await session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))).scalars())


async def api_conversation(h: Harness, sender: str = "user-1", text: str = "hello there") -> Conversation:
    """A conversation on the harness's custom API channel, opened the real way: a signed webhook."""
    response = await h.say(sender, text)
    assert response.status_code == 200, response.text
    async with h.runtime.sessionmaker() as session:
        account = await workspaces_repo.account_by_key(session, h.account_key)
        assert isinstance(account, ChannelAccount)
        account_id = account.id

    async def opened() -> Conversation | None:
        return next((c for c in await h.conversations() if c.channel_account_id == account_id), None)

    conversation: Conversation = await eventually(opened)
    return conversation

