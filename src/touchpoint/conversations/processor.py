"""The inbound processor: one normalised event in, everything it implies out, in one transaction.

Order of work for a message: contact and identity → conversation → stored message → consent keywords
(first, with a confirmation) → routing: a human owns it (agents are told in realtime) or the bot does
(the assistant answers or hands over, and the customer is acknowledged at once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.base import Assistant, AssistantInput, Decision
from touchpoint.assistant.handoff_notice import acknowledgement
from touchpoint.assistant.language_code import detect_language_code
from touchpoint.channels.base import NormalizedEvent
from touchpoint.contacts.service import record_consent, resolve_identity
from touchpoint.conversations import repository, service
from touchpoint.delivery.outbound import queue_message
from touchpoint.models import (
    ChannelAccount,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    InboundEvent,
    Message,
    MessageStatus,
    SenderKind,
    Workspace,
)
from touchpoint.policy import keywords
from touchpoint.policy.gate import Purpose
from touchpoint.realtime.events import conversation_topic, stage
from touchpoint.workspaces.audit import Actor

log = logging.getLogger(__name__)
# How long a receipt for a message we cannot match yet is retried before it is counted as unknown.
RECEIPT_GRACE = timedelta(seconds=60)


class ReceiptNotMatchedYet(Exception):
    """Retry soon: not a failure of the event."""

STOP_CONFIRMATION = ("You're unsubscribed and won't get any more promotional messages here. "
                     "Reply START to subscribe again. You can still write to us any time.")
START_CONFIRMATION = "You're subscribed again. Reply STOP at any time to unsubscribe."
CARD_WARNING = ("For your safety I've hidden the card number you sent. Please never type card details in chat: "
                "we'll send you a secure payment link instead.")


@dataclass(slots=True)
class Processed:
    conversation_id: int | None
    outcome: str


async def process_event(session: AsyncSession, assistant: Assistant, row: InboundEvent, now: datetime, *,
                        preread: Any = None) -> Processed:
    """`preread`: the message's understanding computed ahead (conversations.prereading), handed to the assistant."""
    event = NormalizedEvent.from_payload(row.payload)
    if event.kind == "status":
        return await _apply_receipt(session, row, event, now)
    if event.kind in ("opt_out", "opt_in"):
        return await _apply_provider_consent(session, row, event)
    if event.kind != "message":
        return Processed(None, f"ignored:{event.kind}")
    account = await session.get(ChannelAccount, row.channel_account_id)
    workspace = await session.get(Workspace, row.workspace_id)
    assert account is not None and workspace is not None
    contact, _identity = await resolve_identity(session, workspace_id=row.workspace_id,
                                                channel_account_id=account.id, external_id=event.sender_id,
                                                profile=event.profile)
    conversation, _opened = await service.get_or_open(session, contact=contact, channel_account_id=account.id,
                                                      now=now)
    # Decided before the message is stored (neither depends on it; a snoozed conversation the message wakes stays
    # human-owned), so that its language goes into the INSERT instead of a second UPDATE.
    consent_word = keywords.classify(event.text, workspace.settings)
    to_humans = not consent_word and ConversationStatus(conversation.status).human_owned
    language = None
    if to_humans:
        language = detect_language_code(event.text)
    elif not consent_word and preread is not None:
        language = preread.understood.language  # what the assistant will say, unless it reads the message anew
    stored = await service.store_inbound(session, conversation=conversation, text=event.text, content=event.content,
                                         external_id=event.provider_event_id, now=now, language=language)
    # Every reply below follows this message: the send gate need not look up when the customer last wrote.
    wrote_at = stored.created_at
    if event.content.get("masked_card_numbers"):
        await queue_message(session, conversation=conversation, sender_kind=SenderKind.system.value,
                            text=CARD_WARNING, purpose=Purpose.transactional, content={"event": "card_masked"},
                            now=now, last_inbound_at=wrote_at)

    if consent_word:
        return await _apply_keyword(session, conversation, contact, account.channel, consent_word, event.text,
                                    wrote_at)

    if to_humans:
        return Processed(conversation.id, "to_humans")

    decision = await assistant.respond(session, AssistantInput(
        workspace_id=row.workspace_id, conversation_id=conversation.id, contact_id=contact.id, text=event.text,
        channel=account.channel, locale=contact.locale, message_id=stored.id, preread=preread))
    stored.language = decision.language  # no UPDATE when the INSERT already had it
    return await apply_decision(session, conversation, decision, now, last_inbound_at=wrote_at)


