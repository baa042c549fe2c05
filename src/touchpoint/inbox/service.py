"""Inbox logic: signing in, what the list and conversation pages show, and the agent's actions.

Every function takes the signed-in agent and only ever reaches rows of that agent's workspace; a
conversation of another workspace is "not found", never "forbidden" (its existence is not revealed).
Mutations go through conversations.service / conversations.timers, which write the audit log and stage
realtime events; like every service, these flush and never commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.conversations import repository as conversations_repo
from touchpoint.conversations import service as conversations
from touchpoint.conversations import timers
from touchpoint.inbox import repository
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import AppError, Conflict, Forbidden, NotFound
from touchpoint.kit.passwords import verify_password
from touchpoint.models import (
    Agent,
    ChannelAccount,
    ConsentRecord,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Message,
    Team,
)
from touchpoint.workspaces import repository as workspaces_repo
from touchpoint.workspaces.audit import Actor

VIEWS = ("queued", "mine", "assigned", "bot", "snoozed", "resolved")
LIST_LIMIT = 100
TRANSCRIPT_LIMIT = 300
MAX_TEXT_CHARS = 4000
# A customer "waits" only while people own the conversation; with the bot or resolved, nobody owes a reply.
WAITING_STATUSES = (ConversationStatus.queued.value, ConversationStatus.assigned.value)
SNOOZE_CHOICES = {30: "30 minutes", 60: "1 hour", 240: "4 hours", 1440: "1 day", 4320: "3 days",
                  10080: "1 week"}


@dataclass(frozen=True, slots=True)
class SignedInAgent:
    """Who is making this request, from a valid session cookie and a fresh look at the agent row."""

    id: int
    workspace_id: int
    name: str
    email: str
    role: str
    csrf: str
    workspace_name: str
    workspace_timezone: str

    @property
    def actor(self) -> Actor:
        return Actor("agent", self.id, self.name)


async def authenticate(session: AsyncSession, email: str, password: str) -> Agent | None:
    """The active agent with this email whose password matches, or None.

    Exactly one argon2 verification per candidate account and one against a dummy hash when there is
    none, so an unknown email takes as long as a wrong password. argon2 is deliberately slow CPU work:
    it runs in a thread so that sign-ins never stall webhooks and realtime on the event loop.
    """
    candidates = await repository.active_agents_by_email(session, email) if email.strip() else []
    if not candidates:
        await asyncio.to_thread(verify_password, None, password)
        return None
    matched = None
    for agent in candidates:
        if await asyncio.to_thread(verify_password, agent.password_hash, password) and matched is None:
            matched = agent
    return matched


# --- the conversation list ------------------------------------------------------------------------------

@dataclass(slots=True)
class ListRow:
    conversation: Conversation
    contact: Contact | None
    account: ChannelAccount | None
    team: Team | None
    agent: Agent | None
    waiting_since: datetime | None


@dataclass(slots=True)
class ListPage:
    view: str
    team_id: int | None
    rows: list[ListRow]
    counts: dict[str, int]
    teams: Sequence[Team]
    limit: int


def check_view(view: str | None) -> str:
    return view if view in VIEWS else "queued"


async def list_page(session: AsyncSession, me: SignedInAgent, *, view: str | None,
                    team_id: int | None) -> ListPage:
    view = check_view(view)
    teams = await workspaces_repo.teams_of(session, me.workspace_id)
    teams_by_id = {team.id: team for team in teams}
    if team_id not in teams_by_id:
        team_id = None  # a stale or foreign team in the URL shows every team rather than an error
    conversations_ = await repository.list_for_view(session, me.workspace_id, view=view, agent_id=me.id,
                                                    team_id=team_id, limit=LIST_LIMIT)
    ids = [c.id for c in conversations_]
    contacts = await repository.contacts_by_id(session, me.workspace_id, {c.contact_id for c in conversations_})
    accounts = await repository.accounts_of(session, me.workspace_id)
    agents = await repository.agents_of(session, me.workspace_id)
    waiting = await repository.waiting_since(session, me.workspace_id, ids)
    counts = await repository.view_counts(session, me.workspace_id, agent_id=me.id, team_id=team_id)
    rows = [ListRow(c, contacts.get(c.contact_id), accounts.get(c.channel_account_id),
                    teams_by_id.get(c.team_id) if c.team_id else None,
                    agents.get(c.agent_id) if c.agent_id else None,
                    waiting.get(c.id) if c.status in WAITING_STATUSES else None)
            for c in conversations_]
    return ListPage(view, team_id, rows, counts, teams, LIST_LIMIT)


# --- one conversation -----------------------------------------------------------------------------------

@dataclass(slots=True)
class ConversationPage:
    conversation: Conversation
    contact: Contact
    account: ChannelAccount | None
    consents: Sequence[ConsentRecord]
    identities: Sequence[ContactIdentity]
    messages: Sequence[Message]
    agents: dict[int, Agent]
    teams: Sequence[Team]
    newer_open: Conversation | None = None
    snooze_choices: dict[int, str] = field(default_factory=lambda: dict(SNOOZE_CHOICES))

    @property
    def team(self) -> Team | None:
        return next((t for t in self.teams if t.id == self.conversation.team_id), None)

    @property
    def agent(self) -> Agent | None:
        return self.agents.get(self.conversation.agent_id) if self.conversation.agent_id else None

    @property
    def last_message_id(self) -> int:
        return self.messages[-1].id if self.messages else 0


async def access_conversation(session: AsyncSession, me: SignedInAgent, conversation_id: int) -> Conversation:
    conversation = await conversations_repo.access_conversation(session, me.workspace_id, conversation_id)
    if conversation is None:
        raise NotFound("There is no such conversation in your workspace.", code="conversation_not_found")
    return conversation


async def conversation_page(session: AsyncSession, me: SignedInAgent, conversation_id: int) -> ConversationPage:
    conversation = await access_conversation(session, me, conversation_id)
    contacts = await repository.contacts_by_id(session, me.workspace_id, [conversation.contact_id])
    contact = contacts[conversation.contact_id]
    accounts = await repository.accounts_of(session, me.workspace_id)
    newer = None
    if conversation.status == ConversationStatus.resolved.value:
        newer = await repository.other_open_conversation(session, conversation)
    return ConversationPage(
        conversation=conversation, contact=contact, account=accounts.get(conversation.channel_account_id),
        consents=await repository.consent_records_of(session, me.workspace_id, contact.id),
        identities=await repository.identities_of(session, me.workspace_id, contact.id),
        messages=await conversations_repo.messages_of(session, conversation.id, limit=TRANSCRIPT_LIMIT),
        agents=await repository.agents_of(session, me.workspace_id),
        teams=await workspaces_repo.teams_of(session, me.workspace_id), newer_open=newer)


@dataclass(slots=True)
class Transcript:
    """Messages to render outside the full page (realtime appends, status updates)."""

    messages: Sequence[Message]
    agents: dict[int, Agent]
    contact_name: str


async def _transcript(session: AsyncSession, me: SignedInAgent, conversation: Conversation,
                      messages: Sequence[Message]) -> Transcript:
    contacts = await repository.contacts_by_id(session, me.workspace_id, [conversation.contact_id])
    contact = contacts.get(conversation.contact_id)
    return Transcript(messages, await repository.agents_of(session, me.workspace_id),
                      (contact.name if contact else None) or "Customer")


async def messages_after(session: AsyncSession, me: SignedInAgent, conversation_id: int,
                         after_id: int) -> Transcript:
    conversation = await access_conversation(session, me, conversation_id)
    messages = await conversations_repo.messages_of(session, conversation.id, after_id=max(after_id, 0),
                                                    limit=TRANSCRIPT_LIMIT)
    return await _transcript(session, me, conversation, messages)


async def one_message(session: AsyncSession, me: SignedInAgent, conversation_id: int,
                      message_id: int) -> Transcript:
    conversation = await access_conversation(session, me, conversation_id)
    message = await repository.access_message(session, me.workspace_id, conversation.id, message_id)
    if message is None:
        raise NotFound("There is no such message in this conversation.", code="message_not_found")
    return await _transcript(session, me, conversation, [message])


# --- actions --------------------------------------------------------------------------------------------

def check_text(text: str | None, *, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise AppError(f"The {what} is empty: write something first.", code="empty_text", status_code=422)
    if len(text) > MAX_TEXT_CHARS:
        raise AppError(f"The {what} is too long ({len(text)} characters; at most {MAX_TEXT_CHARS}).",
                       code="text_too_long", status_code=422)
    return text


async def _check_reopen(session: AsyncSession, conversation: Conversation) -> None:
    """Acting on a resolved conversation reopens it, unless the customer already has a newer open one
    on the same channel (two open threads with one person would split the conversation)."""
    if conversation.status != ConversationStatus.resolved.value:
        return
    newer = await repository.other_open_conversation(session, conversation)
    if newer is not None:
        raise Conflict(f"This customer already has an open conversation (#{newer.id}); continue there.",
                       code="newer_conversation_open", details={"conversation_id": newer.id})


async def _leave_snooze(session: AsyncSession, conversation: Conversation) -> None:
    if conversation.status == ConversationStatus.snoozed.value:
        await timers.cancel_snooze(session, conversation)


async def _me(session: AsyncSession, me: SignedInAgent) -> Agent:
    agent = await workspaces_repo.access_agent(session, me.workspace_id, me.id)
    if agent is None or not agent.is_active:
        raise Forbidden("Your account is no longer active.", code="agent_inactive")
    return agent


async def reply(session: AsyncSession, me: SignedInAgent, conversation_id: int, text: str | None,
                idempotency_key: str | None) -> Message:
    text = check_text(text, what="reply")
    key = (idempotency_key or "").strip()[:100] or None
    if key:
        already = await repository.message_by_idempotency_key(session, me.workspace_id, f"inbox:{key}")
        if already is not None:
            return already  # the same form submitted twice (double click, retry): sent once
    conversation = await access_conversation(session, me, conversation_id)
    await _check_reopen(session, conversation)
    await _leave_snooze(session, conversation)
    return await conversations.agent_reply(session, conversation=conversation, agent=await _me(session, me),
                                           text=text, idempotency_key=f"inbox:{key}" if key else None)


async def note(session: AsyncSession, me: SignedInAgent, conversation_id: int, text: str | None) -> Message:
    text = check_text(text, what="note")
    conversation = await access_conversation(session, me, conversation_id)
    return await conversations.add_note(session, conversation=conversation, agent=await _me(session, me), text=text)


async def take_over(session: AsyncSession, me: SignedInAgent, conversation_id: int) -> None:
    conversation = await access_conversation(session, me, conversation_id)
    await _check_reopen(session, conversation)
    await _leave_snooze(session, conversation)
    await conversations.take_over(session, conversation=conversation, agent=await _me(session, me))


async def assign_agent(session: AsyncSession, me: SignedInAgent, conversation_id: int, agent_id: int) -> None:
    conversation = await access_conversation(session, me, conversation_id)
    agent = await workspaces_repo.access_agent(session, me.workspace_id, agent_id)
    if agent is None:
        raise NotFound("There is no such agent in your workspace.", code="agent_not_found")
    await _check_reopen(session, conversation)
    await _leave_snooze(session, conversation)
    await conversations.assign_agent(session, conversation=conversation, agent=agent, actor=me.actor)


async def assign_team(session: AsyncSession, me: SignedInAgent, conversation_id: int, team_id: int) -> None:
    conversation = await access_conversation(session, me, conversation_id)
    team = await workspaces_repo.access_team(session, me.workspace_id, team_id)
    if team is None:
        raise NotFound("There is no such team in your workspace.", code="team_not_found")
    await _check_reopen(session, conversation)
    await _leave_snooze(session, conversation)
    await conversations.assign_team(session, conversation=conversation, team=team, actor=me.actor)


async def snooze(session: AsyncSession, me: SignedInAgent, conversation_id: int, minutes: int) -> None:
    if minutes not in SNOOZE_CHOICES:
        raise AppError("Pick one of the snooze durations offered.", code="invalid_snooze", status_code=422)
    conversation = await access_conversation(session, me, conversation_id)
    if conversation.status not in (ConversationStatus.queued.value, ConversationStatus.assigned.value,
                                   ConversationStatus.snoozed.value):
        raise Conflict("Only a conversation waiting for or held by an agent can be snoozed; take it over first.",
                       code="cannot_snooze")
    until = utcnow() + timedelta(minutes=minutes)
    await timers.snooze(session, conversation=conversation, until=until, actor=me.actor)


async def resolve(session: AsyncSession, me: SignedInAgent, conversation_id: int) -> None:
    conversation = await access_conversation(session, me, conversation_id)
    await _leave_snooze(session, conversation)
    await conversations.resolve(session, conversation=conversation, actor=me.actor)


async def hand_back(session: AsyncSession, me: SignedInAgent, conversation_id: int) -> None:
    conversation = await access_conversation(session, me, conversation_id)
    if conversation.status == ConversationStatus.bot.value:
        return
    await _check_reopen(session, conversation)
    await _leave_snooze(session, conversation)
    await conversations.hand_back_to_bot(session, conversation=conversation, actor=me.actor)
