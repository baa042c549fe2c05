"""Durable work queues in our own tables: inbound events, outbound messages, timers.

Every queue row has a `lane`: rows of one lane are handled strictly in id order, one at a time
(per-conversation order), while different lanes run in parallel and across workers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk
from touchpoint.kit.clock import utcnow


class QueueColumns:
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|leased|done|failed
    lane: Mapped[str] = mapped_column(String(120))
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class InboundEvent(IdMixin, CreatedMixin, QueueColumns, Base):
    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("channel_account_id", "provider_event_id"),
        Index("ix_inbound_due", "status", "available_at"),
        Index("ix_inbound_lane", "lane", "status", "id"),
    )

    workspace_id: Mapped[int] = workspace_fk()
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    provider_event_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    # The normalised event (channels.base.NormalizedEvent as a dict).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboxItem(IdMixin, CreatedMixin, QueueColumns, Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "available_at"),
        Index("ix_outbox_lane", "lane", "status", "id"),
        UniqueConstraint("message_id"),
    )

    workspace_id: Mapped[int] = workspace_fk()
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    # Sent to providers that support it so an at-least-once retry is not a second message.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)


class Timer(IdMixin, CreatedMixin, QueueColumns, Base):
    """Something due later (snooze wake-up, SLA breach, reminder). The writer of the event that makes
    it moot deletes it in the same transaction."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "status", "available_at"),
                      Index("ix_timers_lane", "lane", "status", "id"),
                      Index("ix_timers_subject", "kind", "subject_id"),)

    workspace_id: Mapped[int] = workspace_fk()
    kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(BigId, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
