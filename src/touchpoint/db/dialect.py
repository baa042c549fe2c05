"""Everything that differs between SQLite and PostgreSQL lives here and nowhere else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_ignore(session: AsyncSession, table: Table, index_elements: list[str]) -> Insert:
    """INSERT ... ON CONFLICT (cols) DO NOTHING, which both dialects spell the same way."""
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)


def lock_skip_locked(session: AsyncSession, stmt: Select[Any]) -> Select[Any]:
    """Rows another worker holds are skipped on PostgreSQL. SQLite has one dispatcher and
    BEGIN IMMEDIATE transactions, so there is nothing to skip."""
    if dialect_name(session) == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt
