"""Audit log of agent and admin actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk


class AuditEntry(IdMixin, CreatedMixin, Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "workspace_id", "subject_type", "subject_id"),)

    workspace_id: Mapped[int] = workspace_fk()
    actor_type: Mapped[str] = mapped_column(String(16))  # agent | api_key | system
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(BigId, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
