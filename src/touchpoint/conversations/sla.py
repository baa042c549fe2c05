"""First-response SLA: a handed-off customer gets an agent's answer in time, or people are told.

    workspace.settings["sla"] = {"first_response_minutes": 10, "lead_after_minutes": 20}   # the defaults

On hand-off the due time is set on the conversation and a timer row (kind "sla_first_response", one lane per
conversation) is added for it. With business hours set the clock only runs while open (Saturday's message is due
at Monday 9:10). The first agent reply deletes the pending timer in its own transaction. If the timer fires
first (stage 1): the team is re-notified (realtime "sla_breach" on the workspace topic, audit entry) and the
priority goes up; stage 2 is scheduled `lead_after_minutes` after the hand-off (same clock): the team's lead(s),
or the workspace admins when the team has none, get an event addressed to them and the audit log records
"conversation.sla_escalated", which is also how the inbox tells escalated conversations (`escalated_ids`).
The handler re-reads the conversation: resolved, handed back to the bot or answered means no breach.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.business_hours import business_hours_of
from touchpoint.db import queue
from touchpoint.kit.clock import as_utc
from touchpoint.models import Agent, AuditEntry, Conversation, ConversationStatus, Role, TeamMember, Timer, Workspace
from touchpoint.realtime.events import conversation_topic, stage, workspace_topic
from touchpoint.runtime import wake_after_commit
from touchpoint.workspaces.audit import Actor, record_audit

if TYPE_CHECKING:
    from touchpoint.conversations.timers import TimerHandler

log = logging.getLogger(__name__)
SLA_KIND = "sla_first_response"
DEFAULT_FIRST_RESPONSE_MINUTES = 10
DEFAULT_LEAD_AFTER_MINUTES = 20
MAX_MINUTES = 60 * 24 * 30
MAX_PRIORITY = 10
BREACH_ACTION = "conversation.sla_breach"
ESCALATED_ACTION = "conversation.sla_escalated"
_WAITING = (ConversationStatus.queued.value, ConversationStatus.assigned.value)


@dataclass(frozen=True, slots=True)
class SlaSettings:
    enabled: bool = True
    first_response: timedelta = timedelta(minutes=DEFAULT_FIRST_RESPONSE_MINUTES)
    lead_after: timedelta | None = timedelta(minutes=DEFAULT_LEAD_AFTER_MINUTES)  # None: no stage 2


def _minutes(value: Any, default: int | None) -> timedelta | None:
    if value is None:
        return None if default is None else timedelta(minutes=default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_MINUTES:
        raise ValueError(f"{value!r} is not a number of minutes (1 to {MAX_MINUTES})")
    return timedelta(minutes=float(value))


def sla_settings(workspace: Workspace) -> SlaSettings:
    """The workspace's SLA (defaults when unset; `{"enabled": false}` turns it off). A malformed setting is
    logged and the defaults apply: a typo must not leave customers without a deadline."""
    raw = (workspace.settings or {}).get("sla")
    if raw is None:
        return SlaSettings()
    if raw is False or (isinstance(raw, dict) and raw.get("enabled") is False):
        return SlaSettings(enabled=False)
    try:
        if not isinstance(raw, dict):
            raise ValueError("sla must be an object")
        first = _minutes(raw.get("first_response_minutes"), DEFAULT_FIRST_RESPONSE_MINUTES)
        lead = (_minutes(raw["lead_after_minutes"], None) if "lead_after_minutes" in raw
                else timedelta(minutes=DEFAULT_LEAD_AFTER_MINUTES))
    except ValueError as exc:
        log.warning("workspace %s: ignoring invalid sla setting (%s)", workspace.id, exc)
        return SlaSettings()
    assert first is not None
    return SlaSettings(True, first, lead)


def due_after(workspace: Workspace, start: datetime, duration: timedelta) -> datetime:
    """`start` + `duration` on the workspace's clock: open time only when business hours are set."""
    hours = business_hours_of(workspace)
    if hours is not None:
        due = hours.add_open_time(start, duration)
        if due is not None:
            return due
    return as_utc(start) + duration


def lane_for(conversation_id: int) -> str:
    return f"sla{conversation_id}"


def _add_timer(session: AsyncSession, conversation: Conversation, due: datetime, stage_no: int) -> Timer:
    handed_off = as_utc(conversation.handed_off_at).isoformat() if conversation.handed_off_at else None
    timer = Timer(workspace_id=conversation.workspace_id, kind=SLA_KIND, subject_id=conversation.id,
                  lane=lane_for(conversation.id), available_at=due,
                  payload={"stage": stage_no, "handed_off_at": handed_off})
    session.add(timer)
    wake_after_commit(session, "timers")
    return timer


async def schedule_first_response(session: AsyncSession, conversation: Conversation, now: datetime) -> Timer | None:
    """Start the first-response clock for a conversation just handed to people (restarts a pending one)."""
    await cancel_first_response(session, conversation)
    conversation.first_agent_reply_at = None
    workspace = await session.get(Workspace, conversation.workspace_id)
    assert workspace is not None
    settings = sla_settings(workspace)
    if not settings.enabled:
        conversation.first_response_due_at = None
        return None
    due = due_after(workspace, now, settings.first_response)
    conversation.first_response_due_at = due
    return _add_timer(session, conversation, due, 1)


async def cancel_first_response(session: AsyncSession, conversation: Conversation) -> None:
    await session.execute(delete(Timer).where(
        Timer.workspace_id == conversation.workspace_id, Timer.kind == SLA_KIND,
        Timer.subject_id == conversation.id, Timer.status == queue.PENDING))


