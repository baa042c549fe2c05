"""The live assistant: understand the message, ask the workspace's escalation policy, then answer (a fixed
response, a flow, the knowledge base), ask to clarify, or hand over — and record why, every time.

One `WorkspaceAssistant` serves every workspace of the process; per-workspace state (trained model, policy,
flows, knowledge index) lives in the database and in the caches of the modules it calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.base import AssistantInput, Decision, Handoff, Reply
from touchpoint.assistant.engines import EngineRegistry, languages_for
from touchpoint.assistant.flows import runner as flows
from touchpoint.assistant.flows.runner import FlowContext
from touchpoint.assistant.knowledge.retrieval import KnowledgeHit
from touchpoint.assistant.knowledge.service import best_answer, compose_answer, feedback_of
from touchpoint.assistant.policy.evaluate import evaluate
from touchpoint.assistant.policy.routing import team_for_language
from touchpoint.assistant.policy.service import active_policy
from touchpoint.assistant.policy.signals import Signals, Verdict
from touchpoint.assistant.signals_builder import Understood, build_signals, from_understanding, words_only
from touchpoint.assistant.small_talk import small_talk_reply
from touchpoint.assistant.turns import load_turn_context
from touchpoint.assistant.understanding_batch import Preread
from touchpoint.assistant.understanding_batch import preread as preread_many
from touchpoint.kit.clock import utcnow
from touchpoint.models import AssistantDecision, Contact, FlowSession, Intent, Workspace

log = logging.getLogger(__name__)

CLARIFY_TEXT = ("I'm not sure I understood. Could you say it another way? You can also type 'agent' to talk "
                "to a person.")
# Below this confidence an intent is offered back to the customer ("do you mean…?") instead of acted on.
ACT_CONFIDENCE = 0.75
REJECTED_TEXT = ("Sorry that didn't help. Could you tell me a bit more about what you need? You can also type "
                 "'agent' to talk to a person.")
CONFIRMED_TEXT = "Glad I could help! Is there anything else I can do for you?"


class WorkspaceAssistant:
    def __init__(self, registry: EngineRegistry) -> None:
        self.registry = registry

    async def understand(self, session: AsyncSession, workspace: Workspace, text: str) -> tuple[Understood, Any]:
        """The reading of the message and the encoder that made it (None: words only)."""
        understood, encoder, _ = await self._understand(session, workspace, text, None)
        return understood, encoder

    async def _understand(self, session: AsyncSession, workspace: Workspace, text: str,
                          preread: Preread | None) -> tuple[Understood, Any, Any]:
        """`understand` plus the message's sentence vector for the knowledge base when a preread has it. A preread
        is used only when it was made by the engine serving now, for this very text: the same reading."""
        engine = await self.registry.engine_for(session, workspace.id)
        if engine is None:
            return words_only(text), None, None
        if preread is not None and preread.engine is engine and preread.text == text:
            return preread.understood, engine.intents.encoder, preread.query_vector
        return from_understanding(engine.understand(text)), engine.intents.encoder, None

    async def reader(self, session: AsyncSession, workspace_id: int) -> Callable[[list[str]], list[Preread]] | None:
        """For the inbound worker: a blocking function that understands many (stripped) texts of the workspace at
        once, to run in a thread before its transaction; None when the workspace has no model (words only are
        cheap)."""
        engine = await self.registry.engine_for(session, workspace_id)
        return partial(preread_many, engine) if engine is not None else None

    async def respond(self, session: AsyncSession, message: AssistantInput) -> Decision:
        workspace = await session.get(Workspace, message.workspace_id)
        contact = await session.get(Contact, message.contact_id)
        assert workspace is not None
        text = message.text.strip()
        flow_session = await flows.active_session(session, message.conversation_id)
        turn = await load_turn_context(session, conversation_id=message.conversation_id, contact=contact,
                                       in_flow=flow_session is not None)
        understood, encoder, query_vector = await self._understand(session, workspace, text, message.preread)
        policy, policy_version = await active_policy(session, workspace.id)
        # The knowledge base is part of understanding: a question no intent covers but an article answers is
        # in scope. Asked whenever the intents are not sure, outside flows (a slot answer is no question); a
        # confident article beats an unsure intent.
        hit = None
        if flow_session is None and (understood.out_of_scope or understood.confidence < ACT_CONFIDENCE):
            hit = await best_answer(session, workspace.id, text, encoder=encoder, language=understood.language,
                                    query_vector=query_vector)
            if hit is not None and (understood.out_of_scope or hit.score >= understood.confidence
                                    or understood.confidence < policy.clarify_below):
                understood = replace(understood, intent=None, out_of_scope=False,
                                     confidence=max(understood.confidence, hit.score))
            else:
                hit = None
        feedback = feedback_of(text) if turn.feedback_for is not None else None
        signals = build_signals(text, understood, turn, served_languages=languages_for(workspace),
                                feedback=feedback)
        verdict = evaluate(policy, signals)
        ctx = FlowContext(workspace_id=workspace.id, conversation_id=message.conversation_id,
                          contact_id=message.contact_id, timezone=workspace.timezone, now=utcnow(),
                          intent=understood.intent)
        decision, flags = await self._act(session, ctx, verdict, signals, flow_session, feedback, workspace, hit,
                                          policy.default_team,
                                          (encoder, query_vector) if query_vector is not None else None)
        decision = replace(decision, language=understood.language, sentiment=round(signals.sentiment, 3),
                           confidence=round(understood.confidence, 4),
                           intent=decision.intent or understood.intent)
        # A Core insert: the record is written once and never read back in this transaction, and the ORM's unit of
        # work costs more than the statement on this per-message path.
        await session.execute(insert(AssistantDecision.__table__).values(  # type: ignore[arg-type]
            workspace_id=workspace.id, conversation_id=message.conversation_id, message_id=message.message_id,
            action=decision.action, rule=decision.rule, intent=decision.intent or understood.best_intent,
            confidence=decision.confidence, language=understood.language, sentiment=decision.sentiment,
            team_slug=decision.handoff.team_slug if decision.handoff else None,
            scores={**verdict.scores, **decision.scores, **flags}, model_version=understood.model_version,
            policy_version=policy_version))
        return decision

    async def _act(self, session: AsyncSession, ctx: FlowContext, verdict: Verdict, signals: Signals,
                   flow_session: FlowSession | None, feedback: bool | None, workspace: Workspace,
                   hit: KnowledgeHit | None, default_team: str | None,
                   known_vector: tuple[Any, Any] | None = None) -> tuple[Decision, dict[str, Any]]:
        if verdict.action == "escalate":
            if flow_session is not None:
                flow_session.status = "handed_off"
                flow_session.state = {**(flow_session.state or {}), "ended": f"escalated:{verdict.rule}"}
            return await self._escalate(session, ctx.workspace_id, verdict), {}
        if flow_session is not None:
            outcome = await flows.continue_flow(session, ctx, flow_session, signals.text)
            return flows.outcome_decision(outcome), {}
        if feedback is True:
            return Decision(replies=(Reply(CONFIRMED_TEXT),), action="answer", rule="answer_confirmed"), {}
        if feedback is False:
            return _clarify(REJECTED_TEXT, "answer_rejected"), {"failed": True}
        if verdict.action == "clarify":
            return _clarify(CLARIFY_TEXT, verdict.rule), {"failed": True, "low_confidence": True}
        return await self._answer(session, ctx, signals, workspace, hit, default_team, known_vector)

    async def _escalate(self, session: AsyncSession, workspace_id: int, verdict: Verdict) -> Decision:
        team = verdict.team
        if verdict.needs_language:
            speaking = await team_for_language(session, workspace_id, verdict.needs_language)
            team = speaking.slug if speaking is not None else team
        return Decision(handoff=Handoff(team or "service", verdict.reason or verdict.rule, verdict.priority),
                        action="escalate", rule=verdict.rule)

    async def _answer(self, session: AsyncSession, ctx: FlowContext, signals: Signals, workspace: Workspace,
                      hit: KnowledgeHit | None, default_team: str | None,
                      known_vector: tuple[Any, Any] | None = None) -> tuple[Decision, dict[str, Any]]:
        """`known_vector`: (encoder, the message's sentence vector by it) when understanding already made one."""
        intent_name = signals.intent
        if intent_name is not None and hit is None and signals.confidence < ACT_CONFIDENCE:
            if signals.low_confidence_in_row >= 1:  # asked once already: a person, not a second guess
                return Decision(handoff=Handoff(default_team or "service", "the bot was unsure twice in a row", 1),
                                action="escalate", rule="unsure_twice"), {"low_confidence": True}
            # Fairly sure is not sure enough to start a flow or answer for an intent: ask, offering it.
            return await self._did_you_mean(session, ctx.workspace_id, intent_name), {"low_confidence": True}
        if intent_name is not None and hit is None:
            chit_chat = small_talk_reply(intent_name, workspace)
            if chit_chat is not None:
                return Decision(replies=(chit_chat,), action="answer", rule=f"small_talk:{intent_name}"), {}
            intent = await _intent(session, ctx.workspace_id, intent_name)
            if intent is not None and intent.flow:
                outcome = await flows.start_flow(session, ctx, intent.flow)
                return flows.outcome_decision(outcome, intent=intent_name, confidence=signals.confidence), {}
            if intent is not None and intent.response:
                return Decision(replies=(Reply(intent.response, {"intent": intent_name}),), action="answer",
                                rule="intent_response"), {}
        if hit is None:
            encoder = await self._encoder(session, workspace)
            # The vector of the message is reused only if made by this same encoder (an engine may swap meanwhile).
            vector = known_vector[1] if known_vector is not None and known_vector[0] is encoder else None
            hit = await best_answer(session, ctx.workspace_id, signals.text, encoder=encoder,
                                    language=signals.language, query_vector=vector)
        if hit is not None:
            return Decision(replies=(compose_answer(hit),), action="answer", rule="knowledge_answer",
                            scores={"knowledge_score": round(hit.score, 4)}), {}
        return _clarify(CLARIFY_TEXT, "no_answer"), {"failed": True}

    async def _did_you_mean(self, session: AsyncSession, workspace_id: int, intent_name: str) -> Decision:
        intent = await _intent(session, workspace_id, intent_name)
        example = next((str(e) for e in (intent.examples if intent else []) if isinstance(e, str)), None)
        if example is None:
            return _clarify(CLARIFY_TEXT, "unsure_intent")
        # The suggestion is a phrasing the model knows well: choosing it goes through with confidence.
        return Decision(replies=(Reply(f"Just to be sure: do you mean \u201c{example}\u201d?",
                                       {"quick_replies": [example, "Something else", "Talk to a person"]}),),
                        action="clarify", rule="unsure_intent", scores={"suggested_intent": 1.0})

    async def _encoder(self, session: AsyncSession, workspace: Workspace) -> Any:
        engine = await self.registry.engine_for(session, workspace.id)
        return engine.intents.encoder if engine is not None else None


async def _intent(session: AsyncSession, workspace_id: int, name: str) -> Intent | None:
    return (await session.execute(select(Intent).where(
        Intent.workspace_id == workspace_id, Intent.name == name))).scalar_one_or_none()


def _clarify(text: str, rule: str) -> Decision:
    return Decision(replies=(Reply(text, {"quick_replies": ["Talk to a person"]}),), action="clarify",
                    rule=rule if rule != "default_answer" else "clarify")
