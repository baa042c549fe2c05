"""A small world for flow tests: a real database (SQLite or PostgreSQL) with one workspace, a service team,
an agent, a web chat account and one customer's conversation; helpers to talk to a flow and to run the
action worker until the brand's calls are done; a local fake brand server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from touchpoint.assistant.flows.runner import FlowContext, FlowOutcome, active_session, continue_flow, start_flow
from touchpoint.assistant.flows.service import import_flow
from touchpoint.config import Settings
from touchpoint.contacts.service import resolve_identity
from touchpoint.conversations import service as conversations
from touchpoint.conversations.action_worker import ActionWorker
from touchpoint.db.migrate import upgrade
from touchpoint.models import ActionCall, Conversation, FlowSession, Message, Workspace
from touchpoint.runtime import Runtime, build_runtime
from touchpoint.workspaces import service as workspaces

NOW = datetime(2026, 5, 6, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Lisbon


@dataclass
class World:
    runtime: Runtime
    workspace_id: int
    conversation_id: int
    contact_id: int
    agent_id: int
    now: datetime = NOW

    def ctx(self, intent: str | None = None) -> FlowContext:
        return FlowContext(self.workspace_id, self.conversation_id, self.contact_id, "Europe/Lisbon", self.now, intent)

    async def start(self, name: str, slots: dict[str, Any] | None = None) -> FlowOutcome:
        async with self.runtime.transaction() as session:
            return await start_flow(session, self.ctx(), name, slots)

    async def say(self, text: str, *, intent: str | None = None) -> FlowOutcome:
        async with self.runtime.transaction() as session:
            flow_session = await active_session(session, self.conversation_id)
            assert flow_session is not None, "no flow is running"
            return await continue_flow(session, self.ctx(intent), flow_session, text)

    async def flow_session(self) -> FlowSession:
        async with self.runtime.sessionmaker() as session:
            return (await session.execute(select(FlowSession).where(
                FlowSession.conversation_id == self.conversation_id).order_by(FlowSession.id.desc()))).scalars().first()

    async def calls(self) -> list[ActionCall]:
        async with self.runtime.sessionmaker() as session:
            return list((await session.execute(select(ActionCall).order_by(ActionCall.id))).scalars())

    async def bot_texts(self) -> list[str]:
        """What was queued for the customer (bot and system messages), in order."""
        async with self.runtime.sessionmaker() as session:
            rows = (await session.execute(select(Message).where(
                Message.conversation_id == self.conversation_id, Message.direction == "out")
                .order_by(Message.id))).scalars().all()
        return [m.text for m in rows]

    async def conversation(self) -> Conversation:
        async with self.runtime.sessionmaker() as session:
            conversation = await session.get(Conversation, self.conversation_id)
            assert conversation is not None
            return conversation

    async def import_flow(self, source: str) -> None:
        async with self.runtime.transaction() as session:
            await import_flow(session, workspace_id=self.workspace_id, source=source)

    async def set_flow_settings(self, **values: Any) -> None:
        async with self.runtime.transaction() as session:
            workspace = await session.get(Workspace, self.workspace_id)
            assert workspace is not None
            workspace.settings = {**(workspace.settings or {}), "flows": values}

    async def run_actions(self, worker: ActionWorker | None = None, *, timeout: float = 15.0) -> None:
        """Run the action worker until no call is pending or leased (retries come back after their backoff)."""
        worker = worker or ActionWorker(self.runtime, "test-worker", backoff_base=0.01)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not await worker.run_once():
                calls = await self.calls()
                if all(c.status in ("done", "failed") for c in calls):
                    return
                await asyncio.sleep(0.02)
        raise AssertionError("action calls still pending")


@contextlib.asynccontextmanager
async def world(settings: Settings, *flows: str, **flow_settings: Any) -> AsyncIterator[World]:
    runtime = build_runtime(settings)
    await upgrade(runtime.engine)
    try:
        async with runtime.transaction() as session:
            workspace = await workspaces.create_workspace(session, runtime.box, slug="flow-hotel", name="Flow Hotel",
                                                          timezone="Europe/Lisbon")
            team = await workspaces.add_team(session, workspace=workspace, slug="service", name="Service")
            agent = await workspaces.add_agent(session, workspace=workspace, email="maria@flow.example",
                                               name="Maria Lopez", password="flow-password-1")
            await workspaces.add_member(session, team=team, agent=agent)
            account = await workspaces.add_channel_account(session, runtime.box, workspace=workspace,
                                                           channel="webchat", name="Chat", key="flow-chat")
            contact, _ = await resolve_identity(session, workspace_id=workspace.id, channel_account_id=account.id,
                                                external_id="visitor-flo", profile={"name": "Flo"})
            conversation, _ = await conversations.get_or_open(session, contact=contact,
                                                              channel_account_id=account.id, now=NOW)
            if flow_settings:
                workspace.settings = {**(workspace.settings or {}), "flows": flow_settings}
            for source in flows:
                await import_flow(session, workspace_id=workspace.id, source=source)
            ids = (workspace.id, conversation.id, contact.id, agent.id)
        yield World(runtime, *ids)
    finally:
        await runtime.close()


@dataclass
class FakeBrandApi:
    """The brand's HTTP actions, scripted: each path answers from its queue of (status, body, delay), the
    last entry repeating. Bodies that are not dicts/lists are sent as raw text."""

    script: dict[str, list[tuple[int, Any, float]]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    def on(self, path: str, *answers: tuple[int, Any] | tuple[int, Any, float]) -> None:
        self.script[path] = [(a[0], a[1], a[2] if len(a) > 2 else 0.0) for a in answers]  # type: ignore[misc]

    def hits(self, path: str) -> int:
        return sum(1 for r in self.received if r["path"] == path)

    def app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            body = await request.body()
            path = request.url.path
            self.received.append({"path": path, "method": request.method, "headers": dict(request.headers),
                                  "query": str(request.url.query), "json": json.loads(body) if body else None})
            answers = self.script.get(path) or [(404, {"error": "no such action"}, 0.0)]
            status, payload, delay = answers.pop(0) if len(answers) > 1 else answers[0]
            if delay:
                await asyncio.sleep(delay)
            if isinstance(payload, dict | list):
                return JSONResponse(payload, status_code=status)
            return PlainTextResponse(str(payload), status_code=status)

        return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
