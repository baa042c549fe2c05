"""The migrations build exactly the schema the models describe, on both databases, and undo cleanly."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from touchpoint.config import Settings
from touchpoint.db.base import Base
from touchpoint.db.engine import make_engine
from touchpoint.db.migrate import alembic_config, upgrade


def _schema_differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, Base.metadata))


async def test_models_match_migrations_and_downgrade_works(settings: Settings) -> None:
    import touchpoint.models  # noqa: F401  (registers every table)

    engine = make_engine(settings)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(_schema_differences)
        assert differences == []
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0001"))
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "assistant_intents" not in tables and "conversations" in tables
        await upgrade(engine)
    finally:
        await engine.dispose()
