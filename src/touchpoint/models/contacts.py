"""Contacts, their per-channel identities, and consent records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk
from touchpoint.kit.clock import utcnow


class Contact(IdMixin, CreatedMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_ws_email", "workspace_id", "email"),
                      # NULLs are distinct in both databases, so only contacts with a brand id are unique.
                      Index("uq_contacts_ws_external_ref", "workspace_id", "external_ref", unique=True),)

    workspace_id: Mapped[int] = workspace_fk()
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    # The brand's own id for this person (e.g. the signed-in user id the widget verified).
    external_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContactIdentity(IdMixin, CreatedMixin, Base):
    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("channel_account_id", "external_id"),)

    workspace_id: Mapped[int] = workspace_fk()
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel_account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    # Per-identity flags the channel tells us (blocked the bot, unfollowed...).
    reachable: Mapped[bool] = mapped_column(default=True)


class ConsentRecord(IdMixin, CreatedMixin, Base):
    """Append-only: the latest record for (contact, topic, channel) is the one in force.

    topic "*" and channel "*" mean every topic / every channel (a STOP on SMS is topic "*", channel "sms").
    """

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_lookup", "contact_id", "topic", "channel", "id"),)

    workspace_id: Mapped[int] = workspace_fk()
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column()
    source: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str | None] = mapped_column(String(500), default=None)