async def _apply_keyword(session: AsyncSession, conversation: Conversation, contact: Contact, channel: str,
                         word: str, text: str, last_inbound_at: datetime | None = None) -> Processed:
    granted = word == "start"
    await record_consent(session, contact=contact, topic="*", channel=channel, granted=granted,
                         source="keyword", evidence=text)
    await queue_message(session, conversation=conversation, sender_kind=SenderKind.system.value,
                        text=START_CONFIRMATION if granted else STOP_CONFIRMATION, purpose=Purpose.transactional,
                        content={"event": "consent", "granted": granted}, last_inbound_at=last_inbound_at)
    return Processed(conversation.id, f"consent:{word}")


async def apply_decision(session: AsyncSession, conversation: Conversation, decision: Decision,
                          now: datetime, *, last_inbound_at: datetime | None = None) -> Processed:
    """`last_inbound_at`: when the customer's message being answered was stored, if the caller has just done so."""
    audit = {"rule": decision.rule, "intent": decision.intent, "confidence": decision.confidence,
             "scores": decision.scores}
    for reply in decision.replies:
        await queue_message(session, conversation=conversation, text=reply.text, sender_kind=SenderKind.bot.value,
                            purpose=Purpose.service, content={**reply.content, "rule": decision.rule,
                                                              "decision": audit}, now=now,
                            last_inbound_at=last_inbound_at)
    if decision.handoff is None:
        return Processed(conversation.id, f"bot:{decision.rule}")
    team = await repository.team_by_slug(session, conversation.workspace_id, decision.handoff.team_slug)
    already_human = ConversationStatus(conversation.status).human_owned
    await service.hand_off(session, conversation=conversation, team=team, reason=decision.handoff.reason,
                           actor=Actor("system", None, "assistant"), priority=decision.handoff.priority, now=now)
    workspace = await session.get(Workspace, conversation.workspace_id)
    assert workspace is not None
    text, facts = await acknowledgement(session, workspace=workspace, team=team, now=now, conversation=conversation)
    if already_human:  # a flow asking for approval in a conversation people already own: no second notice
        return Processed(conversation.id, f"handoff:{decision.handoff.team_slug}")
    # The acknowledgement is a transactional notice: it must reach the customer although a human owns
    # the conversation from this moment on.
    await queue_message(session, conversation=conversation, text=text, sender_kind=SenderKind.system.value,
                        purpose=Purpose.transactional, content={"event": "handoff", "decision": audit, **facts},
                        now=now, last_inbound_at=last_inbound_at)
    return Processed(conversation.id, f"handoff:{decision.handoff.team_slug}")


async def _apply_receipt(session: AsyncSession, row: InboundEvent, event: NormalizedEvent,
                         now: datetime) -> Processed:
    """Receipts move a message's status forward only; a late 'delivered' never undoes 'read'."""
    new = MessageStatus(event.status or "sent")
    lower_ranks = [s.value for s in MessageStatus if 0 < s.rank < new.rank]
    if new == MessageStatus.failed:
        lower_ranks = [MessageStatus.queued.value, MessageStatus.sent.value, MessageStatus.delivered.value]
    result = await session.execute(
        update(Message).where(Message.channel_account_id == row.channel_account_id,
                              Message.direction == Direction.outbound.value,
                              Message.external_id == event.provider_message_id,
                              Message.status.in_(lower_ranks))
        .values(status=new.value, status_at=now, status_reason=event.error)
        .returning(Message.id, Message.conversation_id)
    )
    updated = result.first()
    if updated is None:
        known = (await session.execute(
            select(Message.id).where(Message.channel_account_id == row.channel_account_id,
                                     Message.direction == Direction.outbound.value,
                                     Message.external_id == event.provider_message_id).limit(1))).first()
        if known is None and now - row.created_at < RECEIPT_GRACE:
            # A fast provider's receipt can arrive before the dispatcher has recorded the provider id.
            raise ReceiptNotMatchedYet(f"no outbound message with provider id {event.provider_message_id!r} yet")
        return Processed(None, "receipt:stale" if known else "receipt:unknown")
    stage(session, conversation_topic(updated.conversation_id),
          {"type": "status", "message_id": updated.id, "status": new.value})
    return Processed(updated.conversation_id, f"receipt:{new.value}")


async def _apply_provider_consent(session: AsyncSession, row: InboundEvent, event: NormalizedEvent) -> Processed:
    account = await session.get(ChannelAccount, row.channel_account_id)
    assert account is not None
    contact, _ = await resolve_identity(session, workspace_id=row.workspace_id, channel_account_id=account.id,
                                        external_id=event.sender_id, profile=event.profile)
    await record_consent(session, contact=contact, topic=event.content.get("topic", "*"), channel=account.channel,
                         granted=event.kind == "opt_in", source=f"provider:{account.channel}")
    latest = await repository.latest_conversation_for(session, contact.id, account.id)
    return Processed(latest.id if latest else None, event.kind)
