"""Web chat logic: sessions, sending, the transcript, receipts. Flushes, never commits.

A visitor's message travels the same path as a provider webhook: it becomes a NormalizedEvent stored
with webhooks.service.store_events (one row per (account, provider event id), so a retried send is one
message), and the processor does the rest. Receipts are status events on that same path, so a message's
status only ever moves forward.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.channels.base import NormalizedEvent
from touchpoint.channels.webchat.adapter import visitor_topic
from touchpoint.contacts.repository import find_identity
from touchpoint.kit.errors import AppError, Forbidden, PayloadTooLarge
from touchpoint.models import Direction, Message, MessageStatus
from touchpoint.realtime.events import stage
from touchpoint.webhooks.service import lane_for_sender, store_events
from touchpoint.widget import repository, tokens
from touchpoint.widget.accounts import WidgetAccount
from touchpoint.widget.schemas import SessionRequest
from touchpoint.widget.tokens import SessionClaims

TRANSCRIPT_PAGE = 200
# Only what the widget renders leaves the server: the bot's decision audit (rule, scores) stays inside.
PUBLIC_CONTENT_KEYS = ("quick_replies", "event", "agent_name", "queue_position", "granted")
MAX_QUICK_REPLIES = 10
RECEIPT_FROM = {
    "delivered": (MessageStatus.queued.value, MessageStatus.sent.value),
    "read": (MessageStatus.queued.value, MessageStatus.sent.value, MessageStatus.delivered.value),
}


@dataclass(frozen=True, slots=True)
class Visitor:
    account: WidgetAccount
    claims: SessionClaims

    @property
    def id(self) -> str:
        return self.claims.visitor_id

    @property
    def topic(self) -> str:
        return visitor_topic(self.account.key, self.id)


@dataclass(slots=True)
class SessionResult:
    session_token: str
    expires_in: int
    visitor_id: str
    verified: bool
    visitor_token: str | None
    resumed: bool


@dataclass(slots=True)
class Transcript:
    messages: list[dict[str, Any]]
    unprocessed: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False


def check_clean(value: str, what: str) -> str:
    """Text a database can store: no NUL (PostgreSQL refuses it), no lone surrogates (not UTF-8)."""
    if "\x00" in value:
        raise AppError(f"{what} contains a NUL character", code="invalid_text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AppError(f"{what} is not valid Unicode text", code="invalid_text") from exc
    return value


def check_text(text: str, max_chars: int) -> str:
    if len(text) > max_chars:
        raise PayloadTooLarge(f"a message can be at most {max_chars} characters; this one has {len(text)}",
                              code="message_too_long", details={"max_chars": max_chars})
    check_clean(text, "the message")
    if not text.strip():
        raise AppError("the message is empty", code="empty_message")
    return text


def check_client_id(client_id: str) -> str:
    try:
        return str(uuid.UUID(client_id))
    except ValueError as exc:
        raise AppError("client_id must be a UUID the widget creates for each message",
                       code="invalid_client_id") from exc


def start_session(account: WidgetAccount, secret_key: str, request: SessionRequest) -> SessionResult:
    """Issue a session for a verified user (user_id + user_hash) or an anonymous visitor, new or resumed.

    A user_id is never trusted without its hash: otherwise anyone could claim any id and read that
    person's history. Anonymous visitors are refused when the workspace is in verified-only mode.
    """
    name = check_clean(request.name, "name").strip() or None if request.name else None
    email = check_clean(request.email, "email").strip() or None if request.email else None
    if request.user_id is not None:
        user_id = check_clean(request.user_id, "user_id").strip()
        if not user_id or not user_id.isprintable():
            raise AppError("user_id must be printable text", code="invalid_user_id")
        if not account.widget_secret:
            raise Forbidden("identity verification is not set up for this workspace",
                            code="verification_unavailable")
        if not tokens.user_hash_matches(account.widget_secret, user_id, request.user_hash):
            raise Forbidden("user_hash does not match user_id; compute it on your server as hex "
                            "HMAC-SHA256(widget secret, user_id)", code="invalid_user_hash")
        visitor_id, resumed, visitor_token = tokens.verified_visitor_id(user_id), True, None
    else:
        if request.user_hash:
            raise AppError("user_hash was given without user_id", code="invalid_user_id")
        if account.require_verified:
            raise Forbidden("this chat is only for signed-in users", code="verification_required")
        known = tokens.read_visitor_token(secret_key, request.visitor_token, account.key) \
            if request.visitor_token else None
        visitor_id = known or tokens.new_anonymous_visitor_id()
        resumed = known is not None
        visitor_token = tokens.issue_visitor_token(secret_key, account.key, visitor_id)
    claims = tokens.session_claims(secret_key, account.key, visitor_id, name=name, email=email)
    return SessionResult(session_token=tokens.issue_session(secret_key, claims), expires_in=tokens.SESSION_TTL_SECONDS,
                         visitor_id=visitor_id, verified=claims.verified, visitor_token=visitor_token,
                         resumed=resumed)


def check_visitor(account: WidgetAccount, claims: SessionClaims) -> Visitor:
    """A session is only as good as the policy now in force: switching to verified-only mode cuts off
    anonymous sessions issued before."""
    if claims.account_key != account.key:
        raise Forbidden("the session belongs to another chat", code="session_invalid")
    if account.require_verified and not claims.verified:
        raise Forbidden("this chat is only for signed-in users", code="verification_required")
    return Visitor(account, claims)


def event_id_for(client_id: str, visitor_id: str) -> str:
    """Dedup is per (visitor, client id), as channels.md §8 says: one visitor cannot collide with another's
    ids, and a retry of the same message is the same event."""
    return f"{client_id}@{visitor_id}"


def client_id_of(external_id: str | None) -> str | None:
    return external_id.partition("@")[0] if external_id else None


async def send_message(session: AsyncSession, visitor: Visitor, *, client_id: str, text: str,
                       via: str | None = None) -> bool:
    """Store the visitor's message for the processor. Returns False when it was already stored.
    `via` names the connection it came from, which needs no echo of it."""
    claims = visitor.claims
    profile: dict[str, Any] = {}
    if claims.name:
        profile["name"] = claims.name
    if claims.email:
        profile["email"] = claims.email
    if claims.verified:
        # The same signed-in person is the same contact, whichever device or channel they come from.
        profile["external_ref"] = claims.user_id
    event = NormalizedEvent(kind="message", provider_event_id=event_id_for(client_id, visitor.id),
                            sender_id=visitor.id, text=text, profile=profile)
    new = await store_events(session, visitor.account.context, [event]) > 0
    if new:
        # Other tabs of the same visitor show it at once (published after commit only).
        stage(session, visitor.topic, {"type": "visitor_message", "client_id": client_id, "text": text,
                                      "via": via})
    return new


def serialize(message: Message, agent_name: str | None) -> dict[str, Any]:
    content = {k: message.content[k] for k in PUBLIC_CONTENT_KEYS if k in (message.content or {})}
    replies = content.get("quick_replies")
    if replies is not None:
        content["quick_replies"] = [str(r)[:80] for r in replies[:MAX_QUICK_REPLIES]] \
            if isinstance(replies, list) else []
    inbound = message.direction == Direction.inbound.value
    return {
        "id": message.id,
        "direction": message.direction,
        "sender": message.sender_kind,
        "text": message.text,
        "content": content,
        "client_id": client_id_of(message.external_id) if inbound else None,
        # First name only: agents' full names are theirs to share.
        "agent_name": (agent_name or "").split(" ")[0] or None if message.sender_kind == "agent" else None,
        "status": message.status,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


async def _contact_id(session: AsyncSession, visitor: Visitor) -> int | None:
    identity = await find_identity(session, visitor.account.context.id, visitor.id)
    return identity.contact_id if identity is not None else None


async def transcript(session: AsyncSession, visitor: Visitor, *, after_id: int | None) -> Transcript:
    account_id = visitor.account.context.id
    result = Transcript(messages=[])
    contact_id = await _contact_id(session, visitor)
    if contact_id is not None:
        rows = await repository.transcript(session, account_id=account_id, contact_id=contact_id,
                                           after_id=after_id, limit=TRANSCRIPT_PAGE + 1)
        if after_id and len(rows) > TRANSCRIPT_PAGE:
            result.more, rows = True, rows[:TRANSCRIPT_PAGE]
        elif not after_id and len(rows) > TRANSCRIPT_PAGE:
            rows = rows[-TRANSCRIPT_PAGE:]
        result.messages = [serialize(message, agent) for message, agent in rows]
    # Sent but not processed yet (the processor runs a moment later): still the visitor's words.
    for event in await repository.unprocessed_messages(session, account_id=account_id,
                                                       lane=lane_for_sender(account_id, visitor.id)):
        payload = event.payload or {}
        if payload.get("sender_id") == visitor.id:
            result.unprocessed.append({"client_id": client_id_of(event.provider_event_id),
                                       "text": payload.get("text", ""),
                                       "created_at": event.created_at.isoformat() if event.created_at else None})
    return result


async def pushed_message(session: AsyncSession, visitor: Visitor, message_id: int) -> dict[str, Any] | None:
    """The message the adapter just published to this visitor, if it really is theirs."""
    contact_id = await _contact_id(session, visitor)
    if contact_id is None:
        return None
    row = await repository.message_for_visitor(session, account_id=visitor.account.context.id,
                                               contact_id=contact_id, message_id=message_id)
    return None if row is None else serialize(row[0], row[1])


async def mark_seen(session: AsyncSession, visitor: Visitor, *, up_to_id: int, status: str) -> tuple[int, int]:
    """Turn "the visitor has seen everything up to message X" into one status event per message.

    Returns (events stored, messages not receipt-able yet): a message the adapter published is pushed
    before the dispatcher records it as sent, and a receipt for it must wait until then.
    """
    contact_id = await _contact_id(session, visitor)
    if contact_id is None:
        return 0, 0
    rows = await repository.receipt_candidates(session, account_id=visitor.account.context.id,
                                               contact_id=contact_id, up_to_id=up_to_id,
                                               statuses=RECEIPT_FROM[status])
    events = []
    waiting = 0
    for message_id, current, external_id in rows:
        if current == MessageStatus.queued.value or not external_id:
            waiting += 1
            continue
        events.append(NormalizedEvent(kind="status", provider_event_id=f"{status}:{message_id}",
                                      sender_id=visitor.id, provider_message_id=external_id, status=status))
    stored = await store_events(session, visitor.account.context, events)
    return stored, waiting
