"""A migrated database (SQLite, and PostgreSQL when configured) with the demo workspace, for assist tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint.db.engine import make_engine, make_sessionmaker
from touchpoint.db.migrate import upgrade
from touchpoint.demo import ensure_demo
from touchpoint.kit.secrets import SecretBox
from touchpoint.models import CannedResponse


@dataclass
class Db:
    sessions: async_sessionmaker[AsyncSession]
    workspace_id: int


@pytest.fixture
async def db(settings) -> AsyncIterator[Db]:
    engine = make_engine(settings)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            info = await ensure_demo(session, SecretBox(settings.secret_key))
            # The suggestions tests bring their own canned responses.
            await session.execute(delete(CannedResponse).where(CannedResponse.workspace_id == info.workspace_id))
        yield Db(sessions, info.workspace_id)
    finally:
        await engine.dispose()
