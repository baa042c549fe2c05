"""One turn of a flow session: walk the steps from where it waits, collect replies and an optional
handoff, then write the session back. The public entry points are in runner.py."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.base import Handoff, Reply
from touchpoint.assistant.flows import repository, templates
from touchpoint.assistant.flows.actions import ActionBuildError, ActionResult, build_request
from touchpoint.assistant.flows.context import FlowContext, Scope
from touchpoint.assistant.flows.definition import (
    END,
    ActionStep,
    ApprovalStep,
    AskStep,
    ConfirmStep,
    EndStep,
    Flow,
    HandoffStep,
    SayStep,
)
from touchpoint.assistant.flows.slots import parse_value
from touchpoint.assistant.flows.words import command_in, yes_or_no
from touchpoint.models import ActionCall, FlowSession, PaymentRequest, Workspace
from touchpoint.runtime import wake_after_commit

log = logging.getLogger(__name__)
MAX_HOPS = 60  # steps run for one message without waiting: more means the flow loops
# Longer than any action can take with all its retries: past this, nothing is running any more (no action
# worker in this deployment, a lost row), and the customer goes to a person instead of waiting forever.
STUCK_AFTER = timedelta(minutes=10)
OPEN = repository.OPEN_SESSION_STATUSES


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    replies: tuple[Reply, ...]
    handoff: Handoff | None
    status: str  # the session's status now: active | waiting_action | waiting_approval | completed | ...
    slots: dict[str, Any]
    flow: str = ""
    step: str = ""
    session_id: int | None = None


def _money(cents: int, currency: str) -> str:
    return f"{Decimal(cents) / 100:.2f} {currency}"


def payment_values(payment: PaymentRequest) -> dict[str, Any]:
    return {"reference": payment.reference, "amount_cents": payment.amount_cents, "currency": payment.currency,
            "amount": _money(payment.amount_cents, payment.currency), "url": payment.payment_url or ""}


def flow_settings(workspace: Workspace | None) -> tuple[str | None, bool]:
    """The workspace's base URL for action paths and whether its actions may reach private addresses
    (an operator's choice, e.g. the demo's brand server on loopback)."""
    settings = (workspace.settings or {}).get("flows") if workspace else None
    if not isinstance(settings, dict):
        return None, False
    base = settings.get("base_url")
    return (str(base) if base else None), settings.get("allow_private_urls") is True


class Turn:
    """One turn of a flow session: collects replies and an optional handoff, then writes the session back."""

    def __init__(self, session: AsyncSession, ctx: FlowContext, flow: Flow, flow_session: FlowSession,
                 workspace: Workspace | None) -> None:
        self.session = session
        self.ctx = ctx
        self.flow = flow
        self.fs = flow_session
        self.workspace = workspace
        self.slots: dict[str, Any] = dict(flow_session.slots or {})
        state = dict(flow_session.state or {})
        self.attempts: dict[str, int] = dict(state.pop("attempts", {}) or {})
        self.results: dict[str, Any] = dict(state.pop("results", {}) or {})
        self.state = state
        self.status = flow_session.status
        self.step_id = flow_session.step
        self.replies: list[Reply] = []
        self.handoff: Handoff | None = None

    @classmethod
    async def load(cls, session: AsyncSession, ctx: FlowContext, flow: Flow, flow_session: FlowSession) -> Turn:
        return cls(session, ctx, flow, flow_session, await session.get(Workspace, ctx.workspace_id))

    # ---- output ------------------------------------------------------------------------------------------

    def scope(self, extra: dict[str, Any] | None = None) -> Scope:
        return Scope(self.flow, self.slots, self.results, {"error": self.state.get("error") or {}, **(extra or {})},
                     today=self.ctx.today)

    def render(self, template: str, extra: dict[str, Any] | None = None) -> str:
        scope = self.scope(extra)

        def value(name: str) -> str:
            try:
                return scope.display(name)
            except KeyError:
                # Import checks every name; a value can still be absent on a path that skipped its action.
                log.warning("flow %s: no value for {%s}", self.flow.name, name)
                return ""

        return templates.render(template, value)

    def say(self, template: str | None, content: dict[str, Any] | None = None,
            extra: dict[str, Any] | None = None) -> None:
        if template:
            text = self.render(template, extra).strip()
            if text:
                self.replies.append(Reply(text, {"flow": self.flow.name, "step": self.step_id, **(content or {})}))

    def hand_off(self, team: str | None, reason: str, status: str) -> None:
        self.handoff = Handoff(team or self.flow.handoff_team, f"flow {self.flow.name}: {reason}"[:200])
        self.status = status
        self.state["reason"] = reason

    async def guarded(self, work: Coroutine[Any, Any, None]) -> FlowOutcome:
        """Run one turn; a bug in it fails the flow towards a person instead of leaving the customer with
        nothing (database errors propagate: the caller's transaction is lost anyway and is retried)."""
        try:
            await work
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("flow %s (session %s) failed at step %s", self.flow.name, self.fs.id, self.step_id)
            self.replies.clear()
            self.fail("an internal error stopped the flow")
        return await self.outcome()

    async def outcome(self) -> FlowOutcome:
        self.fs.status = self.status
        self.fs.step = self.step_id
        self.fs.slots = dict(self.slots)
        self.fs.state = {**self.state, "attempts": dict(self.attempts), "results": dict(self.results)}
        self.fs.updated_at = self.ctx.now
        await self.session.flush()
        return FlowOutcome(replies=tuple(self.replies), handoff=self.handoff, status=self.status,
                           slots=dict(self.slots), flow=self.flow.name, step=self.step_id, session_id=self.fs.id)

    # ---- moving through steps ----------------------------------------------------------------------------

    async def advance(self, target: str) -> None:
        for _ in range(MAX_HOPS):
            if target == END:
                self.status = "completed"
                return
            step = self.flow.step(target)
            self.step_id = step.id
            if isinstance(step, AskStep):
                if step.slot in self.slots:
                    target = self.flow.after(step)
                    continue
                self.ask(step)
                return
            if isinstance(step, SayStep):
                self.say(step.text)
                target = self.flow.after(step)
                continue
            if isinstance(step, ConfirmStep):
                self.status = "active"
                self.say(step.text, {"quick_replies": ["Yes", "No"]})
                return
            if isinstance(step, ActionStep):
                await self.start_action(step)
                return
            if isinstance(step, ApprovalStep):
                await self.request_approval(step)
                return
            if isinstance(step, HandoffStep):
                self.say(step.text)
                self.hand_off(step.team, self.render(step.reason), "handed_off")
                return
            assert isinstance(step, EndStep)
            self.say(step.text)
            self.status = "completed"
            return
        self.fail("the flow went round in circles without asking anything")

    def ask(self, step: AskStep, problem: str | None = None) -> None:
        spec = self.flow.slots[step.slot]
        self.status = "active"
        content: dict[str, Any] = {"slot": spec.name}
        if spec.type == "choice":
            content["quick_replies"] = [choice.label for choice in spec.choices]
        if problem is None:
            text = self.render(spec.prompt)
        elif spec.reprompt:
            text = self.render(spec.reprompt)
        else:
            text = f"{problem} {self.render(spec.prompt)}"
        if spec.type == "choice":
            text += "\n" + "\n".join(f"{n}. {choice.label}" for n, choice in enumerate(spec.choices, 1))
        self.replies.append(Reply(text, {"flow": self.flow.name, "step": step.id, **content}))

    def fail(self, reason: str) -> None:
        self.say(self.flow.messages["error"])
        self.hand_off(None, reason, "failed")

    # ---- the customer's message --------------------------------------------------------------------------

    async def receive(self, text: str) -> None:
        command = command_in(text)
        if command == "cancel":
            return self.cancel()
        if command == "start_over":
            return await self.start_over()
        if self.status == "waiting_action":
            if self.waited_too_long():
                return self.fail("the brand's system did not answer")
            return self.say(self.flow.messages["still_working"])
        if self.status == "waiting_approval":
            return self.say(self.flow.messages["waiting_approval"])
        if self.status not in OPEN:
            return None
        step = self.flow.step(self.step_id)
        if isinstance(step, AskStep):
            return await self.answer(step, text)
        if isinstance(step, ConfirmStep):
            return await self.confirm(step, text)
        # Not waiting for the customer at this step (an interrupted turn): carry on from it.
        return await self.advance(step.id)

    def waited_too_long(self) -> bool:
        try:
            since = datetime.fromisoformat(str(self.state.get("waiting_since")))
        except ValueError:
            return False
        return self.ctx.now - since > STUCK_AFTER

    def cancel(self) -> None:
        self.say(self.flow.messages["cancelled"])
        self.status = "cancelled"
        self.state["reason"] = "cancelled by the customer"
        self.state.pop("pending_call", None)
        self.state.pop("waiting_since", None)

    async def start_over(self) -> None:
        self.slots.clear()
        self.attempts.clear()
        self.results.clear()
        self.state.pop("error", None)
        self.state.pop("pending_call", None)
        self.state.pop("waiting_since", None)
        self.say(self.flow.messages["start_over"])
        await self.advance(self.flow.steps[0].id)

    def _by_intent(self) -> str | None:
        return self.ctx.intent if self.ctx.intent in ("cancel", "start_over") else None

    async def answer(self, step: AskStep, text: str) -> None:
        spec = self.flow.slots[step.slot]
        parsed = parse_value(spec, text, today=self.ctx.today)
        if parsed.ok:
            self.slots[step.slot] = parsed.value
            self.attempts.pop(step.id, None)
            return await self.advance(self.flow.after(step))
        # An intent only counts when the message is not an answer: "cancel" as a free-text slot value is.
        if await self._command_or_give_up(step.id, spec.max_attempts,
                                          lambda tries: f"could not get {spec.name} after {tries} tries"):
            return
        self.ask(step, parsed.problem)

    async def _command_or_give_up(self, step_id: str, max_attempts: int, reason: Callable[[int], str]) -> bool:
        """After an answer that did not fit: a cancel / start-over intent, or one more try (handing over
        after the last). True when the turn is dealt with; False: ask again."""
        command = self._by_intent()
        if command == "cancel":
            self.cancel()
            return True
        if command == "start_over":
            await self.start_over()
            return True
        tries = self.attempts.get(step_id, 0) + 1
        self.attempts[step_id] = tries
        if tries >= max_attempts:
            self.say(self.flow.messages["gave_up"])
            self.hand_off(None, reason(tries), "handed_off")
            return True
        return False

    async def confirm(self, step: ConfirmStep, text: str) -> None:
        said = yes_or_no(text, self.ctx.intent)
        if said is True:
            self.attempts.pop(step.id, None)
            return await self.advance(self.flow.after(step))
        if said is False:
            self.attempts.pop(step.id, None)
            target = step.on_no or self.flow.first_question()
            self.forget_answers(target, step.id)
            self.say(step.no_message or self.flow.messages["not_confirmed"])
            return await self.advance(target)
        if await self._command_or_give_up(step.id, step.max_attempts,
                                          lambda _tries: "no yes or no to the confirmation"):
            return
        again = self.render(step.reprompt or self.flow.messages["confirm_reprompt"])
        self.replies.append(Reply(f"{again} {self.render(step.text)}".strip(),
                                  {"flow": self.flow.name, "step": step.id, "quick_replies": ["Yes", "No"]}))

    def forget_answers(self, from_step: str, until_step: str) -> None:
        """Going back to `from_step` asks its questions again (up to the confirmation)."""
        ids = [s.id for s in self.flow.steps]
        if from_step not in ids:
            return
        start, end = ids.index(from_step), ids.index(until_step)
        for step in self.flow.steps[min(start, end):max(start, end)]:
            if isinstance(step, AskStep):
                self.slots.pop(step.slot, None)

    # ---- actions -----------------------------------------------------------------------------------------

    async def start_action(self, step: ActionStep) -> None:
        assert step.action is not None
        base_url, allow_private = flow_settings(self.workspace)
        try:
            request = build_request(step.action, self.scope(), base_url=base_url, allow_private=allow_private,
                                    kind="flow_action", step=step.id)
        except ActionBuildError as exc:
            return await self.action_done(step, ActionResult(False, None, error=str(exc)))
        call = ActionCall(workspace_id=self.ctx.workspace_id, flow_session_id=self.fs.id,
                          conversation_id=self.ctx.conversation_id, action=step.id, request=request,
                          lane=f"flow:{self.ctx.conversation_id}", available_at=self.ctx.now)
        self.session.add(call)
        await self.session.flush()
        self.state["pending_call"] = call.id
        self.state["waiting_since"] = self.ctx.now.isoformat()
        self.state.pop("error", None)
        self.status = "waiting_action"
        self.say(step.message)
        wake_after_commit(self.session, "actions")

    async def action_done(self, step: ActionStep, result: ActionResult) -> None:
        self.state.pop("pending_call", None)
        self.state.pop("waiting_since", None)
        self.step_id = step.id
        if result.ok:
            self.results[step.id] = result.data or {}
            return await self.advance(self.flow.after(step))
        self.state["error"] = {"status": result.status if result.status is not None else "none",
                               "reason": result.error or "unknown error"}
        target = step.on_status.get(result.status) if result.status is not None else None
        target = target or step.on_error
        if target:
            return await self.advance(target)
        self.fail(f"action {step.id} failed: {result.error}")

    # ---- approval ----------------------------------------------------------------------------------------

    async def request_approval(self, step: ApprovalStep) -> None:
        amount_text = self.render(step.amount)
        currency = self.render(step.currency).strip().upper()
        reference = self.render(step.reference).strip()
        try:
            amount = Decimal(amount_text.strip())
            cents = amount if step.amount_is_cents else amount * 100
            if cents != cents.to_integral_value() or not 0 < cents < 10**11:
                raise InvalidOperation
        except InvalidOperation:
            return self.fail(f"approval: the amount {amount_text!r} is not a valid positive amount")
        if not re.fullmatch(r"[A-Z]{3}", currency) or not reference or len(reference) > 100:
            return self.fail(f"approval: currency {currency!r} or reference {reference!r} is not valid")
        payment = PaymentRequest(workspace_id=self.ctx.workspace_id, conversation_id=self.ctx.conversation_id,
                                 contact_id=self.ctx.contact_id, flow_session_id=self.fs.id, reference=reference,
                                 amount_cents=int(cents), currency=currency)
        self.session.add(payment)
        await self.session.flush()
        self.state["payment_request_id"] = payment.id
        extra = {"payment": payment_values(payment)}
        self.say(step.message, extra=extra)
        self.hand_off(step.team, self.render(step.reason, extra), "waiting_approval")
