"""/api/v1/conversations: list, read, assign and resolve conversations.

Changes go through conversations.service with the API key as the actor, so the audit log says which
key did what.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.api import repository
from touchpoint.api.deps import ApiRoute, ApiWorkspace, ConversationId, RuntimeDep
from touchpoint.api.schemas import (
    AssignRequest,
    ContactSummary,
    ConversationCursor,
    ConversationDetail,
    ConversationOut,
    ConversationPage,
    MessageOut,
    encode_conversation_cursor,
    error_responses,
)
from touchpoint.contacts.repository import access_contact
from touchpoint.contacts.schemas import MAX_ID
from touchpoint.conversations import service as conversations
from touchpoint.conversations.repository import access_conversation
from touchpoint.kit.errors import NotFound
from touchpoint.models import Conversation, ConversationStatus
from touchpoint.workspaces.repository import access_agent, access_team

router = APIRouter(prefix="/conversations", tags=["conversations"], route_class=ApiRoute)
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


async def require_conversation(session: AsyncSession, workspace_id: int, conversation_id: int) -> Conversation:
    conversation = await access_conversation(session, workspace_id, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id} in this workspace")
    return conversation


@router.get("", response_model=ConversationPage, summary="List conversations",
            description="Most recent activity first. Filter by one or more `status` values, a `team` id or an "
                        "`agent` id; page with `before` = the previous page's `next_before`.")
async def list_conversations(
    caller: ApiWorkspace, runtime: RuntimeDep,
    status: Annotated[list[ConversationStatus] | None, Query(description="Repeat for several.")] = None,
    team: Annotated[FilterId, Query(description="Team id.")] = None,
    agent: Annotated[FilterId, Query(description="Agent id.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, at most 200.")] = 50,
    before: Annotated[ConversationCursor | None, Query(description="Cursor: `next_before` of the previous page.")]
    = None,
) -> ConversationPage:
    # The cursor type decodes while validating (a forged cursor is a 422), so `before` is (time, id) here.
    cursor = cast(tuple[datetime, int] | None, before)
    async with runtime.transaction() as session:
        rows = await repository.conversations_page(
            session, caller.workspace_id, statuses=[s.value for s in status or ()], team_id=team, agent_id=agent,
            before=cursor, limit=limit + 1)
    page = rows[:limit]
    next_before = (encode_conversation_cursor(page[-1].last_message_at, page[-1].id)
                   if len(rows) > limit else None)
    return ConversationPage(data=[ConversationOut.model_validate(c) for c in page], next_before=next_before)


@router.get("/{conversation_id}", response_model=ConversationDetail, summary="Get a conversation",
            responses=error_responses(404), description="With its contact and its latest messages.")
async def get_conversation(
    conversation_id: ConversationId, caller: ApiWorkspace, runtime: RuntimeDep,
    messages: Annotated[int, Query(ge=0, le=200, description="How many of the latest messages to include.")] = 20,
    include_notes: Annotated[bool, Query(description="Include agents' internal notes.")] = False,
) -> ConversationDetail:
    async with runtime.transaction() as session:
        conversation = await require_conversation(session, caller.workspace_id, conversation_id)
        contact = await access_contact(session, caller.workspace_id, conversation.contact_id)
        assert contact is not None  # the foreign key cascades: a conversation always has its contact
        rows = await repository.latest_messages(session, caller.workspace_id, conversation.id, limit=messages,
                                                include_notes=include_notes) if messages else []
    return ConversationDetail(**ConversationOut.model_validate(conversation).model_dump(),
                              contact=ContactSummary.model_validate(contact),
                              messages=[MessageOut.model_validate(m) for m in rows])


@router.post("/{conversation_id}/assign", response_model=ConversationOut, summary="Assign a conversation",
             responses=error_responses(404, 409),
             description="To a team's queue (`team_id`), to an agent (`agent_id`), or both. An agent who is "
                         "deactivated answers 409 `agent_unavailable`.")
async def assign(conversation_id: ConversationId, body: AssignRequest, caller: ApiWorkspace,
                 runtime: RuntimeDep) -> ConversationOut:
    async with runtime.transaction() as session:
        conversation = await require_conversation(session, caller.workspace_id, conversation_id)
        if body.team_id is not None:
            team = await access_team(session, caller.workspace_id, body.team_id)
            if team is None:
                raise NotFound(f"no team {body.team_id} in this workspace")
            await conversations.assign_team(session, conversation=conversation, team=team, actor=caller.actor)
        if body.agent_id is not None:
            agent = await access_agent(session, caller.workspace_id, body.agent_id)
            if agent is None:
                raise NotFound(f"no agent {body.agent_id} in this workspace")
            await conversations.assign_agent(session, conversation=conversation, agent=agent, actor=caller.actor)
    return ConversationOut.model_validate(conversation)


@router.post("/{conversation_id}/resolve", response_model=ConversationOut, summary="Resolve a conversation",
             responses=error_responses(404),
             description="Marks it resolved; resolving a resolved conversation changes nothing. The next "
                         "customer message opens a new conversation.")
async def resolve(conversation_id: ConversationId, caller: ApiWorkspace, runtime: RuntimeDep) -> ConversationOut:
    async with runtime.transaction() as session:
        conversation = await require_conversation(session, caller.workspace_id, conversation_id)
        await conversations.resolve(session, conversation=conversation, actor=caller.actor)
    return ConversationOut.model_validate(conversation)

