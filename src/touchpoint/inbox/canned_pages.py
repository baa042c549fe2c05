"""/inbox/canned: the workspace's canned responses as agents see and (admins) manage them.

Plain forms with the CSRF token in a hidden field and a 303 back to the list: this page works without
JavaScript. A refused form (bad shortcut, shortcut taken) renders the page again with the reason and
what was typed, so nothing is lost.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from touchpoint.inbox import canned
from touchpoint.inbox.deps import MAX_ID, CsrfAgent, CurrentAgent, InboxRoute, RowId, RuntimeDep
from touchpoint.inbox.service import SignedInAgent
from touchpoint.inbox.templating import templates
from touchpoint.kit.errors import AppError, Forbidden
from touchpoint.models import Role
from touchpoint.workspaces import repository as workspaces_repo

router = APIRouter(route_class=InboxRoute, include_in_schema=False)

Shortcut = Annotated[str, Form(max_length=200)]
Title = Annotated[str, Form(max_length=canned.MAX_TITLE * 2)]
Text = Annotated[str, Form(max_length=canned.MAX_TEXT * 2)]
TeamField = Annotated[str, Form(max_length=30)]


def can_manage(agent: SignedInAgent) -> bool:
    return agent.role == Role.admin.value


def _check_manager(agent: SignedInAgent) -> None:
    if not can_manage(agent):
        raise Forbidden("Only workspace admins can change canned responses.", code="admin_only")


def _team_id(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or int(value) > MAX_ID or int(value) < 1:
        raise AppError("Pick a team from the list.", code="team_not_found", status_code=422)
    return int(value)


async def _page(request: Request, runtime: RuntimeDep, agent: SignedInAgent, *, error: str | None = None,
                form: dict[str, str] | None = None, editing: int | None = None, status_code: int = 200) -> Response:
    async with runtime.sessionmaker() as session:
        rows = await canned.list_canned(session, agent.workspace_id)
        teams = await workspaces_repo.teams_of(session, agent.workspace_id)
    context = {"agent": agent, "rows": rows, "teams": teams, "teams_by_id": {t.id: t for t in teams},
               "can_manage": can_manage(agent), "error": error, "form": form or {}, "editing": editing}
    return templates.TemplateResponse(request, "inbox/canned.html", context, status_code=status_code,
                                      headers={"Cache-Control": "no-store"})


@router.get("/inbox/canned")
async def canned_list(request: Request, runtime: RuntimeDep, agent: CurrentAgent) -> Response:
    return await _page(request, runtime, agent)


@router.post("/inbox/canned")
async def canned_create(request: Request, runtime: RuntimeDep, agent: CsrfAgent, shortcut: Shortcut = "",
                        title: Title = "", text: Text = "", team_id: TeamField = "") -> Response:
    _check_manager(agent)
    form = {"shortcut": shortcut, "title": title, "text": text, "team_id": team_id}
    try:
        async with runtime.transaction() as session:
            await canned.create_canned(session, workspace_id=agent.workspace_id, shortcut=shortcut, title=title,
                                       text=text, team_id=_team_id(team_id), actor=agent.actor)
    except AppError as exc:
        return await _page(request, runtime, agent, error=exc.message, form=form, status_code=exc.status_code)
    return RedirectResponse("/inbox/canned", status_code=303)


@router.post("/inbox/canned/{canned_id}")
async def canned_update(request: Request, runtime: RuntimeDep, agent: CsrfAgent, canned_id: RowId,
                        shortcut: Shortcut = "", title: Title = "", text: Text = "",
                        team_id: TeamField = "") -> Response:
    _check_manager(agent)
    form = {"shortcut": shortcut, "title": title, "text": text, "team_id": team_id}
    try:
        async with runtime.transaction() as session:
            row = await canned.access_canned(session, agent.workspace_id, canned_id)
            await canned.update_canned(session, row=row, actor=agent.actor, changes={
                "shortcut": shortcut, "title": title, "text": text, "team_id": _team_id(team_id)})
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return await _page(request, runtime, agent, error=exc.message, form=form, editing=canned_id,
                           status_code=exc.status_code)
    return RedirectResponse("/inbox/canned", status_code=303)


@router.post("/inbox/canned/{canned_id}/delete")
async def canned_delete(runtime: RuntimeDep, agent: CsrfAgent, canned_id: RowId) -> Response:
    _check_manager(agent)
    async with runtime.transaction() as session:
        row = await canned.access_canned(session, agent.workspace_id, canned_id)
        await canned.delete_canned(session, row=row, actor=agent.actor)
    return RedirectResponse("/inbox/canned", status_code=303)
