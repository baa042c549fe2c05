"""Driving the inbox like a browser does: sign in, read the CSRF token from the page, post forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from tests.support.harness import Harness
from touchpoint.contacts.service import resolve_identity
from touchpoint.conversations import service as conversations
from touchpoint.demo import DEMO_PASSWORD
from touchpoint.kit.clock import utcnow
from touchpoint.models import AuditEntry, Contact, Conversation
from touchpoint.workspaces import service as workspaces

MARIA = "maria@harbour.example"
SAM = "sam@harbour.example"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class AgentClient:
    http: httpx.AsyncClient
    csrf: str

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def act(self, path: str, data: dict[str, Any] | None = None, *, htmx: bool = True,
                  csrf: str | None = "session") -> httpx.Response:
        """POST an action as the page's HTMX does (token in the header) or as a plain form (hidden field)."""
        token = self.csrf if csrf == "session" else csrf
        headers = {"HX-Request": "true"} if htmx else {}
        form = dict(data or {})
        if token is not None:
            if htmx:
                headers["X-CSRF-Token"] = token
            else:
                form["csrf_token"] = token
        return await self.http.post(path, data=form, headers=headers)

    async def aclose(self) -> None:
        await self.http.aclose()


def new_browser(h: Harness) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=h.base_url, timeout=10, follow_redirects=False)


async def login_form_token(http: httpx.AsyncClient) -> str:
    page = await http.get("/login")
    assert page.status_code == 200, page.text
    match = CSRF_INPUT.search(page.text)
    assert match, "login form has no CSRF field"
    return match.group(1)


async def post_login(http: httpx.AsyncClient, email: str, password: str, **extra: str) -> httpx.Response:
    token = await login_form_token(http)
    return await http.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})


async def sign_in(h: Harness, email: str = MARIA, password: str = DEMO_PASSWORD) -> AgentClient:
    http = new_browser(h)
    response = await post_login(http, email, password)
    assert response.status_code == 303, response.text
    inbox = await http.get("/inbox")
    assert inbox.status_code == 200, inbox.text
    match = CSRF_INPUT.search(inbox.text)
    assert match
    return AgentClient(http, match.group(1))


async def conversation_of(h: Harness, name: str) -> Conversation:
    async with h.runtime.sessionmaker() as session:
        row = (await session.execute(
            select(Conversation).join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.name == name, Conversation.workspace_id == h.workspace_id)
            .order_by(Conversation.id.desc()).limit(1))).scalar_one()
        return row


async def reload(h: Harness, conversation_id: int) -> Conversation:
    async with h.runtime.sessionmaker() as session:
        row = await session.get(Conversation, conversation_id)
        assert row is not None
        return row


async def audit_actions(h: Harness, conversation_id: int) -> list[AuditEntry]:
    async with h.runtime.sessionmaker() as session:
        return list((await session.execute(
            select(AuditEntry).where(AuditEntry.subject_type == "conversation",
                                     AuditEntry.subject_id == conversation_id).order_by(AuditEntry.id))).scalars())


async def other_workspace_conversation(h: Harness) -> int:
    """A conversation in a second workspace, which Harbour Stays agents must never reach."""
    async with h.runtime.transaction() as session:
        workspace = await workspaces.create_workspace(session, h.runtime.box, slug="elsewhere", name="Elsewhere Inc")
        account = await workspaces.add_channel_account(session, h.runtime.box, workspace=workspace,
                                                       channel="webchat", name="Chat", key="elsewhere-widget")
        await workspaces.add_agent(session, workspace=workspace, email="eve@elsewhere.example", name="Eve Other",
                                   password="elsewhere-pass-2026")
        contact, _ = await resolve_identity(session, workspace_id=workspace.id, channel_account_id=account.id,
                                            external_id="v-1", profile={"name": "Secret Customer"})
        conversation, _ = await conversations.get_or_open(session, contact=contact, channel_account_id=account.id,
                                                          now=utcnow())
        await conversations.store_inbound(session, conversation=conversation, text="private matter", content={},
                                          external_id="e-1", now=utcnow())
        return conversation.id
