"""The assistant's per-workspace state: intents, trained model versions, flows and their live sessions,
the escalation policy, every decision it took, canned responses and payment approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, BigId, CreatedMixin, IdMixin, workspace_fk
from touchpoint.kit.clock import utcnow
from touchpoint.models.queues import QueueColumns


class Intent(IdMixin, CreatedMixin, Base):
    """Something customers ask for, taught by example phrases. What the bot does about it (answer, start a
    flow, hand to a person) is the intent's `response`/`flow` and the escalation policy."""

    __tablename__ = "assistant_intents"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = workspace_fk()
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    examples: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # A fixed answer for the intent, or the flow it starts; both empty: the knowledge base answers.
    response: Mapped[str | None] = mapped_column(Text, default=None)
    flow: Mapped[str | None] = mapped_column(String(100), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssistantModel(IdMixin, CreatedMixin, Base):
    """One trained version of a workspace's understanding model; files live in the model store on disk."""

    __tablename__ = "assistant_models"
    __table_args__ = (UniqueConstraint("workspace_id", "version"),
                      Index("ix_assistant_models_active", "workspace_id", "is_active"))

    workspace_id: Mapped[int] = workspace_fk()
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="training")  # training | ready | failed
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Counts, encoder id, warnings ("no embedding model installed"), training seconds, evaluation figures.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class FlowDefinition(IdMixin, CreatedMixin, Base):
    """A declarative slot-filling flow as imported (source kept verbatim) and as parsed."""

    __tablename__ = "assistant_flows"
    __table_args__ = (UniqueConstraint("workspace_id", "name", "version"),
                      Index("ix_assistant_flows_active", "workspace_id", "name", "is_active"))

    workspace_id: Mapped[int] = workspace_fk()
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class FlowSession(IdMixin, CreatedMixin, Base):
    """A flow running in one conversation: where it is and what it has collected."""

    __tablename__ = "assistant_flow_sessions"
    __table_args__ = (Index("ix_flow_sessions_conversation", "conversation_id", "status"),)

    workspace_id: Mapped[int] = workspace_fk()
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    flow_id: Mapped[int] = mapped_column(BigId, ForeignKey("assistant_flows.id", ondelete="CASCADE"))
    flow_name: Mapped[str] = mapped_column(String(100))
    # active | waiting_action | waiting_approval | completed | cancelled | failed | handed_off
    status: Mapped[str] = mapped_column(String(20), default="active")
    step: Mapped[str] = mapped_column(String(100), default="")
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Re-prompt counts per step, action results, the reason a flow ended.
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActionCall(IdMixin, CreatedMixin, QueueColumns, Base):
    """A call to the brand's HTTP action, made outside any database transaction by its own loop: a slow
    brand server must never hold the write lock or a customer's message."""

    __tablename__ = "assistant_action_calls"
    __table_args__ = (Index("ix_action_calls_due", "status", "available_at"),
                      Index("ix_action_calls_lane", "lane", "status", "id"))

    workspace_id: Mapped[int] = workspace_fk()
    flow_session_id: Mapped[int] = mapped_column(BigId, ForeignKey("assistant_flow_sessions.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(100))
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class EscalationPolicyVersion(IdMixin, CreatedMixin, Base):
    """The workspace's declarative escalation policy; every version kept so old decisions stay explainable."""

    __tablename__ = "assistant_policies"
    __table_args__ = (UniqueConstraint("workspace_id", "version"),)

    workspace_id: Mapped[int] = workspace_fk()
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)


class AssistantDecision(IdMixin, CreatedMixin, Base):
    """Why the bot did what it did with one customer message: the rule that fired and the scores."""

    __tablename__ = "assistant_decisions"
    __table_args__ = (Index("ix_assistant_decisions_conversation", "conversation_id", "id"),)

    workspace_id: Mapped[int] = workspace_fk()
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"),
                                                   default=None)
    action: Mapped[str] = mapped_column(String(16))  # answer | flow | clarify | escalate
    rule: Mapped[str] = mapped_column(String(100))
    intent: Mapped[str | None] = mapped_column(String(100), default=None)
    confidence: Mapped[float] = mapped_column(default=0.0)
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    sentiment: Mapped[float | None] = mapped_column(default=None)
    team_slug: Mapped[str | None] = mapped_column(String(64), default=None)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_version: Mapped[str | None] = mapped_column(String(64), default=None)
    policy_version: Mapped[int | None] = mapped_column(Integer, default=None)


class CannedResponse(IdMixin, CreatedMixin, Base):
    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("workspace_id", "shortcut"),)

    workspace_id: Mapped[int] = workspace_fk()
    shortcut: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="SET NULL"), default=None)


class PaymentRequest(IdMixin, CreatedMixin, Base):
    """A payment the bot prepared and a person must approve before the customer gets the link."""

    __tablename__ = "payment_requests"
    __table_args__ = (Index("ix_payment_requests_conversation", "conversation_id", "status"),)

    workspace_id: Mapped[int] = workspace_fk()
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    flow_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("assistant_flow_sessions.id", ondelete="SET NULL"), default=None)
    reference: Mapped[str] = mapped_column(String(100))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # pending_approval | approved | rejected | link_sent
    status: Mapped[str] = mapped_column(String(20), default="pending_approval")
    payment_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    decided_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("agents.id", ondelete="SET NULL"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
