"""A running Touchpoint (real server on loopback, real database) with one workspace, a custom API channel
whose outbound endpoint is a local fake brand, and helpers to drive it like a provider would."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from tests.support.fake_brand import FakeBrand
from tests.support.servers import serve_asgi
from touchpoint.app import create_app
from touchpoint.channels.api.adapter import sign
from touchpoint.config import Settings
from touchpoint.demo import ensure_demo
from touchpoint.models import Conversation, Message
from touchpoint.runtime import Runtime
from touchpoint.workspaces import service as workspaces

API_SECRET = "brand-shared-secret-for-tests"


@dataclass
class Harness:
    base_url: str
    app: Any
    brand: FakeBrand
    account_key: str
    workspace_id: int
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime  # type: ignore[no-any-return]

    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/api/{self.account_key}"

    async def post_events(self, events: list[dict[str, Any]], *, secret: str = API_SECRET,
                          timestamp: int | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        body = json.dumps({"events": events}).encode()
        ts = timestamp or int(time.time())
        all_headers = {"content-type": "application/json", "x-touchpoint-timestamp": str(ts),
                       "x-touchpoint-signature": sign(secret, ts, body)}
        all_headers.update(headers or {})
        return await self.client.post(self.webhook_url(), content=body, headers=all_headers)

    async def say(self, sender: str, text: str, *, event_id: str | None = None) -> httpx.Response:
        return await self.post_events([{"type": "message", "id": event_id or uuid.uuid4().hex,
                                         "from": {"id": sender, "name": sender.title()}, "text": text}])

    async def messages(self, conversation_id: int | None = None) -> list[Message]:
        async with self.runtime.sessionmaker() as session:
            stmt = select(Message).order_by(Message.id)
            if conversation_id:
                stmt = stmt.where(Message.conversation_id == conversation_id)
            return list((await session.execute(stmt)).scalars())

    async def conversations(self) -> list[Conversation]:
        async with self.runtime.sessionmaker() as session:
            return list((await session.execute(select(Conversation).order_by(Conversation.id))).scalars())


@contextlib.asynccontextmanager
async def running(settings: Settings, *, brand: FakeBrand | None = None, run_background: bool = True,
                  account_settings: dict[str, Any] | None = None) -> AsyncIterator[Harness]:
    brand = brand or FakeBrand(secret=API_SECRET)
    async with serve_asgi(brand.app()) as brand_url:
        app = create_app(settings, run_background=run_background, demo=True)
        async with serve_asgi(app) as base_url:
            runtime: Runtime = app.state.runtime
            async with runtime.transaction() as session:
                info = await ensure_demo(session, runtime.box, brand_url=f"{base_url}/demo-brand")
                workspace = await session.get(__import__("touchpoint.models", fromlist=["Workspace"]).Workspace,
                                              info.workspace_id)
                assert workspace is not None
                account = await workspaces.add_channel_account(
                    session, runtime.box, workspace=workspace, channel="api", name="Brand app",
                    credentials={"secret": API_SECRET},
                    settings={"outbound_url": f"{brand_url}/inbox", **(account_settings or {})})
                key = account.key
            async with httpx.AsyncClient(timeout=10) as client:
                yield Harness(base_url, app, brand, key, info.workspace_id, client)
