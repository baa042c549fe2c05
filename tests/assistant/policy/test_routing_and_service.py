"""The team for a language the assistant does not serve, and the stored policy versions behind active_policy()."""

from __future__ import annotations

from sqlalchemy import select, update

from tests.assistant.policy.support import demo_db
from touchpoint.assistant.policy import service
from touchpoint.assistant.policy.routing import team_for_language
from touchpoint.models import Agent, EscalationPolicyVersion, Team
from touchpoint.workspaces import service as workspaces
from touchpoint.workspaces.audit import Actor

ADMIN = Actor("agent", None, "Maria")


async def test_the_team_that_speaks_the_language_takes_it(settings):
    async with demo_db(settings) as (runtime, info):
        async with runtime.transaction() as session:
            await session.execute(update(Team).where(Team.workspace_id == info.workspace_id, Team.slug == "sales")
                                  .values(languages="en, PT"))
            await session.execute(update(Agent).where(Agent.email == "li@harbour.example").values(languages="en,fr"))
            other = await workspaces.create_workspace(session, runtime.box, slug="other", name="Other")
            await workspaces.add_team(session, workspace=other, slug="german", name="German")
            await session.execute(update(Team).where(Team.workspace_id == other.id).values(languages="de"))
        async with runtime.sessionmaker() as session:
            by_team = await team_for_language(session, info.workspace_id, "pt")
            by_agent = await team_for_language(session, info.workspace_id, "fr")  # Li is in service and sales
            assert by_team is not None and by_team.slug == "sales"
            assert by_agent is not None and by_agent.slug == "service"
            assert await team_for_language(session, info.workspace_id, "de") is None  # another workspace's team
            assert await team_for_language(session, info.workspace_id, "ja") is None
            assert await team_for_language(session, info.workspace_id, None) is None


async def test_active_policy_follows_imports_and_survives_a_stored_version_that_no_longer_parses(settings):
    async with demo_db(settings) as (runtime, info):
        async with runtime.transaction() as session:
            policy, version = await service.active_policy(session, info.workspace_id)
            assert version is None and policy.rules[0].name == "vip_trouble"
            row = await service.import_policy(session, info.workspace_id,
                                              "rules:\n  - {name: all, when: {always: true}, "
                                              "then: {action: escalate}}\n", actor=ADMIN)
            assert (row.version, row.is_active, row.created_by) == (1, True, "Maria")
            policy, version = await service.active_policy(session, info.workspace_id)  # the cache was dropped
            assert version == 1 and [r.name for r in policy.rules] == ["all"]
        async with runtime.transaction() as session:
            # A row written by something other than import (or an older, laxer release).
            await session.execute(update(EscalationPolicyVersion).where(
                EscalationPolicyVersion.workspace_id == info.workspace_id).values(source="rules: [oops"))
        service.forget(info.workspace_id)
        async with runtime.sessionmaker() as session:
            policy, version = await service.active_policy(session, info.workspace_id)
            assert version == 1 and policy.rules[0].name == "vip_trouble"  # the safe default runs instead
            rows = (await session.execute(select(EscalationPolicyVersion))).scalars().all()
            assert [(r.version, r.is_active) for r in rows] == [(1, True)]
