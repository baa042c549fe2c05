"""The agent assist panel: summary, what the bot understood (intent, confidence, sentiment, language),
the slots a flow collected, why and by which rule the conversation was handed over, suggested replies,
canned responses and payments waiting for approval. Also the inputs of an LLM draft.

Read-only: nothing here writes, and the caller has already checked the agent may see the conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.assist import repository
from touchpoint.assistant.assist.llm import Turn
from touchpoint.assistant.assist.suggestions import Suggestion, suggest_replies
from touchpoint.assistant.assist.summary import Summary, is_human_request, is_substantive, language_name, summarize
from touchpoint.assistant.policy.sentiment import sentiment as score_sentiment
from touchpoint.models import (
    AssistantDecision,
    CannedResponse,
    Contact,
    Conversation,
    FlowSession,
    Message,
    PaymentRequest,
)

log = logging.getLogger(__name__)

# Built-in conversational intents: true but not "what the customer wants". Asking for a person is shown as
# the handoff rule; the intent shown is the request behind it, when the bot saw one.
SMALL_TALK = frozenset({"greeting", "thanks", "goodbye", "affirm", "deny", "cancel", "start_over"})
META = SMALL_TALK | {"human_request"}
NEGATIVE, POSITIVE = -0.25, 0.25


@dataclass(slots=True)
class AssistPanel:
    summary: Summary
    intent: str | None = None
    confidence: float | None = None
    sentiment: float | None = None
    language: str | None = None
    flow_name: str | None = None
    flow_status: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    handoff_reason: str | None = None
    handoff_rule: str | None = None
    suggestions: list[Suggestion] = field(default_factory=list)
    canned: Sequence[CannedResponse] = ()
    payments: Sequence[PaymentRequest] = ()
    llm_enabled: bool = False
    bot_turns: int = 0  # customer messages the bot decided about (0: it never saw this conversation)

    @property
    def sentiment_label(self) -> str:
        if self.sentiment is None:
            return ""
        return "negative" if self.sentiment <= NEGATIVE else "positive" if self.sentiment >= POSITIVE else "neutral"

    @property
    def language_label(self) -> str | None:
        return language_name(self.language)

    @property
    def pending_payments(self) -> list[PaymentRequest]:
        return [p for p in self.payments if p.status == "pending_approval"]


def customer_requests(messages: Sequence[Message], limit: int = 3) -> list[str]:
    """The customer's latest messages that ask for something, newest first (the suggestion query)."""
    found = []
    for m in reversed(messages):
        if m.sender_kind == "contact" and is_substantive(m.text or "") and not is_human_request(m.text or ""):
            found.append(m.text)
            if len(found) >= limit:
                break
    return found


def _understood(decisions: Sequence[AssistantDecision],
                messages: Sequence[Message]) -> tuple[str | None, float | None, float | None]:
    """(intent, confidence, sentiment): the latest request the bot recognised (a flow's follow-up turns
    carry no confidence of their own, so the turn that recognised it is used), and the latest mood."""
    sentiment = next((x.sentiment for x in reversed(decisions) if x.sentiment is not None), None)
    found: list[tuple[str, float | None]] = [(d.intent, d.confidence) for d in decisions if d.intent]
    if not decisions:  # before decisions were recorded, bot messages carried them
        for m in messages:
            decision = (m.content or {}).get("decision") if m.sender_kind == "bot" else None
            if isinstance(decision, dict) and decision.get("intent"):
                confidence = decision.get("confidence")
                found.append((str(decision["intent"]),
                              float(confidence) if isinstance(confidence, int | float) else None))
    for wanted in (lambda i: i not in META, lambda i: i not in SMALL_TALK):
        matching = [(i, c) for i, c in found if wanted(i)]
        if matching:
            intent = matching[-1][0]
            confidence = max((c for i, c in matching if i == intent and c is not None), default=None)
            return intent, confidence, sentiment
    return None, None, sentiment


def _handoff_rule(decisions: Sequence[AssistantDecision], messages: Sequence[Message]) -> str | None:
    escalation = next((d for d in reversed(decisions) if d.action == "escalate"), None)
    if escalation is not None:
        return escalation.rule
    for m in reversed(messages):
        content = m.content or {}
        if content.get("event") == "handoff" and isinstance(content.get("decision"), dict):
            rule = content["decision"].get("rule")
            return str(rule) if rule else None
    return None