async def record_agent_reply(session: AsyncSession, conversation: Conversation, now: datetime) -> None:
    """The first agent answer stops the clock: due time cleared, pending timers deleted in this transaction."""
    if conversation.first_agent_reply_at is not None:
        return
    conversation.first_agent_reply_at = now
    conversation.first_response_due_at = None
    await cancel_first_response(session, conversation)


def sla_handlers() -> dict[str, TimerHandler]:
    return {SLA_KIND: fire}


async def fire(session: AsyncSession, timer: Timer, now: datetime) -> None:
    if timer.subject_id is None:
        return
    conversation = await session.get(Conversation, timer.subject_id)
    if conversation is None or conversation.workspace_id != timer.workspace_id:
        return
    if conversation.status not in _WAITING or conversation.first_agent_reply_at is not None:
        return  # resolved, back with the bot, snoozed by an agent, or answered: nothing is late
    payload = timer.payload or {}
    handed_off = as_utc(conversation.handed_off_at).isoformat() if conversation.handed_off_at else None
    if payload.get("handed_off_at") != handed_off:
        return  # a timer of an earlier hand-off of this conversation
    workspace = await session.get(Workspace, conversation.workspace_id)
    assert workspace is not None
    if int(payload.get("stage", 1)) <= 1:
        await _breach(session, workspace, conversation, now)
    else:
        await _escalate_to_leads(session, conversation, now)


def _announce(session: AsyncSession, conversation: Conversation, change: str) -> None:
    event = {"type": "conversation", "change": change, "conversation_id": conversation.id,
             "status": conversation.status, "team_id": conversation.team_id, "agent_id": conversation.agent_id,
             "priority": conversation.priority}
    stage(session, workspace_topic(conversation.workspace_id), event)
    stage(session, conversation_topic(conversation.id), event)


async def _breach(session: AsyncSession, workspace: Workspace, conversation: Conversation, now: datetime) -> None:
    due = as_utc(conversation.first_response_due_at).isoformat() if conversation.first_response_due_at else None
    conversation.priority = min(conversation.priority + 1, MAX_PRIORITY)
    record_audit(session, workspace_id=conversation.workspace_id, actor=Actor.system(), action=BREACH_ACTION,
                 subject_type="conversation", subject_id=conversation.id, stage=1, due_at=due,
                 team_id=conversation.team_id, agent_id=conversation.agent_id)
    stage(session, workspace_topic(conversation.workspace_id),
          {"type": "sla_breach", "conversation_id": conversation.id, "stage": 1, "team_id": conversation.team_id,
           "agent_id": conversation.agent_id, "due_at": due, "priority": conversation.priority})
    _announce(session, conversation, "sla_breach")
    lead_after = sla_settings(workspace).lead_after
    if lead_after is not None:
        start = as_utc(conversation.handed_off_at) if conversation.handed_off_at else as_utc(now)
        _add_timer(session, conversation, max(due_after(workspace, start, lead_after), as_utc(now)), 2)
    await session.flush()


async def team_leads(session: AsyncSession, workspace_id: int, team_id: int | None) -> list[int]:
    """Active leads of the team; the workspace's admins when there is no team or it has no lead."""
    if team_id is not None:
        leads = (await session.execute(
            select(Agent.id).join(TeamMember, and_(TeamMember.agent_id == Agent.id, TeamMember.team_id == team_id))
            .where(Agent.workspace_id == workspace_id, TeamMember.workspace_id == workspace_id,
                   TeamMember.is_lead.is_(True), Agent.is_active.is_(True)).order_by(Agent.id))).scalars().all()
        if leads:
            return list(leads)
    admins = (await session.execute(
        select(Agent.id).where(Agent.workspace_id == workspace_id, Agent.role == Role.admin.value,
                               Agent.is_active.is_(True)).order_by(Agent.id))).scalars().all()
    return list(admins)


async def _escalate_to_leads(session: AsyncSession, conversation: Conversation, now: datetime) -> None:
    leads = await team_leads(session, conversation.workspace_id, conversation.team_id)
    conversation.priority = min(conversation.priority + 1, MAX_PRIORITY)
    record_audit(session, workspace_id=conversation.workspace_id, actor=Actor.system(), action=ESCALATED_ACTION,
                 subject_type="conversation", subject_id=conversation.id, stage=2, lead_ids=leads,
                 team_id=conversation.team_id, at=as_utc(now).isoformat())
    stage(session, workspace_topic(conversation.workspace_id),
          {"type": "sla_escalated", "conversation_id": conversation.id, "stage": 2, "team_id": conversation.team_id,
           "to_agent_ids": leads, "priority": conversation.priority})
    _announce(session, conversation, "sla_escalated")
    await session.flush()


async def escalated_ids(session: AsyncSession, workspace_id: int, conversation_ids: Iterable[int]) -> set[int]:
    """Of these conversations, those escalated to a lead since their latest hand-off and still unanswered (for
    the inbox's badge)."""
    ids = list(conversation_ids)
    if not ids:
        return set()
    rows = await session.execute(
        select(Conversation.id).join(AuditEntry, and_(
            AuditEntry.workspace_id == workspace_id, AuditEntry.subject_type == "conversation",
            AuditEntry.subject_id == Conversation.id, AuditEntry.action == ESCALATED_ACTION))
        .where(Conversation.workspace_id == workspace_id, Conversation.id.in_(ids),
               Conversation.first_agent_reply_at.is_(None), Conversation.status.in_(_WAITING),
               Conversation.handed_off_at.is_not(None), AuditEntry.created_at >= Conversation.handed_off_at)
        .distinct())
    return set(rows.scalars().all())
