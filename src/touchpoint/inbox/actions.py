"""What an agent does to a conversation: reply, note, take over, assign, snooze, resolve, hand back.

Each action is one transaction. An HTMX request gets 204 with an `HX-Trigger: tp:changed` header (inbox.js
then refreshes the panel and appends new messages, the same path realtime events take); a plain form post
gets a 303 back to the conversation, so the inbox also works without JavaScript.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.inbox import repository, service
from touchpoint.inbox.deps import MAX_ID, CsrfAgent, InboxRoute, RowId, RuntimeDep, is_htmx
from touchpoint.inbox.service import SignedInAgent
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(route_class=InboxRoute, include_in_schema=False)
PREFIX = "/inbox/conversations/{conversation_id}"

Text = Annotated[str, Form(max_length=service.MAX_TEXT_CHARS * 2)]


def _done(request: Request, conversation_id: int, action: str) -> Response:
    if is_htmx(request):
        trigger = {"tp:changed": {"conversation_id": conversation_id, "action": action}}
        return Response(status_code=204, headers={"HX-Trigger": json.dumps(trigger)})
    return RedirectResponse(f"/inbox/conversations/{conversation_id}", status_code=303)


async def _run(runtime: Runtime, work: Callable[[AsyncSession], Awaitable[object]]) -> None:
    async with runtime.transaction() as session:
        await work(session)


@router.post(PREFIX + "/reply")
async def reply(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId, text: Text = "",
                idempotency_key: Annotated[str, Form(max_length=100)] = "") -> Response:
    try:
        await _run(runtime, lambda s: service.reply(s, agent, conversation_id, text, idempotency_key))
    except IntegrityError:
        # Two submissions of the same form raced; the idempotency key let exactly one through.
        if not idempotency_key or not await _reply_exists(runtime, agent, idempotency_key):
            raise
        log.info("inbox: duplicate reply submission for conversation %s ignored", conversation_id)
    return _done(request, conversation_id, "reply")


async def _reply_exists(runtime: Runtime, agent: SignedInAgent, key: str) -> bool:
    async with runtime.sessionmaker() as session:
        return await repository.message_by_idempotency_key(session, agent.workspace_id, f"inbox:{key}") is not None


@router.post(PREFIX + "/note")
async def note(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId,
               text: Text = "") -> Response:
    await _run(runtime, lambda s: service.note(s, agent, conversation_id, text))
    return _done(request, conversation_id, "note")


@router.post(PREFIX + "/take-over")
async def take_over(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId) -> Response:
    await _run(runtime, lambda s: service.take_over(s, agent, conversation_id))
    return _done(request, conversation_id, "take_over")


@router.post(PREFIX + "/assign")
async def assign(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId,
                 agent_id: Annotated[int, Form(ge=1, le=MAX_ID)]) -> Response:
    await _run(runtime, lambda s: service.assign_agent(s, agent, conversation_id, agent_id))
    return _done(request, conversation_id, "assign")


@router.post(PREFIX + "/team")
async def assign_team(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId,
                      team_id: Annotated[int, Form(ge=1, le=MAX_ID)]) -> Response:
    await _run(runtime, lambda s: service.assign_team(s, agent, conversation_id, team_id))
    return _done(request, conversation_id, "team")


@router.post(PREFIX + "/snooze")
async def snooze(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId,
                 minutes: Annotated[int, Form(ge=1, le=100_000)]) -> Response:
    await _run(runtime, lambda s: service.snooze(s, agent, conversation_id, minutes))
    return _done(request, conversation_id, "snooze")


@router.post(PREFIX + "/resolve")
async def resolve(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId) -> Response:
    await _run(runtime, lambda s: service.resolve(s, agent, conversation_id))
    return _done(request, conversation_id, "resolve")


@router.post(PREFIX + "/to-bot")
async def hand_back(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId) -> Response:
    await _run(runtime, lambda s: service.hand_back(s, agent, conversation_id))
    return _done(request, conversation_id, "to_bot")
