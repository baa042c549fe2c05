"""Calls the brand's HTTP actions for flows, outside any database transaction.

1. Claim due ActionCall rows (a short transaction; one lane per conversation keeps a conversation's
   calls in order).
2. Call the brand with the shared HTTP client, a per-action timeout and the SSRF check (private and
   link-local addresses refused unless the settings, the workspace or the action allow them). No
   transaction is open meanwhile: a slow brand server never holds SQLite's write lock.
3. Per call, a second transaction: timeouts, connection errors and 408/429/5xx go back to the queue with
   backoff until the action's attempts are used up; otherwise the response is recorded and the flow
   continues (success or error path), its outcome applied like any assistant decision
   (processor.apply_decision). Payment-link calls finish the payment instead (assistant/flows/payments.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.flows import payments, runner
from touchpoint.assistant.flows.actions import ActionResult, perform
from touchpoint.conversations import processor
from touchpoint.db import queue
from touchpoint.kit.clock import utcnow
from touchpoint.models import ActionCall, Conversation, ConversationStatus, FlowSession, PaymentRequest
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
# Longer than the longest allowed action timeout (30 s) with room to record the result.
LEASE_SECONDS = 90.0
MAX_ATTEMPTS_CAP = 6
MAX_BACKOFF_SECONDS = 30.0


class ActionWorker:
    def __init__(self, runtime: Runtime, owner: str, *, batch_size: int = 20, backoff_base: float = 1.0) -> None:
        self.runtime = runtime
        self.owner = owner
        self.batch_size = batch_size
        # Seconds before the first retry, doubling after each (with jitter): a customer is waiting.
        self.backoff_base = backoff_base

    async def run_once(self) -> int:
        async with self.runtime.transaction() as session:
            calls = await queue.claim(session, ActionCall, owner=self.owner, now=utcnow(),
                                      lease_seconds=LEASE_SECONDS, limit=self.batch_size)
            jobs = [(call.id, call.attempts, dict(call.request or {})) for call in calls]
        if not jobs:
            return 0
        results = await asyncio.gather(*(self._call(call_id, request) for call_id, _, request in jobs))
        for (call_id, attempts, request), result in zip(jobs, results, strict=True):
            try:
                async with self.runtime.transaction() as session:
                    await self._record(session, call_id, attempts, request, result, utcnow())
            except Exception:
                # Not recorded: the lease runs out and the call is made again, which the brand sees with
                # the same Idempotency-Key.
                log.exception("action call %s: recording the result failed", call_id)
        return len(jobs)

    async def _call(self, call_id: int, request: dict[str, Any]) -> ActionResult:
        try:
            return await perform(self.runtime.http, request, allow_private=self.runtime.settings.allow_private_urls,
                                 idempotency_key=f"touchpoint-action-{call_id}")
        except Exception as exc:  # a bug here must not leave the flow waiting forever
            log.exception("action call %s crashed", call_id)
            return ActionResult(False, None, error=f"internal error ({type(exc).__name__})", retryable=True)

    def backoff(self, attempts: int) -> float:
        return min(self.backoff_base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS) * (0.5 + random.random())

    async def _record(self, session: AsyncSession, call_id: int, attempts: int, request: dict[str, Any],
                      result: ActionResult, now: datetime) -> None:
        try:
            max_attempts = min(max(int(request.get("max_attempts", 3)), 1), MAX_ATTEMPTS_CAP)
        except (TypeError, ValueError):
            max_attempts = 3
        if not result.ok and result.retryable and attempts < max_attempts:
            await queue.retry_later(session, ActionCall, call_id, owner=self.owner, error=result.error or "",
                                    at=now + timedelta(seconds=self.backoff(attempts)))
            return
        done = await queue.complete(session, ActionCall, call_id, owner=self.owner,
                                    status=queue.DONE if result.ok else queue.FAILED,
                                    error=None if result.ok else result.error)
        if not done:
            log.warning("action call %s: lease lost before the result was recorded", call_id)
            return
        call = await session.get(ActionCall, call_id)
        assert call is not None
        call.response = {**result.to_dict(), "attempts": attempts}
        if request.get("kind") == "payment_link":
            payment = await session.get(PaymentRequest, int(request.get("payment_request_id") or 0))
            if payment is not None:
                await payments.link_result(session, payment, result, now)
            return
        await self._resume(session, call, result, now)

    async def _resume(self, session: AsyncSession, call: ActionCall, result: ActionResult, now: datetime) -> None:
        flow_session = await session.get(FlowSession, call.flow_session_id)
        conversation = await session.get(Conversation, call.conversation_id)
        if flow_session is None or conversation is None:
            return
        ctx = await runner.flow_context(session, workspace_id=call.workspace_id, conversation_id=conversation.id,
                                        contact_id=conversation.contact_id, now=now)
        outcome = await runner.resume_after_action(session, ctx, flow_session, call.id, result)
        if not outcome.replies and outcome.handoff is None:
            return  # stale: the customer cancelled or started over while the brand answered
        decision = runner.outcome_decision(outcome)
        if ConversationStatus(conversation.status).human_owned:
            # A person took the conversation meanwhile: they own what happens next (the bot's replies are
            # kept, suppressed by the send gate, as context for them).
            decision = replace(decision, handoff=None)
        await processor.apply_decision(session, conversation, decision, now)
