"""Runs conversation stories through the real path: each customer line is stored as an inbound event and
processed by the same processor, assistant, flows and action worker as live traffic, on the workspace's own
channel account, with a fresh contact per story that is deleted afterwards.

`drive=True` (the CLI, no server running) steps the workers itself; under a running server its loops do
the work and the runner only waits for it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from touchpoint.assistant.stories import StepResult, Story, check
from touchpoint.channels.base import NormalizedEvent
from touchpoint.contacts.service import resolve_identity
from touchpoint.models import (
    ActionCall,
    AssistantDecision,
    ChannelAccount,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    InboundEvent,
    Message,
    MessageStatus,
    Team,
)
from touchpoint.runtime import Runtime
from touchpoint.webhooks.service import lane_for_sender, scrub_payload

STEP_TIMEOUT_SECONDS = 30.0
Worker = Callable[[], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    customer: str
    line: int
    result: StepResult
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoryOutcome:
    name: str
    steps: tuple[StepOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(not step.problems for step in self.steps)


async def _channel_account(runtime: Runtime, workspace_id: int) -> ChannelAccount:
    async with runtime.sessionmaker() as session:
        accounts = (await session.execute(select(ChannelAccount).where(
            ChannelAccount.workspace_id == workspace_id).order_by(ChannelAccount.id))).scalars().all()
    webchat = [a for a in accounts if a.channel == "webchat"]
    if not accounts:
        raise LookupError("the workspace has no channel account to run stories on")
    return (webchat or list(accounts))[0]


async def run_stories(runtime: Runtime, workspace_id: int, stories: Sequence[Story], *,
                      workers: Sequence[Worker] = ()) -> list[StoryOutcome]:
    account = await _channel_account(runtime, workspace_id)
    return [await _run_story(runtime, workspace_id, account, story, workers) for story in stories]


async def _run_story(runtime: Runtime, workspace_id: int, account: ChannelAccount, story: Story,
                     workers: Sequence[Worker]) -> StoryOutcome:
    sender = f"story-{uuid.uuid4().hex[:16]}"
    async with runtime.transaction() as session:
        contact, _ = await resolve_identity(session, workspace_id=workspace_id, channel_account_id=account.id,
                                            external_id=sender, profile={"name": f"Story: {story.name}"[:200]})
        contact.attributes = dict(story.contact)
        contact_id = contact.id
    outcomes = []
    try:
        for step in story.steps:
            result = await _run_step(runtime, workspace_id, account, sender, contact_id, step.customer, workers)
            outcomes.append(StepOutcome(step.customer, step.line, result, tuple(check(step.expect, result))))
    finally:
        async with runtime.transaction() as session:
            await session.execute(delete(InboundEvent).where(InboundEvent.lane == lane_for_sender(account.id, sender)))
            await session.execute(delete(Contact).where(Contact.id == contact_id))
    return StoryOutcome(story.name, tuple(outcomes))


async def _run_step(runtime: Runtime, workspace_id: int, account: ChannelAccount, sender: str, contact_id: int,
                    text: str, workers: Sequence[Worker]) -> StepResult:
    async with runtime.sessionmaker() as session:
        before = (await session.execute(select(func.max(Message.id)))).scalar() or 0
    event = NormalizedEvent(kind="message", provider_event_id=f"story-{uuid.uuid4().hex}", sender_id=sender,
                            text=text)
    async with runtime.transaction() as session:
        session.add(InboundEvent(workspace_id=workspace_id, channel_account_id=account.id,
                                 provider_event_id=event.provider_event_id, kind="message",
                                 payload=scrub_payload(event.to_payload()), lane=lane_for_sender(account.id, sender)))
    runtime.wake("inbound")
    await _until_settled(runtime, event.provider_event_id, contact_id, workers)
    return await _observe(runtime, contact_id, before)


async def _until_settled(runtime: Runtime, event_id: str, contact_id: int, workers: Sequence[Worker]) -> None:
    """The event is processed and no flow action of the contact's conversations is still running."""
    deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for work in workers:
            await work()
        async with runtime.sessionmaker() as session:
            status = (await session.execute(select(InboundEvent.status).where(
                InboundEvent.provider_event_id == event_id))).scalar()
            running = (await session.execute(select(func.count()).select_from(ActionCall).join(
                Conversation, Conversation.id == ActionCall.conversation_id).where(
                Conversation.contact_id == contact_id, ActionCall.status.in_(("pending", "leased"))))).scalar()
        if status in ("done", "failed") and not running:
            return
        if not workers:
            await asyncio.sleep(0.05)
    raise TimeoutError(f"the story's message was not processed within {STEP_TIMEOUT_SECONDS:.0f} s")


async def _observe(runtime: Runtime, contact_id: int, after_message_id: int) -> StepResult:
    async with runtime.sessionmaker() as session:
        conversation = (await session.execute(select(Conversation).where(Conversation.contact_id == contact_id)
                                              .order_by(Conversation.id.desc()).limit(1))).scalar_one()
        replies = (await session.execute(select(Message.text).where(
            Message.conversation_id == conversation.id, Message.id > after_message_id,
            Message.direction == Direction.outbound.value, Message.status != MessageStatus.note.value)
            .order_by(Message.id))).scalars().all()
        decision = (await session.execute(select(AssistantDecision).where(
            AssistantDecision.conversation_id == conversation.id, AssistantDecision.message_id > after_message_id)
            .order_by(AssistantDecision.id.desc()).limit(1))).scalar()
        team = await session.get(Team, conversation.team_id) if conversation.team_id else None
        language = (await session.execute(select(Message.language).where(
            Message.conversation_id == conversation.id, Message.direction == Direction.inbound.value)
            .order_by(Message.id.desc()).limit(1))).scalar()
    handed = ConversationStatus(conversation.status).human_owned
    return StepResult(
        decision=decision.action if decision else None, rule=decision.rule if decision else None,
        intent=decision.intent if decision else None, team=team.slug if team is not None and handed else None,
        priority=conversation.priority, language=language, replies=tuple(replies), status=conversation.status)
