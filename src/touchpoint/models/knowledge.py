"""FAQ answers the bot may give."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk
from touchpoint.kit.clock import utcnow


class KnowledgeEntry(IdMixin, CreatedMixin, Base):
    """An FAQ entry (question → short answer) or an article (title → body) the bot may answer from,
    always citing it."""

    __tablename__ = "knowledge_entries"

    workspace_id: Mapped[int] = workspace_fk()
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(String(4000))
    keywords: Mapped[str] = mapped_column(String(500), default="")
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(16), default="faq")  # faq | article
    # An article's full text; `answer` is then the short passage the bot quotes.
    body: Mapped[str | None] = mapped_column(Text, default=None)
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    is_published: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
