"""Pacing: claimed sends wait here, per channel account, until every rate limit they fall under has a
slot, and start the moment it has one.

One task paces every account. It sleeps until the earliest slot, but never less than PACE_TICK, so the
event loop is woken a few hundred times a second rather than once per message; the lateness this adds
(< PACE_TICK) is taken back by the limits' burst (the bucket lets a late slot be caught up), so it
costs no rate. Sends start in account order within a pass, each the moment its slot is granted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable

from touchpoint.delivery.batches import Job
from touchpoint.delivery.ratelimit import RateLimiter

PACE_TICK = 0.004
# An account that has not completed a send for this long (its keep-alive connections have expired, or it
# never sent) sends one message alone first. Its next sends then go out on a warm connection the moment
# their slot comes; otherwise the sends granted while the first connections are being set up all reach
# the provider together once they are, and the provider counts more in that second than we granted.
WARM_SECONDS = 4.0
# A refused send whose recipient has a limit of its own (one message a second per chat) may be held
# back by that recipient alone: look this far down the account's queue for sends to other recipients.
RECIPIENT_LOOKAHEAD = 16
LIMITER_RETRY_SECONDS = 1.0

log = logging.getLogger(__name__)


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Pacer:
    def __init__(self, limiter: RateLimiter, start: Callable[[Job], None], defer: Callable[[Job, float], None], *,
                 max_in_flight: int, max_wait: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = limiter
        self._start = start  # begin sending (must not block)
        self._defer = defer  # give the job back to the table: its wait would be longer than max_wait
        self.max_in_flight = max(max_in_flight, 1)
        self.max_wait = max_wait
        self.clock = clock
        self.queues: dict[int, deque[Job]] = {}  # channel account id -> jobs waiting for a slot
        self.in_flight: dict[int, int] = {}
        self.total_in_flight = 0
        self.warm_until: dict[int, float] = {}  # per account: until when its connections are warm
        self.not_before: dict[int, float] = {}  # per account: its limiter said no until then
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def held(self, account_id: int) -> int:
        """Jobs of this account claimed and not finished."""
        queue = self.queues.get(account_id)
        return (len(queue) if queue else 0) + self.in_flight.get(account_id, 0)

    def busy(self) -> bool:
        return bool(self.queues) or self.total_in_flight > 0

    def add(self, jobs: list[Job]) -> None:
        for job in jobs:
            queue = self.queues.get(job.account_id)
            if queue is None:
                queue = self.queues[job.account_id] = deque()
            queue.append(job)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="touchpoint-pacer")
        else:
            self._wake()

    def finished(self, job: Job) -> None:
        at_cap = self.total_in_flight >= self.max_in_flight
        self.total_in_flight -= 1
        left = self.in_flight[job.account_id] - 1
        if left:
            self.in_flight[job.account_id] = left
        else:
            del self.in_flight[job.account_id]
        was_cold = self.warm_until.get(job.account_id, 0.0) < self.clock()
        self.warm_until[job.account_id] = self.clock() + WARM_SECONDS
        if (at_cap or was_cold) and self.queues:
            self._wake()

    async def drain(self) -> None:
        """Until every held job has started (or been deferred)."""
        if self._task is not None:
            await self._task

    def _wake(self) -> None:
        if self._waiter is not None:
            _release(self._waiter)

    async def _run(self) -> None:
        if len(self.warm_until) > 10_000 or len(self.not_before) > 10_000:
            now = self.clock()
            self.warm_until = {key: until for key, until in self.warm_until.items() if until > now}
            self.not_before = {key: until for key, until in self.not_before.items() if until > now}
        while self.queues:
            now = self.clock()
            next_at = math.inf
            for account_id in list(self.queues):
                queue = self.queues[account_id]
                next_at = min(next_at, await self._pace(account_id, queue, now))
                if not queue:
                    del self.queues[account_id]
            if not self.queues:
                return
            if self.total_in_flight >= self.max_in_flight or next_at == math.inf:
                await self._sleep(None)  # until a send finishes (or more jobs come)
            else:
                await self._sleep(max(next_at - self.clock(), PACE_TICK))

    async def _pace(self, account_id: int, queue: deque[Job], now: float) -> float:
        """Start what this account's limits allow now; returns when its next slot is (inf: none needed)."""
        not_before = self.not_before.get(account_id, 0.0)
        if not_before > now:
            return not_before  # refused earlier: asking again before then would be refused too
        while queue and self.total_in_flight < self.max_in_flight:
            if account_id in self.in_flight and self.warm_until.get(account_id, 0.0) < now:
                return math.inf  # cold: its first send is on its way; finished() wakes us
            job = queue[0]
            try:
                wait = await self.limiter.acquire(job.limits)
            except Exception:
                # Redis unreachable, say: without the shared limits nothing may go out. Back to the table
                # (no attempt counted), to be claimed again once it answers.
                log.exception("rate limiter unavailable; giving %s held sends back to the outbox", len(queue))
                while queue:
                    self._defer(queue.popleft(), LIMITER_RETRY_SECONDS)
                return math.inf
            if wait <= 0:
                queue.popleft()
                self._begin(job)
                continue
            # Much longer than the account's own spacing: a recipient limit is holding this one back.
            if len(job.limits) > 1 and wait > 2 * job.limits[0].interval and await self._others(queue):
                continue
            if now + wait - job.claimed_at > self.max_wait:
                queue.popleft()
                self._defer(job, wait)
                continue
            if len(job.limits) == 1:  # the account's own limit: true for every job of the account
                self.not_before[account_id] = now + wait
            return now + wait
        return math.inf

    async def _others(self, queue: deque[Job]) -> bool:
        """Start one job further down the queue that its limits allow; False if there is none."""
        for index in range(1, min(len(queue), RECIPIENT_LOOKAHEAD + 1)):
            job = queue[index]
            try:
                granted = await self.limiter.acquire(job.limits) <= 0
            except Exception:
                return False  # the head's own try tells, and gives the jobs back
            if granted:
                del queue[index]
                self._begin(job)
                return True
        return False

    def _begin(self, job: Job) -> None:
        self.total_in_flight += 1
        self.in_flight[job.account_id] = self.in_flight.get(job.account_id, 0) + 1
        self._start(job)

    async def _sleep(self, delay: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        handle = loop.call_later(delay, _release, waiter) if delay is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()
