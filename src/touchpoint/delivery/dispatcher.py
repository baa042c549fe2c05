"""The dispatcher: claim due outbox rows in batches, pace them under the rate limits, send through the
adapters, record the outcomes in batches. Delivery is at-least-once; each row carries an idempotency key
for the provider.

A pipeline, not batch-after-batch: `run_once` tops up what each channel account holds in memory (about
LOOKAHEAD_SECONDS of sending at its rate, so no account waits for another's batch to finish and a crash
loses little time), records finished sends every RECORD_DELAY or RECORD_BATCH, and returns; the pacer
(pacing.py) starts each send the moment its slot comes, and sends run as tasks. Rows beyond what an
account can send soon are not held: they are postponed in the table to about when the account will have
room (`last_error` "rate limited", no attempt counted), so a backlog of one account never makes another
wait behind it, and a backlog never sits in memory past its lease. `close()` drains the pipeline.

Retries: transient failures (429, 5xx, timeouts) come back after max(Retry-After, exponential backoff
with jitter); permanent ones (window closed, blocked, misconfigured) fail at once with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.channels.base import (
    AccountContext,
    ChannelAdapter,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
)
from touchpoint.channels.registry import get_adapter
from touchpoint.delivery import batches
from touchpoint.delivery.batches import Job, Outcome
from touchpoint.delivery.http import ProviderClient
from touchpoint.delivery.limits import account_limit, recipient_limit
from touchpoint.delivery.pacing import Pacer
from touchpoint.delivery.ratelimit import Limit, RateLimiter
from touchpoint.kit.clock import utcnow
from touchpoint.kit.memory import settle_heap
from touchpoint.models import ChannelAccount
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
# A send may wait this long for its rate-limit slot, counted from its claim; beyond it, it goes back to
# the table. It bounds the total wait (not each try) so no claimed row outlasts its lease.
MAX_INLINE_WAIT = 2.0
LOOKAHEAD_SECONDS = 0.5
CLAIM_INTERVAL = 0.05  # between claims while busy (top-ups, new work); idle, new work is claimed at once
MIN_CLAIM_GAP = 0.01  # after a full batch, all taken: more is due
RECORD_DELAY = 0.05
RECORD_BATCH = 200
MIN_SCAN = 20
EXPIRED_CHECK_SECONDS = 1.0
MAX_SCAN = 2000
MAX_CLAIMS_PER_ROUND = 32
# Workers cache decrypted account credentials and limits; this long, so a change made through the API
# (another process, in scale-out) reaches every worker without a restart.
ACCOUNT_CACHE_SECONDS = 30.0


class DispatchContext:
    """What adapters get to send with (the SendContext protocol)."""

    def __init__(self, runtime: Runtime, http: httpx.AsyncClient) -> None:
        self.http = http
        self.allow_private_urls = runtime.settings.allow_private_urls
        self._runtime = runtime

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self._runtime.publish(topic, event)


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    exponential = min(2 ** max(attempt - 1, 0), 300) * (0.5 + random.random())
    return max(retry_after or 0.0, exponential)


@dataclass(slots=True)
class _Account:
    loaded_at: float
    channel: str
    context: AccountContext
    adapter: ChannelAdapter | None
    limit: Limit
    per_recipient: float
    budget: int  # jobs held in memory at most: LOOKAHEAD_SECONDS of sending, plus the burst


class Dispatcher:
    def __init__(self, runtime: Runtime, limiter: RateLimiter, owner: str) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.limiter = limiter
        self.owner = owner
        self.http = ProviderClient(timeout=httpx.Timeout(settings.provider_timeout_seconds, connect=5.0),
                                   headers={"user-agent": "Touchpoint/0.1"})
        self.context = DispatchContext(runtime, self.http)
        self._accounts: dict[int, _Account] = {}
        self.pacer = Pacer(limiter, self._start, self._defer, max_in_flight=settings.dispatch_concurrency,
                           max_wait=MAX_INLINE_WAIT)
        self._outcomes: list[Outcome] = []
        self._oldest_outcome = 0.0
        self._sends: set[asyncio.Task[None]] = set()
        self._next_claim = 0.0
        self._last_claim = 0.0
        # Rows we postponed come due one after another until this (monotonic) time: keep topping up.
        self._postponed_until = -math.inf
        self._expired_checked = -math.inf
        self._schedule: dict[int, datetime] = {}  # per account: the last time a postponed row was given
        self._closed = False
        self._idle = True  # the last step found nothing to do: the next one claims at once

    # ---- the loop step
    async def run_once(self) -> int:
        """Record finished sends and top up (one transaction), then wait for the next thing to do. Returns
        the work done (rows claimed, postponed or recorded), at least 1 while sends are in progress, 0
        once idle (the loop then waits for a commit's wake-up or its poll, and calls again)."""
        if self._closed:
            return 0
        settle_heap()  # in `touchpoint worker` there is no app start-up to do it
        now = time.monotonic()
        claim = self._idle or now >= self._next_claim
        record = bool(self._outcomes) and (claim or len(self._outcomes) >= RECORD_BATCH
                                           or now - self._oldest_outcome >= RECORD_DELAY)
        progress = await self._cycle(claim, record) if claim or record else 0
        busy = self.pacer.busy() or bool(self._outcomes)
        soon = time.monotonic() < self._postponed_until
        self._idle = not (progress or busy or soon)
        if self._idle:
            return 0
        await self._pause()
        return max(progress, 1)

    async def _pause(self) -> None:
        """Until the next claim or record is due, or new work is committed in this process."""
        now = time.monotonic()
        deadline = self._next_claim
        if self._outcomes:
            deadline = min(deadline, self._oldest_outcome + RECORD_DELAY)
        wake = self.runtime.wake_event("outbox")
        if not wake.is_set():
            try:
                async with asyncio.timeout(max(deadline - now, 0.001)):
                    await wake.wait()
            except TimeoutError:
                pass
        if wake.is_set():
            # New work committed (or a full batch of outcomes to record). While busy, claims stay
            # CLAIM_INTERVAL apart: with a trickle of messages, each committed on its own, claiming per
            # message would take SQLite's write turn (and an fsync) away from the processor many times.
            self._next_claim = min(self._next_claim, self._last_claim + CLAIM_INTERVAL)

    async def _cycle(self, claim: bool, record: bool) -> int:
        """Record what finished and claim what fits, in one transaction (on SQLite each commit is an
        fsync). A scan that was mostly rows of accounts already full is followed at once by a longer one."""
        outcomes = self._outcomes[:] if record else []
        if claim:
            self._last_claim = time.monotonic()
            # Until this claim tells otherwise: nothing more is due before the postponed rows or the poll
            # for other processes' work.
            self._next_claim = self._last_claim + self.runtime.settings.dispatch_idle_poll_seconds
        scan = self._scan_size()
        done = 0
        # One "now" for the whole cycle: rows it postpones are not due again before it ends.
        now = utcnow()
        for _ in range(MAX_CLAIMS_PER_ROUND if claim else 1):
            try:
                async with self.runtime.transaction() as session:
                    if outcomes:
                        await batches.record(session, outcomes, owner=self.owner, now=now)
                        # SQLite statements run on the loop (db/engine.py): between them, let the sends the
                        # pacer granted meanwhile go out, so they reach the provider when their slot says.
                        await asyncio.sleep(0)
                    claimed = await self._claim(session, now, scan) if claim else None
            except SQLAlchemyError:
                if not outcomes:
                    raise
                # Likely one bad row (say, a provider id that clashes with another message's): record row
                # by row so the others are not lost and re-sent after their lease runs out, again and again.
                log.exception("recording a batch of %s outcomes failed; recording them one by one", len(outcomes))
                await self._record_one_by_one(outcomes)
                claimed = None
                self._next_claim = time.monotonic()
            if outcomes:
                self._recorded(outcomes)
                done += len(outcomes)
                outcomes = []
            if claimed is None:
                break
            taken, later, accounts, scanned = claimed
            self._hand_over(taken, accounts)
            done += scanned
            if later:
                last = max(at for _, at in later)
                self._postponed_until = max(self._postponed_until,
                                            time.monotonic() + (last - utcnow()).total_seconds())
            if scanned == scan:
                # A full batch: more is due. All taken, claim again at once, in a transaction of its own so
                # other workers get their turn at the lanes in between; else top up as sends free room.
                gap = MIN_CLAIM_GAP if not later else CLAIM_INTERVAL
                self._next_claim = min(self._next_claim, time.monotonic() + gap)
            if scanned < scan or len(later) * 2 < scanned:
                break
            scan = min(scan * 2, MAX_SCAN)
        if claim and time.monotonic() < self._postponed_until:
            self._next_claim = min(self._next_claim, time.monotonic() + CLAIM_INTERVAL)
        return done

    def _scan_size(self) -> int:
        """As many rows as the accounts we know have room for, and a few more for accounts we do not know
        yet; at most a batch (dispatch_batch_size), so several workers (PostgreSQL) share the lanes."""
        batch = max(self.runtime.settings.dispatch_batch_size, 1)
        room = sum(max(account.budget - self.pacer.held(account_id), 0)
                   for account_id, account in self._accounts.items())
        return min(room + MIN_SCAN, batch) if self._accounts else batch

    async def _claim(self, session: AsyncSession, now: datetime,
                     scan: int) -> tuple[list[Job], list[tuple[Job, datetime]], dict[int, _Account | None], int]:
        """Lease what the accounts have room for among the next `scan` due rows; postpone the rest to
        about when their account will have room. Returns (leased, postponed, accounts, rows seen)."""
        # Leases run out only when a worker died (60 s by default): looking for them every second is enough.
        expired = time.monotonic() - self._expired_checked >= EXPIRED_CHECK_SECONDS
        if expired:
            self._expired_checked = time.monotonic()
        jobs = await batches.select_heads(session, now=now, limit=scan, expired=expired)
        await asyncio.sleep(0)
        accounts: dict[int, _Account | None] = {}
        for account_id in {job.account_id for job in jobs}:
            accounts[account_id] = (await self._account(session, account_id) if self._stale(account_id)
                                    else self._accounts[account_id])
        taken: list[Job] = []
        later: list[tuple[Job, datetime]] = []
        extra: dict[int, int] = {}
        tails: dict[int, datetime] = {}
        for job in jobs:
            account = accounts[job.account_id]
            held = self.pacer.held(job.account_id) + extra.get(job.account_id, 0)
            if account is None or held < account.budget:
                extra[job.account_id] = extra.get(job.account_id, 0) + 1
                taken.append(job)
                continue
            # Laid out after what the account already has scheduled, one interval apart, so each row is
            # postponed about once and comes due when the account has sent half of what it holds (a claim
            # or two before it runs dry).
            tail = tails.get(job.account_id)
            if tail is None:
                half_sent = (held - account.budget / 2) / account.limit.sustained
                tail = max(self._schedule.get(job.account_id, now), now + timedelta(seconds=half_sent))
            tail += timedelta(seconds=1 / account.limit.sustained)
            tails[job.account_id] = tail
            later.append((job, tail))
        self._schedule.update(tails)
        await batches.lease(session, taken, owner=self.owner, now=now,
                            lease_seconds=self.runtime.settings.dispatch_lease_seconds)
        await batches.postpone(session, later, reason="rate limited")
        return taken, later, accounts, len(jobs)

    def _hand_over(self, jobs: list[Job], accounts: dict[int, _Account | None]) -> None:
        claimed_at = time.monotonic()
        ready = []
        for job in jobs:
            account = accounts[job.account_id]
            if account is None:
                self._add(self._retry(job, "channel account unusable (see the log)"))
            elif account.adapter is None:
                self._add(Outcome(job, "failed", error=f"no adapter for channel {account.channel!r}",
                                  reason="unknown_channel"))
            elif not job.recipient:
                self._add(Outcome(job, "failed", error="contact has no identity on this channel",
                                  reason="no_identity"))
            else:
                job.claimed_at = claimed_at
                job.account = account
                job.limits = [account.limit] if not account.per_recipient else [
                    account.limit, recipient_limit(job.account_id, job.recipient, account.per_recipient)]
                ready.append(job)
        if ready:
            self.pacer.add(ready)

    def _stale(self, account_id: int) -> bool:
        cached = self._accounts.get(account_id)
        return cached is None or time.monotonic() - cached.loaded_at > ACCOUNT_CACHE_SECONDS

    async def _account(self, session: AsyncSession, account_id: int) -> _Account | None:
        try:
            row = await session.get(ChannelAccount, account_id)
            if row is None:
                raise LookupError(f"channel account {account_id} does not exist")
            context = AccountContext(row.id, row.workspace_id, row.key, self.runtime.box.open(row.credentials_sealed),
                                     dict(row.settings or {}))
        except Exception:
            # E.g. credentials sealed with another secret key: this worker cannot send for the account,
            # but must not fail its messages for good, nor block the rest of the batch.
            log.exception("cannot load channel account %s", account_id)
            self._accounts.pop(account_id, None)
            return None
        limit, per_recipient = account_limit(context, row.channel)
        budget = min(math.ceil(limit.sustained * LOOKAHEAD_SECONDS) + limit.burst, 100_000)
        account = _Account(time.monotonic(), row.channel, context, get_adapter(row.channel), limit, per_recipient,
                           budget)
        self._accounts[account_id] = account
        return account

    def forget_account(self, account_id: int) -> None:
        """Credentials or limits changed: reload on next use."""
        self._accounts.pop(account_id, None)

    # ---- sending
    def _start(self, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(job))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _deliver(self, job: Job) -> None:
        try:
            outcome = await self._send(job)
        finally:
            self.pacer.finished(job)
        self._add(outcome)

    def _defer(self, job: Job, wait: float) -> None:
        self._add(Outcome(job, "deferred", at=utcnow() + timedelta(seconds=wait), error="rate limited"))

    def _retry(self, job: Job, error: str, retry_after: float | None = None) -> Outcome:
        """Transient trouble: come back later, unless this was the last allowed attempt."""
        if job.attempts >= self.runtime.settings.max_send_attempts:
            return Outcome(job, "failed", error=error, reason="gave_up_after_retries")
        delay = backoff_seconds(job.attempts, retry_after)
        return Outcome(job, "retry", error=error, at=utcnow() + timedelta(seconds=delay))

    async def _send(self, job: Job) -> Outcome:
        account: _Account = job.account
        assert account.adapter is not None and job.recipient is not None
        outbound = OutboundMessage(message_id=job.message_id, recipient_id=job.recipient, text=job.text,
                                   content=dict(job.content), idempotency_key=job.idempotency_key,
                                   conversation_id=job.conversation_id)
        try:
            result = await account.adapter.send(self.context, account.context, outbound)
        except TransientSendError as exc:
            return self._retry(job, str(exc), exc.retry_after)
        except PermanentSendError as exc:
            return Outcome(job, "failed", error=str(exc), reason=exc.reason)
        except Exception as exc:
            # An adapter bug is retried like a transient error, and like one it is given up on after
            # max_send_attempts instead of looping forever.
            log.exception("adapter %s crashed sending message %s", account.channel, job.message_id)
            return self._retry(job, f"adapter error: {exc!r}")
        return Outcome(job, "sent", provider_message_id=batches.clip_provider_id(result.provider_message_id))

    # ---- recording
    def _add(self, outcome: Outcome) -> None:
        if not self._outcomes:
            self._oldest_outcome = time.monotonic()
        self._outcomes.append(outcome)
        if len(self._outcomes) == RECORD_BATCH:
            self.runtime.wake("outbox")

    async def _record_one_by_one(self, outcomes: list[Outcome]) -> None:
        async with self.runtime.transaction() as session:
            now = utcnow()
            for outcome in outcomes:
                await batches.record_one(session, outcome, owner=self.owner, now=now)

    def _recorded(self, outcomes: list[Outcome]) -> None:
        # Only once committed: cancelled mid-way, they stay to be recorded by close().
        del self._outcomes[:len(outcomes)]
        if self._outcomes:
            self._oldest_outcome = time.monotonic()
        counts = self.runtime.state.setdefault("dispatch_counts", {})
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1

    async def close(self) -> None:
        """Stop claiming; send what is held (deferring what would wait too long), record everything."""
        self._closed = True
        await self.pacer.drain()
        while self._sends:
            await asyncio.gather(*list(self._sends), return_exceptions=True)
        try:
            if self._outcomes:
                await self._cycle(claim=False, record=True)
        except Exception:
            # Left leased: sent again once the lease runs out (at-least-once), never lost.
            log.exception("could not record %s outcomes while stopping", len(self._outcomes))
        finally:
            await self.http.aclose()
