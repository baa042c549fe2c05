"""The dispatcher: claim due outbox rows in batches, respect rate limits, send through the adapter,
record the outcome. Delivery is at-least-once; each row carries an idempotency key for the provider.

Retries: transient failures (429, 5xx, timeouts) come back after max(Retry-After, exponential backoff
with jitter); permanent ones (window closed, blocked, misconfigured) fail at once with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
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
# It bounds the total wait of one send, not each try: sends of a batch compete for the same slots, and
# waiting try after try could outlast the lease (and get the row sent twice).
MAX_INLINE_WAIT = 2.0
DEFAULT_RATES = {"api": 50.0, "webchat": 200.0}
# Workers cache decrypted account credentials and limits; this long, so a change made through the API
# (another process, in scale-out) reaches every worker without a restart.
ACCOUNT_CACHE_SECONDS = 30.0
EXTERNAL_ID_MAX = 200  # messages.external_id column width


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
    default = DEFAULT_RATES.get(channel, 20.0)
    per_second = _positive(settings.get("rate_per_second"), default)
    burst = max(int(_positive(settings.get("rate_burst"), 1)), 1)
    limits = [Limit(f"acct:{account.id}", per_second, burst)]
    per_recipient = _positive(settings.get("recipient_per_second"), 0.0)
    if per_recipient:
        limits.append(Limit(f"rcpt:{account.id}:{recipient}", per_recipient, 1))
    return limits


def _positive(value: Any, default: float) -> float:
    """Account settings are typed in by people: a missing, malformed or non-positive rate means the
    default, never a crash of the whole batch (or an unlimited one)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 and math.isfinite(number) else default


class Dispatcher:
    def __init__(self, runtime: Runtime, limiter: RateLimiter, owner: str) -> None:
        self.runtime = runtime
        self.limiter = limiter
        self.owner = owner
        self.context = DispatchContext(runtime)
        self._accounts: dict[int, tuple[float, str, AccountContext]] = {}
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
        jobs: list[tuple[Any, ...]] = []
        for item in items:
            message, contact_id = by_id[item.message_id]
            try:
                channel, account = await self._account(session, item.channel_account_id)
            except Exception as exc:
                # E.g. credentials sealed with another secret key: this worker cannot send for the
                # account, but must not fail the message for good, nor block the rest of the batch.
                log.exception("outbox %s: cannot load channel account %s", item.id, item.channel_account_id)
                jobs.append((item, message, "", None, None, f"channel account unusable: {exc!r}"))
                continue
            recipient = identities.get((contact_id, item.channel_account_id))
            jobs.append((item, message, channel, account, recipient, None))
        return jobs

    async def _account(self, session: AsyncSession, account_id: int) -> tuple[str, AccountContext]:
        cached = self._accounts.get(account_id)
        if cached is None or time.monotonic() - cached[0] > ACCOUNT_CACHE_SECONDS:
            account = await session.get(ChannelAccount, account_id)
            if account is None:
                raise LookupError(f"channel account {account_id} does not exist")
            cached = (time.monotonic(), account.channel,
                      AccountContext(account.id, account.workspace_id, account.key,
                                     self.runtime.box.open(account.credentials_sealed),
                                     dict(account.settings or {})))
            self._accounts[account_id] = cached
        return cached[1], cached[2]

    def forget_account(self, account_id: int) -> None:
        """Credentials or limits changed: reload on next use."""
        self._accounts.pop(account_id, None)

    def _retry(self, item: OutboxItem, error: str, retry_after: float | None = None) -> Outcome:
        """Transient trouble: come back later, unless this was the last allowed attempt."""
        if item.attempts >= self.runtime.settings.max_send_attempts:
            return Outcome(item, "failed", error=error, reason="gave_up_after_retries")
        delay = backoff_seconds(item.attempts, retry_after)
        return Outcome(item, "retry", error=error, at=utcnow() + timedelta(seconds=delay))

    async def _send(self, item: OutboxItem, message: Message, channel: str, account: AccountContext | None,
                    recipient: str | None, problem: str | None) -> Outcome:
        if account is None:
            return self._retry(item, problem or "channel account unusable")
        adapter = get_adapter(channel)
        if adapter is None:
            return Outcome(item, "failed", error=f"no adapter for channel {channel!r}", reason="unknown_channel")
        if not recipient:
            return Outcome(item, "failed", error="contact has no identity on this channel", reason="no_identity")
        limits = limits_for(account, channel, recipient)
        give_up_at = time.monotonic() + MAX_INLINE_WAIT
        wait = await self.limiter.acquire(limits)
        while wait > 0:
            if time.monotonic() + wait > give_up_at:
                return Outcome(item, "deferred", at=utcnow() + timedelta(seconds=wait), error="rate limited")
            await asyncio.sleep(wait)
            wait = await self.limiter.acquire(limits)
        outbound = OutboundMessage(message_id=message.id, recipient_id=recipient, text=message.text,
                                   content=dict(message.content or {}), idempotency_key=item.idempotency_key,
                                   conversation_id=message.conversation_id)
        try:
            async with self._semaphore:
                result: SendResult = await adapter.send(self.context, account, outbound)
        except TransientSendError as exc:
            return self._retry(item, str(exc), exc.retry_after)
        except PermanentSendError as exc:
            return Outcome(item, "failed", error=str(exc), reason=exc.reason)
        except Exception as exc:
            # An adapter bug is retried like a transient error, and like one it is given up on after
            # max_send_attempts instead of looping forever.
            log.exception("adapter %s crashed sending message %s", channel, message.id)
            return self._retry(item, f"adapter error: {exc!r}")
        provider_id = result.provider_message_id
        return Outcome(item, "sent", provider_message_id=provider_id[:EXTERNAL_ID_MAX] if provider_id else None)

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Record a batch in one transaction. If that fails on one bad row (say, a provider id that
        clashes with another message's), record row by row so the others are not lost and re-sent
        after their lease runs out, again and again."""
        now = utcnow()
        try:
            async with self.runtime.transaction() as session:
                for outcome in outcomes:
                    await self._record_one(session, outcome, now)
        except SQLAlchemyError:
            log.exception("recording a batch of %s outcomes failed; recording them one by one", len(outcomes))
            async with self.runtime.transaction() as session:
                for outcome in outcomes:
                    await self._record_isolated(session, outcome, now)
        counts = self.runtime.state.setdefault("dispatch_counts", {})
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1

    async def _record_isolated(self, session: AsyncSession, outcome: Outcome, now: datetime) -> None:
        try:
            async with session.begin_nested():
                await self._record_one(session, outcome, now)
            return
        except SQLAlchemyError:
            log.exception("outbox %s: recording %s failed", outcome.item.id, outcome.status)
        # The send happened (or was refused) whatever we fail to store about it: record the outcome
        # without the provider's id rather than leave the row leased and send it again.
        fallback = replace(outcome, provider_message_id=None,
                           error=f"{outcome.error or ''} (provider message id could not be stored)".strip())
        async with session.begin_nested():
            await self._record_one(session, fallback, now)

    async def _record_one(self, session: AsyncSession, outcome: Outcome, now: datetime) -> None:
        item = outcome.item
        if outcome.status in ("retry", "deferred"):
            assert outcome.at is not None
            kept = await queue.retry_later(session, OutboxItem, item.id, owner=self.owner, at=outcome.at,
                                           error=outcome.error or "",
                                           refund_attempt=outcome.status == "deferred")
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
