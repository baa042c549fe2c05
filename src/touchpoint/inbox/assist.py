"""Agent assist in the inbox: the side panel (summary, what the bot understood, suggestions, canned
responses, payments to approve), AI drafts and summaries, and the payment approval actions.

Drafts are returned as JSON for inbox.js to put into the reply box; they never create a message. The LLM
is called after the read session is closed: a slow provider never holds a database connection, and never
the write lock.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.assist import llm
from touchpoint.assistant.assist.service import AssistPanel, assist_panel, draft_inputs
from touchpoint.inbox import repository, service
from touchpoint.inbox.deps import CsrfAgent, CurrentAgent, InboxRoute, RowId, RuntimeDep, is_htmx
from touchpoint.inbox.service import ConversationPage, SignedInAgent
from touchpoint.inbox.templating import channel_label, templates
from touchpoint.kit.errors import AppError, Conflict, Forbidden, NotFound
from touchpoint.models import Conversation, PaymentRequest
from touchpoint.runtime import Runtime
from touchpoint.workspaces import repository as workspaces_repo

log = logging.getLogger(__name__)
router = APIRouter(route_class=InboxRoute, include_in_schema=False)
PREFIX = "/inbox/conversations/{conversation_id}"
MAX_NOTE = 500


async def _encoder(request: Request, session: AsyncSession, workspace_id: int) -> Any:
    """The workspace's sentence encoder when the live assistant has one loaded (better knowledge
    suggestions); None means words only, which always works."""
    registry = getattr(getattr(request.app.state, "assistant", None), "registry", None)
    if registry is None:
        return None
    try:
        engine = await registry.engine_for(session, workspace_id)
        return getattr(getattr(engine, "intents", None), "encoder", None) if engine is not None else None
    except Exception:
        log.exception("assist: no encoder for workspace %s", workspace_id)
        return None


async def panel_for_page(request: Request, runtime: Runtime, session: AsyncSession,
                         page: ConversationPage) -> AssistPanel:
    """The assist panel of a conversation the agent may already see (`page` was access-checked)."""
    channel = channel_label(page.account.channel) if page.account else None
    return await assist_panel(session, conversation=page.conversation, contact=page.contact, channel=channel,
                              team_name=page.team.name if page.team else None,
                              llm_enabled=llm.is_configured(runtime.settings),
                              encoder=await _encoder(request, session, page.conversation.workspace_id))


@router.get(PREFIX + "/assist")
async def assist_fragment(request: Request, runtime: RuntimeDep, agent: CurrentAgent,
                          conversation_id: RowId) -> Response:
    """The panel again, after new messages or a change (realtime) or an approval."""
    async with runtime.sessionmaker() as session:
        page = await service.conversation_page(session, agent, conversation_id)
        assist = await panel_for_page(request, runtime, session, page)
    return templates.TemplateResponse(request, "inbox/_assist.html", {"agent": agent, "page": page, "assist": assist},
                                      headers={"Cache-Control": "no-store"})


# ---- AI drafts and summaries ----------------------------------------------------------------------------

def _unavailable(exc: AppError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status_code,
                        headers={"Cache-Control": "no-store"})


async def _ai(request: Request, runtime: Runtime, agent: SignedInAgent, conversation_id: int, kind: str) -> Response:
    client = llm.LlmClient(runtime.settings, runtime.http)
    async with runtime.sessionmaker() as session:
        conversation = await service.access_conversation(session, agent, conversation_id)
        if not client.configured:
            return _unavailable(llm.LlmUnavailable("Drafting with AI is not set up on this server.",
                                                   code="drafting_not_configured"))
        contact = (await repository.contacts_by_id(session, agent.workspace_id, [conversation.contact_id])).get(
            conversation.contact_id)
        if contact is None:
            raise NotFound("There is no such conversation in your workspace.", code="conversation_not_found")
        agents = await repository.agents_of(session, agent.workspace_id)
        team = (await workspaces_repo.access_team(session, agent.workspace_id, conversation.team_id)
                if conversation.team_id else None)
        inputs = await draft_inputs(session, conversation=conversation, contact=contact,
                                    agent_names={a.id: a.name for a in agents.values()},
                                    team_name=team.name if team else None,
                                    encoder=await _encoder(request, session, agent.workspace_id))
    try:
        if kind == "draft":
            text = await client.draft_reply(brand=agent.workspace_name, turns=inputs.turns, facts=inputs.facts,
                                            customer_facts=inputs.customer_facts, agent_name=agent.name)
        else:
            text = await client.summarize(brand=agent.workspace_name, turns=inputs.turns, facts=inputs.facts,
                                          customer_facts=inputs.customer_facts)
    except llm.LlmUnavailable as exc:
        return _unavailable(exc)
    # Only text for the agent's eyes: the reply box (draft) or the panel (summary). Nothing is stored or sent.
    return JSONResponse({kind: text}, headers={"Cache-Control": "no-store"})


@router.post(PREFIX + "/draft")
async def draft(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId) -> Response:
    return await _ai(request, runtime, agent, conversation_id, "draft")


@router.post(PREFIX + "/ai-summary")
async def ai_summary(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId) -> Response:
    return await _ai(request, runtime, agent, conversation_id, "summary")


# ---- payment approvals ----------------------------------------------------------------------------------

async def _payment(session: AsyncSession, me: SignedInAgent, conversation: Conversation,
                   request_id: int) -> PaymentRequest:
    row = await session.get(PaymentRequest, request_id)
    if row is None or row.workspace_id != me.workspace_id or row.conversation_id != conversation.id:
        raise NotFound("There is no such payment request in this conversation.", code="payment_not_found")
    if row.status != "pending_approval":
        raise Conflict(f"This payment was already {row.status.replace('_', ' ')}.", code="payment_already_decided")
    return row


def _done(request: Request, conversation_id: int, action: str) -> Response:
    if is_htmx(request):
        trigger = {"tp:changed": {"conversation_id": conversation_id, "action": action}}
        return Response(status_code=204, headers={"HX-Trigger": json.dumps(trigger)})
    return RedirectResponse(f"/inbox/conversations/{conversation_id}", status_code=303)


async def _decide(runtime: Runtime, me: SignedInAgent, conversation_id: int, request_id: int, *,
                  approve: bool, note: str | None) -> None:
    from touchpoint.assistant.flows import payments  # the flows package owns what approval sets in motion

    async with runtime.transaction() as session:
        conversation = await service.access_conversation(session, me, conversation_id)
        row = await _payment(session, me, conversation, request_id)
        agent = await workspaces_repo.access_agent(session, me.workspace_id, me.id)
        if agent is None or not agent.is_active:
            raise Forbidden("Your account is no longer active.", code="agent_inactive")
        if approve:
            await payments.approve_payment(session, request_id=row.id, agent=agent)
        else:
            await payments.reject_payment(session, request_id=row.id, agent=agent, note=note)


@router.post(PREFIX + "/payments/{request_id}/approve")
async def approve(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId,
                  request_id: RowId) -> Response:
    await _decide(runtime, agent, conversation_id, request_id, approve=True, note=None)
    return _done(request, conversation_id, "payment_approved")


@router.post(PREFIX + "/payments/{request_id}/reject")
async def reject(request: Request, runtime: RuntimeDep, agent: CsrfAgent, conversation_id: RowId,
                 request_id: RowId, note: Annotated[str, Form(max_length=MAX_NOTE * 2)] = "") -> Response:
    cleaned = " ".join(note.split())[:MAX_NOTE] or None
    await _decide(runtime, agent, conversation_id, request_id, approve=False, note=cleaned)
    return _done(request, conversation_id, "payment_rejected")

