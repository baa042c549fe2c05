"""Engine and session factory. SQLite gets WAL, FULL sync and BEGIN IMMEDIATE write transactions.

On SQLite the write engine runs the sqlite3 driver on the event loop's thread (`InlineSQLiteDialect`)
instead of through aiosqlite, which hands every statement to a worker thread and back: measured here, that
round trip costs about twice the CPU of the statement itself, and a message passes some 25 statements
from webhook to provider. Writers take turns (Runtime.transaction), and their statements are indexed
lookups and small inserts that take microseconds, so running them inline is cheaper than the hop. The two
things that can take long are kept off the loop: COMMIT (the fsync) runs in a worker thread, and waiting
for another process's write lock is an asyncio sleep-and-retry, never a blocking busy-wait. Reads (pages,
lists, lookups) keep aiosqlite, so a slow query never blocks the loop.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util.concurrency import await_, in_greenlet

from touchpoint.config import Settings

# How long a write transaction waits for another process (a CLI command, a second server) to release
# the SQLite write lock before failing with "database is locked" (callers answer 503 / retry).
WRITE_LOCK_WAIT_SECONDS = 10.0


async def _nothing() -> None:
    return None


def _pass_through_the_loop() -> None:
    """SQLAlchemy's AsyncConnection.execute checks that the driver awaited something (a guard against
    sync drivers); an already-finished coroutine satisfies it for a few microseconds, without a loop turn."""
    if in_greenlet():
        await_(_nothing())


class _InlineCursor(sqlite3.Cursor):
    """Reads a statement's rows as it executes, as SQLAlchemy's asyncio drivers do, so a result can be
    used after the async layer has soft-closed the cursor and no statement stays open until COMMIT."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self._buffer: collections.deque[Any] = collections.deque()

    def execute(self, sql: str, parameters: Any = (), /) -> _InlineCursor:
        _pass_through_the_loop()
        super().execute(sql, parameters)
        self._buffer = collections.deque(super().fetchall()) if self.description else collections.deque()
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _InlineCursor:
        _pass_through_the_loop()
        super().executemany(sql, seq_of_parameters)
        self._buffer = collections.deque()
        return self

    def fetchone(self) -> Any:
        return self._buffer.popleft() if self._buffer else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(size or self.arraysize, len(self._buffer))
        return [self._buffer.popleft() for _ in range(count)]

    def fetchall(self) -> list[Any]:
        rows = list(self._buffer)
        self._buffer.clear()
        return rows

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio layer; the rows are already read."""


class _InlineConnection(sqlite3.Connection):
    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _InlineCursor)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite run directly inside SQLAlchemy's asyncio greenlet: no thread hop per statement. Only
    for the write engine (see the module docstring); COMMIT is sent to a worker thread."""

    driver = "tp_inline"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def do_commit(self, dbapi_connection: Any) -> None:
        # The fsync of a FULL-sync commit takes from a fraction of a millisecond to several on a busy
        # disk; the GIL is released meanwhile, so the loop goes on serving requests.
        await_(asyncio.to_thread(dbapi_connection.commit))


registry.register("sqlite.tp_inline", __name__, "InlineSQLiteDialect")


def make_engine(settings: Settings, *, pool_size: int | None = None, for_writes: bool = True) -> AsyncEngine:
    """`for_writes=False` on SQLite gives an engine whose transactions start DEFERRED: readers in WAL
    mode never wait for the write lock. Everything that writes goes through a write engine."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        return _sqlite_engine(url, immediate=for_writes)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if settings.database_schema:
        kwargs["connect_args"] = {"server_settings": {"search_path": settings.database_schema}}
    if pool_size:
        kwargs["pool_size"] = pool_size
    return create_async_engine(url, **kwargs)


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    inline = immediate and path not in ("", ":memory:") and url.startswith("sqlite+aiosqlite:")
    if inline:
        url = "sqlite+tp_inline:" + url.split(":", 1)[1]
    connect_args: dict[str, Any] = {"timeout": 15}
    if inline:
        connect_args["factory"] = _InlineConnection
    engine = create_async_engine(url, connect_args=connect_args)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves: pysqlite's implicit BEGIN is DEFERRED, which turns a
        # read-then-write transaction into SQLITE_BUSY under concurrency instead of waiting.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Inline connections must never sleep in SQLite's busy handler: that would stop the event loop.
        # Their only lock wait, BEGIN IMMEDIATE, retries with asyncio sleeps instead (_begin_immediate).
        cursor.execute("PRAGMA busy_timeout=0" if inline else "PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # SQLite drops FOR UPDATE silently; an IMMEDIATE transaction takes the write lock up front
        # so claims and check-then-write sequences are serialised rather than racing.
        if inline:
            _begin_immediate(conn.connection.dbapi_connection)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _begin_immediate(raw: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE without blocking the event loop while another process holds the write lock."""
    deadline = time.monotonic() + WRITE_LOCK_WAIT_SECONDS
    delay = 0.001
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                # As SQLAlchemy wraps driver errors, so callers handle it like any busy database.
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, 0.05)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
