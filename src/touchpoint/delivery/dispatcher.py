"""The dispatcher: claim due outbox rows in batches, respect rate limits, send through the adapter,
record the outcome. Delivery is at-least-once; each row carries an idempotency key for the provider.

Retries: transient failures (429, 5xx, timeouts) come back after max(Retry-After, exponential backoff
with jitter); permanent ones (window closed, blocked, misconfigured) fail at once with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.channels.base import (
    AccountContext,
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from touchpoint.channels.registry import get_adapter
from touchpoint.db import queue
from touchpoint.delivery.ratelimit import Limit, RateLimiter
from touchpoint.kit.clock import utcnow
from touchpoint.models import (
    ChannelAccount,
    ContactIdentity,
    Conversation,
    Message,
    MessageStatus,
    OutboxItem,
)
from touchpoint.realtime.events import conversation_topic, stage
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
# Waiting this long for a rate-limit slot is cheaper in the loop than a round trip through the table.
MAX_INLINE_WAIT = 2.0
DEFAULT_RATES = {"api": 50.0, "webchat": 200.0}


@dataclass(slots=True)
class Outcome:
    item: OutboxItem
    status: str  # sent | retry | failed | deferred
    provider_message_id: str | None = None
    error: str | None = None
    reason: str | None = None
    at: datetime | None = None


class DispatchContext:
    """What adapters get to send with (the SendContext protocol)."""

    def __init__(self, runtime: Runtime) -> None:
        self.http = runtime.http
        self.allow_private_urls = runtime.settings.allow_private_urls
        self._runtime = runtime

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self._runtime.publish(topic, event)


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    exponential = min(2 ** max(attempt - 1, 0), 300) * (0.5 + random.random())
    return max(retry_after or 0.0, exponential)


def limits_for(account: AccountContext, channel: str, recipient: str) -> list[Limit]:
    settings = account.settings
    per_second = float(settings.get("rate_per_second") or DEFAULT_RATES.get(channel, 20.0))
    limits = [Limit(f"acct:{account.id}", per_second, int(settings.get("rate_burst", 1)))]
    per_recipient = settings.get("recipient_per_second")
    if per_recipient:
        limits.append(Limit(f"rcpt:{account.id}:{recipient}", float(per_recipient), 1))
    return limits


class Dispatcher:
    def __init__(self, runtime: Runtime, limiter: RateLimiter, owner: str) -> None:
        self.runtime = runtime
        self.limiter = limiter
        self.owner = owner
        self.context = DispatchContext(runtime)
        self._accounts: dict[int, tuple[str, AccountContext]] = {}
        self._semaphore = asyncio.Semaphore(runtime.settings.dispatch_concurrency)

    async def run_once(self) -> int:
        """Claim and handle one batch. Returns how many rows were claimed."""
        settings = self.runtime.settings
        async with self.runtime.transaction() as session:
            items = await queue.claim(session, OutboxItem, owner=self.owner, now=utcnow(),
                                      lease_seconds=settings.dispatch_lease_seconds,
                                      limit=settings.dispatch_batch_size)
            if not items:
                return 0
            jobs = await self._load(session, items)
        outcomes = await asyncio.gather(*(self._send(*job) for job in jobs))
        await self._record(list(outcomes))
        return len(items)

    async def _load(self, session: AsyncSession, items: list[OutboxItem] | Any) -> list[tuple[Any, ...]]:
        message_ids = [item.message_id for item in items]
        rows = (await session.execute(
            select(Message, Conversation.contact_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.id.in_(message_ids))
        )).all()
        by_id = {message.id: (message, contact_id) for message, contact_id in rows}
        contact_ids = [contact_id for _, contact_id in by_id.values()]
        identities = {
            (identity.contact_id, identity.channel_account_id): identity.external_id
            for identity in (await session.execute(
                select(ContactIdentity).where(ContactIdentity.contact_id.in_(contact_ids))
            )).scalars()
        }
        jobs = []
        for item in items:
            message, contact_id = by_id[item.message_id]
            channel, account = await self._account(session, item.channel_account_id)
            recipient = identities.get((contact_id, item.channel_account_id))
            jobs.append((item, message, channel, account, recipient))
        return jobs

    async def _account(self, session: AsyncSession, account_id: int) -> tuple[str, AccountContext]:
        cached = self._accounts.get(account_id)
        if cached is None:
            account = await session.get(ChannelAccount, account_id)
            assert account is not None
            cached = (account.channel, AccountContext(account.id, account.workspace_id, account.key,
                                                      self.runtime.box.open(account.credentials_sealed),
                                                      dict(account.settings or {})))
            self._accounts[account_id] = cached
        return cached

    def forget_account(self, account_id: int) -> None:
        """Credentials or limits changed: reload on next use."""
        self._accounts.pop(account_id, None)

    async def _send(self, item: OutboxItem, message: Message, channel: str, account: AccountContext,
                    recipient: str | None) -> Outcome:
        adapter = get_adapter(channel)
        if adapter is None:
            return Outcome(item, "failed", error=f"no adapter for channel {channel!r}", reason="unknown_channel")
        if not recipient:
            return Outcome(item, "failed", error="contact has no identity on this channel", reason="no_identity")
        wait = await self.limiter.acquire(limits_for(account, channel, recipient))
        while 0 < wait <= MAX_INLINE_WAIT:
            await asyncio.sleep(wait)
            wait = await self.limiter.acquire(limits_for(account, channel, recipient))
        if wait > 0:
            return Outcome(item, "deferred", at=utcnow() + timedelta(seconds=wait), error="rate limited")
        outbound = OutboundMessage(message_id=message.id, recipient_id=recipient, text=message.text,
                                   content=dict(message.content or {}), idempotency_key=item.idempotency_key,
                                   conversation_id=message.conversation_id)
        try:
            async with self._semaphore:
                result: SendResult = await adapter.send(self.context, account, outbound)
        except TransientSendError as exc:
            if item.attempts >= self.runtime.settings.max_send_attempts:
                return Outcome(item, "failed", error=str(exc), reason="gave_up_after_retries")
            delay = backoff_seconds(item.attempts, exc.retry_after)
            return Outcome(item, "retry", error=str(exc), at=utcnow() + timedelta(seconds=delay))
        except PermanentSendError as exc:
            return Outcome(item, "failed", error=str(exc), reason=exc.reason)
        except Exception as exc:
            log.exception("adapter %s crashed sending message %s", channel, message.id)
            return Outcome(item, "retry", error=f"adapter error: {exc!r}",
                           at=utcnow() + timedelta(seconds=backoff_seconds(item.attempts, None)))
        return Outcome(item, "sent", provider_message_id=result.provider_message_id)

    async def _record(self, outcomes: list[Outcome]) -> None:
        now = utcnow()
        async with self.runtime.transaction() as session:
            for outcome in outcomes:
                await self._record_one(session, outcome, now)

    async def _record_one(self, session: AsyncSession, outcome: Outcome, now: datetime) -> None:
        item = outcome.item
        if outcome.status in ("retry", "deferred"):
            assert outcome.at is not None
            if outcome.status == "deferred":
                # Waiting for a rate-limit slot is not a failed attempt.
                await session.execute(update(OutboxItem).where(OutboxItem.id == item.id)
                                      .values(attempts=OutboxItem.attempts - 1))
            kept = await queue.retry_later(session, OutboxItem, item.id, owner=self.owner, at=outcome.at,
                                           error=outcome.error or "")
            if not kept:
                log.warning("outbox %s: lease lost before retry was recorded", item.id)
            return
        done = await queue.complete(session, OutboxItem, item.id, owner=self.owner,
                                    status=queue.DONE if outcome.status == "sent" else queue.FAILED,
                                    error=outcome.error)
        if not done:
            log.warning("outbox %s: lease lost; another worker owns it now", item.id)
            return
        values: dict[str, Any] = {"status_at": now}
        if outcome.status == "sent":
            values |= {"status": MessageStatus.sent.value, "external_id": outcome.provider_message_id}
            allowed = [MessageStatus.queued.value, MessageStatus.deferred.value]
        else:
            log.warning("message %s failed: %s (%s)", item.message_id, outcome.reason, outcome.error)
            values |= {"status": MessageStatus.failed.value, "status_reason": outcome.reason}
            allowed = [MessageStatus.queued.value, MessageStatus.deferred.value, MessageStatus.sent.value]
        # A receipt may have raced ahead of us (delivered before we recorded sent): never go backwards.
        result = await session.execute(
            update(Message).where(Message.id == item.message_id, Message.status.in_(allowed)).values(**values)
            .returning(Message.conversation_id))
        row = result.first()
        if row is None and outcome.provider_message_id:
            await session.execute(update(Message).where(Message.id == item.message_id)
                                  .values(external_id=outcome.provider_message_id))
        if row is not None:
            stage(session, conversation_topic(row.conversation_id),
                  {"type": "status", "message_id": item.message_id, "status": values["status"]})
        self.runtime.state.setdefault("dispatch_counts", {}).setdefault(outcome.status, 0)
        self.runtime.state["dispatch_counts"][outcome.status] += 1
