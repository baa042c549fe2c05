"""What the customer is told the moment a person is asked to take over: never silence, never a false promise.

Within business hours: the place in the team's queue and an expected wait, from the team's own recent first
responses (median of `first_agent_reply_at - handed_off_at` over its last conversations of the past 7 days) or,
without that history, the SLA target. Outside business hours: when the team is back, in the workspace's time,
and an invitation to leave the details now.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.business_hours import business_hours_of, describe_opening
from touchpoint.conversations.sla import sla_settings
from touchpoint.kit.clock import as_utc
from touchpoint.models import Agent, Conversation, ConversationStatus, Team, TeamMember, Workspace

HISTORY_DAYS = 7
HISTORY_CONVERSATIONS = 20


async def queue_ahead(session: AsyncSession, workspace_id: int, team_id: int | None,
                      conversation_id: int | None = None) -> int:
    """Conversations waiting for the same team (all teams when None), not counting this one."""
    stmt = select(func.count()).select_from(Conversation).where(
        Conversation.workspace_id == workspace_id, Conversation.status == ConversationStatus.queued.value)
    if team_id is not None:
        stmt = stmt.where(Conversation.team_id == team_id)
    if conversation_id is not None:
        stmt = stmt.where(Conversation.id != conversation_id)
    return int((await session.execute(stmt)).scalar() or 0)


async def recent_first_response(session: AsyncSession, workspace_id: int, team_id: int | None,
                                now: datetime) -> timedelta | None:
    """Median time to the first agent answer over the team's latest answered hand-offs of the last 7 days."""
    since = as_utc(now) - timedelta(days=HISTORY_DAYS)
    stmt = (select(Conversation.handed_off_at, Conversation.first_agent_reply_at)
            .where(Conversation.workspace_id == workspace_id, Conversation.handed_off_at.is_not(None),
                   Conversation.first_agent_reply_at.is_not(None), Conversation.first_agent_reply_at >= since,
                   # Implied by the reply (an agent's message moves it) and it narrows the scan to recent rows.
                   Conversation.last_message_at >= since)
            .order_by(Conversation.first_agent_reply_at.desc()).limit(HISTORY_CONVERSATIONS))
    if team_id is not None:
        stmt = stmt.where(Conversation.team_id == team_id)
    waits = [(as_utc(replied) - as_utc(handed)).total_seconds()
             for handed, replied in (await session.execute(stmt)).all()
             if handed is not None and replied is not None and replied >= handed]
    return timedelta(seconds=statistics.median(waits)) if waits else None


async def _agents_on_team(session: AsyncSession, workspace_id: int, team_id: int | None) -> int:
    stmt = select(func.count()).select_from(Agent).where(Agent.workspace_id == workspace_id, Agent.is_active.is_(True))
    if team_id is not None:
        stmt = stmt.join(TeamMember, TeamMember.agent_id == Agent.id).where(TeamMember.team_id == team_id)
    return int((await session.execute(stmt)).scalar() or 0)


def expected_wait(typical: timedelta, ahead: int, agents: int) -> timedelta:
    """The typical first response, plus the people ahead shared among the team's agents."""
    return typical * (1 + ahead / max(agents, 1))


def describe_wait(wait: timedelta) -> str:
    minutes = wait.total_seconds() / 60
    if minutes < 1:
        return "less than a minute"
    if minutes < 1.5:
        return "about 1 minute"
    if minutes < 15:
        return f"about {round(minutes)} minutes"
    if minutes < 90:
        return f"about {int(5 * round(minutes / 5))} minutes"
    hours = round(minutes / 60)
    return f"about {hours} hours"


def _queue_sentence(ahead: int) -> str:
    if ahead == 0:
        return "You're next in line"
    if ahead == 1:
        return "There is 1 person ahead of you"
    return f"There are {ahead} people ahead of you"


async def acknowledgement(session: AsyncSession, *, workspace: Workspace, team: Team | None, now: datetime,
                          conversation: Conversation | None = None) -> tuple[str, dict[str, Any]]:
    """The instant notice for a hand-off to `team` (None: any team) and its facts for the message content:
    queue_position, expected_wait_seconds, after_hours, next_open (ISO, None when open now). Pass the
    conversation when it is already queued so it does not count itself as ahead."""
    now = as_utc(now)
    team_id = team.id if team is not None else None
    ahead = await queue_ahead(session, workspace.id, team_id, conversation.id if conversation else None)
    typical = (await recent_first_response(session, workspace.id, team_id, now)
               or sla_settings(workspace).first_response)
    wait = expected_wait(typical, ahead, await _agents_on_team(session, workspace.id, team_id))
    who = f"our {team.name.strip().lower()} team" if team is not None and team.name.strip() else "our team"
    content: dict[str, Any] = {"queue_position": ahead + 1, "expected_wait_seconds": int(wait.total_seconds()),
                               "after_hours": False, "next_open": None,
                               "typical_first_response_seconds": int(typical.total_seconds())}
    hours = business_hours_of(workspace)
    opening = hours.next_open(now) if hours is not None else now
    if hours is not None and opening is not None and opening > now:
        content.update(after_hours=True, next_open=opening.isoformat(),
                       expected_wait_seconds=int((opening - now + wait).total_seconds()))
        text = (f"{who[0].upper()}{who[1:]} is back {describe_opening(hours, opening, now)}. Leave your details "
                "and question here and we'll answer first thing.")
        return text, content
    text = (f"Thanks, I'm connecting you with {who}. {_queue_sentence(ahead)}; expected wait "
            f"{describe_wait(wait)}. You can keep writing here in the meantime.")
    return text, content
