"""The first-response SLA on both databases: due time and timer on hand-off, business-hours clock, the timer
firing only after it is due, cancelled by the first agent reply, re-notify then escalate to the team lead, and
never a breach for a conversation that was resolved, handed back or answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from tests.assistant.policy.support import demo_db
from touchpoint.background import timer_handlers
from touchpoint.contacts.service import resolve_identity
from touchpoint.conversations import service, sla
from touchpoint.conversations.timers import TimerWorker
from touchpoint.demo import WIDGET_KEY
from touchpoint.kit.clock import utcnow
from touchpoint.models import Agent, AuditEntry, Conversation, Team, Timer, Workspace
from touchpoint.runtime import Runtime
from touchpoint.workspaces import repository as workspaces_repo
from touchpoint.workspaces import service as workspaces
from touchpoint.workspaces.audit import Actor

SYSTEM = Actor("system", None, "assistant")


async def _open(runtime: Runtime, workspace_id: int, who: str, settings: dict[str, Any] | None = None) -> int:
    async with runtime.transaction() as session:
        if settings is not None:
            workspace = await session.get(Workspace, workspace_id)
            assert workspace is not None
            workspace.settings = {**workspace.settings, **settings}
        account = await workspaces_repo.account_by_key(session, WIDGET_KEY)
        assert account is not None
        contact, _ = await resolve_identity(session, workspace_id=workspace_id, channel_account_id=account.id,
                                            external_id=who, profile={})
        conversation, _ = await service.get_or_open(session, contact=contact, channel_account_id=account.id,
                                                    now=utcnow())
        return conversation.id


async def _team(runtime: Runtime, workspace_id: int, slug: str) -> Team:
    async with runtime.sessionmaker() as session:
        return (await session.execute(select(Team).where(Team.workspace_id == workspace_id, Team.slug == slug))
                ).scalar_one()


async def _hand_off(runtime: Runtime, conversation_id: int, team: Team | None, now: datetime) -> Conversation:
    async with runtime.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        await service.hand_off(session, conversation=conversation, team=team, reason="test", actor=SYSTEM, now=now)
        return conversation


async def _timers(runtime: Runtime, conversation_id: int) -> list[Timer]:
    async with runtime.sessionmaker() as session:
        return list((await session.execute(select(Timer).where(
            Timer.kind == sla.SLA_KIND, Timer.subject_id == conversation_id).order_by(Timer.id))).scalars())


async def _audit(runtime: Runtime, action: str, conversation_id: int) -> list[AuditEntry]:
    async with runtime.sessionmaker() as session:
        return list((await session.execute(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.subject_id == conversation_id).order_by(AuditEntry.id))).scalars())


async def _get(runtime: Runtime, conversation_id: int) -> Conversation:
    async with runtime.sessionmaker() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation


def _record_events(runtime: Runtime) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    original = runtime.publish

    async def publish(topic: str, event: dict[str, Any]) -> None:
        seen.append((topic, event))
        await original(topic, event)

    runtime.publish = publish  # type: ignore[method-assign]
    return seen


def _worker(runtime: Runtime) -> TimerWorker:
    return TimerWorker(runtime, "sla-test", timer_handlers())


async def test_hand_off_sets_the_due_time_and_one_timer_per_conversation(settings):
    async with demo_db(settings) as (runtime, info):
        service_team = await _team(runtime, info.workspace_id, "service")
        now = utcnow().replace(microsecond=0)
        cid = await _open(runtime, info.workspace_id, "sla-due")
        conversation = await _hand_off(runtime, cid, service_team, now)
        assert conversation.handed_off_at == now
        assert conversation.first_response_due_at == now + timedelta(minutes=10)
        [timer] = await _timers(runtime, cid)
        assert (timer.lane, timer.available_at, timer.payload["stage"], timer.status) == (
            f"sla{cid}", now + timedelta(minutes=10), 1, "pending")
        await _hand_off(runtime, cid, service_team, now + timedelta(minutes=3))  # already queued: clock unchanged
        assert [t.available_at for t in await _timers(runtime, cid)] == [now + timedelta(minutes=10)]

        custom = await _open(runtime, info.workspace_id, "sla-custom", {"sla": {"first_response_minutes": 3}})
        assert (await _hand_off(runtime, custom, service_team, now)).first_response_due_at == now + timedelta(minutes=3)
        off = await _open(runtime, info.workspace_id, "sla-off", {"sla": {"enabled": False}})
        assert (await _hand_off(runtime, off, service_team, now)).first_response_due_at is None
        assert await _timers(runtime, off) == []


async def test_with_business_hours_the_clock_runs_only_while_open(settings):
    async with demo_db(settings) as (runtime, info):
        hours = {"business_hours": {"weekly": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}},
                 "sla": {"first_response_minutes": 10}}
        cid = await _open(runtime, info.workspace_id, "sla-weekend", hours)
        saturday = datetime(2026, 7, 18, 11, 0, tzinfo=UTC)  # Lisbon is UTC+1 in July
        conversation = await _hand_off(runtime, cid, await _team(runtime, info.workspace_id, "service"), saturday)
        assert conversation.first_response_due_at == datetime(2026, 7, 20, 8, 10, tzinfo=UTC)  # Mon 9:10 Lisbon
        assert (await _timers(runtime, cid))[0].available_at == datetime(2026, 7, 20, 8, 10, tzinfo=UTC)


async def test_a_breach_renotifies_then_escalates_to_the_team_lead(settings):
    async with demo_db(settings) as (runtime, info):
        events = _record_events(runtime)
        cid = await _open(runtime, info.workspace_id, "sla-late")
        # Handed off now: the timer is not due, the worker leaves it alone.
        await _hand_off(runtime, cid, await _team(runtime, info.workspace_id, "service"), utcnow())
        assert await _worker(runtime).run_once() == 0
        assert await _audit(runtime, sla.BREACH_ACTION, cid) == []
        # A quarter of an hour later (the hand-off moved back rather than the clock forward): due, fires once.
        handed = utcnow() - timedelta(minutes=15)
        async with runtime.transaction() as session:
            await session.execute(update(Conversation).where(Conversation.id == cid).values(handed_off_at=handed))
            await session.execute(update(Timer).where(Timer.subject_id == cid, Timer.kind == sla.SLA_KIND).values(
                available_at=handed + timedelta(minutes=10), payload={"stage": 1, "handed_off_at": handed.isoformat()}))
        before = (await _get(runtime, cid)).priority
        assert await _worker(runtime).run_once() == 1
        [breach] = await _audit(runtime, sla.BREACH_ACTION, cid)
        assert breach.details["stage"] == 1 and breach.actor_type == "system"
        assert (await _get(runtime, cid)).priority == before + 1
        topic = f"ws:{info.workspace_id}"
        assert (topic, "sla_breach", 1) in [(t, e.get("type"), e.get("stage")) for t, e in events]
        stage2 = [t for t in await _timers(runtime, cid) if t.status == "pending"]
        assert [(t.payload["stage"], t.available_at) for t in stage2] == [(2, handed + timedelta(minutes=20))]
        async with runtime.sessionmaker() as session:
            assert await sla.escalated_ids(session, info.workspace_id, [cid]) == set()  # not yet

        assert await _worker(runtime).run_once() == 0  # stage 2 is due 20 minutes after the hand-off, not yet
        async with runtime.transaction() as session:
            await session.execute(update(Timer).where(Timer.id == stage2[0].id).values(
                available_at=utcnow() - timedelta(seconds=1)))
        assert await _worker(runtime).run_once() == 1
        [escalated] = await _audit(runtime, sla.ESCALATED_ACTION, cid)
        async with runtime.sessionmaker() as session:
            maria = await workspaces_repo.agent_by_email(session, "maria@harbour.example", info.workspace_id)
            assert maria is not None
            assert escalated.details["lead_ids"] == [maria.id]  # the service team's lead
            assert await sla.escalated_ids(session, info.workspace_id, [cid, 999]) == {cid}
        addressed = [e for t, e in events if e.get("type") == "sla_escalated"]
        assert [(e["conversation_id"], e["to_agent_ids"]) for e in addressed] == [(cid, [maria.id])]
        assert (await _get(runtime, cid)).priority == before + 2
        assert await _worker(runtime).run_once() == 0  # nothing more to fire


async def test_the_first_agent_reply_cancels_the_timer_in_the_same_transaction(settings):
    async with demo_db(settings) as (runtime, info):
        cid = await _open(runtime, info.workspace_id, "sla-answered")
        await _hand_off(runtime, cid, await _team(runtime, info.workspace_id, "service"),
                        utcnow() - timedelta(minutes=11))
        async with runtime.transaction() as session:
            conversation = await session.get(Conversation, cid)
            li = await workspaces_repo.agent_by_email(session, "li@harbour.example", info.workspace_id)
            assert conversation is not None and li is not None
            await service.agent_reply(session, conversation=conversation, agent=li, text="Hi, Li here.")
            # Deleted by the reply's own transaction, before it commits.
            assert (await session.execute(select(Timer.id).where(Timer.subject_id == cid,
                                                                 Timer.kind == sla.SLA_KIND))).all() == []
        answered = await _get(runtime, cid)
        assert answered.first_agent_reply_at is not None and answered.first_response_due_at is None
        first_reply_at = answered.first_agent_reply_at
        assert await _worker(runtime).run_once() == 0
        async with runtime.transaction() as session:
            conversation = await session.get(Conversation, cid)
            li = await workspaces_repo.agent_by_email(session, "li@harbour.example", info.workspace_id)
            assert conversation is not None and li is not None
            await service.agent_reply(session, conversation=conversation, agent=li, text="Still there?")
        assert (await _get(runtime, cid)).first_agent_reply_at == first_reply_at  # only the first one counts
        assert await _audit(runtime, sla.BREACH_ACTION, cid) == []


async def test_resolved_handed_back_or_answered_conversations_never_breach(settings):
    async with demo_db(settings) as (runtime, info):
        team = await _team(runtime, info.workspace_id, "service")
        late = utcnow() - timedelta(minutes=45)
        resolved = await _open(runtime, info.workspace_id, "sla-resolved")
        back = await _open(runtime, info.workspace_id, "sla-back")
        raced = await _open(runtime, info.workspace_id, "sla-raced")
        for cid in (resolved, back, raced):
            await _hand_off(runtime, cid, team, late)
        async with runtime.transaction() as session:
            for cid, change in ((resolved, "resolve"), (back, "to_bot")):
                conversation = await session.get(Conversation, cid)
                assert conversation is not None
                if change == "resolve":
                    await service.resolve(session, conversation=conversation, actor=SYSTEM)
                else:
                    await service.hand_back_to_bot(session, conversation=conversation, actor=SYSTEM)
            # An answer recorded while the timer was already being claimed elsewhere (a worker race).
            await session.execute(update(Conversation).where(Conversation.id == raced).values(
                first_agent_reply_at=utcnow()))
        assert await _worker(runtime).run_once() == 3  # each timer is taken and completed...
        for cid in (resolved, back, raced):
            assert await _audit(runtime, sla.BREACH_ACTION, cid) == []  # ...without a breach
            assert [t.status for t in await _timers(runtime, cid)] == ["done"]


async def test_a_new_hand_off_restarts_the_clock_and_ignores_the_old_timer(settings):
    async with demo_db(settings) as (runtime, info):
        team = await _team(runtime, info.workspace_id, "service")
        cid = await _open(runtime, info.workspace_id, "sla-again")
        first = utcnow() - timedelta(hours=2)
        await _hand_off(runtime, cid, team, first)
        async with runtime.transaction() as session:
            conversation = await session.get(Conversation, cid)
            assert conversation is not None
            await sla.record_agent_reply(session, conversation, first + timedelta(minutes=4))
            await service.hand_back_to_bot(session, conversation=conversation, actor=SYSTEM)
            # A timer of the first hand-off that escaped deletion: a worker that crashed held its lease.
            session.add(Timer(workspace_id=info.workspace_id, kind=sla.SLA_KIND, subject_id=cid, lane=f"old{cid}",
                              available_at=first, payload={"stage": 1, "handed_off_at": first.isoformat()},
                              status="leased", lease_owner="crashed", lease_until=utcnow() - timedelta(minutes=1)))
        second = utcnow() - timedelta(minutes=15)
        again = await _hand_off(runtime, cid, team, second)
        assert again.first_agent_reply_at is None and again.handed_off_at == second
        assert await _worker(runtime).run_once() == 2
        [breach] = await _audit(runtime, sla.BREACH_ACTION, cid)  # the new hand-off's, not the old one's
        assert breach.details["due_at"] == (second + timedelta(minutes=10)).isoformat()


async def test_without_a_team_lead_the_admins_are_told_and_stage_two_can_be_off(settings):
    async with demo_db(settings) as (runtime, info):
        async with runtime.transaction() as session:
            workspace = await session.get(Workspace, info.workspace_id)
            assert workspace is not None
            billing = await workspaces.add_team(session, workspace=workspace, slug="billing", name="Billing")
            li = await workspaces_repo.agent_by_email(session, "li@harbour.example", info.workspace_id)
            assert li is not None
            await workspaces.add_member(session, team=billing, agent=li, lead=False)
            admins = [a.id for a in (await session.execute(select(Agent).where(
                Agent.workspace_id == info.workspace_id, Agent.role == "admin"))).scalars()]
            assert await sla.team_leads(session, info.workspace_id, billing.id) == admins
            assert await sla.team_leads(session, info.workspace_id, None) == admins
        no_lead_stage = await _open(runtime, info.workspace_id, "sla-no-stage2", {"sla": {"lead_after_minutes": None}})
        await _hand_off(runtime, no_lead_stage, billing, utcnow() - timedelta(hours=1))
        assert await _worker(runtime).run_once() == 1
        assert len(await _audit(runtime, sla.BREACH_ACTION, no_lead_stage)) == 1
        assert [t.payload["stage"] for t in await _timers(runtime, no_lead_stage)] == [1]  # no stage 2 scheduled
