"""The timer loop and the conversation timers it fires (snooze wake-up).

Each domain registers handlers for its own timer kinds (see background.timer_handlers); the worker claims
only kinds it has a handler for, so a kind with its own loop (model training, which must not run inside a
transaction) is never taken by this one. A handler runs inside the claiming transaction: quick database
work only, never a network call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.conversations.service import announce_change
from touchpoint.db import queue
from touchpoint.kit.clock import utcnow
from touchpoint.models import Conversation, ConversationStatus, Timer
from touchpoint.runtime import Runtime, wake_after_commit
from touchpoint.workspaces.audit import Actor, record_audit

log = logging.getLogger(__name__)
SNOOZE = "snooze_wake"
TimerHandler = Callable[[AsyncSession, Timer, datetime], Awaitable[None]]


async def snooze(session: AsyncSession, *, conversation: Conversation, until: datetime, actor: Actor) -> None:
    await cancel_snooze(session, conversation)
    conversation.status = ConversationStatus.snoozed.value
    conversation.snoozed_until = until
    session.add(Timer(workspace_id=conversation.workspace_id, kind=SNOOZE, subject_id=conversation.id,
                      lane=f"t{conversation.id}", available_at=until))
    record_audit(session, workspace_id=conversation.workspace_id, actor=actor, action="conversation.snooze",
                 subject_type="conversation", subject_id=conversation.id, until=until.isoformat())
    wake_after_commit(session, "timers")
    await session.flush()
    announce_change(session, conversation, "snoozed")


async def cancel_snooze(session: AsyncSession, conversation: Conversation) -> None:
    await session.execute(delete(Timer).where(Timer.kind == SNOOZE, Timer.subject_id == conversation.id,
                                              Timer.status == queue.PENDING))


class TimerWorker:
    def __init__(self, runtime: Runtime, owner: str, handlers: Mapping[str, TimerHandler]) -> None:
        self.runtime = runtime
        self.owner = owner
        self.handlers = dict(handlers)

    async def run_once(self) -> int:
        async with self.runtime.transaction() as session:
            now = utcnow()
            timers = await queue.claim(session, Timer, owner=self.owner, now=now, lease_seconds=60, limit=100,
                                       where=Timer.kind.in_(self.handlers))
            for timer in timers:
                await self.handlers[timer.kind](session, timer, now)
                await queue.complete(session, Timer, timer.id, owner=self.owner)
        return len(timers)


def snooze_handlers() -> dict[str, TimerHandler]:
    return {SNOOZE: wake_snoozed}


async def wake_snoozed(session: AsyncSession, timer: Timer, now: datetime) -> None:
    if timer.subject_id is None:
        return
    conversation = await session.get(Conversation, timer.subject_id)
    if conversation is None or conversation.status != ConversationStatus.snoozed.value:
        return
    conversation.status = (ConversationStatus.assigned if conversation.agent_id
                           else ConversationStatus.queued).value
    conversation.snoozed_until = None
    announce_change(session, conversation, "unsnoozed")
