"""/api/v1/conversations/{id}/messages: read a conversation's messages and send one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy.exc import IntegrityError

from touchpoint.api import repository, sending
from touchpoint.api.conversations import require_conversation
from touchpoint.api.deps import ApiRoute, ApiWorkspace, ConversationId, RuntimeDep
from touchpoint.api.schemas import MessageCreate, MessageOut, MessagePage, error_responses
from touchpoint.contacts.schemas import MAX_ID

router = APIRouter(prefix="/conversations/{conversation_id}/messages", tags=["messages"], route_class=ApiRoute)

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=150, pattern=r"^[\x21-\x7e]+$",
    description="Any unique string (a UUID is ideal), 1-150 printable ASCII characters. Retrying with the "
                "same key and the same body returns the original message (200) instead of sending again; "
                "the same key with a different body is 409 `idempotency_mismatch`.",
    examples=["3f0c2a9e-6c59-4a8e-9d7e-0a8f5a1c2b77"])]


@router.get("", response_model=MessagePage, summary="List messages", responses=error_responses(404),
            description="Oldest first. To follow a conversation, pass the previous page's `next_after` "
                        "(or the last id you have) as `after`.")
async def list_messages(
    conversation_id: ConversationId, caller: ApiWorkspace, runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Only messages with a larger id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, at most 200.")] = 50,
    include_notes: Annotated[bool, Query(description="Include agents' internal notes.")] = False,
) -> MessagePage:
    async with runtime.transaction() as session:
        conversation = await require_conversation(session, caller.workspace_id, conversation_id)
        rows = await repository.messages_page(session, caller.workspace_id, conversation.id, after_id=after,
                                              limit=limit + 1, include_notes=include_notes)
    page = rows[:limit]
    return MessagePage(data=[MessageOut.model_validate(m) for m in page],
                       next_after=page[-1].id if len(rows) > limit else None)


@router.post("", status_code=201, response_model=MessageOut, summary="Send a message",
             responses={200: {"model": MessageOut, "description": "Replay of an earlier request with the same "
                                                                  "Idempotency-Key: the original message."},
                        **error_responses(404, 409)},
             description="Every message passes the send gate. A message the gate stops is still created "
                         "(201) with `status: suppressed` and the reasons in `gate.reasons` (`no_consent`, "
                         "`opted_out`, `human_owned`...): the answer tells you why it was not sent.\n\n"
                         "`sender: agent` replies as that agent, who takes the conversation if nobody had "
                         "it; `sender: system` is an automated message with the given purpose and topic.")
async def send_message(conversation_id: ConversationId, body: MessageCreate, caller: ApiWorkspace,
                       runtime: RuntimeDep, response: Response,
                       idempotency_key: IdempotencyKey = None) -> MessageOut:
    try:
        async with runtime.transaction() as session:
            conversation = await require_conversation(session, caller.workspace_id, conversation_id)
            message, created = await sending.send_message(session, caller=caller, conversation=conversation,
                                                          request=body, client_key=idempotency_key)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent request with the same key won the unique constraint: answer as its replay.
        async with runtime.transaction() as session:
            earlier = await sending.find_replay(session, workspace_id=caller.workspace_id,
                                                client_key=idempotency_key,
                                                fingerprint=sending.request_hash(conversation_id, body))
        if earlier is None:
            raise
        message, created = earlier, False
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return MessageOut.model_validate(message)
