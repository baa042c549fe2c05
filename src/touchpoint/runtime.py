"""The process-wide objects every part shares: settings, database, hub, HTTP client, wake-up signals.

`transaction()` is the only place that commits: it owns the unit of work of a request or a job, then
publishes staged realtime events and wakes the background loops that have new work.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from touchpoint.config import Settings
from touchpoint.db.engine import make_engine, make_sessionmaker
from touchpoint.kit.secrets import SecretBox
from touchpoint.realtime.events import take_staged
from touchpoint.realtime.hub import Hub, make_hub

WAKE_KEY = "touchpoint.wake"
_URGENT_WRITES: contextvars.ContextVar[bool] = contextvars.ContextVar("touchpoint_urgent_writes", default=False)
WRITE_LOCK_TIMEOUT = 15.0


def writes_are_urgent() -> None:
    """Mark the current task as writing for somebody who waits for the answer (a provider waiting for its
    webhook's 2xx): its transactions get SQLite's next write turn ahead of background work."""
    _URGENT_WRITES.set(True)


def wake_after_commit(session: AsyncSession, loop_name: str) -> None:
    """Ask for a background loop ("inbound", "outbox", "timers") to look for work once committed."""
    session.info.setdefault(WAKE_KEY, set()).add(loop_name)


class WriteTurns:
    """The single SQLite writer slot of a process, handed over the moment a commit ends (SQLite's own busy
    handler polls with sleeps of up to 100 ms). Urgent writers (a provider waiting for its webhook's 2xx)
    go before background ones (queue workers), but a background writer that has waited
    MAX_BACKGROUND_WAIT goes next, so a flood of webhooks slows processing down without stopping it."""

    MAX_BACKGROUND_WAIT = 0.1

    def __init__(self) -> None:
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._background: deque[tuple[float, asyncio.Future[None]]] = deque()

    async def acquire(self, urgent: bool) -> None:
        if not self._busy:
            self._busy = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if urgent:
            self._urgent.append(turn)
        else:
            self._background.append((time.monotonic(), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the turn was handed to us as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while True:
            if self._background and (not self._urgent or
                                     time.monotonic() - self._background[0][0] > self.MAX_BACKGROUND_WAIT):
                turn = self._background.popleft()[1]
            elif self._urgent:
                turn = self._urgent.popleft()
            else:
                self._busy = False
                return
            if not turn.done():  # skip waiters that gave up (cancelled, timed out)
                turn.set_result(None)
                return


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    # Read-only work (pages, lookups, polling) uses `sessionmaker`; on SQLite its transactions are
    # DEFERRED so they never hold the write lock. Writes go through `transaction()`.
    sessionmaker: async_sessionmaker[AsyncSession]
    write_sessionmaker: async_sessionmaker[AsyncSession]
    hub: Hub
    http: httpx.AsyncClient
    box: SecretBox
    read_engine: AsyncEngine
    wake_events: dict[str, asyncio.Event] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    # SQLite has one writer at a time: writers of this process take turns (WriteTurns).
    serialize_writes: bool = False
    _turns: WriteTurns | None = field(default=None, init=False, repr=False)
    _write_owner: asyncio.Task[Any] | None = field(default=None, init=False, repr=False)
    _acks_pending: int = field(default=0, init=False, repr=False)

    @property
    def allow_private_urls(self) -> bool:
        return self.settings.allow_private_urls

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work, committed at the end. In a task marked with `writes_are_urgent()`, SQLite's
        next write turn goes to it ahead of background work."""
        async with self._writer_turn(_URGENT_WRITES.get()), self.write_sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                session.info.clear()
                raise
        # After the write lock is released: publishing and waking need no database.
        await self.after_commit(session)

    @contextlib.asynccontextmanager
    async def _writer_turn(self, urgent: bool) -> AsyncIterator[None]:
        if not self.serialize_writes:
            yield
            return
        task = asyncio.current_task()
        if task is not None and task is self._write_owner:
            raise RuntimeError("a write transaction was opened inside another one; on SQLite that deadlocks")
        if self._turns is None:
            self._turns = WriteTurns()
        try:
            async with asyncio.timeout(WRITE_LOCK_TIMEOUT):
                await self._turns.acquire(urgent)
        except TimeoutError as exc:
            # The same error SQLite's busy timeout raises, so callers answer 503 / retry as they do for it.
            raise OperationalError("waiting for the write lock", None, exc) from exc
        self._write_owner = task
        try:
            yield
        finally:
            self._write_owner = None
            self._turns.release()

    async def after_commit(self, session: AsyncSession) -> None:
        for topic, event in take_staged(session):
            await self.publish(topic, event)
        for name in session.info.pop(WAKE_KEY, ()):
            self.wake(name)
            if self.settings.redis_url:
                # Workers in other processes would otherwise find this work only at their next poll.
                await self.publish(f"wake:{name}", {})

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        try:
            await self.hub.publish(topic, event)
        except Exception:
            import logging

            logging.getLogger(__name__).exception("realtime publish failed for %s", topic)

    def wake(self, name: str) -> None:
        self.wake_events.setdefault(name, asyncio.Event()).set()

    def wake_event(self, name: str) -> asyncio.Event:
        return self.wake_events.setdefault(name, asyncio.Event())

    def acks_started(self, count: int = 1) -> None:
        """`count` requests wait for their data to be stored before they are answered (webhooks)."""
        self._acks_pending += count
        self._acks_done().clear()

    def acks_finished(self, count: int = 1) -> None:
        self._acks_pending = max(self._acks_pending - count, 0)
        if not self._acks_pending:
            self._acks_done().set()

    async def after_pending_acks(self, at_most: float) -> None:
        """Background work calls this between its transactions: acknowledging what providers sent comes
        first, so it waits (for `at_most` seconds) while requests wait to be stored. One process has one
        core to share; under a flood this keeps acknowledgements fast and slows processing, which
        catches up from the durable queue afterwards."""
        if self._acks_pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acks_done().wait(), at_most)

    def _acks_done(self) -> asyncio.Event:
        return self.wake_events.setdefault("touchpoint.acks-done", asyncio.Event())

    async def close(self) -> None:
        await self.http.aclose()
        await self.hub.close()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings)
    read_engine = make_engine(settings, for_writes=False) if settings.is_sqlite else engine
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.provider_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        headers={"user-agent": "Touchpoint/0.1"},
    )
    return Runtime(settings=settings, engine=engine, sessionmaker=make_sessionmaker(read_engine),
                   write_sessionmaker=make_sessionmaker(engine), hub=make_hub(settings.redis_url), http=http,
                   box=SecretBox(settings.secret_key), read_engine=read_engine,
                   serialize_writes=settings.is_sqlite)
