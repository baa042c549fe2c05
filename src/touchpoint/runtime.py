"""The process-wide objects every part shares: settings, database, hub, HTTP client, wake-up signals.

`transaction()` is the only place that commits: it owns the unit of work of a request or a job, then
publishes staged realtime events and wakes the background loops that have new work.
"""

from __future__ import annotations

import asyncio
import contextlib
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
WRITE_LOCK_TIMEOUT = 15.0


def wake_after_commit(session: AsyncSession, loop_name: str) -> None:
    """Ask for a background loop ("inbound", "outbox", "timers") to look for work once committed."""
    session.info.setdefault(WAKE_KEY, set()).add(loop_name)


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
    # SQLite has one writer at a time. Writers of this process take turns on an asyncio lock, which
    # hands over the moment a commit ends; left to SQLite's busy handler they would poll with sleeps
    # of up to 100 ms and turn a short queue of writers into long stalls.
    serialize_writes: bool = False
    _write_lock: asyncio.Lock | None = field(default=None, init=False, repr=False)
    _write_owner: asyncio.Task[Any] | None = field(default=None, init=False, repr=False)

    @property
    def allow_private_urls(self) -> bool:
        return self.settings.allow_private_urls

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._writer_turn(), self.write_sessionmaker() as session:
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
    async def _writer_turn(self) -> AsyncIterator[None]:
        if not self.serialize_writes:
            yield
            return
        task = asyncio.current_task()
        if task is not None and task is self._write_owner:
            raise RuntimeError("a write transaction was opened inside another one; on SQLite that deadlocks")
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        try:
            async with asyncio.timeout(WRITE_LOCK_TIMEOUT):
                await self._write_lock.acquire()
        except TimeoutError as exc:
            # The same error SQLite's busy timeout raises, so callers answer 503 / retry as they do for it.
            raise OperationalError("waiting for the write lock", None, exc) from exc
        self._write_owner = task
        try:
            yield
        finally:
            self._write_owner = None
            self._write_lock.release()

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
