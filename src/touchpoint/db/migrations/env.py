"""Alembic environment. Run from code with a connection in config.attributes, or from the alembic CLI
with TOUCHPOINT_DATABASE_URL (autogenerate during development)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

import touchpoint.models  # noqa: F401 - registers every table
from touchpoint.config import Settings
from touchpoint.db.base import Base
from touchpoint.db.engine import make_engine

target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    # Batch mode: SQLite cannot ALTER most things, so Alembic rebuilds tables there.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    engine = make_engine(Settings())
    async with engine.begin() as conn:
        await conn.run_sync(run_with)
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run_with(given)
else:
    asyncio.run(run_from_settings())
