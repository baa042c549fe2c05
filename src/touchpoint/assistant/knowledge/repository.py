"""Every knowledge-base query. Each one filters on the workspace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import KnowledgeEntry


@dataclass(frozen=True, slots=True)
class Stamp:
    """What changes whenever any entry of the workspace is created, edited, (un)published or deleted."""

    count: int
    max_id: int | None
    max_updated_at: datetime | None


async def stamp(session: AsyncSession, workspace_id: int) -> Stamp:
    row = (await session.execute(
        select(func.count(KnowledgeEntry.id), func.max(KnowledgeEntry.id), func.max(KnowledgeEntry.updated_at))
        .where(KnowledgeEntry.workspace_id == workspace_id))).one()
    return Stamp(int(row[0] or 0), row[1], row[2])


async def published_rows(session: AsyncSession, workspace_id: int) -> Sequence[Any]:
    """The columns retrieval needs, of the published entries only, in id order (ties keep the oldest first)."""
    return (await session.execute(
        select(KnowledgeEntry.id, KnowledgeEntry.kind, KnowledgeEntry.question, KnowledgeEntry.answer,
               KnowledgeEntry.keywords, KnowledgeEntry.body, KnowledgeEntry.url, KnowledgeEntry.language)
        .where(KnowledgeEntry.workspace_id == workspace_id, KnowledgeEntry.is_published.is_(True))
        .order_by(KnowledgeEntry.id))).all()


async def access_entry(session: AsyncSession, workspace_id: int, entry_id: int) -> KnowledgeEntry | None:
    return (await session.execute(
        select(KnowledgeEntry).where(KnowledgeEntry.id == entry_id, KnowledgeEntry.workspace_id == workspace_id)
    )).scalar_one_or_none()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_entries(session: AsyncSession, workspace_id: int, *, limit: int, after_id: int | None = None,
                       kind: str | None = None, published: bool | None = None,
                       query: str | None = None) -> Sequence[KnowledgeEntry]:
    """A keyset page in id order; `query` is a substring of the question/title or the keywords."""
    stmt = select(KnowledgeEntry).where(KnowledgeEntry.workspace_id == workspace_id)
    if kind is not None:
        stmt = stmt.where(KnowledgeEntry.kind == kind)
    if published is not None:
        stmt = stmt.where(KnowledgeEntry.is_published.is_(published))
    if query:
        like = _like_pattern(query)
        stmt = stmt.where(or_(KnowledgeEntry.question.ilike(like, escape="\\"),
                              KnowledgeEntry.keywords.ilike(like, escape="\\")))
    if after_id is not None:
        stmt = stmt.where(KnowledgeEntry.id > after_id)
    return (await session.execute(stmt.order_by(KnowledgeEntry.id).limit(limit))).scalars().all()


async def all_entries(session: AsyncSession, workspace_id: int) -> Sequence[KnowledgeEntry]:
    return (await session.execute(
        select(KnowledgeEntry).where(KnowledgeEntry.workspace_id == workspace_id).order_by(KnowledgeEntry.id)
    )).scalars().all()


async def delete_entries(session: AsyncSession, workspace_id: int, entry_ids: Sequence[int]) -> int:
    if not entry_ids:
        return 0
    result = await session.execute(
        delete(KnowledgeEntry).where(KnowledgeEntry.workspace_id == workspace_id, KnowledgeEntry.id.in_(entry_ids)))
    return int(getattr(result, "rowcount", 0) or 0)
