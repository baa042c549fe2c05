"""The flow state machine: start a flow, feed it the customer's messages, resume it when an action answers.

A flow session waits in one of three places: for the customer (`active`, at an ask or confirm step), for
the brand's server (`waiting_action`: an ActionCall row the ActionWorker calls outside any transaction) or
for a person (`waiting_approval`, see payments.py). Every path ends in a reply, a handoff with a reason,
or both: a flow that fails never leaves the customer in silence or the conversation stuck.

Functions here mutate and flush, never commit; the processor (or the ActionWorker) turns the FlowOutcome
into messages and ownership changes with `outcome_decision` + `processor.apply_decision`.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.base import Decision, Handoff, Reply
from touchpoint.assistant.flows import repository
from touchpoint.assistant.flows.actions import ActionResult
from touchpoint.assistant.flows.context import FlowContext, flow_context
from touchpoint.assistant.flows.definition import ActionStep, Flow, build_flow
from touchpoint.assistant.flows.machine import FlowOutcome, Turn, flow_settings, payment_values
from touchpoint.assistant.flows.slots import parse_value
from touchpoint.assistant.flows.words import command_in, yes_or_no
from touchpoint.models import FlowDefinition, FlowSession

__all__ = ["FlowContext", "FlowOutcome", "active_session", "command_in", "continue_flow", "flow_context",
           "flow_settings", "load_flow", "outcome_decision", "payment_values", "resume_after_action", "start_flow",
           "yes_or_no"]

log = logging.getLogger(__name__)
_flows: dict[tuple[int, str], Flow] = {}


def load_flow(row: FlowDefinition) -> Flow:
    """The parsed flow of a stored version (versions are never edited in place, so they are cached)."""
    # Keyed by the source too: ids alone repeat across databases (one process serving tests, or a restore).
    key = (row.id, row.source)
    flow = _flows.get(key)
    if flow is None:
        if len(_flows) > 512:
            _flows.clear()
        flow = _flows[key] = build_flow(row.definition)
    return flow


def outcome_decision(outcome: FlowOutcome, *, intent: str | None = None, confidence: float = 0.0) -> Decision:
    """The assistant Decision for a flow turn (what processor.apply_decision sends and hands over)."""
    return Decision(replies=outcome.replies, handoff=outcome.handoff, intent=intent, confidence=confidence,
                    rule=f"flow:{outcome.flow}:{outcome.status}",
                    action="escalate" if outcome.handoff else "flow")


async def active_session(session: AsyncSession, conversation_id: int) -> FlowSession | None:
    return await repository.open_session(session, conversation_id)


async def start_flow(session: AsyncSession, ctx: FlowContext, name: str, slots: dict[str, Any] | None = None
                     ) -> FlowOutcome:
    """Start the workspace's active version of flow `name` (replacing any flow running in the conversation).
    `slots` may pre-fill values the customer already gave (as text; invalid ones are asked again).
    A flow that does not exist (deleted since the intent was linked) hands over rather than fail."""
    row = await repository.active_flow(session, ctx.workspace_id, name)
    if row is None:
        log.warning("workspace %s: flow %r is not available", ctx.workspace_id, name)
        return FlowOutcome(replies=(Reply("Sorry, I can't do that here right now. Let me pass you to a colleague."),),
                           handoff=Handoff("service", f"flow {name} is not available"), status="failed", slots={},
                           flow=name)
    flow = load_flow(row)
    running = await active_session(session, ctx.conversation_id)
    if running is not None:
        running.status = "cancelled"
        running.state = {**(running.state or {}), "reason": f"replaced by flow {name}"}
        running.updated_at = ctx.now
    prefilled: dict[str, Any] = {}
    for slot_name, value in (slots or {}).items():
        spec = flow.slots.get(slot_name)
        if spec is not None and value is not None:
            parsed = parse_value(spec, str(value), today=ctx.today)
            if parsed.ok:
                prefilled[slot_name] = parsed.value
    flow_session = FlowSession(workspace_id=ctx.workspace_id, conversation_id=ctx.conversation_id, flow_id=row.id,
                               flow_name=flow.name, status="active", step=flow.steps[0].id, slots=prefilled,
                               state={}, updated_at=ctx.now)
    session.add(flow_session)
    await session.flush()
    run = await Turn.load(session, ctx, flow, flow_session)
    return await run.guarded(run.advance(flow.steps[0].id))


async def continue_flow(session: AsyncSession, ctx: FlowContext, flow_session: FlowSession, text: str) -> FlowOutcome:
    """The customer's next message in a running flow. "cancel" and "start over" work at every step."""
    row = await repository.flow_by_id(session, flow_session.flow_id)
    if row is None:  # pragma: no cover - the session cascades with its flow version
        raise LookupError(f"flow version {flow_session.flow_id} is gone")
    run = await Turn.load(session, ctx, load_flow(row), flow_session)
    return await run.guarded(run.receive(text or ""))


async def resume_after_action(session: AsyncSession, ctx: FlowContext, flow_session: FlowSession, call_id: int,
                              result: ActionResult) -> FlowOutcome:
    """The brand answered (or gave up answering) action call `call_id`: take the success or error path.
    A stale result (the customer cancelled or started over meanwhile) changes nothing."""
    row = await repository.flow_by_id(session, flow_session.flow_id)
    assert row is not None
    run = await Turn.load(session, ctx, load_flow(row), flow_session)
    if flow_session.status != "waiting_action" or (flow_session.state or {}).get("pending_call") != call_id:
        return await run.outcome()
    step = run.flow.step(flow_session.step)
    assert isinstance(step, ActionStep)
    return await run.guarded(run.action_done(step, result))


