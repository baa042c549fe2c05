"""The acknowledgement a customer gets at hand-off, on both databases: queue position and expected wait from
the team's recent first responses (or the SLA target without history), and the after-hours notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tests.assistant.policy.support import demo_db
from touchpoint.assistant.handoff_notice import acknowledgement, describe_wait, expected_wait
from touchpoint.contacts.service import resolve_identity
from touchpoint.conversations import service
from touchpoint.demo import WIDGET_KEY
from touchpoint.kit.clock import utcnow
from touchpoint.models import Conversation, Team, Workspace
from touchpoint.runtime import Runtime
from touchpoint.workspaces import repository as workspaces_repo

WEEKDAYS = {"weekly": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}


async def _setup(runtime: Runtime, workspace_id: int, settings: dict | None = None) -> None:
    """Start from an empty queue (the demo has a queued conversation) and the given workspace settings."""
    async with runtime.transaction() as session:
        await session.execute(update(Conversation).where(Conversation.workspace_id == workspace_id,
                                                         Conversation.status == "queued").values(status="resolved"))
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        workspace.settings = {**workspace.settings, **(settings or {})}


async def _conversations(runtime: Runtime, workspace_id: int, team_slug: str, count: int, prefix: str, *,
                         status: str = "queued", waits_minutes: list[float] | None = None,
                         days_ago: float = 1) -> list[int]:
    """Conversations of a team, queued, or answered after the given waits `days_ago` days ago."""
    ids = []
    async with runtime.transaction() as session:
        team = (await session.execute(select(Team).where(Team.workspace_id == workspace_id,
                                                         Team.slug == team_slug))).scalar_one()
        account = await workspaces_repo.account_by_key(session, WIDGET_KEY)
        assert account is not None
        for i in range(count):
            contact, _ = await resolve_identity(session, workspace_id=workspace_id, channel_account_id=account.id,
                                                external_id=f"{prefix}-{i}", profile={})
            conversation, _ = await service.get_or_open(session, contact=contact, channel_account_id=account.id,
                                                        now=utcnow())
            conversation.status, conversation.team_id = status, team.id
            if waits_minutes is not None:
                handed = utcnow() - timedelta(days=days_ago)
                conversation.handed_off_at = handed
                conversation.first_agent_reply_at = handed + timedelta(minutes=waits_minutes[i])
                conversation.last_message_at = conversation.first_agent_reply_at
            ids.append(conversation.id)
    return ids


async def _ack(runtime: Runtime, workspace_id: int, team_slug: str | None, now: datetime,
               conversation_id: int | None = None) -> tuple[str, dict]:
    async with runtime.sessionmaker() as session:
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        team = None
        if team_slug:
            team = (await session.execute(select(Team).where(Team.workspace_id == workspace_id,
                                                             Team.slug == team_slug))).scalar_one()
        conversation = await session.get(Conversation, conversation_id) if conversation_id else None
        return await acknowledgement(session, workspace=workspace, team=team, now=now, conversation=conversation)


async def test_without_history_the_wait_is_the_sla_target(settings):
    async with demo_db(settings) as (runtime, info):
        await _setup(runtime, info.workspace_id)
        text, content = await _ack(runtime, info.workspace_id, "service", utcnow())
        assert text == ("Thanks, I'm connecting you with our service team. You're next in line; expected wait "
                        "about 10 minutes. You can keep writing here in the meantime.")
        assert content == {"queue_position": 1, "expected_wait_seconds": 600, "after_hours": False,
                           "next_open": None, "typical_first_response_seconds": 600}
        await _setup(runtime, info.workspace_id, {"sla": {"first_response_minutes": 3}})
        text, content = await _ack(runtime, info.workspace_id, None, utcnow())
        assert text == ("Thanks, I'm connecting you with our team. You're next in line; expected wait about 3 minutes. "
                        "You can keep writing here in the meantime.")
        assert content["expected_wait_seconds"] == 180


async def test_the_queue_ahead_and_recent_first_responses_give_the_wait(settings):
    async with demo_db(settings) as (runtime, info):
        await _setup(runtime, info.workspace_id)
        queued = await _conversations(runtime, info.workspace_id, "service", 3, "waiting")
        # The service team (Maria, Li) answered in 2, 4 and 30 minutes this week: median 4 minutes.
        await _conversations(runtime, info.workspace_id, "service", 3, "recent", status="resolved",
                             waits_minutes=[2, 4, 30])
        # Ignored: older than a week, and another team's.
        await _conversations(runtime, info.workspace_id, "service", 2, "old", status="resolved",
                             waits_minutes=[90, 95], days_ago=9)
        await _conversations(runtime, info.workspace_id, "sales", 3, "sales", status="resolved",
                             waits_minutes=[1, 1, 1])
        # The customer's own conversation is queued already: 2 people are ahead of it.
        text, content = await _ack(runtime, info.workspace_id, "service", utcnow(), conversation_id=queued[-1])
        assert text == ("Thanks, I'm connecting you with our service team. There are 2 people ahead of you; "
                        "expected wait about 8 minutes. "  # 4 min x (1 + 2 ahead / 2 agents)
                        "You can keep writing here in the meantime.")
        assert (content["queue_position"], content["expected_wait_seconds"], content["after_hours"]) == (3, 480, False)
        assert content["typical_first_response_seconds"] == 240
        text, content = await _ack(runtime, info.workspace_id, "service", utcnow())
        assert "There are 3 people ahead of you" in text and content["queue_position"] == 4
        # Sales (Sam and Li) answered in a minute and nobody waits for them.
        text, _ = await _ack(runtime, info.workspace_id, "sales", utcnow())
        assert "You're next in line; expected wait about 1 minute." in text


async def test_outside_business_hours_the_customer_hears_when_people_are_back(settings):
    async with demo_db(settings) as (runtime, info):
        await _setup(runtime, info.workspace_id, {"business_hours": WEEKDAYS})
        await _conversations(runtime, info.workspace_id, "service", 1, "weekend")
        saturday = datetime(2026, 7, 18, 15, 0, tzinfo=UTC)  # 16:00 in Lisbon
        text, content = await _ack(runtime, info.workspace_id, "service", saturday)
        assert text == ("Our service team is back at 9:00 on Monday (Lisbon time). Leave your details and question "
                        "here and we'll answer first thing.")
        monday = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
        assert content["after_hours"] is True and content["queue_position"] == 2
        assert content["next_open"] == monday.isoformat()
        assert content["expected_wait_seconds"] == int((monday - saturday).total_seconds()) + 15 * 60
        tuesday_night = datetime(2026, 7, 21, 21, 0, tzinfo=UTC)
        text, _ = await _ack(runtime, info.workspace_id, None, tuesday_night)
        assert text.startswith("Our team is back at 9:00 tomorrow (Lisbon time).")
        wednesday_noon = datetime(2026, 7, 22, 11, 0, tzinfo=UTC)
        text, content = await _ack(runtime, info.workspace_id, "service", wednesday_noon)
        assert text.startswith("Thanks, I'm connecting you with our service team.") and not content["after_hours"]


def test_waits_are_said_in_round_figures():
    assert describe_wait(timedelta(seconds=20)) == "less than a minute"
    assert describe_wait(timedelta(seconds=70)) == "about 1 minute"
    assert describe_wait(timedelta(minutes=7, seconds=40)) == "about 8 minutes"
    assert describe_wait(timedelta(minutes=37)) == "about 35 minutes"
    assert describe_wait(timedelta(minutes=150)) == "about 2 hours"
    assert expected_wait(timedelta(minutes=4), ahead=0, agents=0) == timedelta(minutes=4)
    assert expected_wait(timedelta(minutes=4), ahead=6, agents=3) == timedelta(minutes=12)
