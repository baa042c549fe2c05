"""Driving the widget endpoints like widget.js does: sessions, sends, transcripts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from tests.support.harness import Harness
from touchpoint.demo import WIDGET_KEY
from touchpoint.models import Message, Workspace
from touchpoint.widget.accounts import forget_accounts
from touchpoint.widget.tokens import user_hash
from touchpoint.workspaces.service import widget_secret


async def start_session(h: Harness, **body: Any) -> httpx.Response:
    return await h.client.post(f"{h.base_url}/widget/v1/session", json={"account": WIDGET_KEY, **body})


async def session_token(h: Harness, **body: Any) -> tuple[str, dict[str, Any]]:
    response = await start_session(h, **body)
    assert response.status_code == 200, response.text
    data = response.json()
    return data["session_token"], data


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def send(h: Harness, token: str, text: str, client_id: str | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response:
    return await h.client.post(f"{h.base_url}/widget/v1/messages",
                               json={"client_id": client_id or str(uuid.uuid4()), "text": text},
                               headers={**bearer(token), **(headers or {})})


async def transcript(h: Harness, token: str, after: int | None = None) -> dict[str, Any]:
    params = {"after": after} if after else None
    response = await h.client.get(f"{h.base_url}/widget/v1/messages", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


async def demo_user_hash(h: Harness, user_id: str) -> str:
    async with h.runtime.sessionmaker() as session:
        workspace = await session.get(Workspace, h.workspace_id)
        assert workspace is not None
        return user_hash(widget_secret(h.runtime.box, workspace), user_id)


async def set_widget_policy(h: Harness, **policy: Any) -> None:
    async with h.runtime.transaction() as session:
        workspace = await session.get(Workspace, h.workspace_id)
        assert workspace is not None
        settings = dict(workspace.settings or {})
        settings["widget"] = {**settings.get("widget", {}), **policy}
        workspace.settings = settings
    forget_accounts(h.runtime)


async def messages_with_text(h: Harness, text: str) -> list[Message]:
    async with h.runtime.sessionmaker() as session:
        return list((await session.execute(
            select(Message).where(Message.text == text).order_by(Message.id))).scalars())


def bot_replies(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in data["messages"] if m["direction"] == "out" and m["sender"] == "bot"]
