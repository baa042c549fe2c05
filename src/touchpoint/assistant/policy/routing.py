"""Which team takes a customer who writes in a language the assistant does not serve."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import Agent, Team, TeamMember


def _speaks(languages: str | None, language: str) -> bool:
    return language in {part.strip().casefold() for part in (languages or "").split(",") if part.strip()}


async def team_for_language(session: AsyncSession, workspace_id: int, language: str | None) -> Team | None:
    """A team that declares the language; else a team with an active member who speaks it; else None (the
    caller keeps the policy's team). Lowest id first, so the choice is stable."""
    if not language:
        return None
    wanted = language.strip().casefold()
    teams = (await session.execute(
        select(Team).where(Team.workspace_id == workspace_id).order_by(Team.id))).scalars().all()
    for team in teams:
        if _speaks(team.languages, wanted):
            return team
    rows = (await session.execute(
        select(TeamMember.team_id, Agent.languages).join(Agent, Agent.id == TeamMember.agent_id)
        .where(TeamMember.workspace_id == workspace_id, Agent.workspace_id == workspace_id,
               Agent.is_active.is_(True)).order_by(TeamMember.team_id, Agent.id))).all()
    by_id = {team.id: team for team in teams}
    for team_id, languages in rows:
        if _speaks(languages, wanted) and team_id in by_id:
            return by_id[team_id]
    return None
