"""Workspaces (tenants) and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, CreatedMixin, IdMixin, workspace_fk


class Workspace(IdMixin, CreatedMixin, Base):
    __tablename__ = "workspaces"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Sealed with SecretBox: {"widget_secret": "..."}.
    secrets_sealed: Mapped[str | None] = mapped_column(String(2000), default=None)
    # Workspace policy: extra consent keywords, widget mode, greeting... (see workspaces.policy).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApiKey(IdMixin, CreatedMixin, Base):
    __tablename__ = "api_keys"

    workspace_id: Mapped[int] = workspace_fk()
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
