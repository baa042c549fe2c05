"""Payments a flow prepared and a person approves: only then does the customer get a payment link.

The flow's `approval` step created the PaymentRequest and handed the conversation to a team with the
reason. An agent approves → the link is made (a URL template at once, or the brand's link action through
the ActionWorker, never inside this transaction) and sent as a transactional message; the flow completes.
An agent rejects → the customer is told politely and the agent can write.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.flows import repository, templates
from touchpoint.assistant.flows.actions import ActionBuildError, ActionResult, build_request
from touchpoint.assistant.flows.context import Scope, walk
from touchpoint.assistant.flows.definition import ApprovalStep, Flow
from touchpoint.assistant.flows.runner import flow_settings, load_flow, payment_values
from touchpoint.delivery.outbound import queue_message
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import Conflict, NotFound
from touchpoint.models import (
    ActionCall,
    Agent,
    Conversation,
    FlowSession,
    PaymentRequest,
    SenderKind,
    Workspace,
)
from touchpoint.policy.gate import Purpose
from touchpoint.realtime.events import conversation_topic, stage
from touchpoint.runtime import wake_after_commit
from touchpoint.workspaces.audit import Actor, record_audit

log = logging.getLogger(__name__)
LINK_FAILED = ("Sorry, we couldn't create your payment link just now. A colleague will follow up with you here.")
REJECTED = "Sorry, we can't take this payment online right now. A colleague will write to you here."


async def _approval_of(session: AsyncSession, payment: PaymentRequest
                       ) -> tuple[FlowSession | None, Flow | None, ApprovalStep | None]:
    if payment.flow_session_id is None:
        return None, None, None
    flow_session = await session.get(FlowSession, payment.flow_session_id)
    if flow_session is None:
        return None, None, None
    row = await repository.flow_by_id(session, flow_session.flow_id)
    if row is None:
        return flow_session, None, None
    flow = load_flow(row)
    try:
        step = flow.step(flow_session.step)
    except KeyError:
        return flow_session, flow, None
    return flow_session, flow, step if isinstance(step, ApprovalStep) else None


async def _decide(session: AsyncSession, *, request_id: int, agent: Agent, status: str, note: str | None,
                  now: datetime) -> PaymentRequest:
    payment = await repository.access_payment(session, agent.workspace_id, request_id)
    if payment is None:
        raise NotFound(f"no payment request {request_id} in this workspace")
    if not agent.is_active:
        raise Conflict("a deactivated agent cannot decide payments", code="agent_unavailable")
    if not await repository.decide_payment(session, payment, status=status, agent_id=agent.id, at=now, note=note):
        raise Conflict(f"payment request {request_id} was already decided ({payment.status})", code="payment_decided")
    record_audit(session, workspace_id=payment.workspace_id, actor=Actor("agent", agent.id, agent.name),
                 action=f"payment.{'approve' if status == 'approved' else 'reject'}", subject_type="payment_request",
                 subject_id=payment.id, reference=payment.reference, amount_cents=payment.amount_cents,
                 currency=payment.currency, note=note)
    stage(session, conversation_topic(payment.conversation_id),
          {"type": "payment", "payment_request_id": payment.id, "status": status})
    return payment


async def approve_payment(session: AsyncSession, *, request_id: int, agent: Agent,
                          now: datetime | None = None) -> PaymentRequest:
    """Approve a pending payment: its link is created and sent (now, or by the ActionWorker when the brand's
    link action must be called). 404 for another workspace's request, 409 `payment_decided` when it was
    decided already."""
    now = now or utcnow()
    payment = await _decide(session, request_id=request_id, agent=agent, status="approved", note=None, now=now)
    flow_session, flow, step = await _approval_of(session, payment)
    if flow_session is None or flow is None or step is None:
        await _tell(session, payment, LINK_FAILED, "payment_link_failed", now)
        payment.note = "the flow that prepared this payment is gone; send the link yourself"
        return payment
    scope = Scope(flow, flow_session.slots or {}, (flow_session.state or {}).get("results") or {},
                  {"payment": payment_values(payment)}, today=now.date())
    if step.link_url is not None:
        try:
            url = templates.render_url(step.link_url, scope.text)
        except (KeyError, templates.TemplateError) as exc:
            await link_result(session, payment, ActionResult(False, error=f"link_url: {exc}"), now)
            return payment
        await link_result(session, payment, ActionResult(True, 200, data={"url": url}), now, url_field="url")
        return payment
    assert step.link is not None
    base_url, allow_private = flow_settings(await session.get(Workspace, payment.workspace_id))
    try:
        request = build_request(step.link, scope, base_url=base_url, allow_private=allow_private,
                                kind="payment_link", step=step.id)
    except ActionBuildError as exc:
        await link_result(session, payment, ActionResult(False, error=str(exc)), now)
        return payment
    request["payment_request_id"] = payment.id
    if step.link.url_field not in request["expect"]:
        request["expect"].append(step.link.url_field)
    call = ActionCall(workspace_id=payment.workspace_id, flow_session_id=flow_session.id,
                      conversation_id=payment.conversation_id, action=f"{step.id}:link", request=request,
                      lane=f"flow:{payment.conversation_id}", available_at=now)
    session.add(call)
    await session.flush()
    flow_session.state = {**(flow_session.state or {}), "pending_call": call.id}
    wake_after_commit(session, "actions")
    return payment


async def reject_payment(session: AsyncSession, *, request_id: int, agent: Agent, note: str | None = None,
                         now: datetime | None = None) -> PaymentRequest:
    """Reject a pending payment: the customer is told politely; the conversation stays with the agent."""
    now = now or utcnow()
    payment = await _decide(session, request_id=request_id, agent=agent, status="rejected",
                            note=(note or "")[:500] or None, now=now)
    flow_session, flow, step = await _approval_of(session, payment)
    text = REJECTED
    if flow is not None and step is not None and flow_session is not None:
        scope = Scope(flow, flow_session.slots or {}, (flow_session.state or {}).get("results") or {},
                      {"payment": payment_values(payment)}, today=now.date())
        text = _render(step.rejected, scope) or REJECTED
    if flow_session is not None:
        _end(flow_session, "cancelled", "payment rejected", now)
    await _tell(session, payment, text, "payment_rejected", now)
    return payment


async def link_result(session: AsyncSession, payment: PaymentRequest, result: ActionResult, now: datetime,
                      *, url_field: str | None = None) -> None:
    """The link exists (send it, complete the flow) or could not be made (say so; the agent follows up)."""
    await session.refresh(payment)
    if payment.status != "approved":
        return  # already sent, or decided otherwise meanwhile
    flow_session, flow, step = await _approval_of(session, payment)
    field = url_field or (step.link.url_field if step is not None and step.link is not None else "url")
    url = None
    if result.ok:
        try:
            found = walk(result.data or {}, field.split("."))
        except KeyError:
            found = None
        if isinstance(found, str) and found.startswith(("https://", "http://")) and len(found) <= 1000 \
                and not any(ch.isspace() for ch in found):
            url = found
    if url is None:
        reason = result.error or f"the link action answered without a usable '{field}'"
        log.warning("payment request %s: no payment link (%s)", payment.id, reason)
        payment.note = f"payment link failed: {reason}"[:500]
        if flow_session is not None:
            _end(flow_session, "failed", f"payment link failed: {reason}", now)
        await _tell(session, payment, LINK_FAILED, "payment_link_failed", now)
        return
    payment.payment_url = url
    payment.status = "link_sent"
    text = f"Here is your secure payment link: {url}"
    if flow is not None and step is not None and flow_session is not None:
        scope = Scope(flow, flow_session.slots or {}, (flow_session.state or {}).get("results") or {},
                      {"payment": payment_values(payment)}, today=now.date())
        text = _render(step.sent, scope) or text
        if url not in text:
            text = f"{text}\n{url}"
    if flow_session is not None:
        _end(flow_session, "completed", "payment link sent", now)
    await _tell(session, payment, text, "payment_link", now, url=url)


def _render(template: str, scope: Scope) -> str:
    def value(name: str) -> str:
        try:
            return scope.display(name)
        except KeyError:
            return ""

    return templates.render(template, value).strip()


def _end(flow_session: FlowSession, status: str, reason: str, now: datetime) -> None:
    state = dict(flow_session.state or {})
    state.pop("pending_call", None)
    flow_session.state = {**state, "reason": reason}
    flow_session.status = status
    flow_session.updated_at = now


async def _tell(session: AsyncSession, payment: PaymentRequest, text: str, event: str, now: datetime,
                **extra: Any) -> None:
    """A transactional message: it reaches the customer although a person owns the conversation."""
    conversation = await session.get(Conversation, payment.conversation_id)
    if conversation is None:
        return
    await queue_message(session, conversation=conversation, text=text, sender_kind=SenderKind.bot.value,
                        purpose=Purpose.transactional,
                        content={"event": event, "payment_request_id": payment.id, **extra}, now=now)
    await session.flush()
