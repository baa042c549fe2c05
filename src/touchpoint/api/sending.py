"""Sending a message through the API, with Idempotency-Key replay. Flushes, never commits.

Where the idempotency facts live, and why:
- The message row carries `idempotency_key = "api:<client key>"`. The (workspace_id, idempotency_key)
  unique constraint is what guarantees a single message per key, even when two identical requests race;
  the "api:" prefix keeps API keys apart from keys other paths (the inbox composer) may use.
- The hash of the request is kept in the audit entry the API writes for every message it sends
  (action "message.send", actor = the API key), in the same transaction as the message. Not in
  Message.content: content is handed to the channel adapter as is, so a hash there would be sent to the
  provider and shown in web chat.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.api import repository
from touchpoint.api.deps import ApiCaller
from touchpoint.api.schemas import MessageCreate, Sender
from touchpoint.conversations import service as conversations
from touchpoint.delivery.outbound import queue_message
from touchpoint.kit.errors import Conflict, NotFound
from touchpoint.models import Conversation, Message, SenderKind
from touchpoint.workspaces.audit import record_audit
from touchpoint.workspaces.repository import access_agent

SEND_ACTION = "message.send"


def stored_key(client_key: str) -> str:
    return f"api:{client_key}"


def request_hash(conversation_id: int, request: MessageCreate) -> str:
    """Of the validated request, so key order, whitespace and spelled-out defaults do not matter."""
    canonical = json.dumps({"conversation_id": conversation_id, **request.model_dump(mode="json")},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_replay(session: AsyncSession, *, workspace_id: int, client_key: str, fingerprint: str) -> Message | None:
    """The message an earlier request with this key created, if its body was the same; 409 if not."""
    message = await repository.message_by_idempotency_key(session, workspace_id, stored_key(client_key))
    if message is None:
        return None
    record = await repository.send_record(session, workspace_id, message.id, SEND_ACTION)
    if record is None or record.details.get("request_hash") != fingerprint:
        raise Conflict("this Idempotency-Key was already used with a different request",
                       code="idempotency_mismatch", details={"message_id": message.id})
    return message


async def send_message(session: AsyncSession, *, caller: ApiCaller, conversation: Conversation,
                       request: MessageCreate, client_key: str | None) -> tuple[Message, bool]:
    """Returns (message, created). Suppressed messages are created too: the verdict is the answer."""
    fingerprint = request_hash(conversation.id, request)
    if client_key is not None:
        earlier = await find_replay(session, workspace_id=caller.workspace_id, client_key=client_key,
                                    fingerprint=fingerprint)
        if earlier is not None:
            return earlier, False
    key = stored_key(client_key) if client_key is not None else None
    if request.sender == Sender.agent:
        assert request.agent_id is not None
        agent = await access_agent(session, caller.workspace_id, request.agent_id)
        if agent is None:
            raise NotFound(f"no agent {request.agent_id} in this workspace")
        message = await conversations.agent_reply(session, conversation=conversation, agent=agent, text=request.text,
                                                  idempotency_key=key)
    else:
        message = await queue_message(session, conversation=conversation, text=request.text,
                                      sender_kind=SenderKind.system.value, purpose=request.purpose,
                                      topic=request.resolved_topic, content=request.content, idempotency_key=key)
    record_audit(session, workspace_id=caller.workspace_id, actor=caller.actor, action=SEND_ACTION,
                 subject_type="message", subject_id=message.id, conversation_id=conversation.id,
                 sender=request.sender.value, status=message.status, idempotency_key=client_key,
                 request_hash=fingerprint)
    await session.flush()
    return message, True
