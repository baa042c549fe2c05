"""FAQ answers the bot may give."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk


class KnowledgeEntry(IdMixin, CreatedMixin, Base):
    """An FAQ answer the bot may give. The assistant issue grows this into a real knowledge base."""

    __tablename__ = "knowledge_entries"

    workspace_id: Mapped[int] = workspace_fk()
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(String(4000))
    keywords: Mapped[str] = mapped_column(String(500), default="")
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="SET NULL"), default=None)
