"""All ORM models, one file per domain. Importing this package registers every table."""

from touchpoint.models.agents import Agent, Role, Team, TeamMember
from touchpoint.models.assistant import (
    ActionCall,
    AssistantDecision,
    AssistantModel,
    CannedResponse,
    EscalationPolicyVersion,
    FlowDefinition,
    FlowSession,
    Intent,
    PaymentRequest,
)
from touchpoint.models.audit import AuditEntry
from touchpoint.models.channels import ChannelAccount
from touchpoint.models.contacts import ConsentRecord, Contact, ContactIdentity
from touchpoint.models.conversations import (
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    SenderKind,
)
from touchpoint.models.knowledge import KnowledgeEntry
from touchpoint.models.queues import InboundEvent, OutboxItem, Timer
from touchpoint.models.workspace import ApiKey, Workspace

__all__ = [
    "ActionCall",
    "Agent",
    "ApiKey",
    "AssistantDecision",
    "AssistantModel",
    "AuditEntry",
    "CannedResponse",
    "ChannelAccount",
    "ConsentRecord",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationStatus",
    "Direction",
    "EscalationPolicyVersion",
    "FlowDefinition",
    "FlowSession",
    "InboundEvent",
    "Intent",
    "KnowledgeEntry",
    "Message",
    "MessageStatus",
    "OutboxItem",
    "PaymentRequest",
    "Role",
    "SenderKind",
    "Team",
    "TeamMember",
    "Timer",
    "Workspace",
]
