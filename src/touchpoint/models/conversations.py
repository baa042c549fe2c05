"""Conversations and messages."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk
from touchpoint.kit.clock import utcnow


class ConversationStatus(enum.StrEnum):
    bot = "bot"
    queued = "queued"
    assigned = "assigned"
    snoozed = "snoozed"
    resolved = "resolved"

    @property
    def human_owned(self) -> bool:
        return self in (ConversationStatus.queued, ConversationStatus.assigned, ConversationStatus.snoozed)


class Conversation(IdMixin, CreatedMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_inbox", "workspace_id", "status", "last_message_at"),
                      Index("ix_conversations_contact", "contact_id", "channel_account_id", "status"),)

    workspace_id: Mapped[int] = workspace_fk()
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.bot.value)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("agents.id", ondelete="SET NULL"),
                                                 default=None)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    handoff_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_preview: Mapped[str | None] = mapped_column(String(200), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    snoozed_until: Mapped[datetime | None] = mapped_column(default=None)
    handed_off_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the first agent answer is due (SLA); cleared by the first agent reply.
    first_response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    first_agent_reply_at: Mapped[datetime | None] = mapped_column(default=None)


class Direction(enum.StrEnum):
    inbound = "in"
    outbound = "out"


class SenderKind(enum.StrEnum):
    contact = "contact"
    bot = "bot"
    agent = "agent"
    system = "system"


class MessageStatus(enum.StrEnum):
    received = "received"      # inbound, stored
    note = "note"              # internal note, never leaves Touchpoint
    queued = "queued"          # outbound, in the outbox
    deferred = "deferred"      # outbound, gate said later
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"
    suppressed = "suppressed"  # gate said no; reason kept

    @property
    def rank(self) -> int:
        """Receipts only move status forward along this order; failed is terminal."""
        return _RANK.get(self, 0)


_RANK = {MessageStatus.queued: 1, MessageStatus.deferred: 1, MessageStatus.sent: 2,
         MessageStatus.delivered: 3, MessageStatus.read: 4, MessageStatus.failed: 9,
         MessageStatus.suppressed: 9}


class Message(IdMixin, CreatedMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "id"),
        # Provider ids: inbound dedup and receipt lookup.
        UniqueConstraint("channel_account_id", "direction", "external_id"),
        UniqueConstraint("workspace_id", "idempotency_key"),
    )

    workspace_id: Mapped[int] = workspace_fk()
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    sender_kind: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("agents.id", ondelete="SET NULL"), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    # Structured extras: quick replies, template name and params, attachments.
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    purpose: Mapped[str | None] = mapped_column(String(16), default=None)
    topic: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    # The send gate's verdict: {"action": ..., "reasons": [...], "until": ...}.
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # Detected language of an inbound message (ISO 639-1), kept for routing and reporting.
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    status_at: Mapped[datetime | None] = mapped_column(default=None)