def _current_flow(flows: Sequence[FlowSession]) -> FlowSession | None:
    live = [f for f in flows if f.status in ("active", "waiting_action", "waiting_approval")]
    candidates = live or list(flows)
    return candidates[-1] if candidates else None


async def assist_panel(session: AsyncSession, *, conversation: Conversation, contact: Contact,
                       channel: str | None = None, team_name: str | None = None, llm_enabled: bool = False,
                       encoder: Any = None, suggestion_limit: int = 4) -> AssistPanel:
    workspace_id = conversation.workspace_id
    messages = await repository.recent_messages(session, workspace_id, conversation.id)
    decisions = await repository.decisions_of(session, workspace_id, conversation.id)
    flows = await repository.flow_sessions_of(session, workspace_id, conversation.id)
    summary = summarize(contact_name=contact.name, channel=channel, messages=messages, decisions=decisions,
                        flows=flows, conversation_status=conversation.status,
                        handoff_reason=conversation.handoff_reason, team_name=team_name,
                        handed_over_at=conversation.handed_off_at, priority=conversation.priority,
                        contact_attributes=contact.attributes)
    intent, confidence, sentiment = _understood(decisions, messages)
    requests = customer_requests(messages)
    if sentiment is None and requests:
        # Conversations the bot never scored (older ones, or started by an agent): the policy's own scorer.
        sentiment = round(score_sentiment(requests[0]), 3)
    language = next((m.language for m in reversed(messages) if m.sender_kind == "contact" and m.language),
                    None) or next((d.language for d in reversed(decisions) if d.language), None)
    if not requests and summary.asked:
        requests = [summary.asked]
    flow = _current_flow(flows)
    canned = await repository.canned_for_team(session, workspace_id, conversation.team_id)
    return AssistPanel(
        summary=summary, intent=intent, confidence=confidence, sentiment=sentiment, language=language,
        flow_name=flow.flow_name if flow else None, flow_status=flow.status if flow else None,
        slots=dict(flow.slots or {}) if flow else {}, handoff_reason=conversation.handoff_reason,
        handoff_rule=_handoff_rule(decisions, messages),
        suggestions=await suggest_replies(session, workspace_id, requests, team_id=conversation.team_id,
                                          limit=suggestion_limit, encoder=encoder, language=language, canned=canned),
        canned=canned,
        payments=await repository.payment_requests_of(session, workspace_id, conversation.id),
        llm_enabled=llm_enabled, bot_turns=len(decisions) or sum(1 for m in messages if m.sender_kind == "bot"))


@dataclass(frozen=True, slots=True)
class DraftInputs:
    turns: list[Turn]
    facts: list[str]            # the brand's own words: knowledge answers, the handover reason
    customer_facts: list[str]   # anything the customer could have typed (name, flow slots): quoted as such


async def draft_inputs(session: AsyncSession, *, conversation: Conversation, contact: Contact,
                       agent_names: dict[int, str], channel: str | None = None, team_name: str | None = None,
                       encoder: Any = None) -> DraftInputs:
    """What an LLM draft or summary is built from: the transcript (no internal notes) and what the agent
    sees in the panel (summary, best knowledge-base answers, collected slots)."""
    panel = await assist_panel(session, conversation=conversation, contact=contact, channel=channel,
                               team_name=team_name, encoder=encoder, suggestion_limit=3)
    messages = await repository.recent_messages(session, conversation.workspace_id, conversation.id, limit=60)
    speakers = {"contact": "customer", "bot": "bot", "agent": "agent"}
    turns = [Turn(speakers.get(m.sender_kind, "system"), m.text or "",
                  agent_names.get(m.agent_id) if m.agent_id else None) for m in messages]
    facts = [f"{s.source_label} “{s.title}”: {s.text}" for s in panel.suggestions if s.source == "knowledge"]
    if panel.summary.handover:
        facts.append(f"Handed over to a person. {panel.summary.handover}")
    customer_facts = [f"Customer: {panel.summary.who}", *(f"Bot: {line}" for line in panel.summary.bot)]
    if panel.slots:
        customer_facts.append("Collected by the bot: " + ", ".join(f"{k}={v}" for k, v in panel.slots.items()))
    return DraftInputs(turns, facts, customer_facts)
