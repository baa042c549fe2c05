"""Engine and session factory. SQLite gets WAL, FULL sync and BEGIN IMMEDIATE write transactions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from touchpoint.config import Settings


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
    engine = create_async_engine(url, connect_args={"timeout": 15})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves: pysqlite's implicit BEGIN is DEFERRED, which turns a
        # read-then-write transaction into SQLITE_BUSY under concurrency instead of waiting.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # SQLite drops FOR UPDATE silently; an IMMEDIATE transaction takes the write lock up front
        # so claims and check-then-write sequences are serialised rather than racing.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
