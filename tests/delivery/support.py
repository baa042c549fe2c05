"""Helpers for the delivery tests: conversations on the custom API channel, queueing through the real
send path, reading the outbox, and `touchpoint worker` processes against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from tests.support.fake_brand import FakeBrand
from tests.support.harness import API_SECRET, Harness
from tests.support.servers import eventually
from touchpoint.config import Settings
from touchpoint.contacts.service import resolve_identity
from touchpoint.conversations.service import get_or_open
from touchpoint.delivery.outbound import lane_for_conversation, queue_message
from touchpoint.kit.clock import utcnow
from touchpoint.models import ChannelAccount, Conversation, Direction, Message, MessageStatus, OutboxItem, Workspace
from touchpoint.policy.gate import Purpose
from touchpoint.workspaces import service as workspaces

# Far above anything the tests send, so the account's rate limit never paces them.
UNLIMITED = {"rate_per_second": 100_000, "rate_burst": 1_000}


@dataclass
class CountingBrand(FakeBrand):
    """The fake brand, also counting requests as they arrive (before its delay and scripted answers),
    so a test can tell that sends are in flight and how often the brand was asked."""

    started: int = 0
    started_texts: list[str] = field(default_factory=list)

    def app(self) -> Any:
        inner = super().app()

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.started += 1
            await inner(scope, receive, send)

        return asgi

    def arrivals(self) -> Counter[str]:
        """How many times each outbound id (our idempotency key) arrived."""
        return Counter(m["id"] for m in self.received)

    def first_arrival_order(self) -> dict[int, list[str]]:
        """Per conversation, texts in the order their first copy arrived."""
        seen: set[str] = set()
        order: dict[int, list[str]] = defaultdict(list)
        for m in self.received:
            if m["id"] not in seen:
                seen.add(m["id"])
                order[m["conversation_id"]].append(m["text"])
        return dict(order)


async def api_account(h: Harness) -> ChannelAccount:
    async with h.runtime.sessionmaker() as session:
        account = (await session.execute(
            select(ChannelAccount).where(ChannelAccount.key == h.account_key))).scalar_one()
        return account


async def open_conversations(h: Harness, count: int, prefix: str = "cust", account_id: int | None = None) -> list[int]:
    """Open `count` conversations with distinct customers on the custom API channel (the harness's account
    unless `account_id` names another)."""
    if account_id is None:
        account_id = (await api_account(h)).id
    ids = []
    async with h.runtime.transaction() as session:
        for i in range(count):
            contact, _ = await resolve_identity(session, workspace_id=h.workspace_id,
                                                channel_account_id=account_id, external_id=f"{prefix}-{i}",
                                                profile={})
            conversation, _ = await get_or_open(session, contact=contact, channel_account_id=account_id,
                                                now=utcnow())
            ids.append(conversation.id)
    return ids


async def another_api_account(h: Harness, **settings: Any) -> ChannelAccount:
    """A second custom API account of the workspace, sending to the same fake brand."""
    first = await api_account(h)
    async with h.runtime.transaction() as session:
        workspace = await session.get(Workspace, h.workspace_id)
        assert workspace is not None
        return await workspaces.add_channel_account(
            session, h.runtime.box, workspace=workspace, channel="api", name="Second brand app",
            credentials={"secret": API_SECRET}, settings={"outbound_url": first.settings["outbound_url"], **settings})


async def queue_texts(h: Harness, plan: list[tuple[int, str]]) -> list[int]:
    """Queue (conversation id, text) pairs in this order, in one transaction; returns message ids."""
    message_ids = []
    async with h.runtime.transaction() as session:
        conversations = {c.id: c for c in (await session.execute(
            select(Conversation).where(Conversation.id.in_({cid for cid, _ in plan})))).scalars()}
        for conversation_id, text in plan:
            message = await queue_message(session, conversation=conversations[conversation_id], text=text,
                                          sender_kind="bot", purpose=Purpose.service)
            message_ids.append(message.id)
    return message_ids


def interleaved_plan(conversation_ids: list[int], per_conversation: int) -> list[tuple[int, str]]:
    """Round-robin over conversations: m0 of each, then m1 of each... Texts name their place."""
    return [(cid, f"c{cid}-m{n:04d}") for n in range(per_conversation) for cid in conversation_ids]


def expected_order(plan: list[tuple[int, str]]) -> dict[int, list[str]]:
    order: dict[int, list[str]] = defaultdict(list)
    for cid, text in plan:
        order[cid].append(text)
    return dict(order)


async def outbox(h: Harness) -> list[OutboxItem]:
    async with h.runtime.sessionmaker() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def outbox_row(h: Harness, message_id: int) -> OutboxItem:
    async with h.runtime.sessionmaker() as session:
        return (await session.execute(select(OutboxItem).where(OutboxItem.message_id == message_id))).scalar_one()


async def message(h: Harness, message_id: int) -> Message:
    async with h.runtime.sessionmaker() as session:
        found = await session.get(Message, message_id)
        assert found is not None
        return found


async def all_finished(h: Harness) -> list[OutboxItem] | None:
    """The whole outbox once no row is pending or leased. Polls with a count: the test process also
    serves the fake brand, and loading thousands of rows every few milliseconds would starve it."""
    async with h.runtime.sessionmaker() as session:
        total, unfinished = (await session.execute(select(
            func.count(OutboxItem.id),
            func.count(OutboxItem.id).filter(OutboxItem.status.in_(("pending", "leased")))))).one()
    if not total or unfinished:
        return None
    return await outbox(h)


async def bulk_queue(h: Harness, plan: list[tuple[int, str]]) -> None:
    """Thousands of queued messages in two statements, shaped as queue_message shapes them (used where
    the subject is the dispatcher, not the send gate, and queueing one by one would dominate the run)."""
    now = utcnow()
    async with h.runtime.transaction() as session:
        conversations = {c.id: c for c in (await session.execute(
            select(Conversation).where(Conversation.id.in_({cid for cid, _ in plan})))).scalars()}
        message_rows = [{
            "workspace_id": conversations[cid].workspace_id, "conversation_id": cid,
            "channel_account_id": conversations[cid].channel_account_id, "direction": Direction.outbound.value,
            "sender_kind": "bot", "text": text, "content": {}, "purpose": Purpose.service.value,
            "topic": "service", "gate": {"action": "send", "reasons": []}, "status": MessageStatus.queued.value,
            "status_at": now, "created_at": now,
        } for cid, text in plan]
        ids = list((await session.execute(
            insert(Message).returning(Message.id, sort_by_parameter_order=True), message_rows)).scalars())
        await session.execute(insert(OutboxItem), [{
            "workspace_id": row["workspace_id"], "message_id": message_id,
            "channel_account_id": row["channel_account_id"], "lane": lane_for_conversation(row["conversation_id"]),
            "status": "pending", "available_at": now, "attempts": 0, "idempotency_key": uuid.uuid4().hex,
            "created_at": now,
        } for row, message_id in zip(message_rows, ids, strict=True)])


async def make_due_now(h: Harness, message_id: int) -> None:
    """Stand-in for the clock passing: a row waiting for its retry time becomes due at once."""
    async with h.runtime.transaction() as session:
        await session.execute(update(OutboxItem).where(OutboxItem.message_id == message_id,
                                                       OutboxItem.status == "pending")
                              .values(available_at=utcnow()))
    h.runtime.wake("outbox")


async def wait_for_row(h: Harness, message_id: int, predicate: Any, timeout: float = 15.0) -> OutboxItem:
    async def check() -> OutboxItem | None:
        row = await outbox_row(h, message_id)
        return row if predicate(row) else None

    return await eventually(check, timeout=timeout)  # type: ignore[no-any-return]


async def finished(h: Harness, timeout: float) -> list[OutboxItem]:
    return await eventually(lambda: all_finished(h), timeout=timeout, interval=0.2)  # type: ignore[no-any-return]


def seconds_between(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


# ---- worker processes ----------------------------------------------------------------------------

TOUCHPOINT_BIN = Path(sys.executable).parent / "touchpoint"


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a `touchpoint worker` on the test's database, nothing inherited from ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env |= {
        "TOUCHPOINT_ENVIRONMENT": "test",
        "TOUCHPOINT_SECRET_KEY": settings.secret_key,
        "TOUCHPOINT_ALLOW_PRIVATE_URLS": "true",
        "TOUCHPOINT_DISPATCH_IDLE_POLL_SECONDS": "0.2",
        # Unbuffered, and wide enough that Rich does not wrap the "running" line we wait for.
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "300",
    }
    if settings.is_sqlite:
        env["TOUCHPOINT_DATA_DIR"] = str(settings.data_dir)
    else:
        assert settings.database_url and settings.database_schema
        env["TOUCHPOINT_DATABASE_URL"] = settings.database_url
        env["TOUCHPOINT_DATABASE_SCHEMA"] = settings.database_schema
    env |= overrides
    return env


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def is_ready(self) -> bool:
        return "running; Ctrl-C to stop" in self.log()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(settings: Settings, workdir: Path, name: str, **env: str) -> WorkerProcess:
    log_path = workdir / f"worker-{name}.log"
    with log_path.open("wb") as log_file:
        # cwd is a scratch directory so no stray .env file configures the worker.
        process = subprocess.Popen([str(TOUCHPOINT_BIN), "worker"], cwd=workdir, env=worker_env(settings, **env),
                                   stdout=log_file, stderr=subprocess.STDOUT)
    return WorkerProcess(process, log_path)


async def wait_ready(*workers: WorkerProcess, timeout: float = 20.0) -> None:
    def ready() -> bool:
        for worker in workers:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker exited with {worker.process.returncode}:\n{worker.log()}")
        return all(worker.is_ready() for worker in workers)

    await eventually(ready, timeout=timeout)
