"""Agents (people who log in), their roles and teams."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk


class Role(enum.StrEnum):
    admin = "admin"
    marketer = "marketer"
    sales = "sales"
    agent = "agent"


class Agent(IdMixin, CreatedMixin, Base):
    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)

    workspace_id: Mapped[int] = workspace_fk()
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.agent.value)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    languages: Mapped[str] = mapped_column(String(100), default="en")


class Team(IdMixin, CreatedMixin, Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "slug"),)

    workspace_id: Mapped[int] = workspace_fk()
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # Languages the team answers in (comma-separated ISO 639-1); a message in another language is routed
    # to a team that speaks it.
    languages: Mapped[str] = mapped_column(String(100), default="en")


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigId, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = workspace_fk()
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
